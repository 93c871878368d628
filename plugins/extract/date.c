/*
 * date.c - publication dates as pages write them, normalised to RFC 3339 UTC: ISO 8601 /
 * RFC 3339, RFC 822 and free-form ("22 June 2021 23:35 GMT").
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "extract.h"

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

int ex_month_of(const char *w, size_t n)
{
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    if (n < 3)
        return 0;
    for (int i = 0; i < 12; i++) {
        if (ex_ascii_lower(w[0]) == names[i][0] && ex_ascii_lower(w[1]) == names[i][1] &&
            ex_ascii_lower(w[2]) == names[i][2])
            return i + 1;
    }
    return 0;
}

static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/*
 * A zone offset "+hh", "+hhmm" or "+hh:mm" at @p (the sign, then two digits at least) into
 * *@offset, in seconds east of UTC; *@in_range says whether hours are at most 23 and
 * minutes at most 59. Returns the end of the offset.
 */
static const char *zone_offset(const char *p, long *offset, bool *in_range)
{
    int sign = *p == '-' ? -1 : 1;
    int oh = digits_value(p + 1, 2), om = 0;
    p += 3;
    if (*p == ':')
        p++;
    if (ex_is_digit(p[0]) && ex_is_digit(p[1])) {
        om = digits_value(p, 2);
        p += 2;
    }
    *offset = sign * (oh * 3600L + om * 60L);
    *in_range = oh <= 23 && om <= 59;
    return p;
}

static bool format_utc(long long days, long secs, char out[EX_DATE_SIZE])
{
    while (secs < 0) {
        secs += 86400;
        days--;
    }
    while (secs >= 86400) {
        secs -= 86400;
        days++;
    }
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1900 || y > 2200)
        return false;
    snprintf(out, EX_DATE_SIZE, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", y, m, d, secs / 3600,
             (secs / 60) % 60, secs % 60);
    return true;
}

/* ISO 8601: 2019-11-19, 2019-11-19T10:20, 2019-11-19 10:20:30.123+01:00, ...Z, +0100. */
static bool parse_iso_date(const char *s, char out[EX_DATE_SIZE])
{
    while (*s == ' ')
        s++;
    if (!(ex_is_digit(s[0]) && ex_is_digit(s[1]) && ex_is_digit(s[2]) && ex_is_digit(s[3]) &&
          s[4] == '-' && ex_is_digit(s[5]) && ex_is_digit(s[6]) && s[7] == '-' &&
          ex_is_digit(s[8]) && ex_is_digit(s[9])))
        return false;
    int y = digits_value(s, 4), mo = digits_value(s + 5, 2), d = digits_value(s + 8, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *p = s + 10;
    long secs = 0;
    long offset = 0;
    if ((*p == 'T' || *p == 't' || *p == ' ') && ex_is_digit(p[1]) && ex_is_digit(p[2]) &&
        p[3] == ':' && ex_is_digit(p[4]) && ex_is_digit(p[5])) {
        int hh = digits_value(p + 1, 2), mi = digits_value(p + 4, 2), ss = 0;
        p += 6;
        if (*p == ':' && ex_is_digit(p[1]) && ex_is_digit(p[2])) {
            ss = digits_value(p + 1, 2);
            p += 3;
        }
        if (*p == '.' || *p == ',') {
            p++;
            while (ex_is_digit(*p))
                p++;
        }
        if (hh > 24 || mi > 59 || ss > 60)
            return false;
        secs = hh * 3600L + mi * 60L + (ss == 60 ? 59 : ss);
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if ((*p == '+' || *p == '-') && ex_is_digit(p[1]) && ex_is_digit(p[2])) {
            bool in_range;
            zone_offset(p, &offset, &in_range);
            if (!in_range)
                return false;
        }
    }
    return format_utc(days_from_civil(y, (unsigned)mo, (unsigned)d), secs - offset, out);
}

/*
 * Free-form dates as news pages print them: "Tue, 19 Nov 2019 10:20:00 GMT",
 * "November 19, 2019 10:20 AM EST", "23:35 GMT22 June 2021". Needs a month name, a day
 * and a four-digit year; time and zone are optional (a date alone means 00:00 UTC).
 */
static bool parse_loose_date(const char *s, char out[EX_DATE_SIZE])
{
    int year = -1, month = 0, day = -1, hh = -1, mi = 0, ss = 0;
    long offset = 0;
    bool in_range; /* not checked: a loose date takes the offset it prints */
    bool pm = false, am = false;
    const char *p = s;
    size_t guard = 0;
    while (*p && guard++ < 256) {
        if (ex_is_digit(*p)) {
            const char *q = p;
            while (ex_is_digit(*q))
                q++;
            size_t n = (size_t)(q - p);
            if (*q == ':' && n <= 2 && ex_is_digit(q[1]) && ex_is_digit(q[2]) && hh < 0) {
                hh = digits_value(p, n);
                mi = digits_value(q + 1, 2);
                q += 3;
                if (*q == ':' && ex_is_digit(q[1]) && ex_is_digit(q[2])) {
                    ss = digits_value(q + 1, 2);
                    q += 3;
                }
            } else if (n == 4 && year < 0) {
                year = digits_value(p, 4);
            } else if (n <= 2 && day < 0) {
                day = digits_value(p, n);
            }
            p = q;
        } else if (ex_is_alpha(*p)) {
            const char *q = p;
            while (ex_is_alpha(*q))
                q++;
            size_t n = (size_t)(q - p);
            int m = ex_month_of(p, n);
            if (m && month == 0 && n <= 9) {
                month = m;
            } else if ((n == 2 && ex_istarts(p, "pm")) || (n == 4 && ex_istarts(p, "p.m."))) {
                pm = true;
            } else if (n == 2 && ex_istarts(p, "am")) {
                am = true;
            } else if ((n == 3 && (ex_istarts(p, "gmt") || ex_istarts(p, "utc"))) ||
                       (n == 1 && (*p == 'Z' || *p == 'z'))) {
                if ((*q == '+' || *q == '-') && ex_is_digit(q[1]) && ex_is_digit(q[2]))
                    q = zone_offset(q, &offset, &in_range);
            } else if (n == 3 && p[2] == 'T' && (p[1] == 'S' || p[1] == 'D')) {
                /* North American zones: EST, EDT, CST, CDT, MST, MDT, PST, PDT. */
                static const char zones[] = "ECMP";
                const char *z = strchr(zones, p[0]);
                if (z) {
                    long base = -(5 + (long)(z - zones)) * 3600L;
                    offset = base + (p[1] == 'D' ? 3600L : 0);
                }
            }
            p = q;
        } else if ((*p == '+' || *p == '-') && hh >= 0 && ex_is_digit(p[1]) && ex_is_digit(p[2]) &&
                   ex_is_digit(p[3]) && ex_is_digit(p[4])) {
            p = zone_offset(p, &offset, &in_range);
        } else {
            p++;
        }
    }
    if (year < 0 || month == 0 || day < 1 || day > 31)
        return false;
    long secs = 0;
    if (hh >= 0) {
        if (pm && hh < 12)
            hh += 12;
        if (am && hh == 12)
            hh = 0;
        if (hh > 23 || mi > 59 || ss > 59)
            return false;
        secs = hh * 3600L + mi * 60L + ss;
    }
    return format_utc(days_from_civil(year, (unsigned)month, (unsigned)day), secs - offset, out);
}

bool ex_parse_date(const char *s, char out[EX_DATE_SIZE])
{
    if (!s || !*s)
        return false;
    return parse_iso_date(s, out) || parse_loose_date(s, out);
}
