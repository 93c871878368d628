#!/bin/sh
# The metrics endpoint of a running pipeline: /metrics parsed with a Prometheus text-format
# parser (python3-prometheus-client) while items flow, counters that move and, after the
# run, match its summary; counters kept across a reload (SIGHUP); /health 200 while
# running, 503 while draining and while a polling source fails for too long; HTTP
# requests counted by host and status.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/../reliability/support/lib.sh"

# The Debian package installs for the system's python3, which another python3 earlier in
# PATH (pyenv, a venv) does not see.
PY=
for p in python3 /usr/bin/python3; do
    if "$p" "$(dirname "$0")/support/scrape.py" check 2>/dev/null; then
        PY=$p
        break
    fi
done
SCRAPE="$PY $(dirname "$0")/support/scrape.py"
if [ -z "$PY" ]; then
    if [ "${WP_REQUIRE_SERVICES:-0}" = 1 ]; then
        echo "FAIL: python3-prometheus-client is not installed (scripts/setup installs it)" >&2
        exit 1
    fi
    echo "skipped: python3-prometheus-client is not installed" >&2
    exit 77
fi

# scrape NAME: the samples of /metrics in $T/NAME.m ("KEY VALUE" lines); fails the test
# when the answer does not parse.
scrape() {
    if $SCRAPE metrics "$PORT" >"$T/$1.m" 2>"$T/$1.m.err"; then
        ok "$1: /metrics parses as Prometheus text"
    else
        fail "$1: /metrics: $(cat "$T/$1.m.err")"
    fi
}
# val NAME KEY: the value of sample KEY in scrape NAME ("" when missing).
val() {
    awk -v k="$2" '$1 == k { print $2 }' "$T/$1.m"
}
# health: "STATUS BODY" of /health.
health() {
    $SCRAPE health "$PORT"
}
# summary FILE [N]: "IN OUT DEAD" of the Nth summary line in FILE (default: the last).
summary() {
    sed -n 's/.* \([0-9]*\) items in, \([0-9]*\) out, \([0-9]*\) dead-lettered.*/\1 \2 \3/p' "$1" |
        if [ -n "${2:-}" ]; then sed -n "${2}p"; else tail -n 1; fi
}
# wait_for SECONDS CMD...: until CMD succeeds, polling every 0.1 s; false after SECONDS.
wait_for() {
    _n=$(($1 * 10))
    shift
    while ! "$@"; do
        _n=$((_n - 1))
        [ "$_n" -gt 0 ] || return 1
        sleep 0.1
    done
}
listening() {
    case $(health) in 200* | 503*) return 0 ;; esac
    return 1
}

# --- 1. A source that emits for about 2 s: counters move while it runs, acks are timed.
PORT=$($SCRAPE free-port)
pipeline "$T/src.json" '{"name": "desk", "state_dir": "st1", "dead_letter": "dl1.jsonl",
  "metrics": {"listen": "127.0.0.1:'"$PORT"'"}, "stages": [
  {"plugin": "testkit", "stage": "source", "id": "src", "config": {"count": 40, "delay_ms": 50}},
  {"plugin": "testkit", "stage": "reject", "id": "rej", "config": {"field": "n", "equals": 3}},
  {"plugin": "passthrough", "id": "pass"}]}'
run_bg src "$WIREPIPE" --no-progress "$T/src.json"
wait_for 10 listening || fail "the endpoint did not come up: $(cat "$T/src.err")"
sleep 0.5
expect_eq "$(health)" "200 ok" "/health is 200 while the pipeline runs"
scrape early
sleep 0.6
scrape later
e=$(val early 'wirepipe_stage_items_total{outcome=out,stage=src}')
l=$(val later 'wirepipe_stage_items_total{outcome=out,stage=src}')
[ -n "$e" ] && [ -n "$l" ] && [ "$l" -gt "$e" ] && ok "the source's items out move ($e, then $l)" ||
    fail "src out did not move: '$e' then '$l'"
e=$(val early 'wirepipe_items_read_total')
l=$(val later 'wirepipe_items_read_total')
[ "${l:-0}" -gt "${e:-0}" ] && ok "items read move ($e, then $l)" || fail "items read: '$e' then '$l'"
expect_eq "$(val later 'wirepipe_stage_items_total{outcome=failed,stage=rej}')" 1 \
    "the dead-lettered item is counted as failed at its stage"
expect_eq "$(val later 'wirepipe_items_dead_lettered_total')" 1 "and as dead-lettered"
a=$(val later 'wirepipe_acked_total')
c=$(val later 'wirepipe_ack_latency_seconds_count')
[ "${a:-0}" -gt 0 ] && [ "${c:-0}" -ge "$a" ] &&
    ok "acknowledgements are counted and timed ($a acked, $c timed)" ||
    fail "acks: '$a' acked, '$c' timed"
