#!/bin/sh
# Every loader refusal: one clear line naming the plugin and the reason, exit 78.
. "$(dirname "$0")/../tools/cli-lib.sh"
F=$WP_FIXTURE_PLUGINS

refused() { # plugin-spec expected-text what
    pipeline "$T/p.json" "{\"stages\": [{\"plugin\": \"$1\"}]}"
    run refuse "$WIREPIPE" --check "$T/p.json"
    expect_rc 78 "$3" refuse
    expect_in "$T/refuse.err" "$2" "$3: message"
    lines=$(wc -l <"$T/refuse.err")
    expect_eq "$lines" 1 "$3: exactly one line"
}

refused "$F/not_a_plugin.so" "cannot load '$F/not_a_plugin.so'" "not a shared object"
refused "$F/no_entry.so" "has no entry symbol 'wp_plugin_no_entry'" "missing entry symbol"
refused "$F/abi_future.so" "plugin 'abi_future' was built for ABI 2.0, host has 1.0" \
    "ABI major differs"
refused "$F/abi_newer_minor.so" "plugin 'abi_newer_minor' was built for ABI 1.1, host has 1.0" \
    "ABI minor newer than the host"
refused "$F/name_mismatch.so" "declares the name 'other_name'; it must be 'name_mismatch'" \
    "name differs from file"
refused "nosuch" "no plugin 'nosuch' (searched: " "unknown plugin"
refused "$F/fails_create.so" "cannot create stage: the widget endpoint is not configured" \
    "create() failed with the plugin's message"

# Two different files that both claim the name 'passthrough'.
DUP=$(dirname "$F")/dup/passthrough.so
pipeline "$T/p.json" "{\"stages\": [{\"plugin\": \"passthrough\"},
                                    {\"plugin\": \"$DUP\", \"id\": \"second\"}]}"
run dup "$WIREPIPE" --check "$T/p.json"
expect_rc 78 "duplicate plugin name" dup
expect_in "$T/dup.err" "plugin 'passthrough' is already loaded from" "duplicate name: message"

# A good plugin passes.
pipeline "$T/p.json" '{"stages": [{"plugin": "passthrough"}]}'
run good "$WIREPIPE" --check "$T/p.json"
expect_rc 0 "a good plugin loads" good

# Only the entry symbol is exported, by every plugin we build.
for so in "$F"/*.so ${WP_PLUGIN_DIR:+"$WP_PLUGIN_DIR"/*.so}; do
    [ -f "$so" ] || continue
    case $(basename "$so") in not_a_plugin.so | no_entry.so) continue ;; esac
    syms=$(nm -D --defined-only "$so" 2>/dev/null | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
    want="wp_plugin_$(basename "$so" .so) "
    expect_eq "$syms" "$want" "$(basename "$so") exports only its entry symbol"
done
finish
