#!/bin/sh
# The runner: order, dead letters, retries, flush, fatal stages, on_error, bad input lines.
. "$(dirname "$0")/../tools/cli-lib.sh"

items() { # N: items {"n": i, "kind": ...} with every 7th "bad"
    i=1
    while [ "$i" -le "$1" ]; do
        if [ $((i % 7)) -eq 0 ]; then k=bad; else k=good; fi
        printf '{"n":%d,"kind":"%s"}\n' "$i" "$k"
        i=$((i + 1))
    done
}
items 200 >"$T/in.jsonl"

# Order is the input order, whatever the worker counts and fan-out.
pipeline "$T/order.json" '{"name": "order", "state_dir": "state", "stages": [
  {"plugin": "testkit", "stage": "fanout", "id": "fan", "workers": 3, "config": {"number": 2}},
  {"plugin": "testkit", "stage": "sleep", "id": "nap", "workers": 4, "config": {"number": 1}},
  {"plugin": "passthrough"}]}'
run order "$WIREPIPE" -q "$T/order.json" --input "$T/in.jsonl"
expect_rc 0 "ordered run" order
expect_eq "$(wc -l <"$T/order.out")" 400 "fan-out doubles the items"
python3 - "$T/order.out" <<'PY' && ok "output order equals input order across workers" || fail "order"
import json, sys
got = [(o["n"], o["copy"]) for o in map(json.loads, open(sys.argv[1]))]
want = [(n, c) for n in range(1, 201) for c in range(2)]
sys.exit(0 if got == want else 1)
PY

# Rejected items go to the dead-letter file with stage, reason, attempts and line.
pipeline "$T/reject.json" '{"name": "rej", "dead_letter": "dl.jsonl", "stages": [
  {"plugin": "testkit", "stage": "reject", "id": "gate"}]}'
run reject "$WIREPIPE" "$T/reject.json" --input "$T/in.jsonl"
expect_rc 1 "dead letters make exit 1" reject
expect_eq "$(wc -l <"$T/reject.out")" 172 "good items pass"
expect_eq "$(wc -l <"$T/dl.jsonl")" 28 "every bad item is dead-lettered"
expect_in "$T/dl.jsonl" '"stage":"gate","plugin":"testkit","attempts":1,"error":{"code":"invalid","message":"item marked bad"},"line":7,"item":{"n":7,"kind":"bad"}' "dead-letter record shape"
expect_in "$T/reject.err" "28 dead-lettered to '$T/dl.jsonl'" "summary names the dead-letter file"

# on_error: skip logs and goes on without a dead letter; fail stops the run.
pipeline "$T/skip.json" '{"name": "skip", "dead_letter": "dl-skip.jsonl", "stages": [
  {"plugin": "testkit", "stage": "reject", "on_error": "skip"}]}'
run skip "$WIREPIPE" "$T/skip.json" --input "$T/in.jsonl"
expect_rc 0 "on_error skip" skip
expect_in "$T/skip.err" "skipped item '(no id)': item marked bad" "skip is logged, not silent"
[ ! -e "$T/dl-skip.jsonl" ] && ok "skip writes no dead letter" || fail "skip wrote a dead letter"

# Retries: succeed on the third offer; or give up after max_attempts.
pipeline "$T/retry.json" '{"name": "retry", "stages": [
  {"plugin": "testkit", "stage": "retry", "max_attempts": 3, "config": {"number": 2}}]}'
run retry "$WIREPIPE" "$T/retry.json" --input "$T/in.jsonl"
expect_rc 0 "retry then success" retry
expect_in "$T/retry.out" '{"n":7,"kind":"bad","attempts":3}' "item offered again until it passes"
pipeline "$T/giveup.json" '{"name": "giveup", "dead_letter": "dl-giveup.jsonl", "stages": [
  {"plugin": "testkit", "stage": "retry", "max_attempts": 2, "config": {"number": 5}}]}'
run giveup "$WIREPIPE" "$T/giveup.json" --input "$T/in.jsonl"
expect_rc 1 "retries exhausted" giveup
expect_in "$T/dl-giveup.jsonl" '"attempts":2,"error":{"code":"unavailable","message":"gave up after 2 attempts: upstream busy (attempt 2)"}' "exhausted retry is dead-lettered with attempts"

