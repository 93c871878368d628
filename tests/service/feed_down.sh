#!/bin/sh
# A feed that is down: the polls fail (503, then connection refused), each one is logged
# and counted, nothing is dead-lettered, the service keeps polling, and when the feed comes
# back its stories are published. SIGTERM still exits 0.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/../reliability/support/lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins fetch

feed FEED 2
port=$FEED
feed_set FEED '{"mode": "down", "status": 503}'
pipeline "$T/desk.json" "{\"name\": \"desk\", \"state_dir\": \"state\",
  \"dead_letter\": \"dead.jsonl\", \"grace_period_s\": 5, \"stages\": [
  {\"plugin\": \"fetch\", \"config\": {\"urls\": [\"http://127.0.0.1:$port/feed.xml\"],
   \"every\": \"1s\", \"max_attempts\": 1, \"connect_timeout_ms\": 500}}]}"

poll_failures_at_least() {
    [ "$(count_in "$T/desk.err" "failed: none of the 1 source(s) answered")" -ge "$1" ]
}

run_bg desk "$WIREPIPE" --no-progress "$T/desk.json"
desk=$PID
wait_until 15 "503: two polls fail" poll_failures_at_least 2
expect_in "$T/desk.err" "http 503 after 1 attempt(s); read again at the next poll" \
    "the 503 is logged with the URL"

# The site goes away altogether: connection refused.
kill "$FEED_PID"
wait "$FEED_PID" 2>/dev/null
before=$(count_in "$T/desk.err" "failed: none of the 1 source(s) answered")
wait_until 15 "refused: two more polls fail" poll_failures_at_least $((before + 2))
alive "$desk" && ok "the service keeps running while its feed is down" ||
    fail "the service ended while the feed was down"
expect_eq "$(lines "$T/desk.out")" 0 "nothing published while the feed is down"

# Back, on the same port, with entries.
feed FEED 4 --port "$port"
wait_until 15 "the feed is back: its 4 stories are published" at_least 4 "$T/desk.out"
sleep 2.2
stop_service "$desk" 5 "desk"
expect_eq "$(ids "$T/desk.out" | uniq | wc -l | tr -d ' ')/$(lines "$T/desk.out")" 4/4 \
    "4 stories, none twice"
expect_no_dead_letters "$T/dead.jsonl" "a feed that was down"
failed_polls=$(count_in "$T/desk.err" "failed: none of the 1 source(s) answered")
echo "# $failed_polls failed polls, then recovery"
expect_in "$T/desk.err" "polling again in" "a failed poll says when the next one is"
finish
