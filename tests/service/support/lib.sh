# Helpers for tests/service/*.sh (POSIX sh): wirepipe as a service, polling a loopback
# feed that changes while it runs. Source it after tests/tools/cli-lib.sh and
# tests/reliability/support/lib.sh (servers, run_bg, wait_rc, alive, lines):
#
#   feed FEED 3                      # feed_server.py with 3 entries; $FEED is its port
#   feed_set FEED '{"entries": 6}'   # the feed grows (or '{"mode": "down"}', ...)
#   wait_until 20 "6 stories out" test "$(lines "$T/out")" -ge 6

# feed VAR ENTRIES [ARGS...]: start tests/servers/feed_server.py with ENTRIES entries and a
# control file $T/VAR.control.json; VAR is set to its port, VAR_PID to its process.
feed() {
    _fv=$1
    _fn=$2
    shift 2
    printf '{"entries": %d}\n' "$_fn" >"$T/$_fv.control.json"
    start_server "$_fv" python3 "$WP_TEST_SERVERS/feed_server.py" --entries "$_fn" \
        --control "$T/$_fv.control.json" --log "$T/$_fv.requests.jsonl" "$@"
}

# feed_set VAR JSON: change the running feed VAR (see feed_server.py), written atomically.
# The server reads it at its next request.
feed_set() {
    printf '%s\n' "$2" >"$T/$1.control.tmp" && mv "$T/$1.control.tmp" "$T/$1.control.json"
}

# wait_until SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds; fails the test
# (and returns 1) when SECONDS pass first.
wait_until() {
    _wn=$(($1 * 10))
    _what=$2
    shift 2
    while ! "$@"; do
        _wn=$((_wn - 1))
        if [ "$_wn" -le 0 ]; then
            fail "timed out waiting for: $_what"
            return 1
        fi
        sleep 0.1
    done
    ok "$_what"
}

# at_least N FILE: FILE has at least N lines.
at_least() {
    [ "$(lines "$2")" -ge "$1" ]
}

# count_in FILE TEXT: how many lines of FILE contain TEXT (fixed string).
count_in() {
    if [ -f "$1" ]; then grep -cF -- "$2" "$1"; else echo 0; fi
}

# stop_service PID GRACE WHAT: SIGTERM, then expect exit 0 within GRACE seconds.
stop_service() {
    kill -TERM "$1" 2>/dev/null || fail "$3: the service had ended before SIGTERM"
    _t0=$(now)
    wait_rc "$1" $(($2 + 10))
    _took=$(python3 -c "print('%.1f' % ($(now) - $_t0))")
    echo "# $3: exited ${_took}s after SIGTERM (grace ${2}s), status $RC"
    if [ "$RC" -eq 0 ]; then ok "$3: SIGTERM exits 0"; else fail "$3: SIGTERM exit $RC"; fi
    python3 -c "import sys; sys.exit(0 if $_took < $2 else 1)" &&
        ok "$3: exits within the grace period (${_took}s < ${2}s)" ||
        fail "$3: took ${_took}s to exit after SIGTERM (grace ${2}s)"
}

# ids FILE: the sorted item ids of a JSON Lines file, one a line.
ids() {
    python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip():
        print(json.loads(line)["id"])' "$1" | sort
}
