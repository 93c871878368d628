/*
 * fetch_every.c - the "every" key: how often a polling fetch reads its sources again.
 *
 * A duration is a whole number with a unit, "500ms", "30s", "5m", "1h", or a plain number
 * of seconds (30 or "30"). Fractions and combined forms ("1m30s") are refused rather than
 * guessed at: "90s" says the same. The shortest interval is one second: polling a
 * publisher faster than that is abuse, not news, and the host's stop check and the
 * conditional GET cost more than such a poll gains. The longest is a day; anything rarer
 * is a job for cron and `wirepipe --once`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"

#define EVERY_MIN_MS 1000ULL
#define EVERY_MAX_MS (24ULL * 3600 * 1000)

/* Milliseconds per unit @u (@n bytes), or 0 when it is not one. */
static unsigned long long every_unit_ms(const char *u, size_t n)
{
    if (n == 0 || (n == 1 && u[0] == 's'))
        return 1000;
    if (n == 2 && memcmp(u, "ms", 2) == 0)
        return 1;
    if (n == 1 && u[0] == 'm')
        return 60ULL * 1000;
    if (n == 1 && u[0] == 'h')
        return 3600ULL * 1000;
    return 0;
}

/*
 * Parse duration text @s into *@ms. False when it is not a duration; a value too large
 * for any unit comes back as UINT64_MAX so the range check names it.
 */
static bool every_parse_text(const char *s, unsigned long long *ms)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0)
        return false;
    unsigned long long unit = every_unit_ms(s + digits, strlen(s + digits));
    if (unit == 0)
        return false;
    unsigned long long value = 0;
    for (size_t i = 0; i < digits; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (value > (UINT64_MAX - d) / 10) {
            *ms = UINT64_MAX;
            return true;
        }
        value = value * 10 + d;
    }
    *ms = value > UINT64_MAX / unit ? UINT64_MAX : value * unit;
    return true;
}

/* fetch_parse_every() - see fetch.h. */
bool fetch_parse_every(struct wp_ctx *ctx, const json_t *value, unsigned long long *ms)
{
    *ms = 0;
    if (!value || json_is_null(value))
        return true;
    char shown[64];
    unsigned long long parsed = 0;
    bool ok;
    if (json_is_integer(value)) {
        json_int_t n = json_integer_value(value);
        snprintf(shown, sizeof(shown), "%lld", (long long)n);
        ok = n >= 0;
        if (ok)
            parsed = (unsigned long long)n > UINT64_MAX / 1000 ? UINT64_MAX
                                                               : (unsigned long long)n * 1000;
    } else if (json_is_string(value)) {
        /* Shown cut to 40 bytes, at a character boundary so the message stays UTF-8. */
        const char *text = json_string_value(value);
        size_t len = json_string_length(value), cut = len > 40 ? 40 : len;
        while (cut > 0 && cut < len && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--;
        snprintf(shown, sizeof(shown), "%.*s%s", (int)cut, text, cut < len ? "..." : "");
        /* A NUL inside the string would hide what follows it from the parser. */
        ok = strlen(json_string_value(value)) == json_string_length(value) &&
             every_parse_text(json_string_value(value), &parsed);
    } else {
        wp_fail(ctx, WP_E_CONFIG,
                "every: expected a duration such as \"30s\", \"5m\" or \"1h\", or a number of "
                "seconds");
        return false;
    }
    if (!ok) {
        wp_fail(ctx, WP_E_CONFIG,
                "every: '%s' is not a duration; write a whole number with a unit, such as "
                "\"30s\", \"5m\" or \"1h\" (ms, s, m, h), or a number of seconds",
                shown);
        return false;
    }
    if (parsed < EVERY_MIN_MS) {
        wp_fail(ctx, WP_E_CONFIG, "every: '%s' is shorter than the minimum of 1s", shown);
        return false;
    }
    if (parsed > EVERY_MAX_MS) {
        wp_fail(ctx, WP_E_CONFIG,
                "every: '%s' is longer than the maximum of 24h; for rarer reads run "
                "`wirepipe --once` from cron or a systemd timer",
                shown);
        return false;
    }
    *ms = parsed;
    return true;
}
