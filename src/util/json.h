/* Read-only access to a JSON document through jsmn tokens (strict mode, parent links).
 * The caller owns the text and the token array; nothing here allocates. Token indexes are ints,
 * -1 meaning "absent". Strings are compared and copied unescaped.
 *
 * jsmn accepts shapes that are not JSON ({"a":"b":"c"}, {"a" "b"}); json_parse checks the token
 * tree it built and rejects them, so an accepted document is a tree in which every object has
 * json_size() keys each followed by one value and every array json_size() elements: iterating a
 * container visits exactly json_size() members. Every walk is linear in the tokens it covers
 * (jsmn itself is linear only with JSMN_PARENT_LINKS, hence the check below). */
#ifndef UTIL_JSON_H
#define UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Set in the Makefile's DEFS; also here for builds by hand (test scripts), since every file must
 * see the same jsmntok_t and json.c needs the parent links. */
#ifndef JSMN_PARENT_LINKS
#define JSMN_PARENT_LINKS
#endif
#ifndef JSMN_STRICT
#define JSMN_STRICT
#endif

#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

struct json {
	const char *text;
	const jsmntok_t *tok;
	int ntok;
};

/* Number of tokens `text` needs, or -1 when it is not valid JSON. */
int json_count_tokens(const char *text, size_t len);
/* Deepest nesting of objects and arrays json_parse accepts. jsmn closes a container by climbing
 * parent links from the last token, a cost of the depth per close: bounding the depth keeps
 * parsing linear (real objects nest a few dozen deep at most). */
#define JSON_MAX_DEPTH 256

/* Parses into the caller's array; 0 on success, -1 on bad JSON (including the shapes jsmn
 * accepts but a tree check rejects) or too few tokens, -2 when containers nest deeper than
 * JSON_MAX_DEPTH (not checked when ntok is at most that: so few tokens bound the climb anyway).
 * On failure j still holds the tokens read before the error, for json_salvage_path only (the
 * other accessors need a checked tree). */
int json_parse(struct json *j, const char *text, size_t len, jsmntok_t *tok, int ntok);
/* Value at a dotted path of object keys from the root, found through parent links only: works
 * on what a failed json_parse left (a truncated or malformed tree), to name a rejected object.
 * Linear per path element; -1 when not found. */
int json_salvage_path(const struct json *j, const char *path);

/* Length of the prefix of s[0, n) with no '"', '\\' or NUL: the bytes a scanner inside a string
 * passes over without looking at each (eight at a time). */
size_t json_plain_run(const char *s, size_t n);

/* Tokens visited by the walks (json_skip, the tree check) since start: lets tests assert that
 * a walk is linear without timing it. */
extern unsigned long json_walk_steps;

/* Index of the token after the whole value at i (its subtree skipped); i itself when it is not
 * a token. */
int json_skip(const struct json *j, int i);
/* Value of `key` in the object at obj, or -1 (missing, or obj not an object). */
int json_get(const struct json *j, int obj, const char *key);
/* Value at a dotted path of object keys ("metadata.labels"), or -1. */
int json_path(const struct json *j, int obj, const char *path);
/* Element n of the array at arr, or -1. */
int json_index(const struct json *j, int arr, int n);

bool json_is_object(const struct json *j, int i);
bool json_is_array(const struct json *j, int i);
bool json_is_string(const struct json *j, int i);
/* Primitive true/false/null/number (not a string). */
bool json_is_primitive(const struct json *j, int i);
bool json_is_null(const struct json *j, int i);
/* Number of members (object) or elements (array). */
int json_size(const struct json *j, int i);

/* Whether the string at i equals s once unescaped. */
bool json_str_eq(const struct json *j, int i, const char *s);
/* Unescapes the string at i into buf (NUL-terminated). Returns its length, or -1 when i is not
 * a string, is malformed, or does not fit in cap. */
int json_str(const struct json *j, int i, char *buf, size_t cap);
/* Integer primitive at i (no fraction, no exponent, fits in long long); 0 or -1. */
int json_int(const struct json *j, int i, long long *out);
/* Boolean primitive at i; 0 or -1. */
int json_bool(const struct json *j, int i, bool *out);

/* Iteration: for (int k = json_first(j, obj); k >= 0; k = json_next(j, obj, k)).
 * For objects k is the key token and k + 1 its value; for arrays k is the element. Visits
 * exactly json_size(j, obj) members; each step costs the size of the member skipped. */
int json_first(const struct json *j, int container);
int json_next(const struct json *j, int container, int cur);

#endif
