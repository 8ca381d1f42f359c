/* jsmn.h without JSMN_HEADER first: this file holds the parser's definitions, configured as in
 * json.h (the Makefile's DEFS set the same). */
#ifndef JSMN_PARENT_LINKS
#define JSMN_PARENT_LINKS
#endif
#ifndef JSMN_STRICT
#define JSMN_STRICT
#endif
#include <jsmn.h>

#include "util/json.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int json_count_tokens(const char *text, size_t len)
{
	jsmn_parser p;
	int n;

	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, NULL, 0);
	return n < 0 ? -1 : n;
}

unsigned long json_walk_steps;

/* Whether token i may sit where jsmn put it: an object holds keys (strings with exactly one
 * value), a key holds its value, and strings and primitives that are not keys hold nothing.
 * jsmn strict mode lets {"a":"b":"c"} through as a value with a child and {"a" "b"} as a key
 * without one. */
static bool placed_right(const jsmntok_t *tok, int i)
{
	const jsmntok_t *t = &tok[i];
	int parent = t->parent;
	bool key = parent >= 0 && tok[parent].type == JSMN_OBJECT;

	if (key)
		return t->type == JSMN_STRING && t->size == 1;
	if (t->type == JSMN_STRING || t->type == JSMN_PRIMITIVE)
		return t->size == 0;
	return t->type == JSMN_OBJECT || t->type == JSMN_ARRAY;
}

/* Checks the tree jsmn built: one root, every token placed right, and tokens in document order
 * (each token's parent is the previous token or one of its ancestors, so a subtree is a run of
 * tokens that json_skip can count through). Sizes equal child counts by jsmn's construction
 * (a child is linked and counted at once). Linear: the climb from i - 1 passes over tokens whose
 * subtree has ended, each once. */
static bool tree_ok(const jsmntok_t *tok, int n)
{
	if (n < 1 || tok[0].parent != -1 || !placed_right(tok, 0))
		return false;
	for (int i = 1; i < n; i++) {
		int parent = tok[i].parent, up = i - 1;
		if (parent < 0 || parent >= i || !placed_right(tok, i))
			return false;
		while (up != parent) {
			json_walk_steps++;
			if (up < 0)
				return false;
			up = tok[up].parent;
		}
		json_walk_steps++;
	}
	return true;
}

/* Nonzero when a byte of v is zero (exact: borrows only start at a zero byte). */
static uint64_t has_zero(uint64_t v)
{
	return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
}

size_t json_plain_run(const char *s, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		if (has_zero(v) | has_zero(v ^ 0x2222222222222222ull) |
		    has_zero(v ^ 0x5c5c5c5c5c5c5c5cull))
			break;
	}
	while (i < n && s[i] != '"' && s[i] != '\\' && s[i])
		i++;
	return i;
}

/* Whether text nests containers at most JSON_MAX_DEPTH deep (strings skipped; jsmn stops at a
 * NUL, so does this). */
static bool depth_ok(const char *text, size_t len)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len && text[i]; i++) {
		char c = text[i];
		if (in_str) {
			i += json_plain_run(text + i, len - i);
			if (i >= len || !text[i])
				break;
			c = text[i];
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > JSON_MAX_DEPTH)
				return false;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

int json_parse(struct json *j, const char *text, size_t len, jsmntok_t *tok, int ntok)
{
	jsmn_parser p;
	int n;

	j->text = text;
	j->tok = tok;
	j->ntok = 0;
	if (ntok <= 0)
		return -1;
	if (ntok > JSON_MAX_DEPTH && !depth_ok(text, len))
		return -2;
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, tok, (unsigned)ntok);
	j->ntok = (int)p.toknext;
	if (n <= 0 || !tree_ok(tok, n))
		return -1;
	j->ntok = n;
	return 0;
}

