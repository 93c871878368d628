#!/bin/sh
# wirepipe replay: dead letters re-run from the stage that failed them, the file rewritten
# without the records that went through; broken records kept as they are.
. "$(dirname "$0")/../tools/cli-lib.sh"

# Ten items; n = 3, 6, 9 are "bad".
i=1
while [ "$i" -le 10 ]; do
    if [ $((i % 3)) -eq 0 ]; then k=bad; else k=good; fi
    printf '{"n":%d,"kind":"%s"}\n' "$i" "$k"
    i=$((i + 1))
done >"$T/in.jsonl"

# Three stages; the third one fails the bad items. The first two change every item in a
# way a second pass would show: "twice" doubles it (copy 0 and 1), "hold" stamps the
# number of items of its run (20 in the first run, fewer in any replay).
stages() { # GATE_CONFIG [MORE_STAGES]
    printf '[{"plugin": "testkit", "stage": "fanout", "id": "twice", "config": {"number": 2}},
  {"plugin": "testkit", "stage": "batch", "id": "hold"},
  {"plugin": "testkit", "stage": "reject", "id": "gate", "config": %s}%s]' "$1" "${2:-}"
}
pipeline "$T/p.json" "{\"name\": \"rp\", \"dead_letter\": \"dl.jsonl\", \"state_dir\": \"state\",
  \"stages\": $(stages '{"field": "kind", "equals": "bad"}')}"
pipeline "$T/fixed.json" "{\"name\": \"rp\", \"dead_letter\": \"dl.jsonl\", \"state_dir\": \"state\",
  \"stages\": $(stages '{"field": "kind", "equals": "never"}')}"

first_run() {
    rm -f "$T/dl.jsonl"
    run first "$WIREPIPE" -q "$T/p.json" --input "$T/in.jsonl"
    expect_rc 1 "the first run dead-letters" first
    expect_eq "$(wc -l <"$T/dl.jsonl" | tr -d ' ')" 6 "6 dead letters (3 bad items, twice each)"
}

