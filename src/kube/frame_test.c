/* Unit tests of the watch/list stream framer: objects found whole however the bytes are split,
 * braces inside strings and escapes ignored, oversized objects skipped, garbage rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/frame.h"

struct collected {
	int n;
	char objs[8][160];
	enum frame_kind kinds[8];
	long result; /* last non-positive return */
};

/* Feeds input in pieces of the given sizes (0-terminated list, then the rest), keeping
 * unconsumed bytes as a real reader does. */
static void feed(struct json_framer *f, const char *in, size_t len, const size_t *pieces,
		 struct collected *c)
{
	char buf[1024];
	size_t have = 0, pos = 0;
	memset(c, 0, sizeof(*c));
	for (int p = 0; pos < len; p++) {
		size_t take = pieces[p] ? pieces[p] : len - pos;
		if (take > len - pos)
			take = len - pos;
		memcpy(buf + have, in + pos, take);
		have += take;
		pos += take;
		for (;;) {
			struct json_frame fr;
			long r = json_framer_next(f, buf, have, &fr);
			if (r <= 0) {
				c->result = r;
				if (r == -1)
					return;
				break;
			}
			if (fr.kind != FRAME_NONE) {
				assert_true(c->n < 8);
				assert_true(fr.len < sizeof(c->objs[0]));
				memcpy(c->objs[c->n], buf + fr.off, fr.len);
				c->objs[c->n][fr.len] = 0;
				c->kinds[c->n++] = fr.kind;
			}
			memmove(buf, buf + r, have - (size_t)r);
			have -= (size_t)r;
		}
	}
}

static const char events[] =
    "{\"type\":\"ADDED\",\"object\":{\"a\":\"}{\\\"\\\\\"}}\n"
    "  {\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}"
    "{\"type\":\"DELETED\",\"object\":{\"l\":[1,{\"x\":[]}],\"s\":\"[\"}}\r\n";
static const char *want[] = {
    "{\"type\":\"ADDED\",\"object\":{\"a\":\"}{\\\"\\\\\"}}",
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}",
    "{\"type\":\"DELETED\",\"object\":{\"l\":[1,{\"x\":[]}],\"s\":\"[\"}}",
};

static void check_events(const struct collected *c)
{
	assert_int_equal(c->n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(c->objs[i], want[i]);
		assert_int_equal(c->kinds[i], FRAME_OBJECT);
	}
	assert_int_equal(c->result, -2);
}

static void test_watch_split_everywhere(void **state)
{
	size_t len = sizeof(events) - 1;
	for (size_t a = 0; a <= len; a++) {
		size_t pieces[] = {a ? a : len, 0};
		struct json_framer f;
		struct collected c;
		json_framer_init(&f, FRAMER_WATCH, 0);
		feed(&f, events, len, pieces, &c);
		check_events(&c);
	}
	/* byte by byte */
	size_t ones[sizeof(events)];
	for (size_t i = 0; i < len; i++)
		ones[i] = 1;
	ones[len - 1] = 1;
	struct json_framer f;
	struct collected c;
	json_framer_init(&f, FRAMER_WATCH, 0);
	feed(&f, events, len, ones, &c);
	check_events(&c);
}

static void test_watch_garbage(void **state)
{
	static const char *bad[] = {"x", "{}]", "[1]", "{\"a\":1}}", "\"s\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_framer f;
		struct collected c;
		size_t pieces[] = {0};
		json_framer_init(&f, FRAMER_WATCH, 0);
		feed(&f, bad[i], strlen(bad[i]), pieces, &c);
		if (c.result != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_watch_oversized(void **state)
{
	/* the middle object exceeds 20 bytes: skipped and counted, neighbours intact */
	const char in[] = "{\"a\":1}{\"big\":\"0123456789012345678901234567890\"}{\"b\":2}";
	for (size_t a = 1; a < sizeof(in) - 1; a++) {
		size_t pieces[] = {a, 0};
		struct json_framer f;
		struct collected c;
		json_framer_init(&f, FRAMER_WATCH, 20);
		feed(&f, in, sizeof(in) - 1, pieces, &c);
		assert_int_equal(c.n, 2);
		assert_string_equal(c.objs[0], "{\"a\":1}");
		assert_string_equal(c.objs[1], "{\"b\":2}");
		assert_int_equal(f.oversized, 1);
	}
}

static const char list[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"42\","
    "\"continue\":\"abc\",\"x\":{\"y\":1}},\"note\":\"items\",\"items\":[{\"metadata\":"
    "{\"name\":\"a\"},\"items\":[{\"no\":1}]},{\"s\":\"]}\"}]}  ";

static void test_list_split_everywhere(void **state)
{
	size_t len = sizeof(list) - 1;
	for (size_t a = 0; a <= len; a++) {
		size_t pieces[] = {a ? a : len, 7, 0};
		struct json_framer f;
		struct collected c;
		json_framer_init(&f, FRAMER_LIST, 0);
		feed(&f, list, len, pieces, &c);
		assert_int_equal(c.n, 4);
		assert_int_equal(c.kinds[0], FRAME_METADATA);
		assert_string_equal(
		    c.objs[0], "{\"resourceVersion\":\"42\",\"continue\":\"abc\",\"x\":{\"y\":1}}");
		assert_int_equal(c.kinds[1], FRAME_OBJECT);
		assert_string_equal(c.objs[1],
				    "{\"metadata\":{\"name\":\"a\"},\"items\":[{\"no\":1}]}");
		assert_int_equal(c.kinds[2], FRAME_OBJECT);
		assert_string_equal(c.objs[2], "{\"s\":\"]}\"}");
		assert_int_equal(c.kinds[3], FRAME_END);
		assert_int_equal(c.result, -2);
	}
}

static void test_list_trailing_garbage(void **state)
{
	const char in[] = "{\"items\":[]} {}";
	struct json_framer f;
	struct collected c;
	size_t pieces[] = {0};
	json_framer_init(&f, FRAMER_LIST, 0);
	feed(&f, in, sizeof(in) - 1, pieces, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.kinds[0], FRAME_END);
	assert_int_equal(c.result, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_watch_split_everywhere),
	    cmocka_unit_test(test_watch_garbage),
	    cmocka_unit_test(test_watch_oversized),
	    cmocka_unit_test(test_list_split_everywhere),
	    cmocka_unit_test(test_list_trailing_garbage),
	};
	return cmocka_run_group_tests_name("kube/frame", tests, NULL, NULL);
}
