/* nft text rendering: exact text for each rule form, nft's element line wrapping, address
 * formatting (compared with the C library's inet_ntop) and refusal of inconsistent input. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nft/layout.h"
#include "nft/render.h"

static char *render(const struct pod_ruleset *rs, int *rc)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	*rc = nft_ruleset_print(rs, m);
	fclose(m);
	return out;
}

/* The text of one rule, rendered alone in a chain. */
static char *rule_text(const struct pod_ruleset *base, const struct ir_rule *r)
{
	struct ir_chain ch = {.name = "c", .ifname = "net1", .nrules = 1, .rules = r};
	struct pod_ruleset rs = *base;
	rs.nchains = 1;
	rs.chains = &ch;
	int rc;
	char *all = render(&rs, &rc);
	assert_int_equal(rc, 0);
	char *start = strstr(all, "\tchain c {\n\t\t");
	assert_non_null(start);
	start += strlen("\tchain c {\n\t\t");
	char *end = strchr(start, '\n');
	char *line = strndup(start, (size_t)(end - start));
	free(all);
	return line;
}

static const struct ir_addr_range v4r[] = {{.lo = {10, 0, 0, 1}, .hi = {10, 0, 0, 1}}};
static const struct ir_addr_set sets[] = {
    {.name = "s4", .family = 4, .n = 1, .ranges = v4r},
    {.name = "s6", .family = 6, .n = 0},
};
static const struct pod_ruleset base = {.nsets = 2, .sets = sets};

static void expect_rule(const struct ir_rule *r, const char *want)
{
	char *got = rule_text(&base, r);
	assert_string_equal(got, want);
	free(got);
}

static void rule_forms(void **unused)
{
	static const struct ir_port_range p80[] = {{80, 80}}, pr[] = {{8000, 9000}},
					  two[] = {{53, 53}, {80, 81}};
	expect_rule(&(struct ir_rule){.kind = IR_RULE_CT_ESTABLISHED},
		    "ct state established,related accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS},
		    "icmpv6 type { mld-listener-query, nd-neighbor-solicit, nd-neighbor-advert } "
		    "accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_EGRESS},
		    "icmpv6 type { mld-listener-report, mld-listener-done, nd-router-solicit, "
		    "nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept");
	expect_rule(
	    &(struct ir_rule){.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS | IR_NDP_ROUTER},
	    "icmpv6 type { mld-listener-query, nd-router-advert, nd-neighbor-solicit, "
	    "nd-neighbor-advert, nd-redirect } accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH, .verdict = IR_DROP}, "drop");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH, .family = 4, .verdict = IR_ACCEPT},
		    "meta nfproto ipv4 accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .addr_match = IR_ADDR_SET,
				      .addr_set = 0,
				      .l4proto = IPPROTO_TCP,
				      .nports = 1,
				      .ports = p80,
				      .verdict = IR_ACCEPT,
				      .comment = "ns/p"},
		    "ip saddr @s4 tcp dport 80 accept comment \"ns/p\"");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .family = 6,
				      .addr_match = IR_ADDR_SET,
				      .addr_is_dst = true,
				      .addr_set = 1,
				      .l4proto = IPPROTO_UDP,
				      .nports = 1,
				      .ports = pr,
				      .verdict = IR_ACCEPT},
		    "ip6 daddr @s6 udp dport 8000-9000 accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .family = 6,
				      .addr_match = IR_ADDR_PREFIX,
				      .prefix = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0xff},
				      .prefix_len = 64,
				      .verdict = IR_ACCEPT},
		    "ip6 saddr 2001:db8::/64 accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .family = 4,
				      .addr_match = IR_ADDR_PREFIX,
				      .prefix = {1, 2, 3, 4},
				      .prefix_len = 32,
				      .l4proto = IPPROTO_UDP,
				      .verdict = IR_ACCEPT},
		    "ip saddr 1.2.3.4 meta l4proto udp accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .family = 4,
				      .addr_match = IR_ADDR_PREFIX,
				      .prefix_len = 0,
				      .verdict = IR_DROP},
		    "ip saddr 0.0.0.0/0 drop");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .family = 6,
				      .l4proto = IPPROTO_SCTP,
				      .port_is_src = true,
				      .nports = 2,
				      .ports = two,
				      .verdict = IR_ACCEPT},
		    "meta nfproto ipv6 sctp sport @c-0-ports accept");
	expect_rule(
	    &(struct ir_rule){
		.kind = IR_RULE_MATCH, .family = 4, .l4proto = IPPROTO_ICMP, .verdict = IR_ACCEPT},
	    "meta l4proto icmp accept");
	expect_rule(&(struct ir_rule){.kind = IR_RULE_MATCH,
				      .family = 4,
				      .l4proto = IPPROTO_ICMPV6,
				      .verdict = IR_ACCEPT},
		    "meta nfproto ipv4 meta l4proto ipv6-icmp accept");
}