# check_out FILE N WANT: FILE holds N items, each n in WANT (space-separated) with copy 0
# and 1 once each, stamped by the first run's "hold" (20): earlier stages were not re-run.
check_out() {
    python3 - "$@" <<'PY'
import json, sys
path, n, want = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3].split()]
items = [json.loads(l) for l in open(path)]
got = sorted((o["n"], o["copy"]) for o in items)
exp = sorted((x, c) for x in want for c in (0, 1))
ok = len(items) == n and got == exp and all(o.get("batch_size") == 20 for o in items)
if not ok:
    print("    got:", items, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

no_leftovers() {
    set -- "$T"/.dl.jsonl.replay-*
    if [ -e "$1" ]; then fail "temporary files left: $*"; else ok "no temporary files left"; fi
}

# 1. The stage fixed (--set): every item goes through, from the third stage on only.
first_run
chmod 640 "$T/dl.jsonl"
run all "$WIREPIPE" replay --set 'gate.equals="never"' "$T/dl.jsonl" "$T/p.json"
expect_rc 0 "replay with the stage fixed" all
check_out "$T/all.out" 6 "3 6 9" && ok "all 6 published once, not re-run by earlier stages" ||
    fail "replayed items: not each once from stage 3 (see above)"
[ -f "$T/dl.jsonl" ] && [ ! -s "$T/dl.jsonl" ] && ok "dead-letter file emptied" ||
    fail "dead-letter file not empty: $(head -c 300 "$T/dl.jsonl")"
expect_eq "$(stat -c %a "$T/dl.jsonl")" 640 "file mode kept"
expect_in "$T/all.err" "replayed 6, succeeded 6, failed again 0, kept 0 unreplayable" \
    "summary line"
no_leftovers

# 2. Partly fixed: only n = 6 still fails; the file keeps exactly those records, as they
# arrived at the failing stage; then the fixed pipeline file replays those too.
first_run
run part "$WIREPIPE" replay -q --set 'gate.field="n"' --set gate.equals=6 "$T/dl.jsonl" "$T/p.json"
expect_rc 1 "replay with some still failing" part
check_out "$T/part.out" 4 "3 9" && ok "the 4 that now pass are published" ||
    fail "partly fixed: wrong items out"
python3 - "$T/dl.jsonl" <<'PY' && ok "the file keeps exactly the 2 still failing" || fail "partly fixed: wrong records kept"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = len(recs) == 2 and all(r["stage"] == "gate" and r["pipeline"] == "rp" and
    r["item"]["n"] == 6 and r["item"]["batch_size"] == 20 for r in recs)
ok = ok and sorted(r["item"]["copy"] for r in recs) == [0, 1]
sys.exit(0 if ok else 1)
PY
expect_not_in "$T/part.err" "replayed 6" "-q: no summary line"
run again "$WIREPIPE" replay "$T/dl.jsonl" "$T/fixed.json"
expect_rc 0 "replay with the edited pipeline" again
check_out "$T/again.out" 2 "6" && ok "the last 2 are published" || fail "edited pipeline: wrong items"
[ ! -s "$T/dl.jsonl" ] && ok "file emptied by the second replay" || fail "second replay left records"
expect_in "$T/again.err" "replayed 2, succeeded 2, failed again 0" "second summary"
no_leftovers

# 3. Dead letters of the replay go to the replayed file, not to the pipeline's own.
first_run
mv "$T/dl.jsonl" "$T/other.jsonl"
run other "$WIREPIPE" replay -q --set 'gate.field="n"' --set gate.equals=6 "$T/other.jsonl" "$T/p.json"
expect_rc 1 "replay of a file that is not the pipeline's" other
expect_eq "$(wc -l <"$T/other.jsonl" | tr -d ' ')" 2 "the replayed file keeps the 2 failing again"
[ ! -e "$T/dl.jsonl" ] && ok "the pipeline's own dead-letter file is not written" ||
    fail "replay wrote to the pipeline's dead_letter"

# 4. Hostile records: kept byte for byte, each explained with its line, the good ones
# replayed. Blank lines hold nothing and go.
first_run
good=$(head -1 "$T/dl.jsonl")
{
    echo "$good"
    echo '{"stage": "gate", "item": '
    echo '{"time":"x","pipeline":"rp","stage":"gaet","item":{"n":1}}'
    echo '{"pipeline":"rp","stage":"gate"}'
    echo '{"pipeline":"rp","stage":"gate","item":"text"}'
    echo '{"pipeline":"rp","stage":"input","item":"{\"n\":"}'
    echo
    echo '{"pipeline":"rp","stage":"output","item":{"n":2}}'
    echo '{"pipeline":"elsewhere","stage":"gate","item":{"n":3}}'
    echo '[1,2,3]'
    printf '{"pipeline":"rp","stage":"gate","item":{"n":"\303\050"}}\n'
    printf '\377\376{"stage":"gate"}\n'
    printf '{"stage":"gate","item":{"n":1}}\000{"x":1}\n'
    printf '{"pipeline":"rp","stage":"hold","item":{"n":100,"kind":"good","copy":7}}'
} >"$T/hostile.jsonl"
sed -n '2,6p;8,13p' "$T/hostile.jsonl" >"$T/hostile.kept"
run hostile "$WIREPIPE" replay --set 'gate.equals="never"' "$T/hostile.jsonl" "$T/p.json"
expect_rc 1 "records left in the file: exit 1" hostile
expect_in "$T/hostile.err" "hostile.jsonl:2: invalid JSON" "malformed line named with its number"
expect_in "$T/hostile.err" "hostile.jsonl:3: pipeline 'rp' has no stage 'gaet' (did you mean 'gate'?)" \
    "unknown stage explained"
expect_in "$T/hostile.err" "hostile.jsonl:4: the record has no \"item\"" "record without item"
expect_in "$T/hostile.err" "hostile.jsonl:5: the record's \"item\" is not a JSON object" \
    "item not an object"
expect_in "$T/hostile.err" "hostile.jsonl:6: the input line could not be read (stage 'input')" \
    "stage input"
expect_in "$T/hostile.err" "6 more records that cannot be replayed; kept" "the rest counted"
expect_in "$T/hostile.err" "replayed 2, succeeded 2, failed again 0, kept 11 unreplayable" \
    "hostile summary"
cmp -s "$T/hostile.jsonl" "$T/hostile.kept" && ok "unreplayable records kept byte for byte" ||
    fail "unreplayable records changed: $(od -c "$T/hostile.jsonl" | head -20)"
python3 - "$T/hostile.out" <<'PY' && ok "good records replayed from their own stages" || fail "hostile: wrong items out"
import json, sys
items = [json.loads(l) for l in open(sys.argv[1])]
ns = sorted(o["n"] for o in items)
# the gate record of n=3, and the "hold" record re-run from stage 2 (stamped by its run)
ok = ns == [3, 100] and [o for o in items if o["n"] == 100][0]["batch_size"] == 1
sys.exit(0 if ok else 1)
PY

# 5. A line over the 64 MiB limit: kept as it is, not parsed, no crash.
first_run
python3 - "$T/dl.jsonl" "$T/huge.jsonl" <<'PY'
import sys
good = open(sys.argv[1], "rb").readline()
with open(sys.argv[2], "wb") as f:
    f.write(b'{"pipeline":"rp","stage":"gate","item":{"pad":"' + b"\xff" * (65 << 20) + b'"}}\n')
    f.write(good)
PY
head -1 "$T/huge.jsonl" >"$T/huge.kept"
run huge "$WIREPIPE" replay -q --set 'gate.equals="never"' "$T/huge.jsonl" "$T/p.json"
expect_rc 1 "a huge line is kept: exit 1" huge
expect_in "$T/huge.err" "huge.jsonl:1: line longer than the limit of" "huge line explained"
cmp -s "$T/huge.jsonl" "$T/huge.kept" && ok "huge line kept byte for byte" || fail "huge line changed"
expect_eq "$(wc -l <"$T/huge.out" | tr -d ' ')" 1 "the record after it is replayed"

# 6. Killed (kill -9) during a pass: the file is as it was. The next replay removes what
# the killed one left (and only that) and delivers every item (at least once).
pipeline "$T/slow.json" "{\"name\": \"rp\", \"dead_letter\": \"dl.jsonl\", \"state_dir\": \"state\",
  \"stages\": $(stages '{"field": "kind", "equals": "never"}' \
    ', {"plugin": "testkit", "stage": "sleep", "id": "nap", "config": {"number": 300}}')}"
first_run
cp "$T/dl.jsonl" "$T/before-kill.jsonl"
"$WIREPIPE" replay -q "$T/dl.jsonl" "$T/slow.json" >"$T/kill.out" 2>"$T/kill.err" &
victim=$!
sleep 0.5
kill -9 "$victim"
wait "$victim" 2>/dev/null
cmp -s "$T/dl.jsonl" "$T/before-kill.jsonl" && ok "a replay killed mid-pass leaves the file as it was" ||
    fail "killed replay changed the file"
: >"$T/.dl.jsonl.replay-99999.new"
: >"$T/.dl.jsonl.replay-x"
: >"$T/dl.jsonl.replay-99999.notes"
run afterkill "$WIREPIPE" replay "$T/dl.jsonl" "$T/fixed.json"
expect_rc 0 "replay after a killed one" afterkill
check_out "$T/afterkill.out" 6 "3 6 9" && ok "every item delivered after the kill" ||
    fail "after the kill: wrong items"
[ ! -s "$T/dl.jsonl" ] && ok "file emptied after the kill" || fail "records left after the kill"
[ ! -e "$T/.dl.jsonl.replay-99999.new" ] && [ -e "$T/.dl.jsonl.replay-x" ] &&
    [ -e "$T/dl.jsonl.replay-99999.notes" ] && ok "stale temporary files removed, nothing else" ||
    fail "stale files: $(ls -a "$T")"
rm -f "$T/.dl.jsonl.replay-x"
no_leftovers

# 7. Usage and refusals.
run usage "$WIREPIPE" replay "$T/dl.jsonl"
expect_rc 2 "replay wants two files" usage
expect_in "$T/usage.err" "replay wants DEADLETTER.jsonl PIPELINE.json" "usage message"
run noinput "$WIREPIPE" replay --input x "$T/dl.jsonl" "$T/p.json"
expect_rc 2 "replay takes no --input" noinput
run nofile "$WIREPIPE" replay "$T/nonexistent.jsonl" "$T/p.json"
expect_rc 2 "missing dead-letter file" nofile
expect_in "$T/nofile.err" "cannot open '$T/nonexistent.jsonl'" "missing file named"
run badpipe "$WIREPIPE" replay "$T/dl.jsonl" "$T/nonexistent.json"
expect_rc 78 "missing pipeline file" badpipe
first_run
cp "$T/dl.jsonl" "$T/before.jsonl"
run badset "$WIREPIPE" replay --set gate.nosuch=1 "$T/dl.jsonl" "$T/p.json"
expect_rc 78 "bad stage config" badset
cmp -s "$T/dl.jsonl" "$T/before.jsonl" && ok "a config error leaves the file as it was" ||
    fail "config error changed the file"
: >"$T/empty.jsonl"
run empty "$WIREPIPE" replay "$T/empty.jsonl" "$T/p.json"
expect_rc 0 "an empty file" empty
expect_in "$T/empty.err" "nothing to replay" "empty file reported"
run help "$WIREPIPE" --help
expect_in "$T/help.out" "wirepipe replay [options] DEADLETTER.jsonl PIPELINE.json" "--help shows replay"

# 8. A second replay of the same file waits its turn: exit 75, the file untouched.
python3 - "$T/dl.jsonl" "$T/locked" <<'PY' &
import fcntl, os, sys, time
f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close()
time.sleep(10)
PY
locker=$!
n=0
while [ ! -e "$T/locked" ] && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
run locked "$WIREPIPE" replay --set 'gate.equals="never"' "$T/dl.jsonl" "$T/p.json"
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
expect_rc 75 "a file being replayed is refused" locked
expect_in "$T/locked.err" "is being replayed by another process" "lock message"
cmp -s "$T/dl.jsonl" "$T/before.jsonl" && ok "the locked file is untouched" || fail "locked file changed"
finish
