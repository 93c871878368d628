#!/bin/sh
# webhook_outbox.sh - the webhook outbox through the real binary, across runs:
#  1. the webhook is down for the whole first run: it still exits 0, nothing is
#     dead-lettered, and it says the documents wait for the next run;
#  2. the webhook is up for the second run: the first run's documents go out first, then
#     the second run's, each once, in order;
#  3. the webhook refuses one document (422): only that one is dead-lettered, with the
#     status and the webhook's reason, and the run exits 1;
#  4. four workers and a slow webhook: every document once (the order among workers is
#     the order they stored in, so it is not checked).
# The headers and the bearer token, from the environment, reach the webhook and never
# stderr (-v), --check -v or the dead-letter file.
set -eu
: "${WIREPIPE:?}" "${WP_TEST_SERVERS:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/hook.sh"
work=$(mktemp -d /tmp/wp-outbox-XXXXXX)
trap 'hook_stop; rm -rf "$work"' EXIT

hook_start "$work/posts.jsonl" "$work/ctl.json" down || exit 1
export WP_HOOK_KEY=hdr-secret-7f3a WP_HOOK_TOKEN=tok-secret-91c2
cat >"$work/pipe.json" <<JSON
{
  "name": "outbox",
  "state_dir": "state",
  "dead_letter": "dead.jsonl",
  "stages": [
    { "plugin": "publish", "config": {
        "to": "http", "url": "http://127.0.0.1:$HOOK_PORT/hook", "max_attempts": 1,
        "drain_timeout_s": 2, "headers": { "X-Api-Key": "\${WP_HOOK_KEY}" },
        "bearer_token_env": "WP_HOOK_TOKEN" } }
  ]
}
JSON
no_secrets() {
    if grep -q -e "$WP_HOOK_KEY" -e "$WP_HOOK_TOKEN" "$@"; then
        echo "a secret was shown in $*"
        exit 1
    fi
}

"$WIREPIPE" --check -v "$work/pipe.json" >"$work/check.out" 2>&1
no_secrets "$work/check.out"

# 1. Down for the whole run.
items 1 8 >"$work/in1.jsonl"
"$WIREPIPE" -v --input "$work/in1.jsonl" "$work/pipe.json" 2>"$work/run1.err" || {
    echo "run 1 failed"; cat "$work/run1.err"; exit 1; }
grep -q '8 document(s) wait in the outbox (drain_timeout_s passed); the next run sends them first' \
    "$work/run1.err" || { echo "run 1 did not say what waits"; cat "$work/run1.err"; exit 1; }
no_secrets "$work/run1.err"
[ ! -s "$work/dead.jsonl" ] || { echo "run 1 dead-lettered"; cat "$work/dead.jsonl"; exit 1; }
python3 "$here/check_posts.py" "$work/posts.jsonl" --dead "$work/dead.jsonl"

# 2. Up again: the first run's documents first, then the new ones.
hook_mode "$work/ctl.json" '{"mode": "up"}'
items 9 12 >"$work/in2.jsonl"
"$WIREPIPE" -v --input "$work/in2.jsonl" "$work/pipe.json" 2>"$work/run2.err" || {
    echo "run 2 failed"; cat "$work/run2.err"; exit 1; }
grep -q '8 document(s) from an earlier run wait in the outbox' "$work/run2.err" || {
    echo "run 2 did not report the earlier outbox"; cat "$work/run2.err"; exit 1; }
no_secrets "$work/run2.err"
python3 "$here/check_posts.py" "$work/posts.jsonl" s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 \
    s11 s12 --dead "$work/dead.jsonl"
python3 - "$work/posts.jsonl" "$WP_HOOK_KEY" "$WP_HOOK_TOKEN" <<'PY'
import json, sys
posts = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for p in posts:
    h = {k.lower(): v for k, v in p["headers"].items()}
    assert h.get("x-api-key") == sys.argv[2], h
    assert h.get("authorization") == "Bearer " + sys.argv[3], h
    assert h.get("content-type") == "application/json", h
    assert json.loads(p["body"])["id"] == p["key"], p
PY

# 3. A permanent refusal: dead-lettered with its reason, the others delivered.
hook_mode "$work/ctl.json" '{"mode": "reject", "keys": ["s14"]}'
items 13 15 >"$work/in3.jsonl"
status=0
"$WIREPIPE" --input "$work/in3.jsonl" "$work/pipe.json" 2>"$work/run3.err" || status=$?
[ "$status" -eq 1 ] || { echo "run 3: expected exit status 1, got $status"; cat "$work/run3.err"; exit 1; }
python3 "$here/check_posts.py" "$work/posts.jsonl" s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 \
    s11 s12 s13 s15 --dead "$work/dead.jsonl" --dead-count 1
python3 - "$work/dead.jsonl" <<'PY'
import json, sys
(d,) = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
text = json.dumps(d)
assert d["item"]["id"] == "s14", d
assert "http 422" in text and "rejected by webhook_receiver" in text, d
PY
no_secrets "$work/run3.err" "$work/dead.jsonl"

# 4. Four workers share one outbox; one of them delivers at a time.
hook_mode "$work/ctl.json" '{"mode": "slow", "delay_ms": 20}'
: >"$work/posts.jsonl"
rm -f "$work/dead.jsonl"
sed 's/"max_attempts": 1,/"max_attempts": 1, "max_outbox": 5,/; s/{ "plugin": "publish",/{ "plugin": "publish", "workers": 4,/' \
    "$work/pipe.json" >"$work/pipe4.json"
items 21 60 >"$work/in4.jsonl"
"$WIREPIPE" --input "$work/in4.jsonl" "$work/pipe4.json" 2>"$work/run4.err" || {
    echo "run 4 failed"; cat "$work/run4.err"; exit 1; }
keys=$(items 21 60 | sed 's/^{"id": "\([^"]*\)".*/\1/')
# shellcheck disable=SC2086
python3 "$here/check_posts.py" "$work/posts.jsonl" $keys --any-order --dead "$work/dead.jsonl"
echo ok
