#!/bin/sh
# A feed that gains entries while wirepipe polls it every second (fetch "every": "1s" ->
# publish to a loopback webhook): each new story is published once, none twice, the
# polls in between are conditional (304), the run stays up between polls, and SIGTERM ends
# it with exit 0 within the grace period, also with posts to a slow webhook in flight.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/../reliability/support/lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins fetch publish

feed FEED 3
receiver HOOK "$T/hook.log"
pipeline "$T/desk.json" "{\"name\": \"desk\", \"state_dir\": \"state\",
  \"dead_letter\": \"dead.jsonl\", \"grace_period_s\": 8, \"stages\": [
  {\"plugin\": \"fetch\", \"config\": {\"urls\": [\"http://127.0.0.1:$FEED/feed.xml\"],
   \"every\": \"1s\", \"max_attempts\": 1}},
  {\"plugin\": \"publish\", \"config\": {\"to\": \"http\",
   \"url\": \"http://127.0.0.1:$HOOK/hook\", \"max_attempts\": 2}}]}"

# Stories the webhook has taken (2xx), distinct.
delivered() {
    curl -s -m 2 "http://127.0.0.1:$HOOK/_control" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["unique_delivered"])'
}
delivered_at_least() {
    [ "$(delivered)" -ge "$1" ] 2>/dev/null
}

run_bg desk "$WIREPIPE" --no-progress "$T/desk.json"
desk=$PID
wait_until 20 "the first 3 stories are published" delivered_at_least 3
polls_before=$(count_in "$T/desk.err" "poll ")
feed_set FEED '{"entries": 6}'
wait_until 20 "3 new stories are published after the feed grew to 6" delivered_at_least 6
feed_set FEED '{"entries": 10}'
wait_until 20 "4 more after it grew to 10" delivered_at_least 10
# A few more polls of an unchanged feed: nothing comes out again.
sleep 3
alive "$desk" && ok "the service is still running between polls" || fail "the service ended"
# Then 4 stories while the webhook is slow (0.7 s a post): SIGTERM lands with posts in
# flight, which finish within the grace period.
printf '{"mode": "slow", "delay_ms": 700}\n' >"$T/HOOK.control.tmp" &&
    mv "$T/HOOK.control.tmp" "$T/HOOK.control.json"
feed_set FEED '{"entries": 14}'
wait_until 20 "the slow webhook has taken one of the 4 new stories" delivered_at_least 11
stop_service "$desk" 8 "desk"

expect_no_dead_letters "$T/dead.jsonl" "desk"
python3 - "$T/hook.log" "$T/FEED.requests.jsonl" >"$T/report" <<'PY'
import json, sys
posts = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
ok = [p for p in posts if 200 <= p["status"] < 300]
heads = sorted(json.loads(p["body"])["headline"] for p in ok)
want = sorted("Story %d" % i for i in range(1, 15))
reqs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
feed = [r for r in reqs if r["path"] == "/feed.xml"]
print("# %d posts (%d accepted), %d feed requests (%d answered 304)"
      % (len(posts), len(ok), len(feed), sum(r["status"] == 304 for r in feed)))
print("STORIES %s" % ("ok" if heads == want else "got %s" % heads))
print("KEYS %d/%d" % (len({p["key"] for p in ok}), len(ok)))
print("POLLS %d" % len(feed))
print("NOT_MODIFIED %d" % sum(r["status"] == 304 for r in feed))
print("CONDITIONAL %d" % sum(1 for r in feed[1:] if r["if_none_match"]))
PY
grep '^#' "$T/report"
grep -qx 'STORIES ok' "$T/report" && ok "each of the 14 stories was published exactly once" ||
    fail "stories: $(sed -n 's/^STORIES //p' "$T/report")"
grep -qx 'KEYS 14/14' "$T/report" && ok "no Idempotency-Key was delivered twice" ||
    fail "keys: $(sed -n 's/^KEYS //p' "$T/report")"
[ "$(sed -n 's/^POLLS //p' "$T/report")" -ge 6 ] && ok "the feed was polled again and again" ||
    fail "only $(sed -n 's/^POLLS //p' "$T/report") feed requests"
[ "$(sed -n 's/^NOT_MODIFIED //p' "$T/report")" -ge 2 ] &&
    ok "polls of an unchanged feed are answered 304" || fail "no 304 answers"
[ "$(sed -n 's/^CONDITIONAL //p' "$T/report")" -ge 2 ] &&
    ok "later polls send If-None-Match" || fail "later polls are not conditional"
[ "$(count_in "$T/desk.err" "poll ")" -gt "$polls_before" ] &&
    ok "a summary line per poll" || fail "no per-poll summary lines"
expect_not_in "$T/desk.err" "source(s) answered" "no poll failed"
finish
