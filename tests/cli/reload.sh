#!/bin/sh
# SIGHUP reloads the pipeline file: a valid change takes effect after the items in flight
# finish, without losing or repeating a story; a broken file leaves the old pipeline
# running, with the problem logged as file:line:col.
. "$(dirname "$0")/../tools/cli-lib.sh"

# source -> passthrough, and the same with a stage added that marks every item.
write_pipeline() { # write_pipeline FILE EXTRA_STAGE
    pipeline "$1" "{\"name\": \"desk\", \"state_dir\": \"st\", \"grace_period_s\": 5, \"stages\": [
  {\"plugin\": \"testkit\", \"stage\": \"source\", \"id\": \"src\",
   \"config\": {\"count\": 60, \"delay_ms\": 40, \"state\": true, \"ack_log\": \"$T/acks\"}},
  {\"plugin\": \"passthrough\"}$2]}"
}
MARK=', {"plugin": "testkit", "stage": "retry", "id": "mark", "config": {"field": "language", "equals": "en", "number": 0}}'

write_pipeline "$T/desk.json" ""
"$WIREPIPE" "$T/desk.json" >"$T/run.out" 2>"$T/run.err" &
pid=$!
sleep 0.8
write_pipeline "$T/desk.json" "$MARK"
kill -HUP $pid
wait $pid
RC=$?
expect_rc 0 "a run reloaded once" run
expect_in "$T/run.err" "reloading: finishing items in flight" "the reload is announced"
expect_in "$T/run.err" "reloaded '$T/desk.json'" "the new pipeline started"
expect_eq "$(sed -n 's/.*"id":"\(n-[0-9]*\)".*/\1/p' "$T/run.out" | sort -u | wc -l)" 60 \
    "every story came out"
expect_eq "$(wc -l <"$T/run.out")" 60 "none twice"
before=$(grep -vc '"attempts"' "$T/run.out")
after=$(grep -c '"attempts"' "$T/run.out")
[ "$before" -gt 0 ] && [ "$after" -gt 0 ] && ok "the added stage runs after the reload ($before before, $after after)" ||
    fail "before/after the reload: $before/$after"

# A broken file: logged with its place, and the old pipeline finishes the run.
rm -rf "$T/st" "$T/acks"
write_pipeline "$T/desk.json" ""
"$WIREPIPE" "$T/desk.json" >"$T/broken.out" 2>"$T/broken.err" &
pid=$!
sleep 0.8
printf '{"name": "desk",\n  "stages": [,]}\n' >"$T/desk.json"
kill -HUP $pid
sleep 0.3
printf '{"name": "desk", "stages": [{"plugin": "no_such_plugin"}]}\n' >"$T/desk.json"
kill -HUP $pid
wait $pid
RC=$?
expect_rc 0 "a run with refused reloads" broken
expect_in "$T/broken.err" "not reloaded; the running pipeline goes on" "the refusal is logged"
expect_in "$T/broken.err" "desk.json:2:" "with the file, line and column of the syntax error"
expect_in "$T/broken.err" "no plugin 'no_such_plugin'" "and the plugin that is missing"
expect_eq "$(wc -l <"$T/broken.out")" 60 "the old pipeline delivered every story"
expect_eq "$(grep -c '"attempts"' "$T/broken.out")" 0 "and only the old pipeline ran"

finish
