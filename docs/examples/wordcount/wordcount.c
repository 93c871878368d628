/*
 * wordcount - an example wirepipe stage: count the words of each story's body, record
 * the count on the item, and drop stories shorter than `min_words`.
 *
 * It is complete: build it out of tree against an installed wirepipe (see
 * docs/writing-plugins.md) and name it in a pipeline as {"plugin": "wordcount"}.
 */
#include <ctype.h>

#include <wirepipe/plugin.h>

struct wordcount {
    const struct wp_host_api *host; /* kept for destroy(), which gets no ctx */
    long long min_words;
};

/* The config keys this stage accepts: the host validates against this list. */
static const struct wp_config_key wordcount_keys[] = {
    {.name = "min_words",
     .type = WP_CONFIG_INT,
     .default_json = "0",
     .doc = "drop stories whose body has fewer words than this"},
    {.name = NULL},
};

static enum wp_status wordcount_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    long long min_words = json_integer_value(json_object_get(config, "min_words"));
    if (min_words < 0) {
        wp_fail(ctx, WP_E_CONFIG, "min_words must not be negative, got %lld", min_words);
        return WP_E_CONFIG;
    }
    struct wordcount *wc = ctx->host->malloc(sizeof(*wc));
    if (!wc)
        return WP_E_NOMEM;
    wc->host = ctx->host;
    wc->min_words = min_words;
    *instance = wc;
    return WP_OK;
}

/* Words are runs of bytes that are not ASCII white space; UTF-8 letters count as word bytes. */
static long long count_words(const char *text)
{
    long long words = 0;
    int in_word = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int space = *p < 0x80 && isspace(*p);
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

static enum wp_outcome wordcount_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct wordcount *wc = instance;
    const char *body = json_string_value(json_object_get(item, WP_ITEM_BODY));
    if (!body) {
        wp_fail(ctx, WP_E_INVALID, "item has no text body");
        return WP_OUTCOME_REJECT;
    }
    long long words = count_words(body);
    if (json_object_set_new(item, "x_wordcount", json_integer(words)) != 0)
        return WP_OUTCOME_RETRY;
    if (words < wc->min_words) {
        wp_log_debug(ctx, "dropping a story of %lld words", words);
        ctx->host->metric_add(ctx, "short_stories", 1);
        return WP_OUTCOME_DROP;
    }
    return WP_OUTCOME_OK; /* the changed item goes on */
}

static void wordcount_destroy(void *instance)
{
    struct wordcount *wc = instance;
    wc->host->free(wc);
}

static const struct wp_stage_ops wordcount_ops = {
    .name = "wordcount",
    .description = "Count the words of each body; drop stories shorter than min_words",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = wordcount_keys,
    .create = wordcount_create,
    .process = wordcount_process,
    .destroy = wordcount_destroy,
};

static const struct wp_stage_ops *const wordcount_stages[] = {&wordcount_ops, NULL};

WP_PLUGIN_DEFINE(wordcount, "1.0.0", "Count words; drop short stories", "MIT", wordcount_stages)
