#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "policy/addrset.h"
#include "store/internal.h"

static struct store_cidr C(const char *s) {
	struct store_cidr c;
	assert_int_equal(parse_cidr(s, strlen(s), &c), 0);
	return c;
}

/* The set as text: "lo-hi lo-hi ..." */
static const char *
text(const struct addrset *s)
{
	static char buf[4096];
	size_t n = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		char lo[64], hi[64];
		inet_ntop(s->family == 4 ? AF_INET : AF_INET6, s->r[i].lo, lo, sizeof(lo));
		inet_ntop(s->family == 4 ? AF_INET : AF_INET6, s->r[i].hi, hi, sizeof(hi));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s-%s", i ? " " : "", lo, hi);
	}
	return buf;
}

static const char *block(uint8_t fam, const char *cidr, const char **except, int nex)
{
	struct addrset s;
	struct store_cidr ex[8], c = C(cidr);
	const char *r;
	for (int i = 0; i < nex; i++)
		ex[i] = C(except[i]);
	addrset_init(&s, fam);
	assert_int_equal(addrset_add_block(&s, &c, ex, (uint32_t)nex), 0);
	addrset_normalise(&s);
	r = text(&s);
	addrset_free(&s);
	return r;
}

static void test_block_except(void **state)
{
	const char *e1[] = {"10.0.1.0/24"};
	assert_string_equal(block(4, "10.0.0.0/8", e1, 1),
			    "10.0.0.0-10.0.0.255 10.0.2.0-10.255.255.255");
	/* except equal to the block: nothing left */
	const char *e2[] = {"10.0.0.0/8"};
	assert_string_equal(block(4, "10.0.0.0/8", e2, 1), "");
	/* except outside the block: the block unchanged */
	const char *e3[] = {"192.168.0.0/16"};
	assert_string_equal(block(4, "10.0.0.0/8", e3, 1), "10.0.0.0-10.255.255.255");
	/* except larger than the block */
	const char *e4[] = {"10.0.0.0/7"};
	assert_string_equal(block(4, "10.0.0.0/8", e4, 1), "");
	/* overlapping excepts, at both edges */
	const char *e5[] = {"10.0.0.0/16", "10.0.0.0/24", "10.255.255.255/32", "10.1.0.0/16"};
	assert_string_equal(block(4, "10.0.0.0/8", e5, 4), "10.2.0.0-10.255.255.254");
	/* whole address space */
	assert_string_equal(block(4, "0.0.0.0/0", NULL, 0), "0.0.0.0-255.255.255.255");
	const char *e6[] = {"0.0.0.0/32", "255.255.255.255/32"};
	assert_string_equal(block(4, "0.0.0.0/0", e6, 2), "0.0.0.1-255.255.255.254");
	const char *e7[] = {"128.0.0.0/1"};
	assert_string_equal(block(4, "0.0.0.0/0", e7, 1), "0.0.0.0-127.255.255.255");
	/* IPv6 */
	assert_string_equal(block(6, "::/0", NULL, 0),
			    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	const char *e8[] = {"fd00::/64"};
	assert_string_equal(block(6, "fd00::/48", e8, 1),
			    "fd00:0:0:1::-fd00::ffff:ffff:ffff:ffff:ffff");
	const char *e9[] = {"::/1", "8000::/1"};
	assert_string_equal(block(6, "::/0", e9, 2), "");
	const char *e10[] = {"2001:db8::1/128"};
	assert_string_equal(block(6, "2001:db8::/127", e10, 1), "2001:db8::-2001:db8::");
}

static void test_union_merge(void **state)
{
	struct addrset s;
	struct store_cidr a = C("10.0.0.0/24"), b = C("10.0.1.0/24"), c = C("10.0.0.128/25"),
			  d = C("10.0.3.0/24");
	uint8_t ip[16] = {10, 0, 2, 0};

	addrset_init(&s, 4);
	addrset_add_cidr(&s, &d);
	addrset_add_cidr(&s, &c);
	addrset_add_cidr(&s, &a);
	addrset_add_cidr(&s, &b);
	addrset_normalise(&s);
	/* adjacent /24s merge; the /25 inside disappears; 10.0.2.x is a gap */
	assert_string_equal(text(&s), "10.0.0.0-10.0.1.255 10.0.3.0-10.0.3.255");
	addrset_add_ip(&s, ip);
	addrset_normalise(&s);
	assert_string_equal(text(&s), "10.0.0.0-10.0.2.0 10.0.3.0-10.0.3.255");
	ip[3] = 255;
	ip[2] = 2;
	for (int i = 1; i < 255; i++) {
		ip[3] = (uint8_t)i;
		addrset_add_ip(&s, ip);
	}
	ip[3] = 255;
	addrset_add_ip(&s, ip);
	addrset_add_ip(&s, ip); /* duplicates */
	addrset_normalise(&s);
	assert_string_equal(text(&s), "10.0.0.0-10.0.3.255");
	addrset_free(&s);

	/* The top of the space merges without overflow. */
	struct store_cidr top = C("255.255.255.0/24"), all = C("0.0.0.0/0");
	addrset_init(&s, 4);
	addrset_add_cidr(&s, &top);
	addrset_add_cidr(&s, &top);
	addrset_add_cidr(&s, &all);
	addrset_normalise(&s);
	assert_int_equal(s.n, 1);
	addrset_free(&s);

	struct store_cidr v6a = C("fd00::/128"), v6b = C("fd00::1/128"), v6c = C("fd00::3/128");
	addrset_init(&s, 6);
	addrset_add_cidr(&s, &v6c);
	addrset_add_cidr(&s, &v6b);
	addrset_add_cidr(&s, &v6a);
	addrset_normalise(&s);
	assert_string_equal(text(&s), "fd00::-fd00::1 fd00::3-fd00::3");
	addrset_free(&s);
}

static void test_subtract_many(void **state)
{
	struct addrset s, m;
	struct store_cidr all = C("10.0.0.0/16");

	addrset_init(&s, 4);
	addrset_init(&m, 4);
	addrset_add_cidr(&s, &all);
	for (int i = 0; i < 256; i += 2) {
		char buf[32];
		snprintf(buf, sizeof(buf), "10.0.%d.0/24", i);
		struct store_cidr c = C(buf);
		addrset_add_cidr(&m, &c);
	}
	addrset_normalise(&m);
	assert_int_equal(addrset_subtract(&s, &m), 0);
	assert_int_equal(s.n, 128);
	for (uint32_t i = 0; i < s.n; i++) {
		assert_int_equal(s.r[i].lo[2], 2 * i + 1);
		assert_int_equal(s.r[i].hi[2], 2 * i + 1);
		assert_int_equal(s.r[i].lo[3], 0);
		assert_int_equal(s.r[i].hi[3], 255);
	}
	addrset_free(&s);
	addrset_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_block_except),
	    cmocka_unit_test(test_union_merge),
	    cmocka_unit_test(test_subtract_many),
	};
	return cmocka_run_group_tests_name("addrset", tests, NULL, NULL);
}
