#include "wp_internal.h"

#include <string.h>

#include "pipeline.h"

/* Longer words are not misspelt keys; skipping them keeps the tables on the stack. */
#define SUGGEST_MAX_LEN 64

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/*
 * Edit distance counting insertions, deletions, substitutions and swaps of two adjacent
 * characters (the "optimal string alignment" form of Damerau-Levenshtein), ignoring case.
 */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][SUGGEST_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        size_t *spare = prev2;
        prev2 = prev;
        prev = cur;
        cur = spare;
    }
    return prev[lb];
}

const char *wp__suggest(const char *word, const char *const *candidates, size_t count)
{
    size_t lw = strlen(word);
    if (lw == 0 || lw > SUGGEST_MAX_LEN)
        return NULL;
    /* One edit for short words, one per three characters for longer ones. */
    size_t limit = lw < 6 ? 1 : lw / 3;
    const char *best = NULL;
    size_t best_dist = limit + 1;
    for (size_t i = 0; i < count; i++) {
        const char *cand = candidates[i];
        if (!cand)
            continue;
        size_t lc = strlen(cand);
        if (lc > SUGGEST_MAX_LEN || (lc > lw ? lc - lw : lw - lc) > limit)
            continue;
        size_t d = edit_distance(word, lw, cand, lc);
        /* Never suggest a word that shares almost nothing with the input. */
        if (d < best_dist && d < lc) {
            best = cand;
            best_dist = d;
        }
    }
    return best;
}
