# serve.sh - start and stop tests/servers/scripted_http.py from a POSIX sh test script.
#
#     . "$WP_TEST_SERVERS/serve.sh"
#     wp_serve routes.json requests.jsonl || exit 1   # log file optional
#     curl -s "http://127.0.0.1:$WP_SERVER_PORT/feed"
#     wp_serve_stop
#
# wp_serve sets WP_SERVER_PORT and WP_SERVER_PID and returns non-zero when the server did
# not come up within 10 s. Always call wp_serve_stop (trap it on EXIT), so no server outlives
# the test.

wp_serve() {
    _wp_serve_out=$(mktemp "${TMPDIR:-/tmp}/wp-serve.XXXXXX") || return 1
    if [ -n "$2" ]; then
        python3 "${WP_TEST_SERVERS:-tests/servers}/scripted_http.py" --routes "$1" --log "$2" \
            >"$_wp_serve_out" &
    else
        python3 "${WP_TEST_SERVERS:-tests/servers}/scripted_http.py" --routes "$1" \
            >"$_wp_serve_out" &
    fi
    WP_SERVER_PID=$!
    _wp_serve_i=0
    while [ ! -s "$_wp_serve_out" ]; do
        if ! kill -0 "$WP_SERVER_PID" 2>/dev/null || [ "$_wp_serve_i" -ge 200 ]; then
            echo "wp_serve: scripted_http.py did not start" >&2
            wp_serve_stop
            return 1
        fi
        sleep 0.05
        _wp_serve_i=$((_wp_serve_i + 1))
    done
    read -r WP_SERVER_PORT <"$_wp_serve_out"
    export WP_SERVER_PORT WP_SERVER_PID
    return 0
}

wp_serve_stop() {
    if [ -n "$WP_SERVER_PID" ]; then
        kill "$WP_SERVER_PID" 2>/dev/null
        wait "$WP_SERVER_PID" 2>/dev/null
        WP_SERVER_PID=
    fi
    [ -n "$_wp_serve_out" ] && rm -f "$_wp_serve_out"
    return 0
}
