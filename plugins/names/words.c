/*
 * words.c - the word lists of the names plugin: particles, titles, stop words, company
 * legal forms and speech verbs.
 */
#include <string.h>

#include "names.h"

/* Particles never carry identity on their own: dropped from comparison and keys. */
const char *const nm_particles[] = {
    "al",    "el",  "as",  "ad",  "ash", "ar",  "an",  "at",  "az",  "bin", "ibn", "ben", "bint",
    "bn",    "bnt", "abu", "abw", "de",  "van", "von", "der", "den", "da",  "di",  "du",  "del",
    "della", "la",  "le",  "dos", "das", "ter", "ten", "y",   "zu",  "mac", NULL};

/* Titles and roles: a cue that a name follows. Compared lower-case, without the period. */
const char *const nm_titles[] = {
    "president", "gen", "general", "maj", "major", "lt", "lieutenant", "col", "colonel", "brig",
    "brigadier", "adm", "admiral", "ayatollah", "grand", "hojatoleslam", "sheikh", "shaikh",
    "sheik", "dr", "mr", "mrs", "ms", "prof", "professor", "minister", "prime", "chief", "staff",
    "king", "queen", "prince", "princess", "emir", "sultan", "leader", "supreme", "spokesman",
    "spokeswoman", "secretary", "senator", "sen", "rep", "governor", "gov", "mayor", "ambassador",
    "commander", "cmdr", "imam", "pope", "vice", "deputy", "speaker", "chairman", "chairwoman",
    "marshal", "field", "sgt", "sergeant", "capt", "captain", "cardinal", "rabbi", "sir", "lord",
    "lady", "crown", "chancellor", "premier", "foreign", "defense", "defence", "interior", "envoy",
    "judge", "justice", "mullah", "chief-of-staff", "excellency", "his", "her", "former", "late",
    "presidential",
    /* other languages' role words (compared after Unicode lower-casing) */
    "genelkurmay", "başkanı", "başkan", "orgeneral", "korgeneral", "tümgeneral", "tuğgeneral",
    "cumhurbaşkanı", "bakanı", "bakan", "präsident", "präsidenten", "revolutionsführer",
    "generalstabschef", "kanzler", "kanzlerin", "ministerpräsident", "außenminister", "président",
    "presidente", "ministre", "général", "jenderal", "президент", "президента", "президентом",
    "генерал", "генерал-майор", "министр", "министра", "премьер", "премьер-министр", "лидер",
    "лидером", "аятолла", "начальник", "глава", "главой", "верховный", "верховным", NULL};

/* Capitalised words that start sentences or headlines and are never given names. */
const char *const nm_stopwords[] = {
    "the",       "a",         "an",       "in",        "on",        "at",        "of",
    "and",       "but",       "or",       "for",       "to",        "from",      "by",
    "with",      "after",     "before",   "according", "as",        "if",        "when",
    "while",     "this",      "that",     "these",     "those",     "he",        "she",
    "they",      "we",        "it",       "his",       "her",       "their",     "our",
    "why",       "how",       "what",     "who",       "where",     "monday",    "tuesday",
    "wednesday", "thursday",  "friday",   "saturday",  "sunday",    "january",   "february",
    "march",     "april",     "june",     "july",      "august",    "september", "october",
    "november",  "december",  "iranian",  "turkish",   "russian",   "american",  "iraqi",
    "syrian",    "israeli",   "saudi",    "egyptian",  "french",    "german",    "british",
    "chinese",   "ukrainian", "kurdish",  "arab",      "emirati",   "qatari",    "lebanese",
    "afghan",    "pakistani", "indian",   "european",  "us",        "u.s",       "un",
    "nato",      "then",      "now",      "also",      "meanwhile", "however",   "later",
    "today",     "yesterday", "tomorrow", "there",     "here",      "so",        "thus",
    "still",     "since",     "under",    "over",      "about",     "against",   "between",
    "during",    "without",   "within",   "all",       "some",      "many",      "most",
    "both",      "each",      "every",    "no",        "not",       "new",       "top",
    "last",      "next",      "only",     "even",      "once",      "will",      "would",
    "can",       "could",     "should",   "may",       "might",     "must",      "i",
    "you",       NULL};

/*
 * Company legal forms say nothing about which company it is ("Siemens AG" / "Siemens
 * Aktiengesellschaft"): dropped from comparison, always (forms) or when next to another
 * legal word ("Joint Stock Company", "Gesellschaft mit beschränkter Haftung").
 */
const char *const nm_legal_forms[] = {"ag",          "gmbh",         "aktiengesellschaft",
                                      "ltd",         "limited",      "llc",
                                      "inc",         "incorporated", "corp",
                                      "corporation", "co",           "company",
                                      "jsc",         "ojsc",         "pjsc",
                                      "cjsc",        "oao",          "zao",
                                      "ooo",         "pao",          "srl",
                                      "sarl",        "spa",          "plc",
                                      "bv",          "nv",           "llp",
                                      "kg",          "ohg",          "oyj",
                                      NULL};
const char *const nm_legal_words[] = {"joint",
                                      "stock",
                                      "open",
                                      "closed",
                                      "public",
                                      "private",
                                      "liability",
                                      "gesellschaft",
                                      "mit",
                                      "beschrankter",
                                      "haftung",
                                      "societatea",
                                      "cu",
                                      "raspundere",
                                      "limitata",
                                      "obshchestvo",
                                      "ogranichennoy",
                                      "otvetstvennostyu",
                                      "aktsionernoe",
                                      "otkrytoe",
                                      "zakrytoe",
                                      "publichnoe",
                                      NULL};

/* Verbs that make a bare capitalised pair a person ("Hulusi Akar said"). */
const char *const nm_speech[] = {"said",  "says",      "told",     "stated", "added",
                                 "noted", "announced", "stressed", "warned", NULL};

bool nm_in_list(const char *const *list, const char *word, size_t len)
{
    for (size_t i = 0; list[i]; i++) {
        /* the first letter rules out nearly all entries before strlen runs */
        if (len && list[i][0] == word[0] && strlen(list[i]) == len &&
            memcmp(list[i], word, len) == 0)
            return true;
    }
    return false;
}
