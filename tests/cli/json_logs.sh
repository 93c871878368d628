#!/bin/sh
# --log-format json: every line is one JSON object; the summary is one object per stage
# with its counters as fields (and one for the run), and a warning about an item names it.
. "$(dirname "$0")/../tools/cli-lib.sh"

printf '{"id":"a-1","kind":"good"}\n{"id":"a-2","kind":"bad"}\n{"id":"a-3","kind":"good"}\n' >"$T/in.jsonl"
pipeline "$T/p.json" '{"name": "desk", "dead_letter": "dl.jsonl", "stages": [
  {"plugin": "passthrough"}, {"plugin": "testkit", "stage": "reject", "id": "gate"}]}'
run json "$WIREPIPE" --log-format json "$T/p.json" --input "$T/in.jsonl"
expect_rc 1 "a run with a dead letter" json
python3 - "$T/json.err" >"$T/check.out" 2>&1 <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
stages = {l["stage"]: l for l in lines if l.get("event") == "stage_summary"}
run = [l for l in lines if l.get("event") == "run_summary"]
dead = [l for l in lines if "dead-lettered" in l["message"] and l.get("item_id")]
checks = [
    ("every line is an object with time, level, source, message",
     all({"time", "level", "source", "message"} <= set(l) for l in lines)),
    ("one summary object per stage", sorted(stages) == ["gate", "passthrough"]),
    ("counters as fields", stages.get("gate", {}).get("in") == 3 and stages["gate"].get("failed") == 1
     and stages["passthrough"].get("out") == 3),
    ("the run summary", len(run) == 1 and run[0]["items_in"] == 3 and run[0]["items_out"] == 2
     and run[0]["dead_lettered"] == 1),
    ("the dead-letter warning names the item and the stage",
     len(dead) == 1 and dead[0]["item_id"] == "a-2" and dead[0]["stage"] == "gate"),
]
for what, good in checks:
    print(("ok " if good else "FAIL ") + what)
PY
while read -r verdict rest; do
    if [ "$verdict" = ok ]; then ok "$rest"; else fail "$rest"; fi
done <"$T/check.out"
[ -s "$T/check.out" ] || fail "the log could not be read as JSON Lines"
finish