static void whole_table(void **unused)
{
	static const struct ir_addr_range r[] = {
	    {.lo = {10, 0, 0, 1}, .hi = {10, 0, 0, 1}},
	    {.lo = {10, 1, 0, 0}, .hi = {10, 1, 255, 255}},
	    {.lo = {10, 2, 0, 1}, .hi = {10, 2, 0, 5}},
	};
	static const struct ir_port_range ports[] = {{1, 1}, {3, 3},   {5, 6},
						     {8, 8}, {10, 10}, {12, 65535}};
	static const struct ir_addr_set s[] = {{.name = "a", .family = 4, .n = 3, .ranges = r}};
	static const struct ir_rule in[] = {
	    {.kind = IR_RULE_MATCH,
	     .l4proto = IPPROTO_TCP,
	     .nports = 6,
	     .ports = ports,
	     .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
	};
	static const struct ir_chain ch[] = {
	    {.name = "ingress-net1", .ifname = "net1", .dir = IR_INGRESS, .nrules = 2, .rules = in},
	    {.name = "egress-net2", .ifname = "net2", .dir = IR_EGRESS, .nrules = 0},
	};
	struct pod_ruleset rs = {.nsets = 1, .sets = s, .nchains = 2, .chains = ch};
	int rc;
	char *got = render(&rs, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "table inet multi_networkpolicy {\n"
				 "\tset a {\n"
				 "\t\ttype ipv4_addr\n"
				 "\t\tflags interval\n"
				 "\t\telements = { 10.0.0.1, 10.1.0.0/16,\n"
				 "\t\t\t     10.2.0.1-10.2.0.5 }\n"
				 "\t}\n"
				 "\n"
				 "\tset ingress-net1-0-ports {\n"
				 "\t\ttype inet_service\n"
				 "\t\tflags interval\n"
				 "\t\telements = { 1, 3, 5-6, 8, 10,\n"
				 "\t\t\t     12-65535 }\n"
				 "\t}\n"
				 "\n"
				 "\tchain input {\n"
				 "\t\ttype filter hook input priority filter; policy accept;\n"
				 "\t\tiifname \"net1\" jump ingress-net1\n"
				 "\t}\n"
				 "\n"
				 "\tchain output {\n"
				 "\t\ttype filter hook output priority filter; policy accept;\n"
				 "\t\toifname \"net2\" jump egress-net2\n"
				 "\t}\n"
				 "\n"
				 "\tchain ingress-net1 {\n"
				 "\t\ttcp dport @ingress-net1-0-ports accept\n"
				 "\t\tdrop\n"
				 "\t}\n"
				 "\n"
				 "\tchain egress-net2 {\n"
				 "\t}\n"
				 "}\n");
	free(got);
}

static void no_chains_prints_nothing(void **unused)
{
	int rc;
	char *got = render(&base, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "");
	free(got);
}

static void inconsistent_input_is_refused(void **unused)
{
	struct ir_rule r = {.kind = IR_RULE_MATCH, .addr_match = IR_ADDR_SET, .addr_set = 9};
	struct ir_chain ch = {.name = "c", .ifname = "net1", .nrules = 1, .rules = &r};
	struct pod_ruleset rs = base;
	rs.nchains = 1;
	rs.chains = &ch;
	int rc;
	errno = 0;
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EINVAL);
	r.addr_set = 1;
	r.family = 4; /* set s6 is IPv6 */
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	r = (struct ir_rule){.kind = IR_RULE_MATCH,
			     .l4proto = IPPROTO_ICMP,
			     .nports = 1,
			     .ports = (struct ir_port_range[]){{1, 1}}};
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	r = (struct ir_rule){.kind = IR_RULE_MATCH, .l4proto = 47};
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	r = (struct ir_rule){.kind = IR_RULE_NDP};
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
}

