#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/intern.h"

static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Label keys chosen to share the low 11 bits of an unkeyed FNV-1a (the hash the table used):
 * 1500 of them went into one bucket, each lookup walking them all (quadratic over a pod's labels,
 * and the strings stay interned across objects). With a keyed hash the chains stay short. */
static void test_chosen_collisions_stay_short(void **state)
{
	enum { N = 1500, MASK = 2047 };
	struct intern t = {0};
	char buf[32];
	int found = 0;

	(void)state;
	for (uint32_t i = 0; found < N; i++) {
		int len = snprintf(buf, sizeof(buf), "app.example/k%u", i);
		if ((fnv1a(buf, (size_t)len) & MASK) != 0)
			continue;
		assert_non_null(intern_get(&t, buf, (size_t)len));
		found++;
	}
	assert_int_equal(t.nb, MASK + 1);
	print_message("longest chain: %u\n", intern_longest_chain(&t));
	assert_true(intern_longest_chain(&t) <= 32);
	intern_free(&t);
}

/* Same text, same pointer; references counted; find does not add one. */
static void test_interning(void **state)
{
	struct intern t = {0};
	const char *a, *b;

	(void)state;
	assert_null(intern_find(&t, "x", 1));
	a = intern_get(&t, "label", 5);
	b = intern_get(&t, "labelled", 5);
	assert_ptr_equal(a, b);
	assert_string_equal(a, "label");
	assert_ptr_equal(intern_find(&t, "label", 5), a);
	intern_put(&t, a);
	assert_ptr_equal(intern_find(&t, "label", 5), a);
	intern_put(&t, b);
	assert_null(intern_find(&t, "label", 5));
	assert_int_equal(t.n, 0);
	intern_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chosen_collisions_stay_short),
	    cmocka_unit_test(test_interning),
	};
	return cmocka_run_group_tests_name("intern", tests, NULL, NULL);
}
