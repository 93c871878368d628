/*
 * backoff.h - the one retry policy: full-jitter exponential backoff and Retry-After
 * parsing, shared by the runner (RETRY outcomes) and the HTTP client.
 */
#ifndef WP_BACKOFF_H
#define WP_BACKOFF_H

#include <stdbool.h>

/*
 * wp__backoff_ms() - a wait for retry number @attempt (1-based): uniformly random in
 * [0, min(@cap_ms, @base_ms * 2^(attempt-1))]. Thread-safe.
 */
unsigned wp__backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms);

/*
 * wp__retry_after_parse() - parse a Retry-After header value (delta-seconds or an
 * HTTP-date, RFC 9110 10.2.3) relative to @now (seconds since the epoch).
 * Returns true with *@delay_ms set (>= 0, clamped to @cap_ms); false for garbage.
 */
bool wp__retry_after_parse(const char *value, long long now, unsigned cap_ms, long *delay_ms);

#endif /* WP_BACKOFF_H */
