# hook.sh - run tests/servers/webhook_receiver.py from a publish test script (POSIX sh).
#
#     . "$here/hook.sh"
#     hook_start "$work/posts.jsonl" "$work/ctl.json" down || exit 1  # sets HOOK_PORT, HOOK_PID
#     trap 'hook_stop; rm -rf "$work"' EXIT
#     hook_mode "$work/ctl.json" '{"mode": "up"}'
#
# hook_start returns non-zero when the receiver did not report its port within 10 s.

hook_start() {
    _hook_out=$(mktemp "${TMPDIR:-/tmp}/wp-hook.XXXXXX") || return 1
    python3 "${WP_TEST_SERVERS:?}/webhook_receiver.py" --log "$1" --control "$2" \
        --mode "${3:-up}" >"$_hook_out" &
    HOOK_PID=$!
    _hook_i=0
    while [ ! -s "$_hook_out" ]; do
        if ! kill -0 "$HOOK_PID" 2>/dev/null || [ "$_hook_i" -ge 200 ]; then
            echo "hook_start: webhook_receiver.py did not start" >&2
            hook_stop
            return 1
        fi
        sleep 0.05
        _hook_i=$((_hook_i + 1))
    done
    read -r HOOK_PORT <"$_hook_out"
    return 0
}

hook_stop() {
    if [ -n "${HOOK_PID:-}" ]; then
        kill "$HOOK_PID" 2>/dev/null
        wait "$HOOK_PID" 2>/dev/null
        HOOK_PID=
    fi
    [ -n "${_hook_out:-}" ] && rm -f "$_hook_out"
    return 0
}

# hook_mode CONTROL JSON: replace the control file in one rename, so it is never read half.
hook_mode() {
    printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}

# items FIRST LAST: JSON Lines stories s<FIRST> .. s<LAST> on stdout.
items() {
    _i=$1
    while [ "$_i" -le "$2" ]; do
        printf '{"id": "s%02d", "headline": "Story %d", "body": "Paragraph.", "language": "en"}\n' \
            "$_i" "$_i"
        _i=$((_i + 1))
    done
}