int json_salvage_path(const struct json *j, const char *path)
{
	char key[128];
	const char *p = path;
	int obj = 0;

	if (j->ntok < 1 || j->tok[0].type != JSMN_OBJECT)
		return -1;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		int k, found = -1;
		if (len >= sizeof(key))
			return -1;
		memcpy(key, p, len);
		key[len] = '\0';
		/* Parents come before their children: the keys of obj follow it. */
		for (k = obj + 1; k + 1 < j->ntok && found < 0; k++)
			if (j->tok[k].parent == obj && j->tok[k + 1].parent == k &&
			    json_str_eq(j, k, key))
				found = k + 1;
		if (found < 0)
			return -1;
		obj = found;
		p += len + (dot ? 1 : 0);
	}
	return obj;
}

static bool valid(const struct json *j, int i)
{
	return i >= 0 && i < j->ntok;
}

int json_skip(const struct json *j, int i)
{
	int pending = 1;

	if (!valid(j, i))
		return i;
	/* Walk forward counting children still owed; iterative so depth cannot blow the stack. */
	while (pending > 0 && i < j->ntok) {
		const jsmntok_t *t = &j->tok[i];
		json_walk_steps++;
		pending--;
		if (t->type == JSMN_OBJECT)
			pending += 2 * t->size;
		else if (t->type == JSMN_ARRAY)
			pending += t->size;
		i++;
	}
	return i;
}

bool json_is_object(const struct json *j, int i)
{
	return valid(j, i) && j->tok[i].type == JSMN_OBJECT;
}

bool json_is_array(const struct json *j, int i)
{
	return valid(j, i) && j->tok[i].type == JSMN_ARRAY;
}

bool json_is_string(const struct json *j, int i)
{
	return valid(j, i) && j->tok[i].type == JSMN_STRING;
}

bool json_is_primitive(const struct json *j, int i)
{
	return valid(j, i) && j->tok[i].type == JSMN_PRIMITIVE;
}

bool json_is_null(const struct json *j, int i)
{
	return json_is_primitive(j, i) && j->text[j->tok[i].start] == 'n';
}

int json_size(const struct json *j, int i)
{
	return (json_is_object(j, i) || json_is_array(j, i)) ? j->tok[i].size : 0;
}

int json_first(const struct json *j, int container)
{
	if (json_size(j, container) <= 0)
		return -1;
	return container + 1;
}

int json_next(const struct json *j, int container, int cur)
{
	/* Skip cur's value; what follows is a sibling only if it has the same parent (the
	 * container's end is never computed, so walking a container stays linear). */
	int next = json_is_object(j, container) ? json_skip(j, cur + 1) : json_skip(j, cur);
	return valid(j, container) && valid(j, next) && j->tok[next].parent == container ? next : -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex4(const char *s, const char *end, uint32_t *out)
{
	uint32_t v = 0;
	if (end - s < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[k]);
		if (h < 0)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

/* Decodes the escape at *ps (just after the backslash) into out; returns bytes written or -1. */
static int unescape_one(const char **ps, const char *end, char out[4])
{
	const char *s = *ps;
	uint32_t cp;

	if (s >= end)
		return -1;
	switch (*s) {
	case '"': case '\\': case '/':
		out[0] = *s; *ps = s + 1; return 1;
	case 'b': out[0] = '\b'; *ps = s + 1; return 1;
	case 'f': out[0] = '\f'; *ps = s + 1; return 1;
	case 'n': out[0] = '\n'; *ps = s + 1; return 1;
	case 'r': out[0] = '\r'; *ps = s + 1; return 1;
	case 't': out[0] = '\t'; *ps = s + 1; return 1;
	case 'u':
		if (hex4(s + 1, end, &cp) < 0)
			return -1;
		s += 5;
		if (cp >= 0xd800 && cp < 0xdc00) {
			uint32_t lo;
			if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, end, &lo) < 0 ||
			    lo < 0xdc00 || lo > 0xdfff)
				return -1;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			s += 6;
		} else if (cp >= 0xdc00 && cp < 0xe000) {
			return -1;
		}
		*ps = s;
		if (cp == 0)
			return -1; /* an embedded NUL would truncate names silently */
		if (cp < 0x80) {
			out[0] = (char)cp;
			return 1;
		}
		if (cp < 0x800) {
			out[0] = (char)(0xc0 | cp >> 6);
			out[1] = (char)(0x80 | (cp & 0x3f));
			return 2;
		}
		if (cp < 0x10000) {
			out[0] = (char)(0xe0 | cp >> 12);
			out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[2] = (char)(0x80 | (cp & 0x3f));
			return 3;
		}
		out[0] = (char)(0xf0 | cp >> 18);
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		return 4;
	default:
		return -1;
	}
}

