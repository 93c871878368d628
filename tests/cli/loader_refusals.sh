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
HOST_ABI=$("$WIREPIPE" --version | sed -n 's/.*plugin ABI \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
set -- $HOST_ABI
MAJOR=$1 MINOR=$2
refused "$F/abi_future.so" "plugin 'abi_future' was built for ABI $((MAJOR + 1)).0, host has $MAJOR.$MINOR" \
    "ABI major differs"
refused "$F/abi_newer_minor.so" \
    "plugin 'abi_newer_minor' needs host ABI $MAJOR.$((MINOR + 1)) or newer, host has $MAJOR.$MINOR" \
    "plugin needs a newer host minor"
refused "$F/next_minor_needed.so" \
    "plugin 'next_minor_needed' needs host ABI $MAJOR.$((MINOR + 1)) or newer, host has $MAJOR.$MINOR" \
    "built against the next minor's headers and needs its entry"
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

# A library whose constructor crashes does not take --list-plugins down.
CRASH=$(dirname "$F")/crash
run list "$WIREPIPE" --plugin-path "$CRASH" --list-plugins
expect_in "$T/list.err" "$CRASH/crashes_on_load.so: " "a crashing library is named"
expect_in "$T/list.err" "while loading" "and the crash is said"
expect_in "$T/list.out" "passthrough" "the listing goes on past it"

# Only the entry symbol is exported, by every plugin we build (and there are some).
checked=0
for so in "$F"/*.so ${WP_PLUGIN_DIR:+"$WP_PLUGIN_DIR"/*.so}; do
    [ -f "$so" ] || continue
    case $(basename "$so") in not_a_plugin.so | no_entry.so) continue ;; esac
    checked=$((checked + 1))
    syms=$(nm -D --defined-only "$so" 2>/dev/null | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
    want="wp_plugin_$(basename "$so" .so) "
    expect_eq "$syms" "$want" "$(basename "$so") exports only its entry symbol"
done
[ "$checked" -ge 5 ] && ok "exports checked on $checked plugins" ||
    fail "exports: only $checked plugins found to check"
finish