# A batching stage gets flush() at end of input and emits everything it held.
pipeline "$T/batch.json" '{"name": "batch", "stages": [{"plugin": "testkit", "stage": "batch"}]}'
run batch "$WIREPIPE" "$T/batch.json" --input "$T/in.jsonl"
expect_rc 0 "batch run" batch
expect_eq "$(grep -c '"batch_size":200' "$T/batch.out")" 200 "flush emitted all held items"

# A fatal stage stops the run; items it can no longer take are dead-lettered, not lost.
pipeline "$T/fatal.json" '{"name": "fatal", "dead_letter": "dl-fatal.jsonl", "stages": [
  {"plugin": "testkit", "stage": "fatal"}]}'
run fatal "$WIREPIPE" "$T/fatal.json" --input "$T/in.jsonl"
expect_rc 1 "fatal stage" fatal
expect_in "$T/fatal.err" "fatal: the disk is on fire; stopping the pipeline" "fatal reason printed"
out=$(wc -l <"$T/fatal.out")
dead=$(wc -l <"$T/dl-fatal.jsonl")
read_in=$(sed -n 's/.* \([0-9]*\) items in,.*/\1/p' "$T/fatal.err")
expect_eq "$((out + dead))" "$read_in" "every item read is either out or dead-lettered"

# Malformed JSON Lines: that line is dead-lettered with its number; the rest goes on.
{ echo '{"n":1}'; echo '{"n":2,}'; echo '[1,2]'; echo; echo '{"n":3}'; } >"$T/bad.jsonl"
pipeline "$T/pass.json" '{"name": "pass", "dead_letter": "dl-bad.jsonl", "stages": [{"plugin": "passthrough"}]}'
run bad "$WIREPIPE" "$T/pass.json" --input "$T/bad.jsonl"
expect_rc 1 "malformed input lines" bad
expect_eq "$(cat "$T/bad.out" | tr -d '\n')" '{"n":1}{"n":3}' "good lines pass"
expect_in "$T/dl-bad.jsonl" '"line":2' "bad line 2 dead-lettered"
expect_in "$T/dl-bad.jsonl" 'bad.jsonl:3: expected a JSON object, got an array' "array line 3 explained"

# stdin works: wirepipe p.json < items.jsonl | ...
run stdin "$WIREPIPE" -q "$T/pass.json" <"$T/in.jsonl"
expect_rc 0 "a run from stdin" stdin
expect_eq "$(wc -l <"$T/stdin.out")" 200 "items from stdin reach stdout"

# A pipeline with no stages reads, checks and writes JSON Lines.
pipeline "$T/zero.json" '{"name": "zero", "stages": []}'
run zero "$WIREPIPE" -q "$T/zero.json" --input "$T/in.jsonl"
expect_rc 0 "zero stages" zero
cmp -s "$T/zero.out" "$T/in.jsonl" && ok "zero stages copy items unchanged" || fail "zero stages changed items"

# Backpressure: a long input through a small queue keeps memory flat.
python3 -c 'import sys
for i in range(100000): sys.stdout.write("{\"n\":%d,\"pad\":\"%s\"}\n" % (i, "x" * 900))' >"$T/long.jsonl"
pipeline "$T/long.json" '{"name": "long", "queue_size": 64, "stages": [{"plugin": "passthrough"}]}'
# The run must succeed and write every item: a run that dies early also stays small.
{
    /usr/bin/time -f '%M' -o "$T/rss" "$WIREPIPE" -q "$T/long.json" --input "$T/long.jsonl" \
        2>"$T/long.err"
    echo $? >"$T/long.rc"
} | wc -l >"$T/long.count"
RC=$(cat "$T/long.rc")
expect_rc 0 "100k items through a queue of 64" long
expect_eq "$(tr -d ' ' <"$T/long.count")" 100000 "all 100k items written"
rss=$(tail -1 "$T/rss")
if [ -n "${WP_SANITIZE:-}" ]; then
    # Sanitizers add their own shadow memory: the figure means nothing there.
    ok "peak RSS not measured under sanitizers ($rss KB)"
elif [ "$rss" -gt 0 ] 2>/dev/null && [ "$rss" -lt 65536 ]; then
    ok "100k items (95 MB) in under 64 MB of memory ($rss KB)"
else
    fail "peak RSS '$rss' KB for 95 MB of input"
fi
finish
