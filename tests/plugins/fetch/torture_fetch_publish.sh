#!/bin/sh
# torture_fetch_publish.sh PROGRAM - run PROGRAM (torture_fetch_publish) once plainly, then
# with WP_FAIL_ALLOC_AT=1, 2, ... until a run matches the plain one: every injected
# allocation failure must end in a clean exit (status 0; ASan/LSan make crashes and leaks
# non-zero). Needs a WP_FAULT_INJECTION build. WP_TORTURE_JANSSON=1 also fails jansson's
# allocations (slow: minutes), tolerating crashes inside libjansson itself.
set -eu
prog=$1
work=$(mktemp -d /tmp/wp-torture-XXXXXX)
trap 'rm -rf "$work"' EXIT
baseline=$("$prog" "$work/base")
echo "baseline: $baseline"
n=1
while [ "$n" -le 20000 ]; do
    rm -rf "$work/out"
    status=0
    out=$(WP_FAIL_ALLOC_AT=$n "$prog" "$work/out" 2>"$work/stderr") || status=$?
    if [ "$status" -ne 0 ] && [ -n "${WP_TORTURE_JANSSON:-}" ] &&
        grep -m1 '^    #0 ' "$work/stderr" | grep -q 'libjansson'; then
        echo "WP_FAIL_ALLOC_AT=$n: crash inside libjansson (not ours), going on"
        status=0
    fi
    if [ "$status" -ne 0 ]; then
        echo "WP_FAIL_ALLOC_AT=$n: exit status $status"
        head -40 "$work/stderr"
        exit 1
    fi
    if [ "$out" = "$baseline" ] && [ "$n" -gt 1 ]; then
        # Past the last allocation of the run (or a failure with no visible effect at all):
        # 100 such runs in a row end the loop.
        same=$(( ${same:-0} + 1 ))
        [ "$same" -ge 100 ] && break
    else
        same=0
    fi
    n=$((n + 1))
done
echo "ran $n injected-failure runs, all clean"
