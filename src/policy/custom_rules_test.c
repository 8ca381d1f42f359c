#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "policy/custom_rules.h"

static int parse(const char *line, uint8_t fam, struct custom_rule_line *out, char *err)
{
	int has = -1;
	int n = custom_rule_parse(line, strlen(line), 1, fam, out, &has, err, 256);
	if (n >= 0)
		assert_int_equal(has, 1);
	return n;
}

static void test_forms(void **state)
{
	struct custom_rule_line l;
	char err[256];

	assert_int_equal(parse("tcp dport 9999 accept", 4, &l, err), 21);
	assert_int_equal(l.rule.kind, IR_RULE_MATCH);
	assert_int_equal(l.rule.family, 4);
	assert_int_equal(l.rule.l4proto, IPPROTO_TCP);
	assert_int_equal(l.rule.nports, 1);
	assert_int_equal(l.rule.ports[0].lo, 9999);
	assert_int_equal(l.rule.ports[0].hi, 9999);
	assert_false(l.rule.port_is_src);
	assert_int_equal(l.rule.verdict, IR_ACCEPT);
	assert_int_equal(l.rule.addr_match, IR_ADDR_NONE);

	assert_true(parse("ip saddr 192.168.100.7/24 accept", 4, &l, err) > 0);
	assert_int_equal(l.rule.addr_match, IR_ADDR_PREFIX);
	assert_false(l.rule.addr_is_dst);
	assert_int_equal(l.rule.prefix_len, 24);
	assert_int_equal(l.rule.prefix[3], 0);
	assert_int_equal(l.rule.prefix[2], 100);

	assert_true(parse("ip6 daddr 2001:db8::1 udp sport {53, 1000-2000,5} drop", 6, &l, err) >
		    0);
	assert_true(l.rule.addr_is_dst);
	assert_int_equal(l.rule.prefix_len, 128);
	assert_int_equal(l.rule.l4proto, IPPROTO_UDP);
	assert_true(l.rule.port_is_src);
	assert_int_equal(l.rule.nports, 3);
	assert_int_equal(l.rule.ports[0].lo, 5); /* sorted */
	assert_int_equal(l.rule.ports[2].lo, 1000);
	assert_int_equal(l.rule.ports[2].hi, 2000);
	assert_int_equal(l.rule.verdict, IR_DROP);

	assert_true(parse("meta l4proto icmp accept", 4, &l, err) > 0);
	assert_int_equal(l.rule.l4proto, IPPROTO_ICMP);
	assert_int_equal(l.rule.nports, 0);
	assert_true(parse("meta l4proto ipv6-icmp accept", 6, &l, err) > 0);
	assert_int_equal(l.rule.l4proto, IPPROTO_ICMPV6);
	assert_true(parse("sctp dport 100-200 accept # trailing comment", 4, &l, err) > 0);
	assert_int_equal(l.rule.l4proto, IPPROTO_SCTP);
	assert_true(parse("  accept", 6, &l, err) > 0);
	assert_int_equal(l.rule.l4proto, 0);
	assert_int_equal(l.rule.family, 6);
}

static void expect_error(const char *line, uint8_t fam, const char *what)
{
	struct custom_rule_line l;
	char err[256] = "";
	assert_int_equal(parse(line, fam, &l, err), -1);
	if (!strstr(err, what))
		fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", line, err, what);
}

static void test_errors(void **state)
{
	expect_error("tcp dport 9999", 4, "verdict");
	expect_error("tcp dport 0 accept", 4, "port");
	expect_error("tcp dport 65536 accept", 4, "port");
	expect_error("tcp dport 10-5 accept", 4, "port");
	expect_error("tcp dport {1, 2 accept", 4, "port");
	expect_error("tcp dport {1-5, 3} accept", 4, "overlapping");
	expect_error("tcp flags syn accept", 4, "dport or sport");
	expect_error("ip saddr 10.0.0.0/33 accept", 4, "address");
	expect_error("ip saddr fd00::1 accept", 4, "address");
	expect_error("ip6 saddr fd00::1 accept", 4, "IPv4 rule file");
	expect_error("ip saddr 10.0.0.1 accept", 6, "IPv6 rule file");
	expect_error("ip protocol tcp accept", 4, "saddr or daddr");
	expect_error("meta l4proto gre2 accept", 4, "unknown protocol");
	expect_error("meta l4proto 47 accept", 4, "unknown protocol");
	expect_error("meta l4proto icmp accept", 6, "IPv6 rule file");
	expect_error("counter accept", 4, "counter");
	expect_error("accept accept", 4, "accept");
	expect_error("jump foo", 4, "jump");
	expect_error("tcp dport 1 accept extra", 4, "accept");
}

static void test_incremental(void **state)
{
	struct custom_rule_line l;
	int has;
	char err[64];
	const char *text = "# comment\n\n   \ntcp dport 1 accept\nudp dport 2 drop";

	assert_int_equal(custom_rule_parse(text, 3, 0, 4, &l, &has, err, sizeof(err)), -2);
	assert_int_equal(custom_rule_parse(text, strlen(text), 0, 4, &l, &has, err, sizeof(err)),
			 10);
	assert_int_equal(has, 0);
	assert_int_equal(custom_rule_parse("udp dport 2 drop", 16, 0, 4, &l, &has, err, 64), -2);
	assert_int_equal(custom_rule_parse("udp dport 2 drop", 16, 1, 4, &l, &has, err, 64), 16);
	assert_int_equal(has, 1);
}

static void test_file(void **state)
{
	struct custom_rules cr;
	char err[256], path[] = "/tmp/custom_rules_test.XXXXXX";
	const char *good = "# e2e rules\ntcp dport 9999 accept\n\nip saddr 192.168.100.0/24 "
			   "accept\n";
	const char *bad = "tcp dport 1 accept\n# ok\nip saddr 1.2.3.4 log accept\n";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	assert_int_equal(custom_rules_load(&cr, path, 4, err, sizeof(err)), 0);
	assert_int_equal(cr.n, 2);
	assert_int_equal(cr.rules[0].ports[0].lo, 9999);
	assert_int_equal(cr.rules[1].addr_match, IR_ADDR_PREFIX);
	custom_rules_free(&cr);

	/* The same file for IPv6 fails on line 4, naming the file. */
	assert_int_equal(custom_rules_load(&cr, path, 6, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":4:"));
	unlink(path);
	assert_int_equal(custom_rules_load(&cr, path, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));

	assert_int_equal(
	    custom_rules_parse_text(&cr, "f.rules", bad, strlen(bad), 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "f.rules:3:"));
	assert_non_null(strstr(err, "log"));
	assert_int_equal(cr.n, 0);
	assert_int_equal(custom_rules_parse_text(&cr, "e", "", 0, 4, err, sizeof(err)), 0);
	assert_int_equal(cr.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_incremental),
	    cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests_name("custom_rules", tests, NULL, NULL);
}
