#!/bin/sh
# pipeline_fetch_publish.sh - fetch -> publish through the real wirepipe binary: relative
# paths resolved against the pipeline, ninjs files that validate, stdout JSON Lines, a
# rerun that republishes nothing, and exit status 1 when something was dead-lettered.
set -eu
: "${WIREPIPE:?}" "${WP_TEST_FIXTURES:?}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/wp-fetchpub-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
cp "$WP_TEST_FIXTURES"/fetch/ninjs/*.json "$WP_TEST_FIXTURES/fetch/feeds/atom.xml" "$work/in/"

cat >"$work/dir.json" <<JSON
{
  "name": "fetchpub",
  "state_dir": "state",
  "dead_letter": "dead.jsonl",
  "stages": [
    { "plugin": "fetch", "config": { "paths": ["in"] } },
    { "plugin": "publish", "config": { "to": "dir", "path": "out", "format": "ninjs" } }
  ]
}
JSON
"$WIREPIPE" -q "$work/dir.json"
count=$(ls "$work/out" | wc -l)
[ "$count" -eq 6 ] || { echo "expected 6 ninjs files, got $count"; ls "$work/out"; exit 1; }
python3 "$here/validate_ninjs.py" "$WP_TEST_FIXTURES/publish/ninjs-schema_2.1.json" "$work"/out/*.json
ls -a "$work/out" | grep -q '\.tmp' && { echo "temporary file left behind"; exit 1; }

# A rerun finds every story already published: nothing new, still success.
rm -rf "$work/out"
"$WIREPIPE" -q "$work/dir.json"
[ ! -d "$work/out" ] || [ -z "$(ls "$work/out")" ] || { echo "rerun republished"; exit 1; }

# stdout: JSON Lines, one per item; a broken feed is dead-lettered and the exit status is 1.
printf '<rss version="2.0"><channel><item><title>cut' >"$work/in/broken.xml"
cat >"$work/stdout.json" <<JSON
{
  "name": "fetchpub-stdout",
  "state_dir": "state2",
  "dead_letter": "dead2.jsonl",
  "stages": [
    { "plugin": "fetch", "config": { "paths": ["in/*.xml", "in/ntb_text.json"] } },
    { "plugin": "publish" }
  ]
}
JSON
status=0
"$WIREPIPE" -q "$work/stdout.json" >"$work/stdout.jsonl" || status=$?
[ "$status" -eq 1 ] || { echo "expected exit status 1, got $status"; exit 1; }
lines=$(wc -l <"$work/stdout.jsonl")
[ "$lines" -eq 3 ] || { echo "expected 3 lines on stdout, got $lines"; cat "$work/stdout.jsonl"; exit 1; }
python3 - "$work/stdout.jsonl" <<'PY'
import json, sys
items = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assert items[0]["headline"] == "Тегеран и Анкара договорились", items[0]
assert items[2]["uri"] == "urn:8d19cf88-b3ab-4972-8fec-1207599f2872", items[2]
assert all(i["id"].startswith("sha256:") for i in items)
PY
grep -q 'broken feed: line' "$work/dead2.jsonl" || { echo "no dead letter for the broken feed"; exit 1; }
echo ok
