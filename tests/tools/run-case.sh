#!/bin/sh
# run-case.sh - run one test-case folder against the wirepipe binary.
#
#   sh run-case.sh check-error DIR
#       Runs "$WIREPIPE --check [args] DIR/pipeline.json" and expects exit status 78 (or
#       the number in DIR/expected_status); every non-empty line of DIR/expected_error
#       must appear in stderr.
#   sh run-case.sh run DIR
#       Copies DIR to a temporary folder and runs
#       "$WIREPIPE [args] pipeline.json --input input.jsonl" there (--input only when
#       input.jsonl exists); expects exit status 0 (or DIR/expected_status), stdout equal
#       to DIR/expected.jsonl as JSON values line by line (key order ignored, keys named
#       in DIR/ignore_keys removed first), and every line of DIR/expected_stderr in stderr.
#
# Optional files in DIR:
#   args             extra command-line arguments, one per line, put before the pipeline
#   env              KEY=VALUE lines exported for the run ('#' lines are comments)
#   expected_status  the exit status to expect
#   ignore_keys      dotted key paths to drop before comparing ("source.fetched_at");
#                    a path passes through arrays, applying to each element
# In args, env values, expected_error and expected_stderr, the text $CASE stands for the
# case folder (in "run" mode, the temporary copy); messages are compared after the
# folder path in stderr is replaced with $CASE.
#
# Environment: WIREPIPE (the binary, required), WIREPIPE_PLUGIN_PATH (passed through).

set -u

usage() {
    echo "usage: sh run-case.sh check-error|run DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
mode=$1
case_arg=$2
case $mode in
    check-error|run) ;;
    *) usage ;;
esac
if [ -z "${WIREPIPE:-}" ]; then
    echo "run-case.sh: WIREPIPE is not set (the path to the wirepipe binary)" >&2
    exit 2
fi
if [ ! -d "$case_arg" ]; then
    echo "run-case.sh: no case folder '$case_arg'" >&2
    exit 2
fi
# An absolute case folder, so messages and $CASE agree whatever the working directory.
src=$(cd "$case_arg" && pwd -P) || exit 2
name=$(basename "$src")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wp-case.XXXXXX") || exit 2
# shellcheck disable=SC2317 # called through trap
cleanup() {
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$mode" = run ]; then
    mkdir "$tmp/case" && cp -R "$src/." "$tmp/case/" || exit 2
    casedir=$(cd "$tmp/case" && pwd -P)
else
    casedir=$src
fi

# subst_case TEXT: TEXT with every literal "$CASE" replaced by the case folder.
subst_case() {
    rest=$1
    out=
    while :; do
        # shellcheck disable=SC2016 # a literal $CASE
        case $rest in
            *'$CASE'*)
                out=$out${rest%%\$CASE*}$casedir
                rest=${rest#*\$CASE}
                ;;
            *) break ;;
        esac
    done
    printf '%s' "$out$rest"
}

fail() {
    echo "FAIL: $mode $name: $*" >&2
    failed=1
}
failed=0

