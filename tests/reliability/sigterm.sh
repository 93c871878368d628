#!/bin/sh
# SIGTERM in the middle of HTTP work: items in flight finish within the grace period and
# are acknowledged, the rest stay unacknowledged, nothing is dead-lettered for being
# cancelled, and a rerun delivers every story. Three cases: a slow translation API, a slow
# webhook, and a translation slower than the grace period (given up, not dead-lettered).
# The source is testkit's "source" with state: it skips, next run, what was acknowledged.
# Queues of 4 items keep the source from reading everything ahead of the slow stage.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins translate publish

# term_case NAME COUNT GRACE MT_SCRIPT HOOK_DELAY_MS TERM_AFTER_S POSTED_BEFORE
# POSTED_BEFORE: "some" (some stories, not all, reach the webhook before the stop) or "none".
term_case() {
    c=$1 count=$2 grace=$3 script=$4 hook_delay=$5 term_after=$6 before=$7
    dir=$T/$c
    mkdir -p "$dir"
    start_server MT python3 "$WP_TEST_SERVERS/fake_mt.py" --script "$script" --log "$dir/mt.log"
    receiver HOOK "$dir/hook.log" "$hook_delay"
    pipeline "$dir/p.json" "{\"name\": \"$c\", \"state_dir\": \"state\",
      \"dead_letter\": \"dead.jsonl\", \"grace_period_s\": $grace, \"queue_size\": 4,
      \"stages\": [
      {\"plugin\": \"testkit\", \"stage\": \"source\",
       \"config\": {\"count\": $count, \"state\": true, \"ack_log\": \"acks.txt\"}},
      {\"plugin\": \"translate\", \"config\": {\"provider\": \"apertium\",
       \"endpoint\": \"http://127.0.0.1:$MT\", \"targets\": [\"es\"], \"source\": \"en\",
       \"cache\": false, \"max_attempts\": 2, \"timeout_ms\": 20000}},
      {\"plugin\": \"publish\", \"config\": {\"to\": \"http\",
       \"url\": \"http://127.0.0.1:$HOOK/hook\", \"max_attempts\": 2}}]}"

    run_bg "$c.1" "$WIREPIPE" --no-progress "$dir/p.json"
    sleep "$term_after"
    # On a loaded machine the first POST may come late: a stop meant to land mid-run
    # waits for it (up to 20 s more), so the case tests what it says.
    if [ "$before" = some ]; then
        waited=0
        while [ ! -s "$dir/hook.log" ] && [ "$waited" -lt 200 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
    fi
    kill -TERM "$PID" 2>/dev/null || fail "$c: the run ended before SIGTERM"
    t0=$(now)
    wait_rc "$PID" $((grace + 20))
    took=$(python3 -c "print('%.1f' % ($(now) - $t0))")
    echo "# $c: stopped ${took}s after SIGTERM (grace ${grace}s)"
    expect_rc 0 "$c: SIGTERM ends the run cleanly" "$c.1"
    expect_in "$T/$c.1.err" "terminated: finishing items in flight" "$c: the stop is announced"
    expect_not_in "$T/$c.1.err" "gave up after" "$c: no item given up as failed"
    expect_no_dead_letters "$dir/dead.jsonl" "$c: after SIGTERM"
    python3 -c "print('%d' % ($took <= $grace + 5))" | grep -qx 1 &&
        ok "$c: stopped within the grace period" || fail "$c: took ${took}s to stop"
    cp "$dir/hook.log" "$dir/hook.1.log" 2>/dev/null || : >"$dir/hook.1.log"
    cp "$dir/acks.txt" "$dir/acks.1.txt" 2>/dev/null || : >"$dir/acks.1.txt"

    # The rerun, with the API answering at once.
    curl -s -m 5 -o /dev/null -X POST "http://127.0.0.1:$MT/_control/reset"
    run "$c.2" timeout -s KILL 50 "$WIREPIPE" --no-progress "$dir/p.json"
    expect_rc 0 "$c: the rerun completes" "$c.2"
    expect_no_dead_letters "$dir/dead.jsonl" "$c: after the rerun"

    python3 - "$dir" "$count" >"$dir/report" <<'PY'
import json, os, sys
d, count = sys.argv[1], int(sys.argv[2])
def posted(path):
    out = []
    for line in open(path, encoding="utf-8") if os.path.exists(path) else []:
        r = json.loads(line)
        if 200 <= r["status"] < 300:
            out.append(json.loads(r["body"])["id"])
    return out
first, every = posted(d + "/hook.1.log"), posted(d + "/hook.log")
acked1 = {l.split()[0] for l in open(d + "/acks.1.txt")}
expected = {"n-%d" % i for i in range(1, count + 1)}
print("# first run: %d posted, %d acknowledged; in all: %d posts, %d duplicates"
      % (len(set(first)), len(acked1), len(every), len(every) - len(set(every))))
print("MIDRUN %s" % ("none" if not first else "some" if len(set(first)) < count else "all"))
print("UNACKED %s" % " ".join(sorted(set(first) - acked1)))
print("LOST %s" % " ".join(sorted(expected - set(every))))
PY
    grep '^#' "$dir/report"
    grep -qx "MIDRUN $before" "$dir/report" && ok "$c: $before posted before the stop" ||
        fail "$c: expected $before posted before the stop ($(grep '^#' "$dir/report"))"
    grep -qx 'UNACKED ' "$dir/report" && ok "$c: what was posted before the stop was acknowledged" ||
        fail "$c: posted but not acknowledged: $(sed -n 's/^UNACKED //p' "$dir/report")"
    grep -qx 'LOST ' "$dir/report" && ok "$c: every story delivered ($count)" ||
        fail "$c: lost: $(sed -n 's/^LOST //p' "$dir/report")"

    kill "$MT_PID" "$HOOK_PID" 2>/dev/null
    wait "$MT_PID" "$HOOK_PID" 2>/dev/null
}

# slow_script N SECONDS: N translation requests that each take SECONDS.
slow_script() {
    python3 -c "print(','.join(['slow:$2'] * $1))"
}

# A translation API that takes 0.3 s a request: SIGTERM while requests are in flight.
term_case slow-mt 30 30 "$(slow_script 100 0.3)" 0 1.5 some
# A webhook that takes 0.25 s a POST.
term_case slow-webhook 30 30 "" 250 1.5 some
# A translation that takes 8 s against a grace period of 1 s: the item in flight is given
# up unacknowledged, not dead-lettered, and the run ends soon after the grace period.
term_case past-grace 5 1 "$(slow_script 100 8)" 0 1 none
finish
