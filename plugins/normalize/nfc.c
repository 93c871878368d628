/*
 * nfc.c - ICU's NFC on UTF-8 text. The display pass and the match key call it only for
 * text holding a character that can take part in composition or reordering; the quick
 * check below then skips the prefix that is already NFC.
 */
#include <stdint.h>
#include <string.h>

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "normalize.h"

int nz_nfc_utf8(struct nz_run *r, struct wp_buf *b)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t n16 = 0;
    if (b->len > INT32_MAX / 4)
        return -1;
    UChar *s16 = r->host->malloc((b->len + 1) * sizeof(UChar));
    if (!s16) {
        r->oom = true;
        return -1;
    }
    u_strFromUTF8(s16, (int32_t)b->len + 1, &n16, b->data, (int32_t)b->len, &err);
    int result = -1;
    UChar *d16 = NULL;
    if (U_FAILURE(err))
        goto out;
    int32_t span = unorm2_spanQuickCheckYes(nz_nfc, s16, n16, &err);
    if (U_FAILURE(err))
        goto out;
    if (span == n16) {
        result = 0;
        goto out;
    }
    int32_t cap = n16 * 3 + 16;
    d16 = r->host->malloc((size_t)cap * sizeof(UChar));
    if (!d16) {
        r->oom = true;
        goto out;
    }
    memcpy(d16, s16, (size_t)span * sizeof(UChar));
    int32_t dn =
        unorm2_normalizeSecondAndAppend(nz_nfc, d16, span, cap, s16 + span, n16 - span, &err);
    if (U_FAILURE(err))
        goto out;
    if (dn == n16 && memcmp(d16, s16, (size_t)dn * sizeof(UChar)) == 0) {
        result = 0;
        goto out;
    }
    int32_t n8 = 0;
    u_strToUTF8(NULL, 0, &n8, d16, dn, &err);
    if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err))
        goto out;
    err = U_ZERO_ERROR;
    wp_buf_reset(b);
    if (!nz_reserve(r, b, (size_t)n8))
        goto out;
    u_strToUTF8(b->data, (int32_t)b->cap, &n8, d16, dn, &err);
    if (U_FAILURE(err))
        goto out;
    b->len = (size_t)n8;
    nz_buf_end(b);
    result = 1;
out:
    r->host->free(s16);
    r->host->free(d16);
    return result;
}
