#!/bin/sh
# `wirepipe ... | head -n 1`: the run ends quietly with status 0 as soon as its reader is
# gone, acknowledges only what it wrote, and a rerun delivers the rest. Two outputs: the
# host's own (no sink) and publish to: stdout. The source is testkit's "source" with state
# and an ack log, so the test sees exactly what was acknowledged.
. "$(dirname "$0")/../tools/cli-lib.sh"
. "$(dirname "$0")/support/lib.sh"
need_plugins publish

COUNT=200
# head_case NAME SINK_STAGE
head_case() {
    c=$1
    pipeline "$T/$c.json" "{\"name\": \"$c\", \"state_dir\": \"$c-state\",
      \"dead_letter\": \"$c-dead.jsonl\", \"stages\": [
      {\"plugin\": \"testkit\", \"stage\": \"source\", \"id\": \"src\",
       \"config\": {\"count\": $COUNT, \"state\": true, \"ack_log\": \"$c-acks.txt\",
                  \"delay_ms\": 10}}$2]}"

    # 1. The real thing: | head -n 1.
    mkfifo "$T/$c.fifo"
    "$WIREPIPE" -q --no-progress "$T/$c.json" >"$T/$c.fifo" 2>"$T/$c.head.err" &
    pid=$!
    track "$pid"
    head -n 1 <"$T/$c.fifo" >"$T/$c.head.out"
    wait_rc "$pid" 20
    expect_rc 0 "$c: | head -n 1" "$c.head"
    if grep -Eiq 'error|broken pipe|epipe|not written|signal' "$T/$c.head.err"; then
        fail "$c: | head -n 1 is not quiet"
        sed 's/^/    | /' "$T/$c.head.err" >&2
    else
        ok "$c: | head -n 1 is quiet"
    fi
    expect_eq "$(lines "$T/$c.head.out")" 1 "$c: head got its line"
    acked=$(lines "$T/$c-acks.txt")
    [ "$acked" -lt "$COUNT" ] && ok "$c: the run stopped early ($acked of $COUNT acknowledged)" ||
        fail "$c: all $COUNT acknowledged although the reader left after one line"

    # 2. A reader that takes the first line and whatever else is already in the pipe, then
    #    closes it: every acknowledged id must be among what it read.
    rm -rf "$T/$c-state" "$T/$c-acks.txt" "$T/$c.fifo"
    mkfifo "$T/$c.fifo"
    "$WIREPIPE" -q --no-progress "$T/$c.json" >"$T/$c.fifo" 2>"$T/$c.read.err" &
    pid=$!
    track "$pid"
    python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
data = b""
while b"\n" not in data:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    data += chunk
fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
try:
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
except BlockingIOError:
    pass
os.close(fd)
sys.stdout.buffer.write(data)
' "$T/$c.fifo" >"$T/$c.read.out"
    wait_rc "$pid" 20
    expect_rc 0 "$c: a reader that leaves" "$c.read"
    expect_no_dead_letters "$T/$c-dead.jsonl" "$c: a closed pipe"
    cp "$T/$c-acks.txt" "$T/$c-acks.1.txt"

    # 3. The rerun, to the end.
    run "$c.rerun" timeout -s KILL 30 "$WIREPIPE" -q --no-progress --set src.delay_ms=0 "$T/$c.json"
    expect_rc 0 "$c: the rerun" "$c.rerun"
    python3 - "$T/$c.read.out" "$T/$c-acks.1.txt" "$T/$c.rerun.out" "$COUNT" >"$T/$c.report" <<'PY'
import json, sys
def ids(path):
    return [json.loads(l)["id"] for l in open(path, encoding="utf-8") if l.strip()]
read, rerun = ids(sys.argv[1]), ids(sys.argv[3])
acks = [l.split()[0] for l in open(sys.argv[2])]
count = int(sys.argv[4])
first_acks = set(acks)
print("# read %d lines before closing; %d acknowledged then; the rerun wrote %d"
      % (len(read), len(first_acks), len(rerun)))
print("NOTWRITTEN %s" % " ".join(sorted(first_acks - set(read))))
print("LOST %s" % " ".join(sorted({"n-%d" % i for i in range(1, count + 1)} - set(read) - set(rerun))))
print("AGAIN %s" % " ".join(sorted(set(rerun) & first_acks)))
PY
    sed "s/^# /# $c: /" "$T/$c.report" | grep '^#'
    grep -qx 'NOTWRITTEN ' "$T/$c.report" && ok "$c: only what was written was acknowledged" ||
        fail "$c: acknowledged but never written: $(sed -n 's/^NOTWRITTEN //p' "$T/$c.report")"
    grep -qx 'LOST ' "$T/$c.report" && ok "$c: the rerun delivered the rest" ||
        fail "$c: lost: $(sed -n 's/^LOST //p' "$T/$c.report" | cut -c1-200)"
    grep -qx 'AGAIN ' "$T/$c.report" && ok "$c: the rerun repeated nothing acknowledged" ||
        fail "$c: acknowledged items delivered again: $(sed -n 's/^AGAIN //p' "$T/$c.report")"
}

head_case host ""
head_case publish ", {\"plugin\": \"publish\", \"config\": {\"to\": \"stdout\"}}"
finish
