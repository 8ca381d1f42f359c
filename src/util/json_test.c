#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
	assert_int_equal(json_count_tokens("[1,2,3,4,5,6]", 13), 7);
	assert_int_equal(json_count_tokens("{bad}", 5), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_and_path),
		cmocka_unit_test(test_iteration_skips_nested),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_numbers_and_bools),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