/* Decodes the next character of a string token (plain or escaped) into out; returns its byte
 * count, or -1 on a malformed escape. */
static int next_char(const char **ps, const char *end, char out[4])
{
	if (**ps != '\\') {
		out[0] = *(*ps)++;
		return 1;
	}
	(*ps)++;
	return unescape_one(ps, end, out);
}

int json_str(const struct json *j, int i, char *buf, size_t cap)
{
	const char *s, *end;
	size_t n = 0;

	if (!json_is_string(j, i) || cap == 0)
		return -1;
	s = j->text + j->tok[i].start;
	end = j->text + j->tok[i].end;
	while (s < end) {
		char tmp[4];
		int k = next_char(&s, end, tmp);
		if (k < 0 || n + (size_t)k >= cap)
			return -1;
		memcpy(buf + n, tmp, (size_t)k);
		n += (size_t)k;
	}
	buf[n] = '\0';
	return (int)n;
}

/* json_str_eq with want's length known. Bytes before the first escape stand for themselves, so
 * they are compared as they are; a token shorter than want cannot unescape to it. */
static bool str_eq(const struct json *j, int i, const char *want, size_t wlen)
{
	const char *s, *end;
	size_t n = 0;

	if (!json_is_string(j, i))
		return false;
	s = j->text + j->tok[i].start;
	end = j->text + j->tok[i].end;
	if ((size_t)(end - s) < wlen)
		return false;
	for (; s < end && *s != '\\'; s++, n++)
		if (n >= wlen || *s != want[n])
			return false;
	while (s < end) {
		char tmp[4];
		int k = next_char(&s, end, tmp);
		if (k < 0 || n + (size_t)k > wlen || memcmp(want + n, tmp, (size_t)k) != 0)
			return false;
		n += (size_t)k;
	}
	return n == wlen;
}

bool json_str_eq(const struct json *j, int i, const char *want)
{
	return str_eq(j, i, want, strlen(want));
}

int json_get(const struct json *j, int obj, const char *key)
{
	if (!json_is_object(j, obj))
		return -1; /* an array's elements are not keys */
	size_t klen = strlen(key);
	for (int k = json_first(j, obj); k >= 0; k = json_next(j, obj, k))
		if (str_eq(j, k, key, klen))
			return k + 1 < j->ntok ? k + 1 : -1;
	return -1;
}

int json_path(const struct json *j, int obj, const char *path)
{
	char key[128];
	const char *p = path;

	while (obj >= 0 && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len >= sizeof(key))
			return -1;
		memcpy(key, p, len);
		key[len] = '\0';
		obj = json_get(j, obj, key);
		p += len + (dot ? 1 : 0);
	}
	return obj;
}

int json_index(const struct json *j, int arr, int n)
{
	int k, idx = 0;

	if (!json_is_array(j, arr))
		return -1;
	for (k = json_first(j, arr); k >= 0; k = json_next(j, arr, k), idx++)
		if (idx == n)
			return k;
	return -1;
}

int json_int(const struct json *j, int i, long long *out)
{
	char buf[24];
	int len;
	char *end;
	long long v;

	if (!json_is_primitive(j, i))
		return -1;
	len = j->tok[i].end - j->tok[i].start;
	if (len <= 0 || len >= (int)sizeof(buf))
		return -1;
	memcpy(buf, j->text + j->tok[i].start, (size_t)len);
	buf[len] = '\0';
	if (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9'))
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	*out = v;
	return 0;
}

int json_bool(const struct json *j, int i, bool *out)
{
	if (!json_is_primitive(j, i))
		return -1;
	if (j->text[j->tok[i].start] == 't') {
		*out = true;
		return 0;
	}
	if (j->text[j->tok[i].start] == 'f') {
		*out = false;
		return 0;
	}
	return -1;
}
