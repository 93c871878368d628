#!/bin/sh
# file_idempotent.sh - to=file through the real binary: a rerun of the same stories adds
# nothing, a run with new ones adds only those, and a deleted output file is written
# afresh (the ids remembered belong to the file that is gone).
set -eu
: "${WIREPIPE:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/hook.sh"
work=$(mktemp -d /tmp/wp-fileidem-XXXXXX)
trap 'rm -rf "$work"' EXIT
cat >"$work/pipe.json" <<JSON
{
  "name": "fileidem",
  "state_dir": "state",
  "dead_letter": "dead.jsonl",
  "stages": [ { "plugin": "publish", "config": { "to": "file", "path": "out/items.jsonl" } } ]
}
JSON
lines() {
    n=$(wc -l <"$work/out/items.jsonl")
    [ "$n" -eq "$1" ] || { echo "$2: expected $1 lines, got $n"; cat "$work/out/items.jsonl"; exit 1; }
}
items 1 5 >"$work/in.jsonl"
"$WIREPIPE" -q --input "$work/in.jsonl" "$work/pipe.json"
lines 5 "first run"
"$WIREPIPE" -q --input "$work/in.jsonl" "$work/pipe.json"
lines 5 "rerun"
items 1 7 >"$work/in.jsonl"
"$WIREPIPE" -q --input "$work/in.jsonl" "$work/pipe.json"
lines 7 "run with two new stories"
ids=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in open(sys.argv[1])))' \
    "$work/out/items.jsonl")
[ "$ids" = "s01 s02 s03 s04 s05 s06 s07" ] || { echo "unexpected ids: $ids"; exit 1; }
rm "$work/out/items.jsonl"
"$WIREPIPE" -q --input "$work/in.jsonl" "$work/pipe.json"
lines 7 "after the file was deleted"
: >"$work/out/items.jsonl"
"$WIREPIPE" -q --input "$work/in.jsonl" "$work/pipe.json"
lines 7 "after the file was emptied"
echo ok
