# Shared helpers for tests/cli/*.sh (POSIX sh). Source it; it makes a scratch folder
# $T that is removed on exit, and counts failures.
set -u
: "${WIREPIPE:?WIREPIPE must name the wirepipe binary}"
: "${WP_FIXTURE_PLUGINS:?WP_FIXTURE_PLUGINS must name the fixture plugin folder}"
T=$(mktemp -d "${TMPDIR:-/tmp}/wp-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAILURES=0
CHECKS=0
export WIREPIPE_PLUGIN_PATH="$WP_FIXTURE_PLUGINS${WIREPIPE_PLUGIN_PATH:+:$WIREPIPE_PLUGIN_PATH}"

fail() {
    FAILURES=$((FAILURES + 1))
    echo "FAIL: $*" >&2
}

ok() {
    CHECKS=$((CHECKS + 1))
    echo "ok $CHECKS - $*"
}

# run NAME CMD...: runs CMD with stdout in $T/NAME.out, stderr in $T/NAME.err, status in $RC.
run() {
    name=$1
    shift
    "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

expect_rc() {
    if [ "$RC" -eq "$1" ]; then ok "$2: exit $1"; else
        fail "$2: expected exit $1, got $RC"
        sed 's/^/    stderr: /' "$T/$3.err" >&2
    fi
}

# expect_in FILE TEXT WHAT: FILE contains TEXT (fixed string).
expect_in() {
    if grep -qF -- "$2" "$1"; then ok "$3"; else
        fail "$3: '$2' not found in $1"
        sed 's/^/    | /' "$1" | head -20 >&2
    fi
}

expect_not_in() {
    if grep -qF -- "$2" "$1"; then
        fail "$3: '$2' unexpectedly found in $1"
    else ok "$3"; fi
}

expect_eq() {
    if [ "$1" = "$2" ]; then ok "$3"; else fail "$3: expected '$2', got '$1'"; fi
}

# pipeline FILE JSON: write a pipeline file.
pipeline() {
    printf '%s\n' "$2" >"$1"
}

# expect_some COUNT WHAT: a loop that should have checked things checked at least one,
# so an empty glob or an empty file is a failure rather than a pass.
expect_some() {
    if [ "$1" -gt 0 ] 2>/dev/null; then ok "$2 ($1 checked)"; else fail "$2: nothing was checked"; fi
}

finish() {
    echo "$CHECKS passed, $FAILURES failed"
    if [ "$CHECKS" -eq 0 ] && [ "$FAILURES" -eq 0 ]; then
        echo "FAIL: the script made no checks" >&2
        exit 1
    fi
    [ "$FAILURES" -eq 0 ]
    exit $?
}
