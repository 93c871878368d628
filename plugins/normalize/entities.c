/*
 * entities.c - HTML entities left in story text: numeric ones, the HTML 4 names of
 * libxml2's table, and text escaped twice ("&amp;#8217;"), decoded in one pass.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libxml/HTMLparser.h>

#include "normalize.h"

/* A valid code point from an entity: C1 numbers mean windows-1252 (as HTML5 reads them). */
static uint32_t entity_cp(unsigned long v)
{
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    if (v >= 0x80 && v <= 0x9F)
        return nz_mb_cp1252((unsigned char)v);
    return (uint32_t)v;
}

/* Parse the entity body after '&' ("#8217;", "#x2019;", "rsquo;"); returns its length
 * including ';', or 0. */
static size_t parse_entity_body(const char *p, size_t n, uint32_t *cp)
{
    size_t i = 0;
    if (n >= 3 && p[0] == '#') {
        bool hex = p[1] == 'x' || p[1] == 'X';
        unsigned long v = 0;
        size_t digits = 0;
        for (i = hex ? 2 : 1; i < n && digits < 8; i++, digits++) {
            char c = p[i];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                d = (c | 0x20) - 'a' + 10;
            else
                break;
            v = v * (hex ? 16 : 10) + (unsigned long)d;
        }
        if (digits == 0 || i >= n || p[i] != ';')
            return 0;
        *cp = entity_cp(v);
        return *cp ? i + 1 : 0;
    }
    char name[33];
    for (i = 0; i < n && i < sizeof(name) - 1; i++) {
        char c = p[i];
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(i > 0 && c >= '0' && c <= '9'))
            break;
        name[i] = c;
    }
    if (i == 0 || i >= n || p[i] != ';')
        return 0;
    name[i] = '\0';
    const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
    if (!e || e->value == 0)
        return 0;
    *cp = e->value;
    return i + 1;
}

bool nz_decode_entities(struct nz_run *r, const char *s, size_t n, struct wp_buf *out)
{
    size_t i = 0, copied = 0;
    bool changed = false;
    wp_buf_reset(out);
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        if (!amp)
            break;
        i = (size_t)(amp - s);
        uint32_t cp = 0;
        size_t len = parse_entity_body(s + i + 1, n - i - 1, &cp);
        if (len && cp == '&') {
            /* "&amp;#8217;": escaped twice; decode both layers. */
            uint32_t inner = 0;
            size_t l2 = parse_entity_body(s + i + 1 + len, n - i - 1 - len, &inner);
            if (l2) {
                len += l2;
                cp = inner;
                r->counts[NZ_OP_ENTITIES]++;
            }
        }
        if (!len) {
            i++;
            continue;
        }
        if (!nz_reserve(r, out, i - copied + 4))
            return false;
        memcpy(out->data + out->len, s + copied, i - copied);
        out->len += i - copied;
        nz_put(out, cp);
        r->counts[NZ_OP_ENTITIES]++;
        i += 1 + len;
        copied = i;
        changed = true;
    }
    if (!changed)
        return false;
    if (!wp_buf_add(out, s + copied, n - copied)) {
        r->oom = true;
        return false;
    }
    return true;
}