/* Interface, chain, set and policy names come from objects: whatever they hold, the text
 * around them stays what the ruleset says (no rule, verdict or line of their making). */
static void names_from_objects_cannot_change_the_text(void **unused)
{
	static const struct ir_addr_range one[] = {{.lo = {10, 0, 0, 1}, .hi = {10, 0, 0, 1}}};
	static const struct ir_addr_set s[] = {
	    {.name = "ingress-x\" accept #-0-v4", .family = 4, .n = 1, .ranges = one}};
	static const struct ir_port_range two[] = {{53, 53}, {80, 80}};
	const struct ir_rule in[] = {
	    {.kind = IR_RULE_MATCH,
	     .addr_match = IR_ADDR_SET,
	     .l4proto = IPPROTO_TCP,
	     .nports = 2,
	     .ports = two,
	     .verdict = IR_DROP,
	     .comment = "ns/p\" accept comment \"\\\n\taccept"},
	};
	const struct ir_chain ch[] = {{.name = "ingress-x\" accept #",
				       .ifname = "x\" accept #",
				       .dir = IR_INGRESS,
				       .nrules = 1,
				       .rules = in}};
	struct pod_ruleset rs = {.nsets = 1, .sets = s, .nchains = 1, .chains = ch};
	int rc;
	char *got = render(&rs, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "table inet multi_networkpolicy {\n"
				 "\tset \"ingress-x\\x22 accept #-0-v4\" {\n"
				 "\t\ttype ipv4_addr\n"
				 "\t\tflags interval\n"
				 "\t\telements = { 10.0.0.1 }\n"
				 "\t}\n"
				 "\n"
				 "\tset \"ingress-x\\x22 accept #-0-ports\" {\n"
				 "\t\ttype inet_service\n"
				 "\t\tflags interval\n"
				 "\t\telements = { 53, 80 }\n"
				 "\t}\n"
				 "\n"
				 "\tchain input {\n"
				 "\t\ttype filter hook input priority filter; policy accept;\n"
				 "\t\tiifname \"x\\x22 accept #\" jump \"ingress-x\\x22 accept #\"\n"
				 "\t}\n"
				 "\n"
				 "\tchain output {\n"
				 "\t\ttype filter hook output priority filter; policy accept;\n"
				 "\t}\n"
				 "\n"
				 "\tchain \"ingress-x\\x22 accept #\" {\n"
				 "\t\tip saddr @\"ingress-x\\x22 accept #-0-v4\" tcp dport "
				 "@\"ingress-x\\x22 accept #-0-ports\" drop comment "
				 "\"ns/p\\x22 accept comment \\x22\\\\\\x0a\\x09accept\"\n"
				 "\t}\n"
				 "}\n");
	free(got);

	/* Every byte in a comment: the rule stays one line with its two quotes. */
	for (int c = 1; c < 256; c++) {
		char comment[4] = {'a', (char)c, 'b', 0};
		struct ir_rule r = {.kind = IR_RULE_MATCH, .verdict = IR_DROP, .comment = comment};
		char *line = rule_text(&base, &r);
		size_t quotes = 0;
		for (const char *p = line; *p; p++) {
			quotes += *p == '"';
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
		}
		assert_int_equal(quotes, 2);
		assert_memory_equal(line, "drop comment \"a", 15);
		free(line);
	}
}

