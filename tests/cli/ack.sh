#!/bin/sh
# Acknowledged delivery: a source hears about each item it emitted only when the item is
# done (delivered, dropped or dead-lettered), through fan-out and batching, and never about
# one that is not (held at the end, cancelled, lost, the run killed).
. "$(dirname "$0")/../tools/cli-lib.sh"

# 20 items; n = 3, 7 and 11 are "bad".
i=1
while [ $i -le 20 ]; do
    case $i in 3 | 7 | 11) kind=bad ;; *) kind=good ;; esac
    printf '{"id":"n-%d","n":%d,"kind":"%s"}\n' $i $i $kind
    i=$((i + 1))
done >"$T/items.jsonl"

# acks FILE OUTCOME: how many lines of the ack log name OUTCOME.
acks() {
    if [ -f "$1" ]; then grep -c " $2\$" "$1"; else echo 0; fi
}

src() { # src ACKLOG [more source config]
    printf '{"plugin": "testkit", "stage": "source", "id": "src", "config": {"path": "%s", "ack_log": "%s"%s}}' \
        "$T/items.jsonl" "$1" "${2:-}"
}

# Every item delivered to stdout is acknowledged as delivered, once.
pipeline "$T/plain.json" "{\"name\": \"plain\", \"state_dir\": \"st-plain\", \"stages\": [
  $(src "$T/plain.acks"), {\"plugin\": \"passthrough\"}]}"
run plain "$WIREPIPE" "$T/plain.json"
expect_rc 0 "tracked run" plain
expect_eq "$(wc -l <"$T/plain.out")" 20 "all items written"
expect_eq "$(acks "$T/plain.acks" delivered)" 20 "each acknowledged as delivered"
expect_eq "$(sort -u "$T/plain.acks" | wc -l)" 20 "each acknowledged once"

# Dead letters and on_error skip are done too: acknowledged as such.
pipeline "$T/reject.json" "{\"name\": \"reject\", \"state_dir\": \"st-rej\", \"dead_letter\": \"dl.jsonl\",
  \"stages\": [$(src "$T/reject.acks"), {\"plugin\": \"testkit\", \"stage\": \"reject\"}]}"
run reject "$WIREPIPE" "$T/reject.json"
expect_rc 1 "rejecting run" reject
expect_eq "$(acks "$T/reject.acks" dead_lettered)" 3 "rejected items acknowledged as dead-lettered"
expect_eq "$(acks "$T/reject.acks" delivered)" 17 "the others as delivered"
pipeline "$T/skip.json" "{\"name\": \"skip\", \"state_dir\": \"st-skip\", \"stages\": [
  $(src "$T/skip.acks"), {\"plugin\": \"testkit\", \"stage\": \"reject\", \"on_error\": \"skip\"}]}"
run skip "$WIREPIPE" "$T/skip.json"
expect_eq "$(acks "$T/skip.acks" dropped)" 3 "skipped items acknowledged as dropped"

# Fan-out: one ack per source item, after all its copies; the worst outcome wins.
pipeline "$T/fan.json" "{\"name\": \"fan\", \"state_dir\": \"st-fan\", \"dead_letter\": \"dl-fan.jsonl\",
  \"stages\": [$(src "$T/fan.acks"), {\"plugin\": \"testkit\", \"stage\": \"fanout\", \"id\": \"fan\", \"config\": {\"number\": 3}},
  {\"plugin\": \"testkit\", \"stage\": \"reject\"}]}"
run fan "$WIREPIPE" "$T/fan.json"
expect_eq "$(wc -l <"$T/fan.out")" 51 "17 good items fanned out 3 times"
expect_eq "$(wc -l <"$T/fan.acks")" 20 "one ack per source item, not per copy"
expect_eq "$(acks "$T/fan.acks" dead_lettered)" 3 "copies dead-lettered: the item is"

# Batching: held items are acknowledged once the batch that carries them is delivered.
pipeline "$T/batch.json" "{\"name\": \"batch\", \"state_dir\": \"st-batch\", \"stages\": [
  $(src "$T/batch.acks"), {\"plugin\": \"testkit\", \"stage\": \"batch\"}]}"
run batch "$WIREPIPE" "$T/batch.json"
expect_eq "$(acks "$T/batch.acks" delivered)" 20 "batched items acknowledged after flush"

# A stage that emits 5 of its 20 held items and discards one: 5 delivered, 1 dropped, and
# 14 never emitted are not acknowledged.
pipeline "$T/hold.json" "{\"name\": \"hold\", \"state_dir\": \"st-hold\", \"stages\": [
  $(src "$T/hold.acks"), {\"plugin\": \"testkit\", \"stage\": \"hold\", \"config\": {\"number\": 5}}]}"
run hold "$WIREPIPE" "$T/hold.json"
expect_eq "$(acks "$T/hold.acks" delivered)" 5 "emitted held items acknowledged"
expect_eq "$(acks "$T/hold.acks" dropped)" 1 "discarded held item acknowledged as dropped"
expect_eq "$(wc -l <"$T/hold.acks")" 6 "items still held at the end are not acknowledged"
expect_in "$T/hold.err" "not acknowledged: the next run delivers them" "unacknowledged items reported"

# A fatal stage: the items it can no longer take are not dead-lettered but left for the
# next run (their source still has them).
pipeline "$T/fatal.json" "{\"name\": \"fatal\", \"state_dir\": \"st-fatal\", \"dead_letter\": \"dl-fatal.jsonl\",
  \"stages\": [$(src "$T/fatal.acks" ', "delay_ms": 5'), {\"plugin\": \"testkit\", \"stage\": \"fatal\"}]}"
run fatal "$WIREPIPE" "$T/fatal.json"
expect_rc 1 "fatal stage" fatal
expect_eq "$(wc -l <"$T/dl-fatal.jsonl")" 1 "only the item that hit the fatal error is dead-lettered"
expect_eq "$(acks "$T/fatal.acks" delivered)" 2 "items before it are acknowledged"

# A closed pipe (| head): exit 0, quietly, and items after the break are not acknowledged;
# a rerun (the source skips what was acknowledged) delivers the rest. (What the pipe itself
# held when the reader left cannot be known: written to the kernel counts as delivered.)
pipeline "$T/head.json" '{"name": "head", "state_dir": "st-head", "stages": [
  {"plugin": "testkit", "stage": "source", "id": "src",
   "config": {"count": 20000, "state": true, "ack_log": "'"$T/head.acks"'"}}]}'
"$WIREPIPE" -q "$T/head.json" 2>"$T/head.err" | head -n 3 >"$T/head.out"
expect_eq "$(wc -c <"$T/head.err")" 0 "a closed pipe is not an error"
acked=$(wc -l <"$T/head.acks")
[ "$acked" -lt 20000 ] && ok "items after the break are not acknowledged ($acked of 20000 were)" ||
    fail "all 20000 acknowledged though the reader left after 3"
run head2 "$WIREPIPE" "$T/head.json"
expect_rc 0 "rerun after the closed pipe" head2
expect_eq "$(sort -u "$T/head.acks" | wc -l)" 20000 "the rerun delivered the rest"
expect_eq "$(($(wc -l <"$T/head2.out") + acked))" 20000 "and only the rest"

# The state folder takes one process at a time: the second exits 75 naming the holder.
pipeline "$T/slow.json" "{\"name\": \"slow\", \"state_dir\": \"st-lock\", \"stages\": [
  $(src "$T/slow.acks" ', "state": true, "delay_ms": 100')]}"
"$WIREPIPE" -q "$T/slow.json" >/dev/null 2>&1 &
first=$!
sleep 0.5
run second "$WIREPIPE" "$T/slow.json"
expect_rc 75 "a second run on the same state folder" second
expect_in "$T/second.err" "st-lock' is in use by process $first" "message names the folder and the holder"
kill -TERM $first
wait $first
RC=$?
expect_eq "$RC" 0 "the first run stops cleanly on SIGTERM"
run third "$WIREPIPE" -q "$T/slow.json" --set src.delay_ms=0
expect_rc 0 "the folder is free once the first run ended" third
expect_eq "$(sort -u "$T/slow.acks" | wc -l)" 20 "together the runs delivered every item"

finish
