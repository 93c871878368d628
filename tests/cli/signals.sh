#!/bin/sh
# SIGINT/SIGTERM: stop taking input, finish what is in flight, flush, exit; a second
# signal exits at once.
. "$(dirname "$0")/../tools/cli-lib.sh"

pipeline "$T/slow.json" '{"name": "slow", "dead_letter": "dl.jsonl", "stages": [
  {"plugin": "testkit", "stage": "sleep", "config": {"number": 50}},
  {"plugin": "testkit", "stage": "batch", "id": "batch"}]}'

# Items trickle in through a FIFO, as from a live feed; the writer would take 10 s.
mkfifo "$T/feed"
(i=1; while [ $i -le 100 ]; do printf '{"n":%d}\n' $i; i=$((i + 1)); sleep 0.1; done) >"$T/feed" 2>/dev/null &
feeder=$!
"$WIREPIPE" "$T/slow.json" --input "$T/feed" >"$T/drain.out" 2>"$T/drain.err" &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid
RC=$?
kill $feeder 2>/dev/null
expect_rc 0 "graceful stop after SIGTERM" drain
expect_in "$T/drain.err" "terminated: finishing items in flight" "first signal is announced"
read_in=$(sed -n 's/.* \([0-9]*\) items in,.*/\1/p' "$T/drain.err")
out=$(wc -l <"$T/drain.out")
expect_eq "$out" "$read_in" "every item taken in was finished and written"
[ "$out" -gt 0 ] && [ "$out" -lt 100 ] && ok "input stopped early ($out of 100)" || fail "took $out items"
expect_eq "$(grep -c "\"batch_size\":$out" "$T/drain.out")" "$out" "batching stage was flushed"
[ ! -e "$T/dl.jsonl" ] && ok "nothing dead-lettered by a clean stop" || fail "dead letters after stop"

# A second signal does not wait for the slow stage.
pipeline "$T/stuck.json" '{"name": "stuck", "stages": [
  {"plugin": "testkit", "stage": "sleep", "config": {"number": 20000}}]}'
echo '{"n":1}' >"$T/one.jsonl"
"$WIREPIPE" "$T/stuck.json" --input "$T/one.jsonl" >"$T/stuck.out" 2>"$T/stuck.err" &
pid=$!
sleep 0.5
kill -INT $pid
sleep 0.3
kill -INT $pid
wait $pid
RC=$?
expect_rc 130 "second signal exits at once" stuck
expect_in "$T/stuck.err" "second signal: exiting now" "second signal is announced"
# Past the grace period, items still in flight are given up: not dead-lettered, not
# acknowledged, so the next run delivers them. (The stage retries every 10 ms, 100 times;
# a grace period of 0 gives up at once.)
pipeline "$T/grace.json" '{"name": "grace", "state_dir": "st-grace", "dead_letter": "dl-grace.jsonl",
  "grace_period_s": 0, "stages": [
  {"plugin": "testkit", "stage": "source", "id": "src",
   "config": {"count": 5, "state": true, "ack_log": "'"$T/grace.acks"'"}},
  {"plugin": "testkit", "stage": "retry", "id": "busy", "max_attempts": 100,
   "config": {"field": "language", "equals": "en", "number": 1000}}]}'
"$WIREPIPE" "$T/grace.json" >"$T/grace.out" 2>"$T/grace.err" &
pid=$!
sleep 0.5
kill -TERM $pid
wait $pid
RC=$?
expect_rc 0 "stop after the grace period" grace
expect_in "$T/grace.err" "grace period of 0 s over" "the end of the grace period is announced"
[ ! -e "$T/dl-grace.jsonl" ] && ok "nothing dead-lettered for being cancelled" || fail "cancelled items dead-lettered"
[ ! -s "$T/grace.acks" ] && ok "nothing acknowledged that was not delivered" || fail "acknowledged: $(cat "$T/grace.acks")"
run grace2 "$WIREPIPE" "$T/grace.json" --set busy.number=0
expect_rc 0 "rerun" grace2
expect_eq "$(wc -l <"$T/grace2.out")" 5 "the rerun delivers every item"

finish
