#!/bin/sh
# One process per state folder: while a run holds the folder, a second run on it exits 75
# (EX_TEMPFAIL) at once, names the folder and the holder's PID, and emits nothing. The
# lock goes with its holder, also after kill -9; another folder is not affected.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/support/lib.sh"

# A slow source that reads the state store before its first item.
for s in state other; do
    pipeline "$T/$s.json" "{\"name\": \"lock\", \"state_dir\": \"$s\", \"stages\": [
      {\"plugin\": \"testkit\", \"stage\": \"source\", \"id\": \"src\",
       \"config\": {\"count\": 1000, \"state\": true, \"delay_ms\": 20}}]}"
done

run_bg holder "$WIREPIPE" -q --no-progress "$T/state.json"
holder=$PID
i=0
while [ "$(lines "$T/holder.out")" -lt 1 ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
[ "$(lines "$T/holder.out")" -ge 1 ] && ok "the first run is under way" || fail "the first run emits nothing"

t0=$(now)
run second timeout -s KILL 20 "$WIREPIPE" --no-progress "$T/state.json"
took=$(python3 -c "print('%.1f' % ($(now) - $t0))")
expect_rc 75 "a second run on the same folder" second
expect_in "$T/second.err" "$T/state" "the message names the state folder"
if grep -qw -- "$holder" "$T/second.err"; then ok "the message names the holder's PID ($holder)"; else
    fail "the holder's PID $holder is not in the message"
    sed 's/^/    | /' "$T/second.err" >&2
fi
expect_eq "$(lines "$T/second.out")" 0 "the second run emits nothing"
python3 -c "import sys; sys.exit(0 if $took < 5 else 1)" && ok "the second run gives up at once (${took}s)" ||
    fail "the second run took ${took}s to give up"
sed 's/^/# second run: /' "$T/second.err" | head -n 3

run other timeout -s KILL 20 "$WIREPIPE" -q --no-progress --set src.delay_ms=0 --set src.count=3 \
    "$T/other.json"
expect_rc 0 "a run on another folder meanwhile" other

alive "$holder" && ok "the holder still runs" || fail "the holder ended early"
kill -9 "$holder"
wait "$holder" 2>/dev/null
run after timeout -s KILL 30 "$WIREPIPE" -q --no-progress --set src.delay_ms=0 "$T/state.json"
expect_rc 0 "after the holder was killed (-9), the folder can be used again" after
finish
