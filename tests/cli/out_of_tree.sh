#!/bin/sh
# The plugin SDK: install wirepipe into a prefix other than the configured one, check that
# the installed wirepipe finds its own plugins, build docs/examples/wordcount and its unit
# test out of tree with find_package(wirepipe) and with pkg-config, install the plugin
# into the plugin folder and run it in a pipeline without --plugin-path. With clang, also
# an AddressSanitizer build of the example (no wirepipe-internal flags). Last, the install
# tree is moved and must still work.
. "$(dirname "$0")/../tools/cli-lib.sh"
: "${WP_BUILD_DIR:?}" "${WP_SOURCE_DIR:?}" "${WP_PLUGIN_DIR:?}"
PREFIX=$T/prefix
EXAMPLE=$WP_SOURCE_DIR/docs/examples/wordcount
# Nothing may come from the build tree or the test environment.
unset WIREPIPE_PLUGIN_PATH
# A sanitized SDK (libwirepipe_testing) needs sanitized consumers.
SAN_FLAGS=${WP_SANITIZE:+-fsanitize=$WP_SANITIZE -fno-omit-frame-pointer}

configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$WP_BUILD_DIR/CMakeCache.txt")
[ "$configured" != "$PREFIX" ] && ok "installing into $PREFIX, not the configured '$configured'" ||
    fail "the test prefix equals the configured one"
run install cmake --install "$WP_BUILD_DIR" --prefix "$PREFIX"
expect_rc 0 "cmake --install --prefix" install
[ -f "$PREFIX/include/wirepipe/plugin.h" ] && ok "headers installed" || fail "no headers"
[ -f "$PREFIX/include/wirepipe/testing.h" ] && ok "testing.h installed" || fail "no testing.h"
PC_DIR=$(dirname "$(find "$PREFIX" -name wirepipe.pc | head -1)")
export PKG_CONFIG_PATH="$PC_DIR"
plugindir=$(pkg-config --variable=plugindir wirepipe)
case $plugindir in "$PREFIX"/*) ok "wirepipe.pc has plugindir ($plugindir)" ;; *) fail "plugindir '$plugindir'" ;; esac
run pc-testing pkg-config --libs wirepipe-testing
expect_rc 0 "pkg-config knows wirepipe-testing" pc-testing

# The installed wirepipe finds the shipped plugins from its own location.
WP_INSTALLED=$PREFIX/bin/wirepipe
run list "$WP_INSTALLED" --list-plugins
expect_rc 0 "installed wirepipe --list-plugins" list
shipped=0
for so in "$WP_PLUGIN_DIR"/*.so; do
    [ -e "$so" ] || continue
    name=$(basename "$so" .so)
    shipped=$((shipped + 1))
    if grep -q "^$name " "$T/list.out"; then :; else fail "shipped plugin '$name' not listed"; fi
    [ -f "$plugindir/$name.so" ] || fail "shipped plugin '$name' not installed in $plugindir"
done
[ "$shipped" -gt 0 ] && ok "$shipped shipped plugins listed by the installed wirepipe" ||
    fail "no shipped plugins in $WP_PLUGIN_DIR"
expect_not_in "$T/list.out" "passthrough" "no fixture plugins leak into the installed list"

printf '%s\n' '{"id":"a","body":"one two three four"}' '{"id":"b","body":"short"}' >"$T/in.jsonl"
pipeline "$T/p.json" '{"name": "wc", "stages": [{"plugin": "wordcount", "config": {"min_words": 2}}]}'
WANT='{"id":"a","body":"one two three four","x_wordcount":4}'

# run_installed WHAT: the installed wirepipe runs wordcount from the plugin folder.
run_installed() {
    run wc "$WP_INSTALLED" -q "$T/p.json" --input "$T/in.jsonl"
    expect_rc 0 "$1: found in the plugin folder without --plugin-path, runs" wc
    expect_eq "$(cat "$T/wc.out")" "$WANT" "$1: it counted words and dropped the short story"
}

# 1. CMake: find_package(wirepipe), wp_add_plugin, ctest, cmake --install.
run configure cmake -S "$EXAMPLE" -B "$T/build-cmake" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" ${SAN_FLAGS:+"-DCMAKE_C_FLAGS=$SAN_FLAGS"}
expect_rc 0 "find_package(wirepipe) configures" configure
run build cmake --build "$T/build-cmake"
expect_rc 0 "the example and its test build with CMake" build
run ctest ctest --test-dir "$T/build-cmake" --output-on-failure
expect_rc 0 "the example's unit test passes (CMake, wirepipe::testing)" ctest
run direct "$WP_INSTALLED" -q --plugin-path "$T/build-cmake" "$T/p.json" --input "$T/in.jsonl"
expect_rc 0 "the CMake build runs with --plugin-path" direct
run cm-install cmake --install "$T/build-cmake"
expect_rc 0 "cmake --install of the example" cm-install
[ -f "$plugindir/wordcount.so" ] && ok "wp_add_plugin installed into plugindir" ||
    fail "wordcount.so not installed into $plugindir"
run_installed "CMake build"
rm -f "$plugindir/wordcount.so"

# 2. pkg-config: the example's Makefile, make check, make install.
mkdir -p "$T/build-pc"
run make make -s -C "$T/build-pc" -f "$EXAMPLE/Makefile" VPATH="$EXAMPLE" \
    CFLAGS="-O2 -Wall -Wextra -Werror $SAN_FLAGS" check
expect_rc 0 "the example builds and its unit test passes with pkg-config" make
run pc-install make -s -C "$T/build-pc" -f "$EXAMPLE/Makefile" VPATH="$EXAMPLE" install
expect_rc 0 "make install copies into plugindir" pc-install
run_installed "pkg-config build"

# 3. clang + AddressSanitizer out of tree: only the user's own flags.
if command -v clang >/dev/null && [ -z "${WP_SANITIZE:-}" ]; then
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
    run asan-configure env CC=clang cmake -S "$EXAMPLE" -B "$T/build-asan" \
        -DCMAKE_PREFIX_PATH="$PREFIX" "-DCMAKE_C_FLAGS=$flags"
    expect_rc 0 "clang ASan build configures" asan-configure
    run asan-build cmake --build "$T/build-asan"
    expect_rc 0 "clang ASan build of the plugin and its test links" asan-build
    run asan-ctest env ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$T/build-asan" \
        --output-on-failure
    expect_rc 0 "the ASan unit test passes, no leaks" asan-ctest
    mkdir -p "$T/build-pc-asan"
    run asan-make make -s -C "$T/build-pc-asan" -f "$EXAMPLE/Makefile" VPATH="$EXAMPLE" CC=clang \
        CFLAGS="-g -Wall -Wextra -Werror $flags" check
    expect_rc 0 "clang ASan build and unit test with pkg-config" asan-make
else
    ok "# skip clang ASan build (no clang, or the SDK itself is sanitized)"
fi

# 4. The install tree moved elsewhere still works, .pc files included.
mv "$PREFIX" "$T/moved"
WP_INSTALLED=$T/moved/bin/wirepipe
run moved-list "$WP_INSTALLED" --list-plugins
expect_in "$T/moved-list.out" "wordcount" "a moved install lists its plugins, the example too"
run_installed "moved install"
moved_dir=$(PKG_CONFIG_PATH="$T/moved${PC_DIR#"$PREFIX"}" pkg-config --variable=plugindir wirepipe)
case $moved_dir in "$T/moved"/*) ok "a moved wirepipe.pc follows ($moved_dir)" ;; *) fail "moved plugindir '$moved_dir'" ;; esac
finish
