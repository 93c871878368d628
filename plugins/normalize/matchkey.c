/*
 * matchkey.c - item.match_key: a lossy key of headline and body for grouping stories.
 * NFKC_Casefold with nonspacing marks stripped, Persian letter forms, ASCII digits, quotes
 * and dashes, and Turkish casing of I and İ, from the per-code-point map of tables.c;
 * ICU computes the rare characters that expand.
 */
#include <stdbool.h>
#include <stdint.h>

#include <unicode/utf16.h>

#include "normalize.h"

struct keyb {
    struct nz_run *r;
    struct wp_buf *out;
    bool pend_space;
    bool need_nfc;
};

static inline bool key_put(struct keyb *k, uint32_t c)
{
    if (!nz_reserve(k->r, k->out, 8))
        return false;
    if (k->pend_space) {
        if (k->out->len)
            k->out->data[k->out->len++] = ' ';
        k->pend_space = false;
    }
    nz_put(k->out, c);
    return true;
}

static bool key_expand(struct keyb *k, uint32_t c)
{
    UChar buf[64];
    int32_t n = nz_key_map_cp((UChar32)c, buf, 64);
    if (n < 0)
        return key_put(k, c); /* cannot happen with ICU's data; keep the character */
    for (int32_t i = 0; i < n;) {
        UChar32 d;
        U16_NEXT(buf, i, n, d);
        if (nz_nfc_sensitive(d))
            k->need_nfc = true;
        if (!key_put(k, (uint32_t)d))
            return false;
    }
    return true;
}

static bool key_append(struct keyb *k, const char *s, size_t n, bool turkish)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char b = u[i];
        /* Fast path: a run of ASCII words and single spaces, and characters whose key
         * form is themselves. */
        if (!k->pend_space && b > 0x20 && b != 0x7F) {
            if (!nz_reserve(k->r, k->out, 2 * (n - i) + 8))
                return false;
            char *o = k->out->data + k->out->len;
            size_t j = i;
            while (j < n) {
                unsigned char x = u[j];
                unsigned char m = nz_key_ascii[x];
                if (m && !(turkish && x == 'I')) {
                    *o++ = (char)m;
                    j++;
                } else if (x > 0x20 && x < 0x7F) {
                    if (x >= 'A' && x <= 'Z') {
                        if (turkish && x == 'I') {
                            *o++ = (char)0xC4; /* U+0131 dotless i */
                            *o++ = (char)0xB1;
                            j++;
                            continue;
                        }
                        x = (unsigned char)(x + 32);
                    }
                    *o++ = (char)x;
                    j++;
                } else if (x == ' ' && j + 1 < n && u[j + 1] > 0x20 && u[j + 1] != 0x7F) {
                    *o++ = ' ';
                    j++;
                } else if (x >= 0x80) {
                    size_t t = j;
                    uint32_t c = nz_next(u, n, &t);
                    if (c >= 0x10000)
                        break;
                    uint8_t kc = nz_key_class[c];
                    if (kc == KEY_PASS) {
                        while (j < t)
                            *o++ = (char)u[j++];
                    } else if ((kc & 0x7F) == KEY_MAP1 && !(turkish && c == 0x130)) {
                        o += wp_utf8_encode(nz_keymap[c], o);
                        if (kc & KEY_NFC)
                            k->need_nfc = true;
                        j = t;
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            if (j > i) {
                k->out->len = (size_t)(o - k->out->data);
                i = j;
                continue;
            }
        }
        if (b < 0x80) {
            i++;
            if (b <= 0x20 || b == 0x7F) {
                k->pend_space = true; /* controls were removed by the display pass */
                continue;
            }
            uint32_t c = b;
            if (b >= 'A' && b <= 'Z')
                c = (turkish && b == 'I') ? 0x131 : (uint32_t)(b + 32);
            if (!key_put(k, c))
                return false;
            continue;
        }
        uint32_t c = nz_next(u, n, &i);
        if (turkish && c == 0x130) {
            if (!key_put(k, 'i'))
                return false;
            continue;
        }
        uint8_t kc = c < 0x10000 ? nz_key_class[c] : KEY_ICU;
        bool ok = true;
        switch (kc & 0x7F) {
            case KEY_PASS:
                ok = key_put(k, c);
                break;
            case KEY_DROP:
                break;
            case KEY_SPACE:
                k->pend_space = true;
                break;
            case KEY_MAP1:
                ok = key_put(k, nz_keymap[c]);
                break;
            default:
                ok = key_expand(k, c);
                break;
        }
        if (kc & KEY_NFC)
            k->need_nfc = true;
        if (!ok)
            return false;
    }
    return true;
}

bool nz_set_match_key(struct nz_run *r, json_t *item, enum nz_lang lang)
{
    const json_t *h = json_object_get(item, WP_ITEM_HEADLINE);
    const json_t *body = json_object_get(item, WP_ITEM_BODY);
    if (!json_is_string(h) && !json_is_string(body))
        return true;
    struct wp_buf *out = &r->out;
    struct keyb k = {.r = r, .out = out};
    bool turkish = lang == LANG_TR;
    size_t total = json_string_length(h) + json_string_length(body) + 16;
    wp_buf_reset(out);
    bool ok = nz_reserve(r, out, total + total / 4);
    if (ok && json_is_string(h))
        ok = key_append(&k, json_string_value(h), json_string_length(h), turkish);
    k.pend_space = true;
    if (ok && json_is_string(body))
        ok = key_append(&k, json_string_value(body), json_string_length(body), turkish);
    nz_buf_end(out);
    if (ok && k.need_nfc)
        ok = nz_nfc_utf8(r, out) >= 0;
    if (ok)
        json_object_set_new(item, WP_ITEM_MATCH_KEY, nz_json_string(out->data, out->len));
    return ok || !r->oom;
}
