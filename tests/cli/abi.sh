#!/bin/sh
# The ABI rules at run time: a plugin from the next minor runs on this host; host misuse
# (emit in create, emit from a foreign thread, a bad outcome) is refused without a crash;
# a failing stage's dead letter holds the item as it arrived; held items are counted.
. "$(dirname "$0")/../tools/cli-lib.sh"

# A plugin built against the next minor's headers, needing nothing new, runs here.
pipeline "$T/next.json" '{"name": "next", "stages": [{"plugin": "next_minor_ok"}]}'
printf '{"id":"a"}\n' >"$T/one.jsonl"
run next "$WIREPIPE" -q --no-progress --input "$T/one.jsonl" "$T/next.json"
expect_rc 0 "next-minor plugin runs" next
expect_in "$T/next.out" '"host_has_next":false' "WP_HOST_HAS() says the newer entry is absent"
expect_in "$T/next.out" '"unknown_member_cleared":true' \
    "the host clears the response member it does not know"
expect_in "$T/next.out" '"http_code":"' "its HTTP call returns a status"

# Misuse: emit() inside create() and from a thread of the plugin's own.
pipeline "$T/misuse.json" '{"name": "misuse", "stages": [
  {"plugin": "testkit", "stage": "misuse"}]}'
run misuse "$WIREPIPE" --no-progress --input "$T/one.jsonl" "$T/misuse.json"
expect_rc 0 "misuse does not crash the host" misuse
expect_in "$T/misuse.out" '"create_emit":"invalid"' "emit() in create() gets WP_E_INVALID"
expect_in "$T/misuse.out" '"foreign_emit":"invalid"' "emit() from a foreign thread gets WP_E_INVALID"
expect_in "$T/misuse.err" "plugin 'testkit' called emit() inside create()" "create misuse is logged"
expect_in "$T/misuse.err" "plugin 'testkit' called emit() from a thread" "thread misuse is logged"
n=$(grep -c . "$T/misuse.out")
expect_eq "$n" 1 "misused emits add no items"

# An outcome that is not one of the five: dead-lettered, named, no crash.
printf '{"id":"a","kind":"bad"}\n{"id":"b","kind":"good"}\n' >"$T/two.jsonl"
pipeline "$T/bad.json" "{\"name\": \"bad\", \"dead_letter\": \"$T/bad-dl.jsonl\", \"stages\": [
  {\"plugin\": \"testkit\", \"stage\": \"bad_outcome\"}]}"
run bad "$WIREPIPE" --no-progress --input "$T/two.jsonl" "$T/bad.json"
expect_rc 1 "a bad outcome dead-letters the item" bad
expect_in "$T/bad.err" "plugin 'testkit' returned outcome 42" "the bad outcome is logged"
expect_in "$T/bad-dl.jsonl" '"code":"invalid"' "dead letter says invalid"
expect_in "$T/bad.out" '"id":"b"' "the other item goes on"

# Edited, then rejected: the dead letter carries the item as it arrived.
pipeline "$T/edit.json" "{\"name\": \"edit\", \"dead_letter\": \"$T/edit-dl.jsonl\", \"stages\": [
  {\"plugin\": \"testkit\", \"stage\": \"edit_reject\"}]}"
run edit "$WIREPIPE" --no-progress --input "$T/two.jsonl" "$T/edit.json"
expect_rc 1 "edit then reject" edit
expect_in "$T/edit-dl.jsonl" '"item":{"id":"a","kind":"bad"}' "dead letter holds the item as it arrived"
expect_not_in "$T/edit-dl.jsonl" "half_edited" "and not the half-edited one"

# An emit-only stage that emits 2 of 5, discards 1 and holds 2: the summary adds up.
for i in 1 2 3 4 5; do printf '{"id":"%s"}\n' "$i"; done >"$T/five.jsonl"
pipeline "$T/hold.json" '{"name": "hold", "stages": [
  {"plugin": "testkit", "stage": "hold", "config": {"number": 2}}]}'
run hold "$WIREPIPE" --no-progress --input "$T/five.jsonl" "$T/hold.json"
expect_rc 0 "holding stage" hold
row=$(grep -E 'testkit +5 ' "$T/hold.err" | tr -s ' ' | cut -d' ' -f2-8)
expect_eq "$row" "testkit 5 2 1 0 0 2" "summary: in 5, out 2, dropped 1, failed 0, skipped 0, held 2"
expect_in "$T/hold.err" "2 items were held by the stage and never emitted" "held items are warned about"
finish
