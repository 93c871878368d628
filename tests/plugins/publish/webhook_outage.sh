#!/bin/sh
# webhook_outage.sh - the webhook is down (503, Retry-After: 1) for the first 30 s of a run
# of 40 stories: every story is delivered once the webhook is back, each once by
# Idempotency-Key, in order, and nothing is dead-lettered. Takes about 35 s.
set -eu
: "${WIREPIPE:?}" "${WP_TEST_SERVERS:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/hook.sh"
work=$(mktemp -d /tmp/wp-outage-XXXXXX)
trap 'hook_stop; rm -rf "$work"' EXIT

hook_mode "$work/ctl.json" '{"mode": "down", "retry_after": 1, "for_ms": 30000}'
hook_start "$work/posts.jsonl" "$work/ctl.json" || exit 1
cat >"$work/pipe.json" <<JSON
{
  "name": "outage",
  "state_dir": "state",
  "dead_letter": "dead.jsonl",
  "stages": [
    { "plugin": "publish", "config": {
        "to": "http", "url": "http://127.0.0.1:$HOOK_PORT/hook", "drain_timeout_s": 90 } }
  ]
}
JSON
items 1 40 >"$work/in.jsonl"
start=$(date +%s)
"$WIREPIPE" --input "$work/in.jsonl" "$work/pipe.json" 2>"$work/run.err" || {
    echo "the run failed"; cat "$work/run.err"; exit 1; }
end=$(date +%s)
keys=$(items 1 40 | sed 's/^{"id": "\([^"]*\)".*/\1/')
# shellcheck disable=SC2086
python3 "$here/check_posts.py" "$work/posts.jsonl" $keys --dead "$work/dead.jsonl"
refused=$(grep -c '"status": 503' "$work/posts.jsonl" || true)
[ "$refused" -gt 0 ] || { echo "the webhook was never down"; exit 1; }
echo "ok: $((end - start)) s, $refused refused POST(s) during the outage"