s=$(val later 'wirepipe_ack_latency_seconds_sum')
python3 -c "import sys; sys.exit(not 0 < float('$s') < 60 * $c)" 2>/dev/null &&
    ok "the latencies add up to a plausible sum ($s s)" || fail "latency sum '$s'"
m=$(val later 'wirepipe_plugin_metric_total{name=acked,stage=src}')
[ "${m:-0}" -gt 0 ] && ok "the source's own metric_add counters are exported (acked $m)" ||
    fail "plugin metric acked: '$m'"
[ -n "$(val later 'wirepipe_stage_busy_seconds_total{stage=pass}')" ] &&
    [ -n "$(val later 'wirepipe_stage_queue_depth{stage=pass}')" ] &&
    [ -n "$(val later 'wirepipe_stage_held{stage=pass}')" ] &&
    ok "busy seconds, queue depth and held items are exported per stage" ||
    fail "per-stage busy/queue/held missing"
expect_eq "$(val later 'wirepipe_running')" 1 "wirepipe_running is 1"
wait_rc "$PID" 30
expect_rc 1 "the run ends (one item dead-lettered)" src

# --- 2. Input from a pipe that stays open: exact counts after a run, kept across a reload,
# and a drain that /health reports.
PORT=$($SCRAPE free-port)
pipeline "$T/in.json" '{"name": "wire", "dead_letter": "dl2.jsonl", "grace_period_s": 20,
  "metrics": {"listen": "127.0.0.1:'"$PORT"'"}, "stages": [
  {"plugin": "testkit", "stage": "reject", "id": "rej"},
  {"plugin": "testkit", "stage": "retry", "id": "slow", "max_attempts": 100,
   "config": {"equals": "slow", "number": 99}},
  {"plugin": "testkit", "stage": "retry", "id": "slow2", "max_attempts": 100,
   "config": {"equals": "slow", "number": 99}}]}'
mkfifo "$T/feed"
run_bg in "$WIREPIPE" --no-progress "$T/in.json" --input "$T/feed"
# Read-write, so the open does not wait for the reader (nor hang when it failed to start).
exec 3<>"$T/feed"
wait_for 10 listening || fail "the endpoint did not come up: $(cat "$T/in.err")"
i=1
while [ $i -le 10 ]; do
    if [ $i -eq 4 ]; then printf '{"n":%d,"kind":"bad"}\n' $i >&3; else printf '{"n":%d}\n' $i >&3; fi
    i=$((i + 1))
done
written() {
    scrape_quiet=$($SCRAPE metrics "$PORT" 2>/dev/null | awk '$1 == "wirepipe_items_written_total" { print $2 }')
    [ "${scrape_quiet:-0}" -eq "$1" ]
}
wait_for 10 written 9 || fail "9 items were not written in 10 s"
kill -HUP "$PID"
wait_for 10 grep -q "reloaded '" "$T/in.err" || fail "no reload: $(cat "$T/in.err")"
scrape reloaded
set -- $(summary "$T/in.err" 1)
expect_eq "$*" "10 9 1" "the first run's summary"
expect_eq "$(val reloaded wirepipe_items_read_total) $(val reloaded wirepipe_items_written_total) $(val reloaded wirepipe_items_dead_lettered_total)" \
    "$*" "after the run, /metrics matches its summary (in, out, dead-lettered)"
expect_eq "$(val reloaded 'wirepipe_stage_items_total{outcome=in,stage=rej}')" 10 \
    "stage counters are kept after the run ends"
expect_eq "$(val reloaded wirepipe_runs_total)" 2 "the reload started a second run"
expect_eq "$(health)" "200 ok" "/health is 200 again after the reload"

# A second process on the same address: a configuration error, before anything is read.
pipeline "$T/busy.json" '{"name": "busy", "state_dir": "st-busy",
  "metrics": {"listen": "127.0.0.1:'"$PORT"'"}, "stages": [{"plugin": "passthrough"}]}'
run busy "$WIREPIPE" "$T/busy.json" --input /dev/null
expect_rc 78 "an address in use is a configuration error" busy
expect_in "$T/busy.err" "cannot listen on '127.0.0.1:$PORT'" "which names the address"

# One item that takes about 2 s (2 x 99 retries of 10 ms), then SIGTERM: the drain waits for it.
printf '{"n":11,"kind":"slow"}\n' >&3
retrying() {
    r=$($SCRAPE metrics "$PORT" 2>/dev/null | awk '$1 == "wirepipe_stage_items_total{outcome=retried,stage=slow}" { print $2 }')
    [ "${r:-0}" -gt 0 ]
}
wait_for 10 retrying || fail "the slow item was not retried"
kill -TERM "$PID"
wait_for 5 sh -c "$SCRAPE health $PORT | grep -q '^503 draining'" &&
    ok "/health is 503 while the pipeline drains" || fail "/health during the drain: $(health)"
