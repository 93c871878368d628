# Helpers for tests/reliability/*.sh (POSIX sh), on top of tests/tools/cli-lib.sh: loopback
# servers that the test starts and always stops, runs with a deadline, and the plugin
# checks. Source it after cli-lib.sh:
#
#   . "$(dirname "$0")/../tools/cli-lib.sh"
#   . "$(dirname "$0")/support/lib.sh"
#   need_plugins fetch publish              # exit 77 (skipped) when one is not built
#   start_server FEED python3 "$WP_TEST_SERVERS/feed_server.py" --entries 200
#   curl "http://127.0.0.1:$FEED/feed.xml"
#
# WP_LONG_TESTS=1 (scripts/test --long) selects the long variants.
: "${WP_TEST_SERVERS:?WP_TEST_SERVERS must name tests/servers}"
WP_LONG_TESTS=${WP_LONG_TESTS:-0}
: >"$T/pids"

# Every process the test started in the background is ended on exit, servers included,
# also when the test is interrupted: each PID that is still a child of this shell (a PID
# that ended may have been reused by a process that is not ours).
cleanup() {
    while read -r pid; do
        if { read -r _stat <"/proc/$pid/stat"; } 2>/dev/null; then
            set -- ${_stat##*) }
            [ "$2" = "$$" ] && kill -9 "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done <"$T/pids"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

# track PID: end PID (kill -9) when the test exits.
track() {
    echo "$1" >>"$T/pids"
}

# need_plugins NAME...: exit 77 (reported as skipped) when a plugin is not built.
need_plugins() {
    for p in "$@"; do
        if [ ! -f "${WP_PLUGIN_DIR:?}/$p.so" ]; then
            echo "skipped: plugin '$p' is not built" >&2
            exit 77
        fi
    done
}

# start_server VAR CMD...: start a server that prints its port on its first stdout line;
# sets VAR to the port. Fails the test when the server does not come up within 10 s.
start_server() {
    _var=$1
    shift
    "$@" >"$T/$_var.port" 2>"$T/$_var.stderr" &
    _pid=$!
    track "$_pid"
    eval "${_var}_PID=$_pid"
    _i=0
    while ! grep -q '^[0-9][0-9]*$' "$T/$_var.port" 2>/dev/null; do
        if ! kill -0 "$_pid" 2>/dev/null || [ "$_i" -ge 200 ]; then
            echo "FAIL: server $_var did not start: $*" >&2
            sed 's/^/    | /' "$T/$_var.stderr" >&2
            exit 1
        fi
        sleep 0.05
        _i=$((_i + 1))
    done
    eval "$_var=$(head -n 1 "$T/$_var.port")"
}

# receiver VAR LOG [DELAY_MS]: the loopback webhook (webhook_receiver.py) answering 200 to
# every POST, after DELAY_MS; LOG gets one line per POST (time, key, status, body). Its
# mode can be changed while it runs: write $T/VAR.control.json (atomically).
receiver() {
    printf '{"mode": "up", "delay_ms": %d}\n' "${3:-0}" >"$T/$1.control.json"
    start_server "$1" python3 "$WP_TEST_SERVERS/webhook_receiver.py" --log "$2" \
        --control "$T/$1.control.json"
}

# run_bg NAME CMD...: start CMD in the background (stdout $T/NAME.out, stderr $T/NAME.err);
# sets PID.
run_bg() {
    _name=$1
    shift
    "$@" >"$T/$_name.out" 2>"$T/$_name.err" &
    PID=$!
    track "$PID"
}

# alive PID: PID runs (a child that exited but was not waited for is a zombie: not alive).
alive() {
    { read -r _stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    case ${_stat##*) } in
        Z* | X*) return 1 ;;
    esac
    return 0
}

# wait_rc PID SECONDS: wait for PID; after SECONDS it is killed (-9). Sets RC (137 then).
wait_rc() {
    _n=$(($2 * 20))
    while [ "$_n" -gt 0 ] && alive "$1"; do
        sleep 0.05
        _n=$((_n - 1))
    done
    [ "$_n" -gt 0 ] || kill -9 "$1" 2>/dev/null
    wait "$1"
    RC=$?
}

# now: wall-clock seconds with fractions.
now() {
    date +%s.%N
}

# lines FILE: its line count (0 when missing).
lines() {
    if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# expect_no_dead_letters FILE WHAT
expect_no_dead_letters() {
    if [ -s "$1" ]; then
        fail "$2: $(lines "$1") dead letters"
        head -n 2 "$1" | cut -c 1-300 | sed 's/^/    | /' >&2
    else
        ok "$2: no dead letters"
    fi
}
