#!/bin/sh
# Streaming feeds: one slow page does not hold back the other entries of its feed. The
# first entry's page takes 5 s; the first story must reach the webhook well before that,
# and every other story before the slow one.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins fetch publish

ENTRIES=50
SLOW_MS=5000
start_server FEED python3 "$WP_TEST_SERVERS/feed_server.py" --entries "$ENTRIES" \
    --page-bytes 3000 --delay-ms 10:30 --slow-page 1 --slow-ms "$SLOW_MS" --log "$T/feed.log"
receiver HOOK "$T/hook.log"
pipeline "$T/p.json" "{\"name\": \"slowpage\", \"state_dir\": \"state\",
  \"dead_letter\": \"dead.jsonl\", \"stages\": [
  {\"plugin\": \"fetch\", \"config\": {\"urls\": [\"http://127.0.0.1:$FEED/feed.xml\"],
     \"follow\": true}},
  {\"plugin\": \"publish\", \"config\": {\"to\": \"http\",
     \"url\": \"http://127.0.0.1:$HOOK/hook\"}}]}"

t0=$(now)
run_bg run "$WIREPIPE" --no-progress "$T/p.json"
wait_rc "$PID" 40
expect_rc 0 "the run completes" run
expect_no_dead_letters "$T/dead.jsonl" "slow page"

python3 - "$T/hook.log" "$t0" "$ENTRIES" "$SLOW_MS" >"$T/report" <<'PY'
import json, sys
log, t0, entries, slow_ms = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
posts = []
for line in open(log, encoding="utf-8"):
    r = json.loads(line)
    if 200 <= r["status"] < 300:
        posts.append((r["time"], json.loads(r["body"])["source"]["guid"]))
posts.sort()
guids = [g for _, g in posts]
first = posts[0][0] - t0 if posts else float("inf")
before = guids.index("story-1") if "story-1" in guids else -1
print("# first story published %.2fs after the start (slow page: %.1fs); %d of %d stories "
      "before the slow one" % (first, slow_ms / 1000, before, entries - 1))
print("FIRST %d" % (first < slow_ms / 1000))
print("BEFORE %d" % (before == entries - 1))
print("ALL %d" % (set(guids) == {"story-%d" % i for i in range(1, entries + 1)}))
PY
grep '^#' "$T/report"
grep -qx 'FIRST 1' "$T/report" && ok "the first story is published before the slow page arrives" ||
    fail "the first story waited for the slow page"
grep -qx 'BEFORE 1' "$T/report" && ok "every other story is published before the slow one" ||
    fail "stories were held back behind the slow page"
grep -qx 'ALL 1' "$T/report" && ok "every story is published" || fail "stories missing"
finish
