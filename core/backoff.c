/*
 * backoff.c - full-jitter exponential backoff and Retry-After parsing.
 *
 * Full jitter (a uniform wait in [0, min(cap, base * 2^(n-1))]) spreads the retries of many
 * clients that failed at the same moment, so a recovering service is not hit by a wave.
 */
#include "wp_internal.h"

#include "backoff.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/*
 * A per-thread xorshift64* generator: no lock on the retry path, and each thread gets its
 * own seed so workers that fail together do not draw the same waits.
 */
static _Thread_local uint64_t rng_state;

static uint64_t rng_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
               (uint64_t)(uintptr_t)&rng_state ^ (uint64_t)pthread_self();
    }
    return seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t rng_next(void)
{
    if (rng_state == 0)
        rng_state = rng_seed();
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

unsigned wp__backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms)
{
    if (attempt == 0)
        attempt = 1;
    /* base * 2^(attempt-1) in 64 bits; past 32 doublings any unsigned base exceeds the cap */
    unsigned shift = attempt - 1;
    uint64_t ceiling = shift >= 32 ? UINT64_MAX : (uint64_t)base_ms << shift;
    if (base_ms == 0)
        ceiling = 0;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    /* uniform in [0, ceiling]: scale the top 32 random bits to ceiling + 1 values */
    uint64_t r = rng_next() >> 32;
    return (unsigned)((r * (ceiling + 1)) >> 32);
}

static int month_index(const char *name)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++) {
        if (strcmp(name, months[i]) == 0)
            return i;
    }
    return -1;
}

/*
 * Parse the three HTTP-date forms of RFC 9110 5.6.7 strictly (the whole value must match):
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   RFC 850      Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime      Sun Nov  6 08:49:37 1994
 * Month names are compared by hand so the process locale cannot change the result.
 */
static bool http_date_parse(const char *s, long long *out)
{
    char wday[16], mon[4];
    int day, year, hh, mm, ss, used = -1;
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    /* The field widths bound every number, so sscanf cannot overflow them. */
    // NOLINTBEGIN(cert-err34-c)
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wday, &day, mon, &year, &hh,
               &mm, &ss, &used) == 7 &&
        used > 0 && s[used] == '\0') {
        /* IMF-fixdate */
    } else if (used = -1, sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wday, &day,
                                 mon, &year, &hh, &mm, &ss, &used) == 7 &&
                              used > 0 && s[used] == '\0') {
        /* RFC 850: a two-digit year; RFC 9110 reads far-future years as the past century */
        year += year < 70 ? 2000 : 1900;
    } else if (used = -1, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wday, mon, &day,
                                 &hh, &mm, &ss, &year, &used) == 7 &&
                              used > 0 && s[used] == '\0') {
        /* asctime */
    } else {
        return false;
    }
    // NOLINTEND(cert-err34-c)
    int m = month_index(mon);
    if (m < 0 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
        ss > 60 || year < 1900 || year > 9999)
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = m;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = (long long)t;
    return true;
}

bool wp__retry_after_parse(const char *value, long long now, unsigned cap_ms, long *delay_ms)
{
    if (!value || !delay_ms)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
                       value[len - 1] == '\n'))
        len--;
    if (len == 0 || len > 64)
        return false;
    char text[65];
    memcpy(text, value, len);
    text[len] = '\0';

    long long seconds;
    if (strspn(text, "0123456789") == len) {
        /* delta-seconds; too many digits to represent still means "longer than the cap" */
        errno = 0;
        char *end = NULL;
        seconds = strtoll(text, &end, 10);
        if (errno == ERANGE)
            seconds = LLONG_MAX;
    } else {
        long long when;
        if (!http_date_parse(text, &when))
            return false;
        seconds = when > now ? when - now : 0;
    }
    long long ms = seconds > (long long)cap_ms / 1000 + 1 ? (long long)cap_ms : seconds * 1000;
    if (ms > (long long)cap_ms)
        ms = cap_ms;
    *delay_ms = (long)ms;
    return true;
}
