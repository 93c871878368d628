/*
 * mock_host.h - the in-tree name of the mock host: see <wirepipe/testing.h>, which plugin
 * authors get installed with libwirepipe_testing. The in-tree tests link the same code
 * statically beside the core (tests/CMakeLists.txt: wp_mock_host).
 */
#ifndef WP_MOCK_HOST_H
#define WP_MOCK_HOST_H

#include <wirepipe/testing.h>

#endif /* WP_MOCK_HOST_H */
