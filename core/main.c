#include "wp_internal.h"

#include <stdio.h>

int main(void)
{
    printf("wirepipe %s\n", WP_VERSION_STRING);
    return 0;
}
