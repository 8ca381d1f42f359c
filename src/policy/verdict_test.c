/* ruleset_evaluate over hand-built rulesets: chain lookup by network and direction, every match
 * (family, set, prefix, protocol, port ranges, source ports), first match wins, the final drop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "policy/verdict.h"

static const struct ir_addr_range v4set[] = {
    {.lo = {10, 0, 0, 1}, .hi = {10, 0, 0, 1}},
    {.lo = {10, 0, 1, 0}, .hi = {10, 0, 1, 255}},
};
static const struct ir_addr_set sets[] = {
    {.name = "ingress-net1-0-v4", .family = 4, .n = 2, .ranges = v4set},
};
static const struct ir_port_range web[] = {{80, 80}, {8000, 8080}};
static const struct ir_rule rules[] = {
    {.kind = IR_RULE_CT_ESTABLISHED, .verdict = IR_ACCEPT},
    {.kind = IR_RULE_NDP, .verdict = IR_ACCEPT},
    /* a custom rule: udp from 192.168.0.0/16 dropped */
    {.kind = IR_RULE_MATCH, .family = 4, .addr_match = IR_ADDR_PREFIX,
     .prefix = {192, 168}, .prefix_len = 16, .l4proto = IPPROTO_UDP, .verdict = IR_DROP},
    /* sport 53 accepted */
    {.kind = IR_RULE_MATCH, .l4proto = IPPROTO_UDP, .port_is_src = true, .nports = 1,
     .ports = web, .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .family = 4, .addr_match = IR_ADDR_SET, .addr_set = 0,
     .l4proto = IPPROTO_TCP, .nports = 2, .ports = web, .verdict = IR_ACCEPT,
     .comment = "ns/web", .rule_no = 2},
    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
};
static const struct ir_chain chains[] = {
    {.name = "ingress-net1", .ifname = "net1", .network = "ns/a", .dir = IR_INGRESS,
     .nrules = 6, .rules = rules},
};
static const struct pod_ruleset rs = {.nsets = 1, .sets = sets, .nchains = 1, .chains = chains};

static struct ir_trace eval(const char *net, enum ir_dir dir, uint8_t s0, uint8_t s1, uint8_t s2,
			    uint8_t s3, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct ir_packet p = {.family = 4, .saddr = {s0, s1, s2, s3}, .daddr = {10, 9, 9, 9},
			      .l4proto = proto, .sport = sport, .dport = dport};
	struct ir_trace t;
	ruleset_evaluate(&rs, net, dir, &p, &t);
	return t;
}

static void test_evaluate(void **state)
{
	struct ir_trace t = eval("ns/a", IR_INGRESS, 10, 0, 0, 1, IPPROTO_TCP, 40000, 80);
	assert_non_null(t.chain);
	assert_int_equal(t.rule, 4);
	assert_int_equal(t.verdict, IR_ACCEPT);
	t = eval("ns/a", IR_INGRESS, 10, 0, 1, 77, IPPROTO_TCP, 40000, 8080); /* range, set range */
	assert_int_equal(t.rule, 4);
	t = eval("ns/a", IR_INGRESS, 10, 0, 1, 77, IPPROTO_TCP, 40000, 8081); /* past the range */
	assert_int_equal(t.rule, 5);
	assert_int_equal(t.verdict, IR_DROP);
	t = eval("ns/a", IR_INGRESS, 10, 0, 0, 2, IPPROTO_TCP, 40000, 80); /* not in the set */
	assert_int_equal(t.rule, 5);
	t = eval("ns/a", IR_INGRESS, 10, 0, 0, 1, IPPROTO_UDP, 40000, 80); /* other protocol */
	assert_int_equal(t.rule, 5);
	t = eval("ns/a", IR_INGRESS, 192, 168, 3, 4, IPPROTO_UDP, 80, 9); /* prefix before sport */
	assert_int_equal(t.rule, 2);
	assert_int_equal(t.verdict, IR_DROP);
	t = eval("ns/a", IR_INGRESS, 192, 169, 3, 4, IPPROTO_UDP, 80, 9); /* sport 80 accepted */
	assert_int_equal(t.rule, 3);
	assert_int_equal(t.verdict, IR_ACCEPT);
	t = eval("ns/a", IR_EGRESS, 10, 0, 0, 1, IPPROTO_TCP, 40000, 9); /* no egress chain */
	assert_null(t.chain);
	assert_int_equal(t.verdict, IR_ACCEPT);
	t = eval("ns/b", IR_INGRESS, 10, 0, 0, 1, IPPROTO_TCP, 40000, 9); /* other network */
	assert_null(t.chain);
	/* IPv6 never matches an IPv4 set or prefix */
	struct ir_packet p6 = {.family = 6, .saddr = {10, 0, 0, 1}, .l4proto = IPPROTO_TCP,
			       .dport = 80};
	ruleset_evaluate(&rs, "ns/a", IR_INGRESS, &p6, &t);
	assert_int_equal(t.rule, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_evaluate)};
	return cmocka_run_group_tests_name("policy/verdict", tests, NULL, NULL);
}
