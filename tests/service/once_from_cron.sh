#!/bin/sh
# `wirepipe --once` from a cron-like loop: 3 runs while the feed grows between them publish
# the same stories as one service run (fetch "every") over the same growth: the same ids,
# none twice. A 4th run with nothing new publishes nothing; a --once run on the folder of a
# running service exits 75 (try again later) at once.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/../reliability/support/lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins fetch

feed FEED 3
for desk in cron service; do
    pipeline "$T/$desk.json" "{\"name\": \"$desk\", \"state_dir\": \"$desk-state\",
      \"dead_letter\": \"$desk-dead.jsonl\", \"grace_period_s\": 5, \"stages\": [
      {\"plugin\": \"fetch\", \"config\": {\"urls\": [\"http://127.0.0.1:$FEED/feed.xml\"],
       \"every\": \"1s\", \"max_attempts\": 1}}]}"
done

# The cron side: one --once run per tick, the feed growing between ticks.
: >"$T/cron.jsonl"
n=0
for entries in 3 6 10 10; do
    n=$((n + 1))
    feed_set FEED "{\"entries\": $entries}"
    t0=$(now)
    run "cron$n" timeout -s KILL 30 "$WIREPIPE" --once --no-progress "$T/cron.json"
    took=$(python3 -c "print('%.1f' % ($(now) - $t0))")
    expect_rc 0 "cron run $n (feed of $entries)" "cron$n"
    python3 -c "import sys; sys.exit(0 if $took < 10 else 1)" &&
        ok "cron run $n ends by itself after one poll (${took}s)" ||
        fail "cron run $n took ${took}s"
    cat "$T/cron$n.out" >>"$T/cron.jsonl"
done
expect_eq "$(lines "$T/cron4.out")" 0 "a 4th run with nothing new publishes nothing"
expect_in "$T/cron4.err" "not modified" "the 4th run's request is conditional (304)"

# The service side: one run polling every second over the same growth.
feed_set FEED '{"entries": 3}'
run_bg service "$WIREPIPE" --no-progress "$T/service.json"
svc=$PID
wait_until 20 "service: the first 3 stories" at_least 3 "$T/service.out"
run busy timeout -s KILL 20 "$WIREPIPE" --once --no-progress "$T/service.json"
expect_rc 75 "--once on the folder of the running service" busy
feed_set FEED '{"entries": 6}'
wait_until 20 "service: 6 stories after the feed grew" at_least 6 "$T/service.out"
feed_set FEED '{"entries": 10}'
wait_until 20 "service: 10 stories" at_least 10 "$T/service.out"
sleep 2.5
stop_service "$svc" 5 "service"

ids "$T/cron.jsonl" >"$T/cron.ids"
ids "$T/service.out" >"$T/service.ids"
expect_eq "$(wc -l <"$T/cron.ids" | tr -d ' ')" 10 "cron: 10 stories in all"
expect_eq "$(sort -u "$T/cron.ids" | wc -l | tr -d ' ')" 10 "cron: none twice"
expect_eq "$(sort -u "$T/service.ids" | wc -l | tr -d ' ')" "$(lines "$T/service.ids")" \
    "service: none twice"
if cmp -s "$T/cron.ids" "$T/service.ids"; then ok "cron and service publish the same ids"; else
    fail "cron and service differ"
    diff "$T/cron.ids" "$T/service.ids" | sed 's/^/    | /' >&2
fi
expect_no_dead_letters "$T/cron-dead.jsonl" "cron"
expect_no_dead_letters "$T/service-dead.jsonl" "service"
finish
