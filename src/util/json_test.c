#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/json.h"

static int parse(struct json *j, jsmntok_t *tok, int ntok, const char *text)
{
	return json_parse(j, text, strlen(text), tok, ntok);
}

static void test_get_and_path(void **state)
{
	jsmntok_t tok[64];
	struct json j;
	const char *text = "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"a\\\"b\"}},"
			   "\"spec\":{\"ports\":[1,2,{\"port\":8080}]}}";
	char buf[32];
	long long v;

	(void)state;
	assert_int_equal(parse(&j, tok, 64, text), 0);
	assert_int_equal(json_str(&j, json_path(&j, 0, "metadata.name"), buf, sizeof(buf)), 3);
	assert_string_equal(buf, "web");
	assert_true(json_str_eq(&j, json_path(&j, 0, "metadata.labels.app"), "a\"b"));
	assert_int_equal(json_path(&j, 0, "metadata.missing"), -1);
	assert_int_equal(json_path(&j, 0, "metadata.name.deeper"), -1);
	int ports = json_path(&j, 0, "spec.ports");
	assert_int_equal(json_size(&j, ports), 3);
	assert_int_equal(json_int(&j, json_index(&j, ports, 1), &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(json_int(&j, json_get(&j, json_index(&j, ports, 2), "port"), &v), 0);
	assert_int_equal(v, 8080);
	assert_int_equal(json_index(&j, ports, 3), -1);
	/* An array's elements are not keys: ["name","x"] has no "name". */
	assert_int_equal(parse(&j, tok, 64, "[\"name\",\"x\"]"), 0);
	assert_int_equal(json_get(&j, 0, "name"), -1);
	assert_int_equal(json_skip(&j, -1), -1);
	assert_int_equal(json_next(&j, 0, 2), -1);
}

static void test_iteration_skips_nested(void **state)
{
	jsmntok_t tok[64];
	struct json j;
	const char *text = "{\"a\":{\"x\":[1,{\"y\":2}]},\"b\":[],\"c\":\"z\"}";
	const char *keys[] = {"a", "b", "c"};
	int n = 0;

	(void)state;
	assert_int_equal(parse(&j, tok, 64, text), 0);
	for (int k = json_first(&j, 0); k >= 0; k = json_next(&j, 0, k)) {
		assert_true(n < 3);
		assert_true(json_str_eq(&j, k, keys[n]));
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(json_first(&j, json_get(&j, 0, "b")), -1);
}

static void test_unescape(void **state)
{
	jsmntok_t tok[8];
	struct json j;
	char buf[16];

	(void)state;
	assert_int_equal(parse(&j, tok, 8, "[\"\\u00e9\\ud83d\\ude00\\n\"]"), 0);
	assert_int_equal(json_str(&j, 1, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "\xc3\xa9\xf0\x9f\x98\x80\n", 7);
	/* lone low surrogate, embedded NUL and a value too long for the buffer are refused */
	assert_int_equal(parse(&j, tok, 8, "[\"\\udc00\", \"\\u0000\", \"0123456789abcdef\"]"), 0);
	assert_int_equal(json_str(&j, 1, buf, sizeof(buf)), -1);
	assert_int_equal(json_str(&j, 2, buf, sizeof(buf)), -1);
	assert_int_equal(json_str(&j, 3, buf, sizeof(buf)), -1);
	assert_int_equal(json_str(&j, 0, buf, sizeof(buf)), -1); /* not a string */
}

/* Keys compare by their unescaped text: an escape anywhere, a prefix, a longer key. */
static void test_str_eq(void **state)
{
	jsmntok_t tok[8];
	struct json j;

	(void)state;
	assert_int_equal(parse(&j, tok, 8, "[\"na\\u006de\", \"\\u006eame\", \"name\", \"nam\"]"), 0);
	for (int i = 1; i <= 3; i++)
		assert_true(json_str_eq(&j, i, "name"));
	assert_false(json_str_eq(&j, 4, "name"));
	assert_false(json_str_eq(&j, 3, "nam"));
	assert_false(json_str_eq(&j, 3, "names"));
	assert_false(json_str_eq(&j, 1, "nam"));
	assert_int_equal(parse(&j, tok, 8, "{\"a\\\"b\":1,\"ab\":2}"), 0);
	assert_int_equal(json_get(&j, 0, "a\"b"), 2);
	assert_int_equal(json_get(&j, 0, "ab"), 4);
}

/* The run stops at each of '"', '\\' and NUL wherever it stands (in or after the 8-byte steps),
 * and at n. */
static void test_plain_run(void **state)
{
	static const char stops[] = {'"', '\\', '\0'};
	char buf[40];

	(void)state;
	for (size_t s = 0; s < sizeof(stops); s++)
		for (size_t at = 0; at < sizeof(buf); at++) {
			memset(buf, 'a', sizeof(buf));
			buf[at] = stops[s];
			assert_int_equal(json_plain_run(buf, sizeof(buf)), at);
			assert_int_equal(json_plain_run(buf, at / 2), at / 2);
		}
	memset(buf, 0x7f, sizeof(buf));
	buf[17] = (char)0xa2; /* bytes with the high bit set are plain (UTF-8) */
	assert_int_equal(json_plain_run(buf, sizeof(buf)), sizeof(buf));
}

static void test_numbers_and_bools(void **state)
{
	jsmntok_t tok[16];
	struct json j;
	long long v;
	bool b;

	(void)state;
	assert_int_equal(parse(&j, tok, 16, "[65535, -1, 1.5, 99999999999999999999, true, null, \"7\"]"),
			 0);
	assert_int_equal(json_int(&j, 1, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(json_int(&j, 2, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(json_int(&j, 3, &v), -1);
	assert_int_equal(json_int(&j, 4, &v), -1);
	assert_int_equal(json_bool(&j, 5, &b), 0);
	assert_true(b);
	assert_true(json_is_null(&j, 6));
	assert_int_equal(json_int(&j, 7, &v), -1);
}

static void test_malformed(void **state)
{
	jsmntok_t tok[4];
	struct json j;

	(void)state;
	assert_int_equal(parse(&j, tok, 4, "{\"a\":"), -1);
	assert_int_equal(parse(&j, tok, 4, "[1,2,3,4,5,6]"), -1); /* too few tokens */
	assert_int_equal(parse(&j, tok, 0, "[]"), -1);
	assert_int_equal(parse(&j, tok, -1, "[]"), -1); /* not read as a huge unsigned count */
	assert_int_equal(json_count_tokens("[1,2,3,4,5,6]", 13), 7);
	assert_int_equal(json_count_tokens("{bad}", 5), -1);
}

/* Shapes jsmn strict mode accepts that are not JSON: a value with a value of its own, a key
 * without one, members without a comma, several roots. Each used to give a tree whose member
 * counts disagree with what a walk visits (the label decoder overflowed on the first). */
static void test_rejects_what_jsmn_lets_through(void **state)
{
	static const char *const bad[] = {
	    "{\"a\":\"b\":\"c\",\"d\":\"e\",\"f\":{\"x\":\"1\",\"y\":\"2\",\"z\":\"3\"},\"g\":\"h\"}",
	    "{\"metadata\":{\"labels\":{\"a\":\"b\":\"c\"}}}",
	    "{\"a\":\"b\":1}",
	    "{\"a\" \"b\"}",
	    "{\"a\":\"b\" \"c\":\"d\"}",
	    "{\"a\":1 \"b\":2}",
	    "[\"a\":\"b\"]",
	    "[{\"a\":1}:2]",
	    "\"a\":\"b\"",
	    "{}{}",
	    "[] 1",
	    "{\"a\"}",
	};
	jsmntok_t tok[64];
	struct json j;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&j, tok, 64, bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	/* Plain JSON around the same shapes still parses. */
	assert_int_equal(parse(&j, tok, 64, "{\"a\":\"b\",\"c\":{\"d\":[1,\"e\",{}]},\"f\":null}"),
			 0);
	assert_int_equal(parse(&j, tok, 64, "\"a\""), 0);
}

/* Every container of a checked tree yields exactly json_size members. */
static void test_iteration_matches_size(void **state)
{
	jsmntok_t tok[64];
	struct json j;
	const char *text = "{\"a\":{\"b\":[[],[1,[2,{\"c\":{}}]],{}],\"d\":\"e\"},\"f\":[{\"g\":1}]}";

	(void)state;
	assert_int_equal(parse(&j, tok, 64, text), 0);
	assert_int_equal(json_skip(&j, 0), j.ntok);
	for (int i = 0; i < j.ntok; i++) {
		int n = 0;
		for (int k = json_first(&j, i); k >= 0; k = json_next(&j, i, k))
			n++;
		assert_int_equal(n, json_size(&j, i));
	}
}

/* A rejected document still names itself: the lookup follows parent links only. */
static void test_salvage_path(void **state)
{
	jsmntok_t tok[64], few[8];
	struct json j;
	const char *bad = "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"labels\":"
			  "{\"a\":\"b\":\"c\"}}}";
	const char *big = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"b\","
			  "\"c\":\"d\",\"e\":\"f\"}}}";

	(void)state;
	assert_int_equal(parse(&j, tok, 64, bad), -1);
	assert_true(json_str_eq(&j, json_salvage_path(&j, "metadata.name"), "p"));
	assert_true(json_str_eq(&j, json_salvage_path(&j, "metadata.namespace"), "ns"));
	assert_int_equal(json_salvage_path(&j, "metadata.uid"), -1);
	/* Too few tokens: the name is read from the tokens that fit. */
	assert_int_equal(parse(&j, few, 8, big), -1);
	assert_int_equal(j.ntok, 8);
	assert_true(json_str_eq(&j, json_salvage_path(&j, "metadata.name"), "p"));
	assert_int_equal(json_salvage_path(&j, "metadata.namespace"), -1);
	assert_int_equal(parse(&j, few, 8, "nope"), -1);
	assert_int_equal(json_salvage_path(&j, "metadata.name"), -1);
}

/* A flat object of n members (the 120k-label pod's shape): the tree check and a full walk with
 * lookups visit each token a bounded number of times. Jsmn without parent links and the old
 * json_next (which recomputed the container's end at each step) were quadratic here. */
static void test_walk_is_linear(void **state)
{
	enum { N = 120000 };
	size_t cap = (size_t)N * 24 + 64, len = 0;
	char *text = malloc(cap);
	jsmntok_t *tok;
	struct json j;
	unsigned long before;
	int ntok, n = 0;

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "{\"metadata\":{\"labels\":{");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\"k%d\":\"v\"", i ? "," : "", i);
	len += (size_t)snprintf(text + len, cap - len, "},\"name\":\"p\"}}");
	ntok = json_count_tokens(text, len);
	assert_int_equal(ntok, 2 * N + 7);
	tok = malloc((size_t)ntok * sizeof(*tok));
	assert_non_null(tok);
	before = json_walk_steps;
	assert_int_equal(json_parse(&j, text, len, tok, ntok), 0);
	assert_true(json_walk_steps - before <= 2 * (unsigned long)ntok);
	before = json_walk_steps;
	int labels = json_path(&j, 0, "metadata.labels");
	for (int k = json_first(&j, labels); k >= 0; k = json_next(&j, labels, k))
		n++;
	assert_int_equal(n, N);
	assert_true(json_str_eq(&j, json_path(&j, 0, "metadata.name"), "p"));
	/* One walk over the labels, one skip of them to reach "name", one to reach "labels". */
	assert_true(json_walk_steps - before <= 4 * (unsigned long)ntok);
	free(tok);
	free(text);
}

/* Nesting deeper than JSON_MAX_DEPTH is refused before jsmn runs: jsmn's cost to close a container
 * is its depth, so 100k nested arrays (200 kB, an annotation's size) were quadratic. */
static void test_depth_cap(void **state)
{
	enum { DEEP = 100000 };
	char *text = malloc(2 * DEEP + 8);
	jsmntok_t *tok = malloc(DEEP * sizeof(*tok));
	struct json j;
	size_t len;

	(void)state;
	assert_non_null(text);
	assert_non_null(tok);
	memset(text, '[', DEEP);
	memset(text + DEEP, ']', DEEP);
	assert_int_equal(json_count_tokens(text, 2 * DEEP), DEEP);
	assert_int_equal(json_parse(&j, text, 2 * DEEP, tok, DEEP), -2);
	assert_int_equal(j.ntok, 0);
	/* Exactly the limit parses; one more does not. Brackets inside strings do not count. */
	len = 0;
	text[len++] = '{';
	text[len++] = '"';
	memset(text + len, '[', 300);
	len += 300;
	text[len++] = '"';
	text[len++] = ':';
	memset(text + len, '[', JSON_MAX_DEPTH - 1);
	len += JSON_MAX_DEPTH - 1;
	memset(text + len, ']', JSON_MAX_DEPTH - 1);
	len += JSON_MAX_DEPTH - 1;
	text[len++] = '}';
	assert_int_equal(json_parse(&j, text, len, tok, DEEP), 0);
	assert_int_equal(j.ntok, JSON_MAX_DEPTH + 1);
	memmove(text + 305, text + 304, len - 304); /* one more '[' after the ':' */
	text[304] = '[';
	text[len] = ']';
	text[len + 1] = '}';
	assert_int_equal(json_parse(&j, text, len + 2, tok, DEEP), -2);
	free(tok);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_and_path),
		cmocka_unit_test(test_iteration_skips_nested),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_str_eq),
		cmocka_unit_test(test_plain_run),
		cmocka_unit_test(test_numbers_and_bools),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_rejects_what_jsmn_lets_through),
		cmocka_unit_test(test_iteration_matches_size),
		cmocka_unit_test(test_salvage_path),
		cmocka_unit_test(test_walk_is_linear),
		cmocka_unit_test(test_depth_cap),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