/* Names the kernel would refuse, or that would overrun a batch message, are refused first. */
static void overlong_names_are_refused(void **unused)
{
	char name[NFT_NAME_MAX + 1];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = 0;
	struct ir_chain ch = {.name = name, .ifname = "net1"};
	struct pod_ruleset rs = {.nchains = 1, .chains = &ch};
	int rc;
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	name[NFT_NAME_MAX - 1] = 0; /* 255 bytes: the kernel's longest */
	free(render(&rs, &rc));
	assert_int_equal(rc, 0);
	ch.name = "";
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	ch.name = "c";
	ch.ifname = "sixteen-bytes-xx";
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
	struct ir_addr_set s = {.name = name, .family = 4};
	ch.ifname = "net1";
	memset(name, 'a', NFT_NAME_MAX);
	rs.nsets = 1, rs.sets = &s;
	free(render(&rs, &rc));
	assert_int_equal(rc, -1);
}

/* The base chains' interface guards: by index and name, ahead of the jumps, only in directions
 * the name is policed in, none for a name no interface has; without guards the text is
 * nft_ruleset_print()'s. */
static void interface_guards_precede_the_jumps(void **unused)
{
	static const struct ir_rule drop = {.kind = IR_RULE_MATCH, .verdict = IR_DROP};
	static const struct ir_chain chains[] = {
	    {.name = "ingress-net1",
	     .ifname = "net1",
	     .dir = IR_INGRESS,
	     .nrules = 1,
	     .rules = &drop},
	    {.name = "egress-net1",
	     .ifname = "net1",
	     .dir = IR_EGRESS,
	     .nrules = 1,
	     .rules = &drop},
	    {.name = "ingress-net2",
	     .ifname = "net2",
	     .dir = IR_INGRESS,
	     .nrules = 1,
	     .rules = &drop},
	    {.name = "egress-net3",
	     .ifname = "net3",
	     .dir = IR_EGRESS,
	     .nrules = 1,
	     .rules = &drop},
	};
	static const struct pod_ruleset rs = {.nchains = 4, .chains = chains};
	/* net1 twice: renamed, a new one took the name; net3 absent; net4 not policed. */
	static const struct nft_ifguard guards[] = {
	    {"net1", 3, ""}, {"net3", 0, ""}, {"net2", 9, ""}, {"net4", 4, ""}, {"net1", 12, ""}};
	char *plain = NULL, *guarded = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&guarded, &len);
	assert_int_equal(nft_ruleset_print_guarded(&rs, guards, 5, m), 0);
	fclose(m);
	const char *want_in = "\tchain input {\n"
			      "\t\ttype filter hook input priority filter; policy accept;\n"
			      "\t\tiif \"net1\" iifname != \"net1\" counter packets 0 bytes 0 drop\n"
			      "\t\tiif \"net2\" iifname != \"net2\" counter packets 0 bytes 0 drop\n"
			      "\t\tiif \"net1\" iifname != \"net1\" counter packets 0 bytes 0 drop\n"
			      "\t\tiifname \"net1\" jump ingress-net1\n"
			      "\t\tiifname \"net2\" jump ingress-net2\n"
			      "\t}\n";
	const char *want_out = "\tchain output {\n"
			       "\t\ttype filter hook output priority filter; policy accept;\n"
			       "\t\toif \"net1\" oifname != \"net1\" counter packets 0 bytes 0 drop\n"
			       "\t\toif \"net1\" oifname != \"net1\" counter packets 0 bytes 0 drop\n"
			       "\t\toifname \"net1\" jump egress-net1\n"
			       "\t\toifname \"net3\" jump egress-net3\n"
			       "\t}\n";
	assert_non_null(strstr(guarded, want_in));
	assert_non_null(strstr(guarded, want_out));
	assert_int_equal(nft_ifguard_rules(&rs, guards, 5), 5);

	int rc;
	plain = render(&rs, &rc);
	assert_int_equal(rc, 0);
	assert_null(strstr(plain, "iif "));
	assert_null(strstr(plain, "oif "));
	free(guarded);
	guarded = NULL;
	m = open_memstream(&guarded, &len);
	assert_int_equal(nft_ruleset_print_guarded(&rs, guards + 1, 1, m), 0); /* index 0 only */
	fclose(m);
	assert_string_equal(guarded, plain);
	assert_int_equal(nft_ifguard_rules(&rs, guards + 1, 1), 0);
	free(plain);
	free(guarded);
}

