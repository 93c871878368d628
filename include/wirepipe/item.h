/*
 * wirepipe/item.h - the fields of an item.
 *
 * An item is one news story: a jansson object that flows from stage to stage. Stages read
 * and write the fields below by these names; a stage leaves alone the fields it does not
 * know, so plugins can add their own (use a prefix: "x_myplugin_...").
 *
 * Invariants
 *  - Every string is valid UTF-8 (jansson enforces it; never use json_string_nocheck()
 *    on text from outside).
 *  - "body" is plain text, paragraphs separated by one blank line ("\n\n").
 *  - Offsets ("start", "end" in entities) count Unicode code points of the field they
 *    point into, "end" exclusive, so the same numbers work in Python, JavaScript and ICU
 *    UChar32 iteration.
 *  - Times are RFC 3339 strings in UTC ("2026-11-28T20:10:49Z").
 */
#ifndef WIREPIPE_ITEM_H
#define WIREPIPE_ITEM_H

#ifdef __cplusplus
extern "C" {
#endif

/* Stable identity: a hash of the canonical URL, or the feed GUID. Publish names files by it. */
#define WP_ITEM_ID "id"
/* Where the story lives (canonical URL when known). */
#define WP_ITEM_URI "uri"
/*
 * {name, url, fetched_at, content_type, http_status, charset, replacement_chars}:
 * how the story was obtained. replacement_chars counts bytes that could not be decoded
 * and became U+FFFD.
 */
#define WP_ITEM_SOURCE "source"
/* Raw fetched page text (HTML or plain), UTF-8; extract consumes and removes it. */
#define WP_ITEM_CONTENT "content"
/* BCP 47 language tag of headline and body, "und" when unknown. */
#define WP_ITEM_LANGUAGE "language"
/* 0..1 confidence of a detected language (absent when the source declared it). */
#define WP_ITEM_LANGUAGE_CONFIDENCE "language_confidence"
#define WP_ITEM_HEADLINE            "headline"
#define WP_ITEM_BODY                "body"
/* RFC 3339 publication time. */
#define WP_ITEM_PUBLISHED "published"
/* Array of strings. */
#define WP_ITEM_AUTHORS "authors"
/* Array of strings (tags, subjects). */
#define WP_ITEM_KEYWORDS "keywords"
/*
 * Array of {type, field, mention, start, end, canonical, id, key, score}: "field" is
 * "headline" or "body"; "id" is a Wikidata QID when known; "key" the match key.
 */
#define WP_ITEM_ENTITIES "entities"
/* Object: language tag -> {headline, body, provider, characters, cached}. */
#define WP_ITEM_TRANSLATIONS "translations"
/* Array of {stage, code, message, attempts}: failures the item survived. */
#define WP_ITEM_ERRORS "errors"
/* Lossy search/dedup key of headline + body (NFKC_Casefold, no accents); never shown. */
#define WP_ITEM_MATCH_KEY "match_key"
/* Object: stage id -> {operation: count}: what text-changing stages changed. */
#define WP_ITEM_CHANGES "changes"

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_ITEM_H */