scrape draining
expect_eq "$(val draining wirepipe_running)" 0 "wirepipe_running is 0 while draining"
expect_eq "$(val draining wirepipe_items_read_total)" 11 "counters go on from the first run (11 read)"
exec 3>&-
wait_rc "$PID" 30
expect_rc 1 "the service drains and exits (1: the first run dead-lettered an item)" in
expect_eq "$(summary "$T/in.err")" "1 1 0" "the second run finished the slow item"
listening && fail "the endpoint still answers after exit" || ok "the endpoint closes at exit"

# --- 3. HTTP requests by host and status (needs the fetch plugin and a loopback feed).
if [ -f "${WP_PLUGIN_DIR:?}/fetch.so" ]; then
    start_server FEED $PY "$WP_TEST_SERVERS/feed_server.py" --entries 6
    PORT=$($SCRAPE free-port)
    pipeline "$T/fetch.json" '{"name": "feed", "state_dir": "st3", "dead_letter": "dl3.jsonl",
      "metrics": {"listen": "127.0.0.1:'"$PORT"'"}, "stages": [
      {"plugin": "fetch", "id": "wire", "config": {"urls": ["http://127.0.0.1:'"$FEED"'/feed.xml",
         "http://127.0.0.1:'"$FEED"'/missing.xml"]}},
      {"plugin": "testkit", "stage": "sleep", "config": {"number": 400}}]}'
    run_bg fetch "$WIREPIPE" --no-progress "$T/fetch.json"
    wait_for 10 listening || fail "the endpoint did not come up: $(cat "$T/fetch.err")"
    fetched() {
        $SCRAPE metrics "$PORT" 2>/dev/null | grep -q '^wirepipe_stage_items_total{outcome=in,stage=testkit} [1-9]'
    }
    wait_for 10 fetched || fail "no story reached the second stage"
    scrape fetch
    expect_eq "$(val fetch "wirepipe_http_requests_total{host=127.0.0.1:$FEED,status=200}")" 1 \
        "the feed request is counted by host and status"
    expect_eq "$(val fetch "wirepipe_http_requests_total{host=127.0.0.1:$FEED,status=404}")" 1 \
        "and the missing one under 404"
    expect_eq "$(val fetch 'wirepipe_plugin_metric_total{name=fetched,stage=wire}')" 1 \
        "fetch's own counters are exported (fetched)"
    wait_rc "$PID" 30

    # --- 4. A polling source whose feed is gone: polls counted, /health 503 once it has
    # failed for longer than unhealthy_after_s, 200 again when the feed is back.
    start_server DOWN $PY "$WP_TEST_SERVERS/feed_server.py" --entries 2
    down=$DOWN
    kill "$DOWN_PID"
    wait "$DOWN_PID" 2>/dev/null
    PORT=$($SCRAPE free-port)
    pipeline "$T/poll.json" '{"name": "poll", "state_dir": "st4", "dead_letter": "dl4.jsonl",
      "grace_period_s": 5, "metrics": {"listen": "127.0.0.1:'"$PORT"'", "unhealthy_after_s": 1},
      "stages": [{"plugin": "fetch", "id": "wire", "config": {
        "urls": ["http://127.0.0.1:'"$down"'/feed.xml"], "every": "1s", "max_attempts": 1,
        "connect_timeout_ms": 500}}]}'
    run_bg poll "$WIREPIPE" --no-progress "$T/poll.json"
    wait_for 10 listening || fail "the endpoint did not come up: $(cat "$T/poll.err")"
    unhealthy() {
        health | grep -q "^503 source 'wire' failing for [0-9]* s"
    }
    wait_for 15 unhealthy && ok "/health is 503 once the source has failed for over 1 s" ||
        fail "/health with the feed down: $(health)"
    scrape polling
    p=$(val polling 'wirepipe_source_polls_total{stage=wire}')
    f=$(val polling 'wirepipe_source_poll_failures_total{stage=wire}')
    [ "${f:-0}" -ge 1 ] && [ "${p:-0}" -ge "$f" ] && ok "polls are counted ($p polls, $f failed)" ||
        fail "polls: '$p', failures: '$f'"
    s=$(val polling 'wirepipe_source_failing_seconds{stage=wire}')
    $PY -c "import sys; sys.exit(not float('$s') > 1)" && ok "failing for $s s" ||
        fail "failing seconds '$s'"
    start_server DOWN $PY "$WP_TEST_SERVERS/feed_server.py" --entries 2 --port "$down"
    healthy() {
        [ "$(health)" = "200 ok" ]
    }
    wait_for 15 healthy && ok "/health is 200 again once a poll succeeds" ||
        fail "/health with the feed back: $(health)"
    kill -TERM "$PID"
    wait_rc "$PID" 30
    expect_rc 0 "the polling service stops on SIGTERM" poll
else
    echo "# fetch plugin not built: HTTP request counts and polling health not checked"
fi

finish
