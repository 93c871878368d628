#!/bin/sh
# Streaming feeds keep fetch's memory bounded by the queue, not by the number of pages:
# a feed of 2,000 pages of 200 KB (5,000 with WP_LONG_TESTS=1) runs in under 64 MB of peak
# RSS (GNU time's %M). The RSS limit is not checked under sanitizers. Queues hold items, not
# bytes: memory is about queue_size x page size per hop, so the pipeline sets 32 (at the
# default 256, 2,000 pages of 200 KB peak at about 120 MB).
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins fetch
[ -x /usr/bin/time ] || { echo "skipped: needs GNU time (/usr/bin/time)" >&2; exit 77; }

if [ "$WP_LONG_TESTS" = 1 ]; then PAGES=5000; else PAGES=2000; fi
LIMIT_KB=65536
start_server FEED python3 "$WP_TEST_SERVERS/feed_server.py" --entries "$PAGES" \
    --page-bytes 200000
pipeline "$T/p.json" "{\"name\": \"bigfeed\", \"state_dir\": \"state\",
  \"dead_letter\": \"dead.jsonl\", \"queue_size\": 32, \"stages\": [
  {\"plugin\": \"fetch\", \"config\": {\"urls\": [\"http://127.0.0.1:$FEED/feed.xml\"],
     \"follow\": true}}]}"

t0=$(now)
{
    timeout -s KILL 100 /usr/bin/time -f %M -o "$T/rss" "$WIREPIPE" --no-progress "$T/p.json" \
        2>"$T/run.err"
    echo $? >"$T/rc"
} | wc -l >"$T/count"
took=$(python3 -c "print('%.1f' % ($(now) - $t0))")
RC=$(cat "$T/rc")
expect_rc 0 "$PAGES pages of 200 KB" run
expect_eq "$(tr -d ' ' <"$T/count")" "$PAGES" "one item per page"
expect_no_dead_letters "$T/dead.jsonl" "big feed"
rss=$(tail -n 1 "$T/rss")
echo "# $PAGES pages of 200 KB in ${took}s, peak RSS $((rss / 1024)) MB"
if [ -n "${WP_SANITIZE:-}" ]; then
    ok "peak RSS not checked under WP_SANITIZE=$WP_SANITIZE"
elif [ "$rss" -lt "$LIMIT_KB" ]; then
    ok "peak RSS $((rss / 1024)) MB < $((LIMIT_KB / 1024)) MB"
else
    fail "peak RSS $((rss / 1024)) MB, over $((LIMIT_KB / 1024)) MB"
fi
finish
