/*
 * wp_cmocka.h - include cmocka with the headers it expects before it, in the order it
 * needs (clang-format would otherwise sort cmocka.h first).
 */
#ifndef WP_CMOCKA_H
#define WP_CMOCKA_H

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#endif /* WP_CMOCKA_H */
