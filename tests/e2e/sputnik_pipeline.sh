#!/bin/sh
# pipelines/sputnik.json end to end against a local Apertium APy: the story is extracted,
# its people canonicalized with their Wikidata ids, translated to Spanish, and published as
# valid ninjs 2.1 to stdout and to a folder. Starts APy when none answers, stops it after.
# When APy cannot be installed it exits 77, which ctest reports as skipped; with
# WP_REQUIRE_SERVICES=1 (scripts/test sets it, so CI does) that is a failure instead.
. "$(dirname "$0")/../tools/cli-lib.sh"
: "${WP_SOURCE_DIR:?}"
APY=$WP_SOURCE_DIR/scripts/apy
port=${WIREPIPE_APERTIUM_PORT:-2737}
started=
if ! curl -fs -m 2 "http://127.0.0.1:$port/listPairs" 2>/dev/null | grep -q '"spa"'; then
    if ! "$APY" install >"$T/apy-install.log" 2>&1; then
        if [ "${WP_REQUIRE_SERVICES:-0}" = 1 ]; then
            echo "FAIL: apertium-apy cannot be installed, and WP_REQUIRE_SERVICES=1" >&2
            sed 's/^/    /' "$T/apy-install.log" >&2
            exit 1
        fi
        echo "SKIPPED: apertium-apy cannot be installed here" >&2
        exit 77
    fi
    "$APY" start >/dev/null || exit 1
    started=1
fi

# Run a copy, so the outputs land in the scratch folder.
mkdir -p "$T/pipelines/samples"
cp "$WP_SOURCE_DIR/pipelines/sputnik.json" "$T/pipelines/"
cp "$WP_SOURCE_DIR/pipelines/samples/sputnik-turkey-iran.txt" "$T/pipelines/samples/"
run sputnik env WIREPIPE_APERTIUM_URL="http://127.0.0.1:$port" "$WIREPIPE" "$T/pipelines/sputnik.json"
[ -n "$started" ] && "$APY" stop >/dev/null
expect_rc 0 "sputnik pipeline runs" sputnik
expect_eq "$(wc -l <"$T/sputnik.out")" 2 "stdout has the story and its Spanish translation"

python3 - "$T/sputnik.out" <<'PY' && ok "people, ids and translation are right" || fail "content"
import json, sys
en, es = [json.loads(l) for l in open(sys.argv[1])]
people = {p["name"]: p.get("uri", "") for p in en["people"]}
want = {"Mohammad Bagheri", "Hulusi Akar", "Recep Tayyip Erdoğan", "Hassan Rouhani", "Ali Khamenei"}
assert set(people) == want, people
assert people["Recep Tayyip Erdoğan"].endswith("/Q39259"), people
assert people["Ali Khamenei"].endswith("/Q57336"), people
assert en["language"] == "en" and es["language"] == "es", (en["language"], es["language"])
body = es["bodies"][0]["value"]
assert "Teherán" in body and "Hulusi Akar" in body and body.count("\n\n") == 6, body
assert "Listen Live" not in en["bodies"][0]["value"]
PY
files=$(ls "$T/pipelines/out/sputnik"/*.json | wc -l)
expect_eq "$files" 2 "out/sputnik has one ninjs file per language"
python3 "$WP_SOURCE_DIR/tests/plugins/publish/validate_ninjs.py" \
    "$WP_SOURCE_DIR/tests/fixtures/publish/ninjs-schema_2.1.json" "$T/pipelines/out/sputnik"/*.json \
    >"$T/schema.log" 2>&1 && ok "ninjs output validates against the 2.1 schema" ||
    fail "schema: $(cat "$T/schema.log")"
finish
