#!/bin/sh
# The plugin SDK: install wirepipe into a prefix, build docs/examples/wordcount out of tree
# with find_package(wirepipe) and with pkg-config, and run it in a pipeline.
. "$(dirname "$0")/../tools/cli-lib.sh"
: "${WP_BUILD_DIR:?}" "${WP_SOURCE_DIR:?}"
PREFIX=$T/prefix
EXAMPLE=$WP_SOURCE_DIR/docs/examples/wordcount

run install cmake --install "$WP_BUILD_DIR" --prefix "$PREFIX"
expect_rc 0 "cmake --install" install
[ -f "$PREFIX/include/wirepipe/plugin.h" ] && ok "headers installed" || fail "no headers"
PC_DIR=$(dirname "$(find "$PREFIX" -name wirepipe.pc | head -1)")
plugindir=$(PKG_CONFIG_PATH=$PC_DIR pkg-config --variable=plugindir wirepipe)
case $plugindir in "$PREFIX"/*) ok "wirepipe.pc has plugindir ($plugindir)" ;; *) fail "plugindir '$plugindir'" ;; esac

run configure cmake -S "$EXAMPLE" -B "$T/build-cmake" -DCMAKE_PREFIX_PATH="$PREFIX"
expect_rc 0 "find_package(wirepipe) configures" configure
run build cmake --build "$T/build-cmake"
expect_rc 0 "the example builds with CMake" build

mkdir -p "$T/build-pc"
run make env PKG_CONFIG_PATH="$PC_DIR" make -s -C "$T/build-pc" -f "$EXAMPLE/Makefile" VPATH="$EXAMPLE"
expect_rc 0 "the example builds with pkg-config" make

printf '%s\n' '{"id":"a","body":"one two three four"}' '{"id":"b","body":"short"}' >"$T/in.jsonl"
pipeline "$T/p.json" '{"name": "wc", "stages": [{"plugin": "wordcount", "config": {"min_words": 2}}]}'
for dir in "$T/build-cmake" "$T/build-pc"; do
    run wc "$WIREPIPE" -q --plugin-path "$dir" "$T/p.json" --input "$T/in.jsonl"
    expect_rc 0 "the out-of-tree plugin runs ($dir)" wc
    expect_eq "$(cat "$T/wc.out")" '{"id":"a","body":"one two three four","x_wordcount":4}' \
        "it counted words and dropped the short story"
done
finish