static void ipv6_text_matches_inet_ntop(void **unused)
{
	/* Expected texts written out, not taken from the libc: they are glibc's (and nft's), RFC
	 * 5952 with ::a.b.c.d for IPv4-compatible addresses; musl's inet_ntop prints hex words
	 * there and compresses the last of equal zero runs, and the cross-built tests
	 * (tests/t-arch) link musl. */
	static const char *samples[][2] = {
	    {"::", "::"},
	    {"::1", "::1"},
	    {"1::", "1::"},
	    {"2001:db8::1", "2001:db8::1"},
	    {"2001:db8:0:1::1", "2001:db8:0:1::1"},
	    {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
	    {"1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"},
	    {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
	    {"::1.2.3.4", "::1.2.3.4"},
	    {"0:0:552a:0:0:c696:0:6465", "::552a:0:0:c696:0:6465"},
	    {"fe80::1:0:0:0", "fe80::1:0:0:0"},
	    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}};
	char got[NFT_ADDR_STRLEN];
	uint8_t a[16], back[16];
	for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
		assert_int_equal(inet_pton(AF_INET6, samples[i][0], a), 1);
		nft_addr_format(6, a, got);
		assert_string_equal(got, samples[i][1]);
	}
	srand(7);
	for (int i = 0; i < 20000; i++) {
		/* Mostly zero words, so runs of zeros of every length and place occur. */
		for (int w = 0; w < 8; w++) {
			int v = rand() % 4 ? 0 : rand() & 0xffff;
			a[2 * w] = (uint8_t)(v >> 8), a[2 * w + 1] = (uint8_t)v;
		}
		nft_addr_format(6, a, got);
		assert_int_equal(inet_pton(AF_INET6, got, back), 1);
		assert_memory_equal(back, a, 16);
#ifdef __GLIBC__
		char want[INET6_ADDRSTRLEN];
		assert_string_equal(got, inet_ntop(AF_INET6, a, want, sizeof want));
#endif
	}
}

static void prefix_detection(void **unused)
{
	uint8_t lo[16] = {10, 0, 0, 0}, hi[16] = {10, 0, 0, 255};
	assert_int_equal(nft_range_prefix_len(4, lo, hi), 24);
	hi[3] = 254;
	assert_int_equal(nft_range_prefix_len(4, lo, hi), -1);
	lo[3] = 1, hi[3] = 1;
	assert_int_equal(nft_range_prefix_len(4, lo, hi), 32);
	memset(lo, 0, 16);
	memset(hi, 0xff, 16);
	assert_int_equal(nft_range_prefix_len(6, lo, hi), 0);
	assert_int_equal(nft_range_prefix_len(4, lo, hi), 0);
	lo[0] = 0x80;
	assert_int_equal(nft_range_prefix_len(6, lo, hi), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rule_forms),
	    cmocka_unit_test(whole_table),
	    cmocka_unit_test(no_chains_prints_nothing),
	    cmocka_unit_test(inconsistent_input_is_refused),
	    cmocka_unit_test(names_from_objects_cannot_change_the_text),
	    cmocka_unit_test(overlong_names_are_refused),
	    cmocka_unit_test(interface_guards_precede_the_jumps),
	    cmocka_unit_test(ipv6_text_matches_inet_ntop),
	    cmocka_unit_test(prefix_detection),
	};
	return cmocka_run_group_tests_name("nft render", tests, NULL, NULL);
}
