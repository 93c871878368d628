#!/bin/sh
# run_apy_test.sh BIN APY_SCRIPT - run the real-APy test binary against Apertium APy on
# 127.0.0.1. When nothing answers, install (if needed) and start APy with scripts/apy, and
# stop it afterwards. Exits 77 (skipped) only when apertium-apy cannot be installed.
bin=$1
apy=$2
port=${WIREPIPE_APERTIUM_PORT:-2737}
url=http://127.0.0.1:$port
export WIREPIPE_APERTIUM_PORT="$port"

started=
if ! curl -fs -m 2 "$url/listPairs" 2>/dev/null | grep -q '"spa"'; then
    if ! "$apy" install; then
        echo "SKIPPED: apertium-apy and apertium-eng-spa cannot be installed here" >&2
        exit 77
    fi
    "$apy" start || exit 1
    started=1
fi
WP_APY_URL=$url "$bin"
rc=$?
if [ -n "$started" ]; then
    "$apy" stop
fi
exit $rc
