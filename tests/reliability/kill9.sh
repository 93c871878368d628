#!/bin/sh
# kill -9 at seeded random points of a feed + pages run that publishes to a webhook, rerun
# after each kill, then once to completion: the webhook must have every story at least
# once (at-least-once delivery: fetch marks an entry seen, and keeps the feed's ETag, only
# when it is acknowledged). Prints the duplicates per kill and in total.
#
#   WP_RELIABILITY_SEED=N   replay one sequence of kill points (printed by every run)
#   WP_LONG_TESTS=1         50 kills over 1,000 entries instead of 20 over 200
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins fetch publish

SEED=${WP_RELIABILITY_SEED:-$(date +%s)}
if [ "$WP_LONG_TESTS" = 1 ]; then KILLS=50 ENTRIES=1000; else KILLS=20 ENTRIES=200; fi
echo "# seed $SEED ($KILLS kills, $ENTRIES entries): rerun with WP_RELIABILITY_SEED=$SEED"

# Pages wait 50-300 ms each (seeded) and the webhook 40 ms per POST, so an uninterrupted
# run takes about 10 s and each kill (0.1-1 s into a run) lands while pages load, items
# wait in queues or POSTs are in flight, with work left for the next run.
start_server FEED python3 "$WP_TEST_SERVERS/feed_server.py" --entries "$ENTRIES" \
    --page-bytes 3000 --delay-ms 50:300 --seed "$SEED" --log "$T/feed.log"
receiver HOOK "$T/hook.log" 40

pipeline "$T/p.json" "{\"name\": \"kill9\", \"state_dir\": \"state\",
  \"dead_letter\": \"dead.jsonl\", \"stages\": [
  {\"plugin\": \"fetch\", \"config\": {\"urls\": [\"http://127.0.0.1:$FEED/feed.xml\"],
     \"follow\": true, \"max_attempts\": 2}},
  {\"plugin\": \"publish\", \"config\": {\"to\": \"http\",
     \"url\": \"http://127.0.0.1:$HOOK/hook\", \"max_attempts\": 2}}]}"

python3 -c "
import random
rng = random.Random($SEED)
for _ in range($KILLS):
    print('%.3f' % rng.uniform(0.1, 1.0))
" >"$T/points"

: >"$T/marks"
k=0
while read -r point; do
    k=$((k + 1))
    run_bg "run$k" "$WIREPIPE" -q --no-progress "$T/p.json"
    sleep "$point"
    killed=0
    alive "$PID" && kill -9 "$PID" 2>/dev/null && killed=1
    wait "$PID" 2>/dev/null
    RC=$?
    if [ $killed = 1 ]; then how="killed at ${point}s"; else
        how="ended, exit $RC"
        # A run that ends before its kill must have ended well.
        [ "$RC" -eq 0 ] || expect_rc 0 "run $k, which ended before its kill" "run$k"
    fi
    echo "$k $(lines "$T/hook.log") $how" >>"$T/marks"
done <"$T/points"

killed=$(grep -c ' killed at ' "$T/marks")
[ "$killed" -ge $((KILLS / 2)) ] && ok "$killed of $KILLS kills interrupted a run" ||
    fail "only $killed of $KILLS kills interrupted a run: the runs end too soon to test anything"

# The last run goes to the end.
run_bg final "$WIREPIPE" --no-progress "$T/p.json"
wait_rc "$PID" 45
expect_rc 0 "the run after $KILLS kills completes" final
echo "final $(lines "$T/hook.log") completed" >>"$T/marks"
expect_no_dead_letters "$T/dead.jsonl" "kill -9 and reruns"

python3 - "$T/hook.log" "$T/marks" "$ENTRIES" >"$T/report" 2>&1 <<'PY'
import json, sys
log, marks, entries = sys.argv[1], sys.argv[2], int(sys.argv[3])
posts = []
for line in open(log, encoding="utf-8"):
    r = json.loads(line)
    if not 200 <= r["status"] < 300:
        continue
    doc = json.loads(r["body"])
    posts.append((doc.get("source", {}).get("guid"), r["key"]))
seen, keys, start, bad_keys = set(), {}, 0, 0
for mark in open(marks):
    name, end, how = mark.split(" ", 2)
    run = posts[start:int(end)]
    dups = sum(1 for guid, _ in run if guid in seen)
    for guid, key in run:
        seen.add(guid)
        if key is None or keys.setdefault(guid, key) != key:
            bad_keys += 1
    print("# run %-5s %-20s %4d posts, %3d new, %3d duplicates"
          % (name, how.strip(), len(run), len(run) - dups, dups))
    start = int(end)
expected = {"story-%d" % i for i in range(1, entries + 1)}
lost = sorted(expected - seen, key=lambda g: int(g.split("-")[1]))
print("# total: %d posts, %d stories delivered, %d lost, %d duplicates"
      % (len(posts), len(seen & expected), len(lost), len(posts) - len(seen)))
print("LOST %d %s" % (len(lost), " ".join(lost[:20])))
print("UNEXPECTED %d" % len(seen - expected))
print("BADKEYS %d" % bad_keys)
PY
grep '^#' "$T/report"
grep -q '^LOST 0 ' "$T/report" && ok "every story reached the webhook at least once" ||
    fail "stories lost: $(sed -n 's/^LOST //p' "$T/report")"
grep -q '^UNEXPECTED 0$' "$T/report" && ok "nothing but the feed's stories was posted" ||
    fail "unexpected documents: $(grep -v '^#' "$T/report")"
grep -q '^BADKEYS 0$' "$T/report" && ok "each story always had the same Idempotency-Key" ||
    fail "missing or changing Idempotency-Key: $(sed -n 's/^BADKEYS //p' "$T/report") posts"

# Once everything is acknowledged, another run fetches the feed conditionally (304) and
# posts nothing.
before=$(lines "$T/hook.log")
run again timeout -s KILL 30 "$WIREPIPE" -q --no-progress "$T/p.json"
expect_rc 0 "a run after completion" again
expect_eq "$(lines "$T/hook.log")" "$before" "a run after completion posts nothing"
expect_eq "$(tail -n 1 "$T/feed.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" \
    304 "a run after completion gets 304 for the feed"
finish