# Environment from DIR/env.
if [ -f "$src/env" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
            ''|'#'*) continue ;;
        esac
        key=${line%%=*}
        case $key in
            ''|[0-9]*|*[!A-Za-z0-9_]*)
                echo "run-case.sh: $src/env: invalid line '$line' (expected KEY=VALUE)" >&2
                exit 2
                ;;
        esac
        [ "$key" = "$line" ] && { echo "run-case.sh: $src/env: no '=' in '$line'" >&2; exit 2; }
        export "$key=$(subst_case "${line#*=}")"
    done < "$src/env"
fi

# Command line: options first, so any option parser accepts them.
set --
if [ "$mode" = check-error ]; then
    set -- --check
fi
if [ -f "$src/args" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        set -- "$@" "$(subst_case "$line")"
    done < "$src/args"
fi
set -- "$@" "$casedir/pipeline.json"
if [ "$mode" = run ] && [ -f "$casedir/input.jsonl" ]; then
    set -- "$@" --input "$casedir/input.jsonl"
fi

if [ "$mode" = check-error ]; then
    expect_status=78
else
    expect_status=0
fi
if [ -f "$src/expected_status" ]; then
    expect_status=$(tr -d ' \t\r\n' < "$src/expected_status")
fi

if [ "$mode" = run ]; then
    (cd "$casedir" && "$WIREPIPE" "$@") > "$tmp/stdout" 2> "$tmp/stderr" < /dev/null
else
    "$WIREPIPE" "$@" > "$tmp/stdout" 2> "$tmp/stderr" < /dev/null
fi
status=$?

# stderr with the case folder written as $CASE (literal replacement, not a regex).
awk -v dir="$casedir" -v src="$src" '
    function repl(s, d,    out, i) {
        out = ""
        while (d != "" && (i = index(s, d)) > 0) {
            out = out substr(s, 1, i - 1) "$CASE"
            s = substr(s, i + length(d))
        }
        return out s
    }
    { print repl(repl($0, dir), src) }' "$tmp/stderr" > "$tmp/stderr.case"

if [ "$status" != "$expect_status" ]; then
    fail "exit status $status, expected $expect_status"
fi

# check_lines FILE: every non-empty line of FILE must occur in stderr, and there must be
# one at least (an empty expectation file would check nothing and always pass).
check_lines() {
    missing=0
    checked=0
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        checked=$((checked + 1))
        if grep -qF -e "$line" "$tmp/stderr.case"; then
            echo "  found    $line" >> "$tmp/report"
        else
            echo "- missing  $line" >> "$tmp/report"
            missing=1
        fi
    done < "$1"
    if [ $checked -eq 0 ]; then
        fail "$(basename "$1") has no lines to look for"
    fi
    if [ $missing -ne 0 ]; then
        fail "stderr lacks lines of $(basename "$1")"
    fi
}

: > "$tmp/report"
if [ "$mode" = check-error ]; then
    if [ -f "$src/expected_error" ]; then
        check_lines "$src/expected_error"
    else
        fail "no expected_error file in the case folder"
    fi
else
    [ -f "$src/expected_stderr" ] && check_lines "$src/expected_stderr"
    if [ -f "$src/expected.jsonl" ]; then
        ignore=/dev/null
        [ -f "$src/ignore_keys" ] && ignore=$src/ignore_keys
        if ! python3 - "$src/expected.jsonl" "$tmp/stdout" "$ignore" > "$tmp/jsondiff" 2>&1 <<'PY'
import difflib, json, sys

def load(path, what):
    values = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                values.append(json.loads(line))
            except ValueError as e:
                print(f"{what} line {n} is not JSON ({e}): {line.rstrip()[:200]}")
                sys.exit(1)
    return values

def drop(value, parts):
    if isinstance(value, list):
        for v in value:
            drop(v, parts)
    elif isinstance(value, dict) and parts:
        if len(parts) == 1:
            value.pop(parts[0], None)
        elif parts[0] in value:
            drop(value[parts[0]], parts[1:])

with open(sys.argv[3], encoding="utf-8") as f:
    ignore = [l.strip().split(".") for l in f if l.strip() and not l.startswith("#")]
expected = load(sys.argv[1], "expected.jsonl")
actual = load(sys.argv[2], "stdout")
for v in expected + actual:
    for parts in ignore:
        drop(v, parts)
canon = lambda vs: [json.dumps(v, sort_keys=True, ensure_ascii=False) for v in vs]
e, a = canon(expected), canon(actual)
if e != a:
    print(f"stdout differs from expected.jsonl ({len(a)} items, expected {len(e)}):")
    for line in difflib.unified_diff(e, a, "expected.jsonl", "stdout", lineterm="", n=1):
        print(line[:2000])
    sys.exit(1)
PY
        then
            fail "stdout does not match expected.jsonl"
            cat "$tmp/jsondiff" >&2
        fi
    elif [ "$expect_status" = 0 ]; then
        fail "no expected.jsonl in the case folder"
    fi
fi

if [ $failed -ne 0 ]; then
    if [ -s "$tmp/report" ]; then
        echo "expected lines (with \$CASE = $casedir):" >&2
        cat "$tmp/report" >&2
    fi
    echo "command: $WIREPIPE $*" >&2
    echo "stderr (\$CASE for the case folder):" >&2
    sed 's/^/+ /' "$tmp/stderr.case" >&2
    exit 1
fi
echo "ok: $mode $name"
exit 0
