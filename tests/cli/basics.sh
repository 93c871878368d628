#!/bin/sh
# The command line: help, version, usage errors, --describe, --list-plugins, --set, logs.
. "$(dirname "$0")/../tools/cli-lib.sh"

run version "$WIREPIPE" --version
expect_rc 0 "--version" version
expect_in "$T/version.out" "plugin ABI 2.2" "--version names the ABI"
run help "$WIREPIPE" --help
expect_rc 0 "--help" help
expect_in "$T/help.out" "Exit status: 0 all items done" "--help documents exit codes"
run noargs "$WIREPIPE"
expect_rc 2 "no pipeline is a usage error" noargs
run badopt "$WIREPIPE" --frobnicate x.json
expect_rc 2 "unknown option is a usage error" badopt
run badset "$WIREPIPE" --set nonsense x.json
expect_rc 2 "malformed --set is a usage error" badset
expect_in "$T/badset.err" "--set wants [STAGE.]KEY=VALUE, got 'nonsense'" "--set message"
run missing "$WIREPIPE" "$T/does-not-exist.json"
expect_rc 78 "missing pipeline file" missing
expect_in "$T/missing.err" "does-not-exist.json" "missing file is named"

run describe "$WIREPIPE" --describe testkit
expect_rc 0 "--describe" describe
expect_in "$T/describe.out" "stage 'retry'" "--describe lists stages"
expect_in "$T/describe.out" "number" "--describe lists config keys"
run describe_missing "$WIREPIPE" --describe nosuch
expect_rc 78 "--describe of an unknown plugin" describe_missing

run list "$WIREPIPE" --list-plugins --plugin-path "$WP_FIXTURE_PLUGINS"
expect_in "$T/list.out" "testkit" "--list-plugins finds plugins"
expect_in "$T/list.err" "has no entry symbol" "--list-plugins reports broken files"

# --set overrides a stage's config; an unknown stage id is a config error.
printf '{"n":1,"kind":"bad"}\n' >"$T/one.jsonl"
pipeline "$T/retry.json" '{"name": "retry", "stages": [
  {"plugin": "testkit", "stage": "retry", "id": "r", "max_attempts": 5}]}'
run set "$WIREPIPE" -q --set r.number=3 "$T/retry.json" --input "$T/one.jsonl"
expect_rc 0 "--set run" set
expect_in "$T/set.out" '"attempts":4' "--set r.number=3 took effect"
run setbad "$WIREPIPE" --check --set nosuch.number=3 "$T/retry.json"
expect_rc 78 "--set for an unknown stage" setbad

# JSON log lines are JSON: every stderr line an object with time, level, source and
# message, and there are lines to check (the summary at least), so an empty or text-only
# stderr fails.
run jsonlog "$WIREPIPE" --log-format json "$T/retry.json" --input "$T/one.jsonl"
expect_rc 0 "--log-format json run" jsonlog
if python3 - "$T/jsonlog.err" <<'PY'; then ok "--log-format json writes JSON lines"; else fail "json logs"; fi
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
for n, line in enumerate(lines, 1):
    try:
        rec = json.loads(line)
    except ValueError as e:
        sys.exit(f"stderr line {n} is not JSON ({e}): {line[:200]}")
    if not isinstance(rec, dict):
        sys.exit(f"stderr line {n} is not a JSON object: {line[:200]}")
    for key in ("time", "level", "source", "message"):
        if not isinstance(rec.get(key), str):
            sys.exit(f"stderr line {n} has no string '{key}': {line[:200]}")
if not any("1 items in, 1 out" in json.loads(l)["message"] for l in lines):
    sys.exit(f"no summary line among {len(lines)} log lines")
PY

# Config errors show every problem with its JSON path, and exit 78.
pipeline "$T/cfg.json" '{"name": "cfg", "stages": [
  {"plugin": "testkit", "stage": "retry", "config": {"nubmer": 1, "field": 5}}]}'
run cfg "$WIREPIPE" --check "$T/cfg.json"
expect_rc 78 "config errors" cfg
expect_in "$T/cfg.err" "stages[0].config: unknown key 'nubmer'; did you mean 'number'?" \
    "unknown key named by path, with a did-you-mean"
expect_in "$T/cfg.err" "stages[0].config.field" "type error named by path"
# --set reaches top-level keys too: one file, several desks.
pipeline "$T/desk.json" '{"name": "desk", "stages": [
  {"plugin": "testkit", "stage": "source", "id": "src", "config": {"count": 3, "state": true}}]}'
run desk "$WIREPIPE" -q "$T/desk.json" --set state_dir="$T/desk-a" --set dead_letter="$T/desk-a/dl.jsonl"
expect_rc 0 "--set state_dir=..." desk
[ -f "$T/desk-a/state.db" ] && ok "the state store is in the folder given" || fail "no $T/desk-a/state.db"
run desk2 "$WIREPIPE" --check "$T/desk.json" --set queue_size=0
expect_rc 78 "--set queue_size=0 is checked like the file" desk2
expect_in "$T/desk2.err" "queue_size: expected integer 1..65536, got 0" "with the file's message"
run desk3 "$WIREPIPE" --check "$T/desk.json" --set state_dri=x
expect_in "$T/desk3.err" "did you mean 'state_dir'" "a misspelt top-level key gets a suggestion"
run desk4 "$WIREPIPE" --check "$T/desk.json" --set metrics.listen=127.0.0.1:99999
expect_in "$T/desk4.err" "metrics.listen: expected \"[ADDRESS:]PORT\" with a port 1..65535" "--set metrics.listen is checked"

finish
