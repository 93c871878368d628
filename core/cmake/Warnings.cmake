# wp_set_warnings(<target>): the project's warning set, per target so it never reaches
# third-party code. Every flag is accepted by gcc 12 and clang 14.
set(WP_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wold-style-definition -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wformat=2
    -Wimplicit-fallthrough -Wvla -Wnull-dereference -Werror=implicit-function-declaration)

function(wp_set_warnings target)
    target_compile_options(${target} PRIVATE ${WP_WARNING_FLAGS})
endfunction()
