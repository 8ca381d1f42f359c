/* nft_apply against the kernel: rulesets are programmed into a throwaway network namespace
 * (argv[1], or one made here with unshare) and read back with `nft list`, which must print
 * exactly what nft_ruleset_print() prints (but for the owner line and flags of an owned
 * table). Run once as is (tables owned by the test's sockets, where the kernel allows) and
 * once with MNP_NFT_OWNERSHIP=off (tables edited by hand, changes seen as events). Needs root. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "nft/apply.h"
#include "nft/links.h"
#include "nft/pool.h"
#include "nft/testns.h"
#include "nft/render.h"

static char netns[256];
static pid_t holder = -1;
static char own_ns[64];

static void own_netns(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/thread-self/ns/net", buf, len - 1);
	buf[n < 0 ? 0 : n] = 0;
}

static bool owned_tables(void)
{
	return nft_table_guard() == NFT_GUARD_OWNER;
}

static char *listed(void)
{
	return testns_without_owner(testns_run(
	    "nsenter --net=%s nft list table inet multi_networkpolicy 2>/dev/null", netns));
}

/* What a process in the pod gets for an nft command there, with its error text. */
static char *pod_nft(const char *args)
{
	return testns_run("nsenter --net=%s nft %s 2>&1; echo \"exit $?\"", netns, args);
}

static char *rendered(const struct pod_ruleset *rs)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	assert_int_equal(nft_ruleset_print(rs, m), 0);
	fclose(m);
	return out;
}

static void assert_table_is(const struct pod_ruleset *rs)
{
	char *want = rendered(rs), *got = listed();
	if (strcmp(want, got) != 0)
		fprintf(stderr, "--- rendered\n%s--- listed\n%s", want, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void apply_ok(const struct pod_ruleset *rs, struct nft_applied *st)
{
	char err[512] = "", before[64], after[64];
	own_netns(before, sizeof before);
	int rc = nft_apply(netns, rs, st, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "nft_apply: %s\n", err);
	assert_int_equal(rc, 0);
	own_netns(after, sizeof after);
	assert_string_equal(before, after);
	assert_string_equal(after, own_ns);
}

/* A call that must succeed and leave the test in its own netns. */
static void call_ok(int rc)
{
	char now[64];
	own_netns(now, sizeof now);
	assert_string_equal(now, own_ns);
	assert_int_equal(rc, 0);
}

/* ---- rulesets built by hand ---- */

#define V4(a, b, c, d)                                                                             \
	{                                                                                          \
		a, b, c, d                                                                         \
	}
static const struct ir_addr_range peers4[] = {
    {.lo = V4(10, 0, 0, 1), .hi = V4(10, 0, 0, 1)},
    {.lo = V4(10, 1, 0, 0), .hi = V4(10, 1, 255, 255)},
    {.lo = V4(10, 2, 0, 1), .hi = V4(10, 2, 0, 5)},
    {.lo = V4(192, 168, 7, 0), .hi = V4(192, 168, 7, 127)},
    {.lo = V4(255, 255, 255, 0), .hi = V4(255, 255, 255, 255)},
};
static const struct ir_addr_range peers4b[] = {
    {.lo = V4(10, 0, 0, 1), .hi = V4(10, 0, 0, 1)},
    {.lo = V4(10, 0, 0, 9), .hi = V4(10, 0, 0, 9)},
    {.lo = V4(10, 2, 0, 1), .hi = V4(10, 2, 0, 5)},
    {.lo = V4(192, 168, 7, 0), .hi = V4(192, 168, 7, 255)},
};
static const struct ir_addr_range peers6[] = {
    {.lo = {0}, .hi = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff}},
    {.lo = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, .hi = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
    {.lo = {0x20, 0x01, 0x0d, 0xb8, 0, 1},
     .hi = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {.lo = {0xfd, 0, [15] = 0x10}, .hi = {0xfd, 0, [15] = 0x20}},
};
static const struct ir_addr_set sets_a[] = {
    {.name = "ingress-net1-0-v4", .family = 4, .n = 5, .ranges = peers4},
    {.name = "ingress-net1-0-v6", .family = 6, .n = 4, .ranges = peers6},
    {.name = "egress-net1-0-v4", .family = 4, .n = 0, .ranges = NULL},
};
static const struct ir_addr_set sets_a2[] = {
    {.name = "ingress-net1-0-v4", .family = 4, .n = 4, .ranges = peers4b},
    {.name = "ingress-net1-0-v6", .family = 6, .n = 2, .ranges = peers6 + 1},
    {.name = "egress-net1-0-v4", .family = 4, .n = 1, .ranges = peers4 + 4},
};
static const struct ir_port_range p8080[] = {{8080, 8080}};
static const struct ir_port_range prange[] = {{8000, 9000}};
static const struct ir_port_range pmany[] = {
    {53, 53}, {80, 80}, {443, 443}, {8000, 9000}, {65000, 65535}};

static const struct ir_rule rules_in[] = {
    {.kind = IR_RULE_CT_ESTABLISHED},
    {.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS},
    {.kind = IR_RULE_MATCH,
     .addr_match = IR_ADDR_SET,
     .addr_set = 0,
     .l4proto = IPPROTO_TCP,
     .nports = 1,
     .ports = p8080,
     .verdict = IR_ACCEPT,
     .comment = "default/allow-a"},
    {.kind = IR_RULE_MATCH,
     .family = 6,
     .addr_match = IR_ADDR_SET,
     .addr_set = 1,
     .l4proto = IPPROTO_UDP,
     .nports = 1,
     .ports = prange,
     .verdict = IR_ACCEPT,
     .comment = "default/allow-v6"},
    {.kind = IR_RULE_MATCH,
     .family = 4,
     .addr_match = IR_ADDR_PREFIX,
     .prefix = {10, 16, 0, 0},
     .prefix_len = 12,
     .l4proto = IPPROTO_UDP,
     .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH,
     .family = 6,
     .addr_match = IR_ADDR_PREFIX,
     .prefix = {0x20, 0x01, 0x0d, 0xb8},
     .prefix_len = 64,
     .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH,
     .family = 4,
     .addr_match = IR_ADDR_PREFIX,
     .prefix = {10, 9, 9, 9},
     .prefix_len = 32,
     .l4proto = IPPROTO_SCTP,
     .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH,
     .family = 4,
     .addr_match = IR_ADDR_PREFIX,
     .prefix_len = 0,
     .verdict = IR_DROP},
    {.kind = IR_RULE_MATCH,
     .family = 6,
     .l4proto = IPPROTO_TCP,
     .nports = 5,
     .ports = pmany,
     .verdict = IR_ACCEPT,
     .comment = "ns-b/many-ports"},
    {.kind = IR_RULE_MATCH,
     .l4proto = IPPROTO_TCP,
     .port_is_src = true,
     .nports = 1,
     .ports = p8080,
     .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .family = 4, .l4proto = IPPROTO_ICMP, .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .family = 6, .l4proto = IPPROTO_ICMPV6, .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .family = 4, .l4proto = IPPROTO_TCP, .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .family = 6, .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
};
static const struct ir_rule rules_out[] = {
    {.kind = IR_RULE_CT_ESTABLISHED},
    {.kind = IR_RULE_MATCH,
     .addr_match = IR_ADDR_SET,
     .addr_is_dst = true,
     .addr_set = 2,
     .verdict = IR_ACCEPT,
     .comment = "default/egress"},
    {.kind = IR_RULE_MATCH,
     .family = 6,
     .addr_match = IR_ADDR_PREFIX,
     .addr_is_dst = true,
     .prefix = {0xfd},
     .prefix_len = 7,
     .l4proto = IPPROTO_UDP,
     .nports = 1,
     .ports = p8080,
     .verdict = IR_ACCEPT},
    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
};
static const struct ir_chain chains_a[] = {
    {.name = "ingress-net1", .ifname = "net1", .dir = IR_INGRESS, .nrules = 15, .rules = rules_in},
    {.name = "egress-net1", .ifname = "net1", .dir = IR_EGRESS, .nrules = 4, .rules = rules_out},
    {.name = "ingress-net2",
     .ifname = "net2",
     .dir = IR_INGRESS,
     .nrules = 1,
     .rules = rules_in + 14},
};
static const struct pod_ruleset rs_a = {
    .nsets = 3, .sets = sets_a, .nchains = 3, .chains = chains_a};
static const struct pod_ruleset rs_a2 = {
    .nsets = 3, .sets = sets_a2, .nchains = 3, .chains = chains_a};

static const struct ir_rule rules_b[] = {
    {.kind = IR_RULE_CT_ESTABLISHED},
    {.kind = IR_RULE_MATCH,
     .addr_match = IR_ADDR_SET,
     .addr_set = 0,
     .verdict = IR_ACCEPT,
     .comment = "other/policy"},
    /* A namespace and policy name as long as Kubernetes allows: stored cut to fit. */
    {.kind = IR_RULE_MATCH,
     .l4proto = IPPROTO_UDP,
     .verdict = IR_ACCEPT,
     .comment = "a123456789b123456789c123456789d123456789e123456789f123456789abc/"
		"p123456789p123456789p123456789p123456789p123456789p123456789"
		"p123456789p123456789p123456789p123456789p123456789p123456789"
		"p123456789p123456789p123456789p123456789p123456789p123456789"
		"p123456789p123456789p123456789p123456789p123456789p123456789"
		"p123456789p12"},
    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
};
static const struct ir_chain chains_b[] = {
    {.name = "egress-eth0.100",
     .ifname = "eth0.100",
     .dir = IR_EGRESS,
     .nrules = 4,
     .rules = rules_b},
};
static const struct ir_addr_set sets_b[] = {
    {.name = "egress-eth0.100-0-v6", .family = 6, .n = 1, .ranges = peers6 + 2},
};
static const struct pod_ruleset rs_b = {
    .nsets = 1, .sets = sets_b, .nchains = 1, .chains = chains_b};

/* ---- tests ---- */

static void full_apply_lists_as_rendered(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_elements);
	assert_int_equal(st.hash, nft_ruleset_hash(&rs_a));
	assert_table_is(&rs_a);

	bool present = false;
	struct nft_table_counts c;
	char err[256];
	call_ok(nft_table_present(netns, &st, &present, &c, err, sizeof err));
	assert_true(present);
	assert_true(nft_applied_intact(&st, present, &c));
	nft_applied_free(&st);
}

static void replace_with_other_ruleset(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	apply_ok(&rs_b, &st);
	assert_false(st.last_was_elements);
	assert_table_is(&rs_b);
	nft_applied_free(&st);
}

static void address_change_sends_elements_only(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	assert_int_not_equal(nft_ruleset_hash(&rs_a), nft_ruleset_hash(&rs_a2));
	apply_ok(&rs_a2, &st);
	assert_true(st.last_was_elements);
	assert_table_is(&rs_a2);
	apply_ok(&rs_a, &st);
	assert_true(st.last_was_elements);
	assert_table_is(&rs_a);
	nft_applied_free(&st);
}

static void failed_batch_keeps_old_table(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	uint64_t hash = st.hash;

	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	struct ir_chain bad_chain[] = {chains_a[0], chains_a[1]};
	bad_chain[1].name = longname;
	struct pod_ruleset bad = rs_a;
	bad.chains = bad_chain;
	bad.nchains = 2;

	char err[512] = "", before[64], after[64];
	own_netns(before, sizeof before);
	assert_int_equal(nft_apply(netns, &bad, &st, err, sizeof err), -1);
	own_netns(after, sizeof after);
	assert_string_equal(before, after);
	fprintf(stderr, "expected error: %s\n", err);
	/* Longer than the kernel's 255 bytes: refused before any batch is built. */
	assert_non_null(strstr(err, "chain 1 (xxxx"));
	assert_non_null(strstr(err, "bad name"));
	assert_int_equal(st.hash, hash);
	assert_table_is(&rs_a);

	/* Two sets of one name: the second is refused (EEXIST), the batch with it. */
	struct ir_addr_set dup[3] = {sets_a[0], sets_a[1], sets_a[2]};
	dup[2].name = "ingress-net1-0-v4";
	struct pod_ruleset also_bad = rs_a;
	also_bad.sets = dup;
	assert_int_equal(nft_apply(netns, &also_bad, &st, err, sizeof err), -1);
	fprintf(stderr, "expected error: %s\n", err);
	assert_non_null(strstr(err, "set ingress-net1-0-v4: "));
	assert_non_null(strstr(err, strerror(EEXIST)));
	assert_int_equal(st.hash, hash);
	assert_table_is(&rs_a);
	nft_applied_free(&st);
}

/* Tables edited by hand (only possible where tables are not owned; owned ones are covered by
 * owned_table_refuses_other_processes). */
static void drift_is_noticed_and_repaired(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	if (owned_tables()) {
		char *out = pod_nft("flush chain inet multi_networkpolicy ingress-net1");
		assert_non_null(strstr(out, "Operation not permitted"));
		free(out);
		assert_table_is(&rs_a);
		nft_applied_free(&st);
		return;
	}
	free(testns_run("nsenter --net=%s nft flush chain inet multi_networkpolicy ingress-net1",
			netns));

	bool present = false;
	struct nft_table_counts c;
	char err[256];
	call_ok(nft_table_present(netns, &st, &present, &c, err, sizeof err));
	assert_true(present);
	assert_false(nft_applied_intact(&st, present, &c));
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	assert_table_is(&rs_a);

	/* Deleted by hand: an element-only update cannot land, so the whole table is sent. */
	free(testns_run("nsenter --net=%s nft delete table inet multi_networkpolicy", netns));
	apply_ok(&rs_a2, &st);
	assert_false(st.last_was_elements);
	assert_table_is(&rs_a2);
	nft_applied_free(&st);
}

/* The kernel's handle of the table: a new one each time the table is created. */
static unsigned table_handle(void)
{
	char *out =
	    testns_run("nsenter --net=%s nft -a list table inet multi_networkpolicy 2>&1", netns);
	unsigned h = 0;
	if (sscanf(out, "table inet multi_networkpolicy { # handle %u", &h) != 1)
		fprintf(stderr, "no table handle in: %s\n", out);
	free(out);
	return h;
}

/* A reset state applying rs again adopts the table its socket owns (same handle), where tables
 * are owned; elsewhere it rewrites it. */
static void reset_adopts_what_it_owns(struct nft_applied *st, const struct pod_ruleset *rs)
{
	unsigned handle = table_handle();
	nft_applied_reset(st);
	apply_ok(rs, st);
	assert_int_equal(st->last_was_adopted, owned_tables());
	assert_int_equal(table_handle() == handle, owned_tables());
}

/* A restarted agent (a zeroed state, a new socket) finds its table ownerless, with the same
 * ruleset: it cannot know what happened to it while no agent owned it, so it rewrites it (a
 * new kernel object). A reset in the same process, whose socket still owns the table, adopts
 * it: nothing is sent, the table is the very same kernel object, and later updates start from
 * it. The table's userdata is written once; element updates and resets after them still
 * adopt. Where tables are not owned, no table found is adopted. */
static void restart_rewrites_reset_adopts(void **unused)
{
	struct nft_applied first = {0}, st = {0};
	char err[256];
	call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	apply_ok(&rs_a, &first);
	assert_false(first.last_was_adopted);
	unsigned handle = table_handle();
	assert_true(handle > 0);
	nft_applied_free(&first);

	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	assert_false(st.last_was_elements);
	assert_int_not_equal(table_handle(), handle);
	assert_table_is(&rs_a);
	reset_adopts_what_it_owns(&st, &rs_a);
	handle = table_handle();
	assert_int_equal(st.hash, nft_ruleset_hash(&rs_a));
	assert_table_is(&rs_a);
	bool present = false;
	struct nft_table_counts c;
	call_ok(nft_table_present(netns, &st, &present, &c, err, sizeof err));
	assert_true(nft_applied_intact(&st, present, &c));
	if (!owned_tables()) {
		nft_applied_free(&st);
		return;
	}

	/* The adopted state drives element-only updates like one of our own. */
	apply_ok(&rs_a2, &st);
	assert_true(st.last_was_elements);
	assert_false(st.last_was_adopted);
	assert_int_equal(table_handle(), handle);
	assert_table_is(&rs_a2);

	/* After element updates a reset reads the sets back and finds nothing to send... */
	nft_applied_reset(&st);
	apply_ok(&rs_a2, &st);
	assert_true(st.last_was_adopted);
	assert_false(st.last_was_elements);
	assert_int_equal(table_handle(), handle);
	assert_table_is(&rs_a2);

	/* ...or, when the addresses changed meanwhile, sends element changes only. */
	nft_applied_reset(&st);
	apply_ok(&rs_a, &st);
	assert_true(st.last_was_adopted);
	assert_true(st.last_was_elements);
	assert_int_equal(table_handle(), handle);
	assert_table_is(&rs_a);
	apply_ok(&rs_a2, &st);
	assert_false(st.last_was_adopted);
	assert_table_is(&rs_a2);
	nft_applied_free(&st);
}

/* The handle of the last rule of chain in the pod's table, 0 if none. */
static unsigned last_rule_handle(const char *chain)
{
	char *out = testns_run("nsenter --net=%s nft -a list chain inet multi_networkpolicy %s | "
			       "grep -o '# handle [0-9]*' | tail -1",
			       netns, chain);
	unsigned h = 0;
	if (sscanf(out, "# handle %u", &h) != 1)
		h = 0;
	free(out);
	return h;
}

/* While no agent runs the table has no owner, and a process in the pod can edit it keeping
 * every count and hash the table carries: a drop replaced by an accept, a peer added to a set.
 * The restarted agent rewrites the table, so the edit is gone. */
static void restart_undoes_edit_made_while_down(void **unused)
{
	struct nft_applied st = {0};
	char err[256], cmd[256];
	static const char *const edits[] = {
	    "replace rule inet multi_networkpolicy ingress-net1 handle %u accept",
	    "add element inet multi_networkpolicy ingress-net1-0-v4 { 10.99.0.1 }",
	};
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		call_ok(nft_delete_table(netns, NULL, err, sizeof err));
		apply_ok(&rs_a, &st);
		nft_applied_free(&st); /* the agent exits: the table stays, ownerless */
		snprintf(cmd, sizeof cmd, edits[i], last_rule_handle("ingress-net1"));
		char *out = pod_nft(cmd);
		assert_non_null(strstr(out, "exit 0"));
		free(out);
		char *now = listed(), *want = rendered(&rs_a);
		assert_string_not_equal(now, want); /* the edit landed */
		free(now);
		free(want);
		apply_ok(&rs_a, &st);
		assert_table_is(&rs_a);
		assert_false(st.last_was_adopted);
		nft_applied_free(&st);
	}
}

/* A pod with hundreds of policies: one acknowledgement per message of a full batch (each
 * takes far more of the receive buffer than its few bytes) must fit, or every apply fails. */
static void large_batch_acks_fit(void **unused)
{
	enum { N = 1000 };
	static struct ir_rule many[N];
	for (int i = 0; i < N; i++)
		many[i] = (struct ir_rule){.kind = IR_RULE_MATCH,
					   .family = 4,
					   .l4proto = IPPROTO_TCP,
					   .nports = 1,
					   .ports = p8080,
					   .verdict = IR_ACCEPT};
	static const struct ir_chain ch = {.name = "ingress-net1",
					   .ifname = "net1",
					   .dir = IR_INGRESS,
					   .nrules = N,
					   .rules = many};
	static const struct pod_ruleset rs = {.nchains = 1, .chains = &ch};
	struct nft_applied st = {0};
	apply_ok(&rs, &st);
	assert_table_is(&rs);
	nft_applied_free(&st);
}

/* The acknowledgements of a batch overflowing the receive buffer (ENOBUFS) leave its outcome
 * unknown, committed or not: the apply fails and the state asks for a rewrite, so a later apply
 * of the ruleset the state held before is not taken as already there. */
static void lost_acks_leave_the_outcome_unknown(void **unused)
{
	struct nft_applied st = {0};
	char err[512] = "";
	apply_ok(&rs_a, &st);
	nft_ack_rcvbuf_for_tests = 1; /* the kernel's minimum: a few acks fit */
	int rc = nft_apply(netns, &rs_b, &st, err, sizeof err);
	nft_ack_rcvbuf_for_tests = 0;
	fprintf(stderr, "expected error: %s\n", err);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "No buffer space available"));
	char *now = listed(), *want = rendered(&rs_b);
	assert_string_equal(now, want); /* the kernel committed it all the same */
	free(now);
	free(want);
	/* The agent applies only when the hash differs: it must not still say rs_a. */
	assert_int_not_equal(st.hash, nft_ruleset_hash(&rs_a));
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_elements);
	assert_table_is(&rs_a);
	nft_applied_free(&st);
}

/* Sets read back from the kernel give the ranges they were written from, edges included
 * (address zero, the last address, IPv6), so element changes after adoption are exact. */
static void adopted_sets_read_back_exactly(void **unused)
{
	struct nft_applied st = {0};
	char err[256];
	if (!owned_tables())
		return; /* nothing is adopted: sets are never read back */
	call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	apply_ok(&rs_a, &st);
	nft_applied_reset(&st);
	/* An empty ruleset of the same shape: every element must be deleted, which the kernel
	 * refuses for an element that is not there (ENOENT), so a wrong read fails the apply. */
	struct ir_addr_set empty[3] = {sets_a[0], sets_a[1], sets_a[2]};
	for (int i = 0; i < 3; i++)
		empty[i].n = 0;
	struct pod_ruleset rs_empty = rs_a;
	rs_empty.sets = empty;
	apply_ok(&rs_empty, &st);
	assert_true(st.last_was_adopted);
	assert_true(st.last_was_elements);
	assert_table_is(&rs_empty);
	nft_applied_reset(&st);
	apply_ok(&rs_a, &st);
	assert_true(st.last_was_adopted);
	assert_table_is(&rs_a);
	nft_applied_free(&st);
}

/* The userdata holding the hash leaves every listing of nft clean (no parse error). */
static void hash_userdata_lists_cleanly(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_b, &st);
	char *want = rendered(&rs_b);
	char *got =
	    testns_without_owner(testns_run("nsenter --net=%s nft list ruleset 2>&1", netns));
	assert_string_equal(got, want);
	free(got);
	got = testns_run("nsenter --net=%s nft list tables 2>&1", netns);
	assert_string_equal(got, "table inet multi_networkpolicy\n");
	free(got);
	free(want);
	nft_applied_free(&st);
}

/* A table that is not exactly the ruleset is rewritten, never adopted: another ruleset, or
 * ours edited by hand (a rule added, a chain flushed). */
static void restart_rewrites_other_or_edited_table(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_b, &st);
	nft_applied_free(&st);
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	assert_table_is(&rs_a);
	nft_applied_free(&st);

	static const char *const edits[] = {
	    "add rule inet multi_networkpolicy ingress-net1 tcp dport 22 accept",
	    "flush chain inet multi_networkpolicy ingress-net1",
	    "add set inet multi_networkpolicy extra { type ipv4_addr; }",
	    "add chain inet multi_networkpolicy extra",
	};
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		apply_ok(&rs_a, &st);
		unsigned handle = table_handle();
		nft_applied_free(&st);
		free(testns_run("nsenter --net=%s nft '%s'", netns, edits[i]));
		char *now = listed(), *want = rendered(&rs_a);
		assert_string_not_equal(now, want); /* the edit landed */
		free(now);
		free(want);
		assert_int_equal(table_handle(), handle);
		apply_ok(&rs_a, &st);
		assert_false(st.last_was_adopted);
		assert_int_not_equal(table_handle(), handle);
		assert_table_is(&rs_a);
		nft_applied_free(&st);
	}
}

/* After nft_applied_repair the table is rewritten even when it looks right. */
static void repair_rewrites_even_an_intact_table(void **unused)
{
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	unsigned handle = table_handle();
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	assert_false(st.repair);
	assert_int_not_equal(table_handle(), handle);
	assert_table_is(&rs_a);
	reset_adopts_what_it_owns(&st, &rs_a); /* without it */
	nft_applied_free(&st);
}

/* A restarted agent with no policy for the pod: an absent table needs no batch, a present
 * one is removed. */
static void restart_with_empty_ruleset(void **unused)
{
	struct nft_applied st = {0};
	struct pod_ruleset none = {0};
	apply_ok(&rs_a, &st);
	nft_applied_free(&st);
	apply_ok(&none, &st);
	assert_false(st.last_was_adopted);
	char *got = listed();
	assert_string_equal(got, "");
	free(got);
	nft_applied_free(&st);
	apply_ok(&none, &st);
	assert_true(st.last_was_adopted);
	nft_applied_free(&st);
}

/* The companion tables in the netns, as "name name ...\n" ("\n" for none). */
static char *companions(void)
{
	return testns_run(
	    "nsenter --net=%s nft list tables | grep -o 'multi_networkpolicy_[0-9a-z_]*' "
	    "| tr '\\n' ' '; echo",
	    netns);
}

/* The pod's table (a companion, by st's name) must list as rs renders. */
static void assert_companion_is(const struct nft_applied *st, const struct pod_ruleset *rs)
{
	const char *name = nft_applied_table(st);
	assert_int_equal(strncmp(name, "multi_networkpolicy_", 20), 0);
	assert_int_equal(strlen(name), 36);
	char *got = testns_without_owner(
	    testns_run("nsenter --net=%s nft list table inet %s 2>/dev/null", netns, name));
	char *want = rendered(rs), *brace = strchr(want, '{');
	char *expect = NULL;
	assert_true(asprintf(&expect, "table inet %s %s", name, brace) > 0);
	if (strcmp(expect, got) != 0)
		fprintf(stderr, "--- rendered\n%s--- listed\n%s", expect, got);
	assert_string_equal(got, expect);
	free(expect);
	free(want);
	free(got);
}

static void count_chain(void *ctx, const char *chain, const struct nft_ifguard *guard,
			uint64_t packets, uint64_t bytes)
{
	(*(int *)ctx)++;
}

/* A table of our name that this agent did not write (the upstream agent uses the name, or a
 * process in the pod made it first): left alone, and the ruleset goes into a companion table,
 * which a restarted agent adopts (passing over a prefixed table it did not write), counters
 * and events follow, and an empty ruleset removes. With takeover the name is ours again. */
static void foreign_table_gets_a_companion(void **unused)
{
	struct nft_applied st = {0};
	struct pod_ruleset none = {0};
	char err[512];
	call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	free(testns_run("nsenter --net=%s nft 'add table inet multi_networkpolicy; add chain inet "
			"multi_networkpolicy theirs { type filter hook input priority 0; }'",
			netns));
	apply_ok(&rs_a, &st);
	assert_int_equal(st.held, NFT_HELD_FOREIGN);
	assert_companion_is(&st, &rs_a);
	char *got = listed();
	assert_non_null(strstr(got, "chain theirs"));
	free(got);
	char name[NFT_TABLE_NAME_MAX];
	snprintf(name, sizeof name, "%s", nft_applied_table(&st));
	static const struct ir_rule counted[] = {
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP, .counter = true}};
	static const struct ir_chain counted_chain[] = {{.name = "ingress-net9",
							 .ifname = "net9",
							 .dir = IR_INGRESS,
							 .nrules = 1,
							 .rules = counted}};
	static const struct pod_ruleset rs_counted = {.nchains = 1, .chains = counted_chain};
	apply_ok(&rs_counted, &st);
	int counters = 0;
	call_ok(nft_read_counters(&st, count_chain, &counters, err, sizeof err));
	assert_int_equal(counters, 1); /* read from the companion */
	apply_ok(&rs_a, &st);
	assert_string_equal(nft_applied_table(&st), name);
	bool present = false;
	call_ok(nft_table_present(netns, &st, &present, NULL, err, sizeof err));
	assert_true(present);
	if (!owned_tables()) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "flush chain inet %s ingress-net1", name);
		free(pod_nft(cmd));
		assert_int_equal(nft_applied_tampered(&st), NFT_TAMPER_CHANGED);
		nft_applied_repair(&st);
		apply_ok(&rs_a, &st);
		assert_string_equal(nft_applied_table(&st), name);
		assert_companion_is(&st, &rs_a);
	} else {
		char *raw = testns_run("nsenter --net=%s nft list table inet %s", netns, name);
		assert_non_null(strstr(raw, "flags owner"));
		free(raw);
	}
	nft_applied_free(&st);
	/* A restarted agent: its companion (rewritten), not a look-alike it did not write. */
	free(testns_run("nsenter --net=%s nft add table inet multi_networkpolicy_0000000000000000",
			netns));
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	assert_string_equal(nft_applied_table(&st), name);
	apply_ok(&rs_a2, &st);
	assert_true(st.last_was_elements);
	assert_companion_is(&st, &rs_a2);
	apply_ok(&none, &st); /* no policy: our companion goes, their table stays */
	got = companions();
	assert_string_equal(got, "multi_networkpolicy_0000000000000000 \n");
	free(got);
	got = listed();
	assert_non_null(strstr(got, "chain theirs"));
	free(got);
	nft_applied_free(&st);
	apply_ok(&rs_b, &st); /* the look-alike is not ours: a new companion */
	assert_int_equal(st.held, NFT_HELD_FOREIGN);
	assert_string_not_equal(nft_applied_table(&st), "multi_networkpolicy_0000000000000000");
	assert_companion_is(&st, &rs_b);
	nft_applied_free(&st);
	free(testns_run(
	    "nsenter --net=%s nft delete table inet multi_networkpolicy_0000000000000000", netns));
	/* Takeover: their table is replaced, and our companion goes once the name is ours. */
	st.takeover = true;
	apply_ok(&rs_a, &st);
	assert_int_equal(st.held, NFT_HELD_NONE);
	assert_string_equal(nft_applied_table(&st), "multi_networkpolicy");
	assert_table_is(&rs_a);
	got = companions();
	assert_string_equal(got, "\n");
	free(got);
	nft_applied_reset(&st);
	assert_true(st.takeover); /* a reset keeps it */
	nft_applied_free(&st);
	memset(&st, 0, sizeof st);
	apply_ok(&rs_a, &st); /* ours now: kept (rewritten) without takeover */
	assert_int_equal(st.held, NFT_HELD_NONE);
	assert_table_is(&rs_a);
	nft_applied_free(&st);
}

/* What the agent's drift check concludes for the pod's table. */
static bool pod_table_intact(struct nft_applied *st)
{
	bool present = false;
	struct nft_table_counts counts;
	char err[256];
	call_ok(nft_table_present(netns, st, &present, &counts, err, sizeof err));
	return nft_applied_intact(st, present, &counts);
}

/* A process in the pod owns a table of our name from its own netlink socket (here `nft -i`,
 * which keeps its socket): no batch of ours could change it, so the ruleset goes into a
 * companion, both on a first apply and on a repair (the kernel's EPERM); once the name is free
 * a restarted agent moves back and deletes the companion. `cleanup` removes companions too. */
static void owned_name_gets_a_companion(void **unused)
{
	struct nft_applied st = {0}, fix = {0};
	struct pod_ruleset none = {0};
	char err[512], cmd[400];
	call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	if (owned_tables()) {
		/* Our table, left ownerless while the agent was down, taken by another socket. */
		struct nft_applied first = {0}, other = {0};
		apply_ok(&rs_a, &first);
		nft_applied_free(&first);
		apply_ok(&rs_a, &other);
		assert_false(other.last_was_adopted);
		apply_ok(&rs_a, &st);
		assert_int_equal(st.held, NFT_HELD_OWNED);
		assert_companion_is(&st, &rs_a);
		/* The other socket ends (say, the agent before a rollout): a drift check says so,
		 * and the repair moves the ruleset back, rewriting the table left behind. */
		nft_applied_free(&other);
		assert_false(pod_table_intact(&st));
		nft_applied_repair(&st);
		apply_ok(&rs_a2, &st);
		assert_int_equal(st.held, NFT_HELD_NONE);
		assert_table_is(&rs_a2);
		char *left = companions();
		assert_string_equal(left, "\n");
		free(left);
		nft_applied_free(&st);
		call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	}
	snprintf(cmd, sizeof cmd, "nsenter --net=%s nft -i >/dev/null 2>&1", netns);
	FILE *pod = popen(cmd, "w");
	assert_non_null(pod);
	fprintf(pod, "add table inet multi_networkpolicy { flags owner; }\n"
		     "add chain inet multi_networkpolicy theirs { type filter hook input "
		     "priority -10; policy accept; }\n");
	fflush(pod);
	char *got = NULL;
	for (int i = 0; i < 200; i++) {
		free(got);
		got = listed();
		if (strstr(got, "chain theirs"))
			break;
		usleep(10000);
	}
	assert_non_null(strstr(got, "chain theirs"));
	free(got);
	nft_applied_repair(&fix); /* as the CNI plugin's fallback: straight to a full batch */
	apply_ok(&rs_b, &fix);
	assert_int_equal(fix.held, NFT_HELD_OWNED);
	assert_companion_is(&fix, &rs_b);
	apply_ok(&none, &fix);
	nft_applied_free(&fix);
	apply_ok(&rs_a, &st);
	assert_int_equal(st.held, NFT_HELD_OWNED);
	assert_companion_is(&st, &rs_a);
	assert_true(pod_table_intact(&st)); /* the name is still held */
	nft_applied_free(&st);
	pclose(pod); /* the pod's table goes with its socket */
	apply_ok(&rs_a2, &st);
	assert_int_equal(st.held, NFT_HELD_NONE);
	assert_table_is(&rs_a2);
	got = companions();
	assert_string_equal(got, "\n");
	free(got);
	nft_applied_free(&st);
	/* Only a companion left (the name taken, then freed, by hand): found, and removed by
	 * cleanup. */
	free(testns_run(
	    "nsenter --net=%s nft 'delete table inet multi_networkpolicy; add table inet "
	    "multi_networkpolicy'",
	    netns));
	apply_ok(&rs_b, &st);
	assert_int_equal(st.held, NFT_HELD_FOREIGN);
	nft_applied_free(&st);
	free(testns_run("nsenter --net=%s nft delete table inet multi_networkpolicy", netns));
	bool present = false;
	call_ok(nft_table_present(netns, NULL, &present, NULL, err, sizeof err));
	assert_true(present);
	call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	call_ok(nft_table_present(netns, NULL, &present, NULL, err, sizeof err));
	assert_false(present);
	got = companions();
	assert_string_equal(got, "\n");
	free(got);
}

static void empty_ruleset_removes_table(void **unused)
{
	struct nft_applied st = {0};
	struct pod_ruleset none = {0};
	apply_ok(&rs_a, &st);
	apply_ok(&none, &st);
	assert_false(st.present);
	bool present = true;
	char err[256];
	call_ok(nft_table_present(netns, NULL, &present, NULL, err, sizeof err));
	assert_false(present);
	char *got = listed();
	assert_string_equal(got, "");
	free(got);
	/* Absent already: still fine. */
	apply_ok(&none, &st);
	call_ok(nft_delete_table(netns, NULL, err, sizeof err));
	assert_true(nft_applied_intact(&st, false, NULL));
	nft_applied_free(&st);
}

static void bad_netns_path_is_an_error(void **unused)
{
	struct nft_applied st = {0};
	char err[256] = "", after[64];
	assert_int_equal(nft_apply("/nonexistent/netns", &rs_a, &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/netns"));
	assert_int_equal(st.hash, 0);
	own_netns(after, sizeof after);
	assert_string_equal(after, own_ns);
	nft_applied_free(&st);
}

static void inconsistent_ruleset_is_refused(void **unused)
{
	struct ir_rule r = {.kind = IR_RULE_MATCH, .addr_match = IR_ADDR_SET, .addr_set = 7};
	struct ir_chain ch = {.name = "ingress-net1", .ifname = "net1", .nrules = 1, .rules = &r};
	struct pod_ruleset rs = {.nchains = 1, .chains = &ch};
	struct nft_applied st = {0};
	char err[256] = "";
	assert_int_equal(nft_apply(netns, &rs, &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "ingress-net1 rule 0"));
	ch.ifname = "an-interface-name-too-long";
	r.addr_match = IR_ADDR_NONE;
	assert_int_equal(nft_apply(netns, &rs, &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "interface name"));
}

/* The printed text is also valid nft input that nft lists back unchanged. */
static void rendered_text_loads_with_nft(void **unused)
{
	const struct pod_ruleset *all[] = {&rs_a, &rs_b};
	for (size_t i = 0; i < 2; i++) {
		char file[] = "/tmp/nft-render-XXXXXX";
		int fd = mkstemp(file);
		assert_true(fd >= 0);
		char *text = rendered(all[i]);
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
		close(fd);
		free(text);
		free(testns_run(
		    "nsenter --net=%s nft delete table inet multi_networkpolicy 2>/dev/null",
		    netns));
		char *out =
		    testns_run("nsenter --net=%s nft -f %s 2>&1 && echo loaded", netns, file);
		unlink(file);
		assert_string_equal(out, "loaded\n");
		free(out);
		assert_table_is(all[i]);
	}
	free(testns_run("nsenter --net=%s nft delete table inet multi_networkpolicy", netns));
}

/* Whole address spaces and ranges that run to the last address: no interval end element. */
static void edge_ranges_list_as_rendered(void **unused)
{
	struct ir_addr_range all4 = {.hi = {255, 255, 255, 255}}, all6, tail6[2];
	memset(&all6, 0, sizeof all6);
	memset(all6.hi, 0xff, 16);
	memset(tail6, 0, sizeof tail6);
	tail6[0].lo[0] = 0x20, tail6[0].hi[0] = 0x20, tail6[0].hi[15] = 7;
	tail6[1].lo[0] = 0xff, tail6[1].lo[15] = 1;
	memset(tail6[1].hi, 0xff, 16);
	struct ir_addr_set sets[] = {{.name = "all-v4", .family = 4, .n = 1, .ranges = &all4},
				     {.name = "all-v6", .family = 6, .n = 1, .ranges = &all6},
				     {.name = "tail-v6", .family = 6, .n = 2, .ranges = tail6}};
	struct ir_rule rules[] = {
	    {.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS | IR_NDP_EGRESS | IR_NDP_ROUTER},
	    {.kind = IR_RULE_MATCH, .addr_match = IR_ADDR_SET, .addr_set = 0, .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH, .addr_match = IR_ADDR_SET, .addr_set = 1, .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH, .addr_match = IR_ADDR_SET, .addr_set = 2, .verdict = IR_DROP},
	};
	struct ir_chain ch = {
	    .name = "ingress-net1", .ifname = "net1", .nrules = 4, .rules = rules};
	struct pod_ruleset rs = {.nsets = 3, .sets = sets, .nchains = 1, .chains = &ch};
	struct nft_applied st = {0};
	apply_ok(&rs, &st);
	assert_table_is(&rs);
	/* An icmpv6 set but no port set: the counts still match what was applied. */
	bool present = false;
	struct nft_table_counts c;
	char err[256];
	call_ok(nft_table_present(netns, &st, &present, &c, err, sizeof err));
	assert_true(nft_applied_intact(&st, present, &c));
	/* Shrinking the whole space to a part of it is an element-only update too. */
	all4.lo[0] = 128;
	tail6[1].lo[15] = 0;
	apply_ok(&rs, &st);
	assert_true(st.last_was_elements);
	assert_table_is(&rs);
	nft_applied_free(&st);
}

/* Sets bigger than one message holds, and enough ports to wrap nft's element lines. */
static void large_sets_list_as_rendered(void **unused)
{
	enum { N4 = 1500, N6 = 700, NP = 40 };
	static struct ir_addr_range r4[N4], r6[N6];
	static struct ir_port_range ports[NP];
	for (int i = 0; i < N4; i++) {
		uint8_t a[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 0};
		memcpy(r4[i].lo, a, 4);
		memcpy(r4[i].hi, a, 4);
		r4[i].hi[3] = i % 3 == 0 ? 0 : (i % 3 == 1 ? 255 : 17);
	}
	for (int i = 0; i < N6; i++) {
		uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, (uint8_t)(i >> 8), (uint8_t)i};
		memcpy(r6[i].lo, a, 16);
		memcpy(r6[i].hi, a, 16);
		r6[i].hi[15] = (uint8_t)(i % 2 ? 0xff : 0);
	}
	for (int i = 0; i < NP; i++)
		ports[i] = (struct ir_port_range){(uint16_t)(1000 + 10 * i),
						  (uint16_t)(1000 + 10 * i + i % 2)};
	struct ir_addr_set sets[] = {{.name = "big-v4", .family = 4, .n = N4, .ranges = r4},
				     {.name = "big-v6", .family = 6, .n = N6, .ranges = r6}};
	struct ir_rule rules[] = {
	    {.kind = IR_RULE_MATCH,
	     .addr_match = IR_ADDR_SET,
	     .addr_set = 0,
	     .l4proto = IPPROTO_UDP,
	     .nports = NP,
	     .ports = ports,
	     .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH, .addr_match = IR_ADDR_SET, .addr_set = 1, .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
	};
	struct ir_chain ch = {
	    .name = "ingress-net1", .ifname = "net1", .nrules = 3, .rules = rules};
	struct pod_ruleset rs = {.nsets = 2, .sets = sets, .nchains = 1, .chains = &ch};
	struct nft_applied st = {0};
	apply_ok(&rs, &st);
	assert_table_is(&rs);
	bool present = false;
	struct nft_table_counts c;
	char err[256];
	call_ok(nft_table_present(netns, &st, &present, &c, err, sizeof err));
	assert_true(nft_applied_intact(&st, present, &c));
	/* Drop every third v4 range and widen one: an element-only update. */
	static struct ir_addr_range r4b[N4];
	uint32_t n = 0;
	for (int i = 0; i < N4; i++)
		if (i % 3 != 2)
			r4b[n++] = r4[i];
	r4b[0].hi[3] = 200;
	sets[0].ranges = r4b;
	sets[0].n = n;
	apply_ok(&rs, &st);
	assert_true(st.last_was_elements);
	assert_table_is(&rs);
	nft_applied_free(&st);
}

/* The same state pointed at another netns (a recreated sandbox) sends the whole table. */
static void new_netns_gets_full_table(void **unused)
{
	struct nft_applied st = {0};
	char first[256], other[64], err[256];
	/* Before any socket is open: the forked holder would keep a copy of it (and its table
	 * owned). */
	pid_t pid = testns_hold(other, sizeof other);
	assert_true(pid > 0);
	apply_ok(&rs_a, &st);
	snprintf(first, sizeof first, "%s", netns);
	snprintf(netns, sizeof netns, "%s", other);
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_elements);
	assert_table_is(&rs_a);
	bool present = false;
	call_ok(nft_table_present(other, &st, &present, NULL, err, sizeof err));
	assert_true(present);
	snprintf(netns, sizeof netns, "%s", first);
	call_ok(nft_delete_table(first, NULL, err, sizeof err));
	call_ok(nft_table_present(first, NULL, &present, NULL, err, sizeof err));
	assert_false(present);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	nft_applied_free(&st);
}

/* Events overflowing the socket's receive buffer (ENOBUFS) may have hidden a change to our
 * table: that is NFT_TAMPER_UNKNOWN, never NONE. */
static void events_lost_are_unknown(struct nft_applied *st)
{
	char path[] = "/tmp/netlink_test_flood_XXXXXX", cmd[128];
	int tiny = 0, fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "add table inet flood\nadd set inet flood s { type ipv4_addr; }\n");
	for (int i = 0; i < 2000; i++)
		fprintf(f, "add element inet flood s { 10.0.%d.%d }\n", i / 250, i % 250 + 1);
	fclose(f);
	/* the kernel raises 0 to its minimum: a few messages fill it */
	setsockopt(nft_applied_event_fd(st), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny);
	snprintf(cmd, sizeof cmd, "-f %s", path);
	char *out = pod_nft(cmd);
	unlink(path);
	assert_non_null(strstr(out, "exit 0"));
	free(out);
	assert_int_equal(nft_applied_tampered(st), NFT_TAMPER_UNKNOWN);
	assert_int_equal(nft_applied_tampered(st), NFT_TAMPER_NONE); /* read to the end */
	free(pod_nft("delete table inet flood"));
}

/* An owned table: another process in the netns can neither delete, flush nor add to it,
 * and `nft flush ruleset` leaves it; the owner still updates it. Where tables are not owned,
 * the same edits land and show up as events from another socket. */
static void owned_table_refuses_other_processes(void **unused)
{
	static const char *const edits[] = {
	    "delete table inet multi_networkpolicy",
	    "flush chain inet multi_networkpolicy ingress-net1",
	    "insert rule inet multi_networkpolicy ingress-net1 accept",
	    "add chain inet multi_networkpolicy extra",
	    "flush ruleset",
	};
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	if (!owned_tables()) {
		assert_true(nft_applied_event_fd(&st) >= 0);
		assert_int_equal(nft_applied_tampered(&st), NFT_TAMPER_NONE); /* our own batch */
		free(pod_nft("add table inet someone-else"));
		assert_int_equal(nft_applied_tampered(&st), NFT_TAMPER_NONE); /* not our table */
		for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
			char *out = pod_nft(edits[i]);
			assert_non_null(strstr(out, "exit 0"));
			free(out);
			assert_int_equal(nft_applied_tampered(&st), NFT_TAMPER_CHANGED);
			nft_applied_repair(&st);
			apply_ok(&rs_a, &st);
			assert_int_equal(nft_applied_tampered(&st), NFT_TAMPER_NONE);
			assert_table_is(&rs_a);
		}
		events_lost_are_unknown(&st);
		nft_applied_free(&st);
		return;
	}
	assert_int_equal(nft_applied_event_fd(&st), -1);
	char *raw = testns_run("nsenter --net=%s nft list table inet multi_networkpolicy", netns);
	assert_non_null(strstr(raw, "flags owner"));
	free(raw);
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		char *out = pod_nft(edits[i]);
		fprintf(stderr, "nft %s: %s", edits[i], out);
		/* `flush ruleset` succeeds: it leaves out the tables others own. */
		if (strcmp(edits[i], "flush ruleset") != 0)
			assert_non_null(strstr(out, "Operation not permitted"));
		free(out);
		assert_table_is(&rs_a);
	}
	apply_ok(&rs_a2, &st); /* the owner's element update */
	assert_true(st.last_was_elements);
	assert_table_is(&rs_a2);
	apply_ok(&rs_b, &st); /* and full replacement */
	assert_table_is(&rs_b);
	nft_applied_free(&st);
}

/* The table outlives its owner's socket, ownerless; a new socket (a restarted agent) rewrites
 * it, owning it in the same batch, so edits are refused once more. */
static void restarted_agent_owns_the_table_again(void **unused)
{
	struct nft_applied first = {0}, st = {0};
	if (!owned_tables()) {
		/* Not owned: the table stays as it is when the socket closes, and is rewritten. */
		apply_ok(&rs_a, &first);
		nft_applied_free(&first);
		assert_table_is(&rs_a);
		apply_ok(&rs_a, &st);
		assert_false(st.last_was_adopted);
		assert_table_is(&rs_a);
		nft_applied_free(&st);
		return;
	}
	apply_ok(&rs_a, &first);
	unsigned handle = table_handle();
	nft_applied_free(&first);
	char *raw = testns_run("nsenter --net=%s nft list table inet multi_networkpolicy", netns);
	assert_null(strstr(raw, "owner"));
	free(raw);
	assert_table_is(&rs_a);

	apply_ok(&rs_a, &st); /* identical: rewritten all the same, owned in that batch */
	assert_false(st.last_was_adopted);
	assert_int_not_equal(table_handle(), handle);
	char *out = pod_nft("delete table inet multi_networkpolicy");
	assert_non_null(strstr(out, "Operation not permitted"));
	free(out);
	nft_applied_free(&st);

	handle = table_handle();
	apply_ok(&rs_a2, &st); /* other peers: rewritten, owned in the same batch */
	assert_false(st.last_was_adopted);
	assert_false(st.last_was_elements);
	assert_int_not_equal(table_handle(), handle);
	out = pod_nft("flush chain inet multi_networkpolicy ingress-net1");
	assert_non_null(strstr(out, "Operation not permitted"));
	free(out);
	assert_table_is(&rs_a2);
	nft_applied_free(&st);

	/* A table without the persistent flag (written by hand: not this agent's, so only with
	 * takeover) is made anew, owned. */
	free(testns_run("nsenter --net=%s nft delete table inet multi_networkpolicy", netns));
	char file[] = "/tmp/nft-plain-XXXXXX";
	int fd = mkstemp(file);
	assert_true(fd >= 0);
	char *text = rendered(&rs_a);
	assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	free(text);
	free(testns_run("nsenter --net=%s nft -f %s", netns, file));
	unlink(file);
	st.takeover = true;
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	out = pod_nft("delete table inet multi_networkpolicy");
	assert_non_null(strstr(out, "Operation not permitted"));
	free(out);
	assert_table_is(&rs_a);
	nft_applied_free(&st);
}

/* After the first apply the guard is known; a kernel refusing the ownership flags (here a flag
 * no kernel knows, with MNP_NFT_OWNERSHIP=unknown-flag) turned this process to events. */
/* ---- interfaces guarded by index ---- */

/* `ip ARGS` inside the test's netns; must succeed. */
static void ip_ok(const char *args)
{
	char *out = testns_run("nsenter --net=%s ip %s 2>&1; echo \"exit $?\"", netns, args);
	if (!strstr(out, "exit 0"))
		fprintf(stderr, "ip %s: %s", args, out);
	assert_non_null(strstr(out, "exit 0"));
	free(out);
}

static uint32_t link_index(const char *name)
{
	char *out = testns_run("nsenter --net=%s ip -o link show dev %s 2>/dev/null", netns, name);
	unsigned idx = 0;
	if (sscanf(out, "%u:", &idx) != 1)
		idx = 0;
	free(out);
	return idx;
}

static void assert_table_guarded(const struct pod_ruleset *rs, const struct nft_ifguard *g,
				 uint32_t n)
{
	char *want = NULL, *got = listed();
	size_t len = 0;
	FILE *m = open_memstream(&want, &len);
	assert_int_equal(nft_ruleset_print_guarded(rs, g, n, m), 0);
	fclose(m);
	if (strcmp(want, got) != 0)
		fprintf(stderr, "--- rendered\n%s--- listed\n%s", want, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* Whether the drift check finds the table as applied. */
static bool intact(struct nft_applied *st)
{
	bool present = false;
	struct nft_table_counts c;
	char err[256];
	call_ok(nft_table_present(netns, st, &present, &c, err, sizeof err));
	return nft_applied_intact(st, present, &c);
}

/* A policed interface that exists is guarded by its index in the base chains (as rendered with
 * that guard); renaming it keeps the guard on the index, a link taking the name is guarded
 * too, the drift check asks for a rewrite whenever a policed name gets a new index, and a
 * restarted agent keeps the guards of the table in place. */
static void policed_interfaces_are_guarded_by_index(void **unused)
{
	struct nft_applied st = {0};
	ip_ok("link add net1 type veth peer name net1p");
	uint32_t i1 = link_index("net1");
	assert_int_not_equal(i1, 0);
	apply_ok(&rs_a, &st);
	const struct nft_ifguard g1[] = {{"net1", i1, ""}};
	assert_table_guarded(&rs_a, g1, 1);
	assert_true(intact(&st));

	/* net2 appears: drift; the rewrite guards it too, and so does a restarted agent's. */
	ip_ok("link add net2 type veth peer name net2p");
	uint32_t i2 = link_index("net2");
	assert_false(intact(&st));
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	const struct nft_ifguard g12[] = {{"net1", i1, ""}, {"net2", i2, ""}};
	assert_table_guarded(&rs_a, g12, 2);
	assert_true(intact(&st));
	nft_applied_free(&st);
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	assert_table_guarded(&rs_a, g12, 2);
	assert_true(intact(&st));

	/* Renamed, and a new link named net1: the renamed one stays guarded, in a rewrite too. */
	ip_ok("link set net1 name x");
	ip_ok("link add net1 type veth peer name new1p");
	assert_false(intact(&st));
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	assert_true(intact(&st));
	char *got = listed();
	assert_non_null(
	    strstr(got, "\t\tiif \"x\" iifname != \"net1\" counter packets 0 bytes 0 drop\n"));
	assert_non_null(
	    strstr(got, "\t\toif \"x\" oifname != \"net1\" counter packets 0 bytes 0 drop\n"));
	assert_non_null(
	    strstr(got, "\t\tiif \"net1\" iifname != \"net1\" counter packets 0 bytes 0 drop\n"));
	free(got);

	/* Gone links let their guards go. */
	ip_ok("link del x");
	ip_ok("link del net2");
	assert_false(intact(&st));
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	const struct nft_ifguard g3[] = {{"net1", link_index("net1"), ""}};
	assert_table_guarded(&rs_a, g3, 1);

	/* Renamed while no agent ran: the restarted one keeps the table's guard (rewriting it). */
	ip_ok("link set net1 name y");
	nft_applied_free(&st);
	apply_ok(&rs_a, &st);
	assert_false(st.last_was_adopted);
	got = listed();
	assert_non_null(
	    strstr(got, "\t\tiif \"y\" iifname != \"net1\" counter packets 0 bytes 0 drop\n"));
	free(got);
	ip_ok("link del y");
	apply_ok(&(struct pod_ruleset){0}, &st);
	nft_applied_free(&st);
}

/* ---- links stacked on a policed interface ---- */

/* An RTM_NEWLINK message as the kernel sends it, into buf: index, then attributes (type, u32)
 * pairs ending with 0, then the name (NULL: none). */
static struct nlmsghdr *link_msg(char *buf, uint16_t type, int ifindex, const char *name,
				 const uint32_t *attrs)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	memset(buf, 0, 512);
	nlh->nlmsg_type = type;
	nlh->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg));
	((struct ifinfomsg *)NLMSG_DATA(nlh))->ifi_index = ifindex;
	for (; attrs && attrs[0]; attrs += 2) {
		struct nlattr *a = (struct nlattr *)(buf + nlh->nlmsg_len);
		a->nla_type = (uint16_t)attrs[0];
		a->nla_len = NLA_HDRLEN + 4;
		memcpy(a + 1, &attrs[1], 4);
		nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
	}
	if (name) {
		struct nlattr *a = (struct nlattr *)(buf + nlh->nlmsg_len);
		a->nla_type = IFLA_IFNAME;
		a->nla_len = (uint16_t)(NLA_HDRLEN + strlen(name) + 1);
		memcpy(a + 1, name, strlen(name) + 1);
		nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
	}
	return nlh;
}

/* What each attribute of a link message means, and what is refused. */
static void link_messages_parse(void **unused)
{
	char buf[512] __attribute__((aligned(8)));
	struct nft_link l;
	/* A macvlan made on a macvlan: its lower device is in another netns. */
	const uint32_t sib[] = {IFLA_LINK, 3, IFLA_LINK_NETNSID, 0, IFLA_MASTER, 9, 0};
	assert_int_equal(nft_link_parse(link_msg(buf, RTM_NEWLINK, 7, "c1", sib), &l), 1);
	assert_string_equal(l.ifname, "c1");
	assert_int_equal(l.ifindex, 7);
	assert_int_equal(l.lower, 3);
	assert_int_equal(l.lower_nsid, 0);
	assert_int_equal(l.master, 9);
	/* A vlan on net1 (index 4) of the same netns: no netns id. */
	const uint32_t vlan[] = {IFLA_LINK, 4, 0};
	assert_int_equal(nft_link_parse(link_msg(buf, RTM_NEWLINK, 8, "net1.10", vlan), &l), 1);
	assert_int_equal(l.lower, 4);
	assert_int_equal(l.lower_nsid, -1);
	assert_int_equal(l.master, 0);
	/* Stacked on nothing (the kernel may still name the device itself). */
	const uint32_t self[] = {IFLA_LINK, 5, 0};
	assert_int_equal(nft_link_parse(link_msg(buf, RTM_NEWLINK, 5, "lo", self), &l), 1);
	assert_int_equal(l.lower, 0);
	/* Not a new link: nothing read. */
	assert_int_equal(nft_link_parse(link_msg(buf, RTM_DELLINK, 5, "x", NULL), &l), 0);
	assert_int_equal(nft_link_parse(link_msg(buf, NLMSG_DONE, 0, NULL, NULL), &l), 0);
	/* Malformed: no index, a name too long or unterminated, an attribute cut short or of
	 * the wrong size, a header cut short. */
	assert_int_equal(nft_link_parse(link_msg(buf, RTM_NEWLINK, 0, "x", NULL), &l), -1);
	assert_int_equal(
	    nft_link_parse(link_msg(buf, RTM_NEWLINK, 2, "sixteen-chars-xx", NULL), &l), -1);
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 2, "abc", NULL);
	buf[nlh->nlmsg_len - 1] = 'd'; /* "abcd" in 4 bytes: no terminator */
	buf[nlh->nlmsg_len - 4] = 'd';
	memcpy(buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)) + NLA_HDRLEN, "abcd", 4);
	assert_int_equal(nft_link_parse(nlh, &l), -1);
	nlh = link_msg(buf, RTM_NEWLINK, 2, NULL, vlan);
	nlh->nlmsg_len -= 2;
	assert_int_equal(nft_link_parse(nlh, &l), -1);
	nlh = link_msg(buf, RTM_NEWLINK, 2, NULL, vlan);
	((struct nlattr *)(buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg))))->nla_len =
	    6;
	assert_int_equal(nft_link_parse(nlh, &l), -1);
	nlh = link_msg(buf, RTM_NEWLINK, 2, NULL, NULL);
	nlh->nlmsg_len = NLMSG_HDRLEN + 4;
	assert_int_equal(nft_link_parse(nlh, &l), -1);
}

/* Which links are children of which guarded interface, from the links alone. */
static void children_found_from_links(void **unused)
{
	/* net1 (4) and net2 (5): macvlans on devices 3 and 6 of netns 0. */
	const struct nft_link links[] = {
	    {"eth0", 2, 11, 0, 0},	 /* the primary interface: a veth to the host */
	    {"net1", 4, 3, 0, 0},	 /* policed */
	    {"net2", 5, 3, 0, 0},	 /* policed, on net1's lower device: not a child */
	    {"c1", 7, 3, 0, 0},		 /* a macvlan made on net1: the kernel puts it beside */
	    {"net1.10", 8, 4, -1, 0},	 /* a vlan on net1 */
	    {"net1.10.20", 9, 8, -1, 0}, /* a vlan on that vlan */
	    {"br0", 10, 0, -1, 0},	 /* a bridge over c2 */
	    {"c2", 12, 4, -1, 10},	 /* a macvlan on net1, a port of br0 */
	    {"v1", 13, 14, -1, 10},	 /* a veth port of br0 ... */
	    {"v2", 14, 13, -1, 0},	 /* ... and its peer */
	    {"other", 15, 6, 0, 0},	 /* a macvlan on another device */
	    {"x", 16, 0, -1, 0},	 /* a device of its own */
	    {"net3", 17, 18, -1, 0},	 /* policed, a veth whose peer is here: its network */
	    {"net3p", 18, 17, -1, 0},
	};
	struct nft_ifguard g[16] = {{"net1", 4, ""}, {"net2", 5, ""}, {"net3", 17, ""}};
	uint32_t n = 3;
	nft_link_children(links, sizeof links / sizeof *links, NULL, 0, g, &n);
	const struct {
		const char *name;
		uint32_t ifindex;
		const char *parent;
	} want[] = {{"c1", 7, "net1"},	 {"net1.10", 8, "net1"}, {"net1.10.20", 9, "net1"},
		    {"br0", 10, "net1"}, {"c2", 12, "net1"},	 {"v1", 13, "net1"},
		    {"v2", 14, "net1"}};
	assert_int_equal(n, 3 + sizeof want / sizeof *want);
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		const struct nft_ifguard *c = NULL;
		for (uint32_t k = 3; k < n && !c; k++)
			if (g[k].ifindex == want[i].ifindex)
				c = &g[k];
		if (!c)
			fprintf(stderr, "no child %s\n", want[i].name);
		assert_non_null(c);
		assert_true(nft_ifguard_is_child(c));
		assert_string_equal(c->child, want[i].name);
		assert_string_equal(c->ifname, want[i].parent);
	}
	/* A renamed policed interface (its index still guarded) has children too. */
	struct nft_ifguard h[4] = {{"net1", 4, ""}};
	const struct nft_link renamed[] = {{"x", 4, 3, 0, 0}, {"c1", 7, 3, 0, 0}};
	n = 1;
	nft_link_children(renamed, 2, NULL, 0, h, &n);
	assert_int_equal(n, 2);
	assert_string_equal(h[1].child, "c1");
	assert_string_equal(h[1].ifname, "net1");
}

/* The pod's own unpoliced interface is no child, by the index it had when first pinned: a link
 * under its name but with another index is. */
static void exempt_links_are_no_children(void **unused)
{
	/* net1 and net2 macvlans on device 3 of netns 0, net2 not policed; c1 made on net1. */
	const struct nft_link links[] = {
	    {"net1", 4, 3, 0, 0}, {"net2", 5, 3, 0, 0}, {"c1", 7, 3, 0, 0}};
	const struct nft_exempt exempt[] = {{"net2", 5}}, moved[] = {{"net2", 9}};
	struct nft_ifguard g[4] = {{"net1", 4, ""}};
	uint32_t n = 1;
	assert_int_equal(nft_link_children(links, 3, exempt, 1, g, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[1].ifindex, 7);
	/* Pinned to another index (the real net2 deleted, a child named net2): a child. */
	n = 1;
	assert_int_equal(nft_link_children(links, 3, moved, 1, g, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(g[1].child, "net2");
	assert_string_equal(g[1].ifname, "net1");
	/* Not seen yet (index 0): exempts nothing. */
	const struct nft_exempt unseen[] = {{"net2", 0}};
	n = 1;
	assert_int_equal(nft_link_children(links, 3, unseen, 1, g, &n), 0);
	assert_int_equal(n, 3);
}

static bool listed_has(const char *needle)
{
	char *got = listed();
	bool has = strstr(got, needle) != NULL;
	free(got);
	return has;
}

/* A second macvlan of the pod on the policed one's host device, listed as exempt, is not policed
 * as it (it was before: a regression for pods on two networks of one master), also after a
 * reset and a restart (pinned from the names again); a child made on net1 still is, and so is
 * one named net3 once the real net3 is gone. */
static void exempt_interface_is_not_policed_as_its_neighbour(void **unused)
{
	static const char *const exempt[] = {"net3"};
	struct pod_ruleset rs_x = rs_a, rs_x2 = rs_a2;
	rs_x.nexempt = rs_x2.nexempt = 1, rs_x.exempt = rs_x2.exempt = exempt;
	struct nft_applied st = {0};
	char err[256];
	ip_ok("link add d0 type veth peer name d0p"); /* no dummy module everywhere */
	ip_ok("link add link d0 name net1 type macvlan mode bridge");
	ip_ok("link add link d0 name net3 type macvlan mode bridge");
	ip_ok("link add link net1 name c1 type macvlan mode bridge");
	assert_int_not_equal(nft_ruleset_hash(&rs_x), nft_ruleset_hash(&rs_a));
	/* Without the exempt name (the agent before, or a pod whose status lacks it): a child. */
	apply_ok(&rs_a, &st);
	assert_true(listed_has("iif \"net3\" jump ingress-net1"));
	/* The name given (network-status came later): the table is rewritten without it. */
	apply_ok(&rs_x, &st);
	assert_false(st.last_was_elements);
	char *got = listed();
	assert_null(strstr(got, "\"net3\""));
	assert_non_null(strstr(got, "iif \"c1\" jump ingress-net1"));
	free(got);
	assert_true(intact(&st));
	/* The same names again, with other addresses: elements only, net3 still exempt. */
	apply_ok(&rs_x2, &st);
	assert_true(st.last_was_elements);
	assert_true(intact(&st));
	/* Names that change no child (net9 is no link): nothing is sent. Without net3 it is a
	 * child again. */
	static const char *const more[] = {"net3", "net9"};
	struct pod_ruleset rs_more = rs_x2;
	rs_more.nexempt = 2, rs_more.exempt = more;
	uint64_t marker = st.marker;
	apply_ok(&rs_more, &st);
	assert_true(st.last_was_elements);
	assert_int_equal(st.marker, marker);
	assert_true(intact(&st));
	apply_ok(&rs_a2, &st);
	assert_false(st.last_was_elements);
	assert_true(listed_has("iif \"net3\" jump ingress-net1"));
	apply_ok(&rs_x2, &st);
	assert_false(listed_has("\"net3\""));
	assert_true(intact(&st));
	/* A listed name whose link comes later (the CNI ADD of a later network) is pinned when
	 * the link appears: no child, no drift. */
	static const char *const later[] = {"net3", "net4"};
	struct pod_ruleset rs_later = rs_x2;
	rs_later.nexempt = 2, rs_later.exempt = later;
	apply_ok(&rs_later, &st);
	ip_ok("link add link d0 name net4 type macvlan mode bridge");
	assert_true(intact(&st));
	assert_false(listed_has("\"net4\""));
	ip_ok("link del net4");
	apply_ok(&rs_x2, &st);
	/* A restarted agent pins the names again. */
	nft_applied_free(&st);
	apply_ok(&rs_x2, &st);
	assert_false(listed_has("\"net3\""));
	assert_true(intact(&st));
	/* The real net3 deleted, a child named net3 made on net1: a child, found as drift, also
	 * after a reset (the pin is kept). */
	ip_ok("link del net3");
	assert_true(intact(&st));
	ip_ok("link add link net1 name net3 type macvlan mode bridge");
	assert_false(intact(&st));
	nft_applied_repair(&st);
	apply_ok(&rs_x2, &st);
	assert_true(listed_has("iif \"net3\" jump ingress-net1"));
	assert_true(intact(&st));
	nft_applied_reset(&st);
	apply_ok(&rs_x2, &st);
	assert_true(listed_has("iif \"net3\" jump ingress-net1"));
	assert_true(intact(&st));
	/* A name that is no interface name is refused, naming it. */
	static const char *const bad[] = {"a-name-too-long-for-linux"};
	rs_x.exempt = bad;
	assert_int_equal(nft_apply(netns, &rs_x, &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "exempt interface 0"));
	apply_ok(&(struct pod_ruleset){0}, &st);
	nft_applied_free(&st);
	ip_ok("link del c1");
	ip_ok("link del net3");
	ip_ok("link del net1");
	ip_ok("link del d0");
}

/* A pod can make thousands of links stacked in a chain and listed deepest first: every one is
 * found, at a cost that grows as n log n (one pass per depth would be n^2 and more). */
static void many_stacked_links_cost_n_log_n(void **unused)
{
	enum { N = 4000 };
	struct nft_link *links = calloc(N, sizeof *links);
	struct nft_ifguard *g = calloc(N + 1, sizeof *g);
	assert_non_null(links);
	assert_non_null(g);
	for (uint32_t i = 0; i < N; i++) {
		struct nft_link *l = &links[N - 1 - i]; /* the deepest first */
		snprintf(l->ifname, sizeof l->ifname, i ? "v%u" : "net1", i);
		l->ifindex = 100 + i;
		l->lower = i ? 99 + i : 7;
		l->lower_nsid = i ? -1 : 0;
	}
	g[0] = (struct nft_ifguard){"net1", 100, ""};
	uint32_t n = 1;
	nft_link_steps = 0;
	assert_int_equal(nft_link_children(links, N, NULL, 0, g, &n), 0);
	assert_int_equal(n, N);
	for (uint32_t k = 1; k < n; k++)
		assert_string_equal(g[k].ifname, "net1");
	assert_string_equal(g[1].child, "v3999"); /* in the links' order */
	assert_true(nft_link_steps < 64UL * N); /* ~37 per link at this size */
	free(links);
	free(g);
}

/* Links a process in the pod stacks on a policed interface are dispatched by index to its
 * chains (a macvlan on a veth's end here: its lower device is net1 itself); a new one is drift,
 * announced on the link event socket; a restarted agent adopts the table with its children. */
static void stacked_links_are_policed_by_their_parent(void **unused)
{
	struct nft_applied st = {0};
	ip_ok("link add net1 type veth peer name net1p");
	ip_ok("link add net2 type veth peer name net2p");
	ip_ok("link add link net1 name c1 type macvlan mode bridge");
	ip_ok("link add link net2 name c2 type macvlan mode bridge");
	uint32_t i1 = link_index("net1"), i2 = link_index("net2");
	uint32_t c1 = link_index("c1"), c2 = link_index("c2");
	apply_ok(&rs_a, &st);
	const struct nft_ifguard g[] = {
	    {"net1", i1, ""}, {"net2", i2, ""}, {"net1", c1, "c1"}, {"net2", c2, "c2"}};
	assert_table_guarded(&rs_a, g, 4);
	char *got = listed(); /* net2 is policed for ingress only, and so is its child */
	assert_non_null(strstr(got, "\t\tiif \"c2\" jump ingress-net2\n"));
	assert_null(strstr(got, "oif \"c2\""));
	free(got);
	assert_true(intact(&st));
	assert_true(nft_applied_link_fd(&st) >= 0);
	assert_false(nft_applied_links_changed(&st));

	/* Made after the apply: announced, found by the drift check, dispatched once rewritten. */
	ip_ok("link add link c1 name c3 type macvlan mode bridge");
	assert_true(nft_applied_links_changed(&st));
	assert_false(nft_applied_links_changed(&st));
	assert_false(intact(&st));
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	const struct nft_ifguard g3[] = {{"net1", i1, ""},
					 {"net2", i2, ""},
					 {"net1", c1, "c1"},
					 {"net2", c2, "c2"},
					 {"net1", link_index("c3"), "c3"}};
	assert_table_guarded(&rs_a, g3, 5);
	assert_true(intact(&st));

	/* A child renamed keeps its index: still dispatched, no drift. A reset adopts the table
	 * with its children (where it is owned); a restarted agent rewrites it with them. */
	ip_ok("link set c3 name c4");
	assert_true(intact(&st));
	nft_applied_reset(&st);
	apply_ok(&rs_a, &st);
	assert_int_equal(st.last_was_adopted, owned_tables());
	assert_true(intact(&st));
	nft_applied_free(&st);
	apply_ok(&rs_a, &st);
	got = listed();
	assert_non_null(strstr(got, "\t\tiif \"c4\" jump ingress-net1\n"));
	free(got);
	assert_true(intact(&st));

	/* A policed interface renamed away leaves its name without a link: not drift (its guard
	 * holds it), so the table and its guards' counters stay. */
	ip_ok("link set net2 name n2x");
	assert_true(intact(&st));
	ip_ok("link set n2x name net2");
	assert_true(intact(&st));

	/* Gone: drift, and the rewrite has no jump for it. A table removed stops watching. */
	ip_ok("link del c4");
	assert_false(intact(&st));
	nft_applied_repair(&st);
	apply_ok(&rs_a, &st);
	assert_table_guarded(&rs_a, g, 4);
	apply_ok(&(struct pod_ruleset){0}, &st);
	assert_int_equal(nft_applied_link_fd(&st), -1);
	nft_applied_free(&st);
	ip_ok("link del c1");
	ip_ok("link del c2");
	ip_ok("link del net1");
	ip_ok("link del net2");
}

/* A drift check asked for (a link event) while the ruleset also changed (a peer's address): the
 * worker checks first, so a link made meanwhile is dispatched, not left out of an element-only
 * update. */
static void drift_check_comes_before_a_change(void **unused)
{
	struct nft_job j = {.netns = netns, .rs = &rs_a, .hash = nft_ruleset_hash(&rs_a)};
	ip_ok("link add net1 type veth peer name net1p");
	nft_job_run(&j);
	assert_int_equal(j.rc, 0);
	ip_ok("link add link net1 name c1 type macvlan mode bridge");
	j.rs = &rs_a2;
	j.hash = nft_ruleset_hash(&rs_a2);
	j.check_drift = true;
	nft_job_run(&j);
	if (j.rc != 0)
		fprintf(stderr, "job: %s\n", j.err);
	assert_int_equal(j.rc, 0);
	assert_true(j.drifted);
	char *got = listed();
	assert_non_null(strstr(got, "\t\tiif \"c1\" jump ingress-net1\n"));
	free(got);
	assert_true(intact(&j.applied));
	j.rs = &(struct pod_ruleset){0};
	j.hash = nft_ruleset_hash(j.rs);
	j.check_drift = false;
	nft_job_run(&j);
	assert_int_equal(j.rc, 0);
	nft_applied_free(&j.applied);
	ip_ok("link del c1");
	ip_ok("link del net1");
}

struct guard_counts {
	uint32_t ifindex, in, out, other;
};

static void count_guard(void *ctx, const char *chain, const struct nft_ifguard *guard,
			uint64_t packets, uint64_t bytes)
{
	struct guard_counts *c = ctx;
	if (!guard || strcmp(guard->ifname, "net1") != 0 || guard->ifindex != c->ifindex)
		c->other++;
	else if (strcmp(chain, "input") == 0)
		c->in++;
	else if (strcmp(chain, "output") == 0)
		c->out++;
}

/* Each interface guard counts what it drops, and nft_read_counters reports it as the guard's
 * (interface, index), apart from the chains' own counters (rs_a has none). */
static void guard_counters_are_read(void **unused)
{
	struct nft_applied st = {0};
	char err[256];
	ip_ok("link add net1 type veth peer name net1p");
	struct guard_counts c = {.ifindex = link_index("net1")};
	apply_ok(&rs_a, &st);
	call_ok(nft_read_counters(&st, count_guard, &c, err, sizeof err));
	assert_int_equal(c.in, 1);
	assert_int_equal(c.out, 1);
	assert_int_equal(c.other, 0);
	ip_ok("link del net1");
	apply_ok(&(struct pod_ruleset){0}, &st);
	nft_applied_free(&st);
}

static void guard_follows_the_kernel(void **unused)
{
	const char *env = getenv("MNP_NFT_OWNERSHIP");
	struct nft_applied st = {0};
	apply_ok(&rs_a, &st);
	assert_int_not_equal(nft_table_guard(), NFT_GUARD_UNKNOWN);
	if (env && (strcmp(env, "off") == 0 || strcmp(env, "unknown-flag") == 0)) {
		assert_int_equal(nft_table_guard(), NFT_GUARD_EVENTS);
		assert_true(nft_applied_event_fd(&st) >= 0);
	}
	fprintf(stderr, "tables here are %s\n",
		owned_tables() ? "owned" : "not owned: changes are watched as events");
	nft_applied_free(&st);
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		fprintf(stderr, "netlink_test: needs root (network namespaces)\n");
		return 1;
	}
	own_netns(own_ns, sizeof own_ns);
	if (argc > 1)
		snprintf(netns, sizeof netns, "%s", argv[1]);
	else if ((holder = testns_hold(netns, sizeof netns)) < 0) {
		fprintf(stderr, "netlink_test: cannot make a network namespace\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(guard_follows_the_kernel),
	    cmocka_unit_test(full_apply_lists_as_rendered),
	    cmocka_unit_test(large_sets_list_as_rendered),
	    cmocka_unit_test(edge_ranges_list_as_rendered),
	    cmocka_unit_test(rendered_text_loads_with_nft),
	    cmocka_unit_test(replace_with_other_ruleset),
	    cmocka_unit_test(address_change_sends_elements_only),
	    cmocka_unit_test(failed_batch_keeps_old_table),
	    cmocka_unit_test(drift_is_noticed_and_repaired),
	    cmocka_unit_test(restart_rewrites_reset_adopts),
	    cmocka_unit_test(restart_undoes_edit_made_while_down),
	    cmocka_unit_test(lost_acks_leave_the_outcome_unknown),
	    cmocka_unit_test(large_batch_acks_fit),
	    cmocka_unit_test(adopted_sets_read_back_exactly),
	    cmocka_unit_test(hash_userdata_lists_cleanly),
	    cmocka_unit_test(restart_rewrites_other_or_edited_table),
	    cmocka_unit_test(repair_rewrites_even_an_intact_table),
	    cmocka_unit_test(restart_with_empty_ruleset),
	    cmocka_unit_test(foreign_table_gets_a_companion),
	    cmocka_unit_test(owned_name_gets_a_companion),
	    cmocka_unit_test(empty_ruleset_removes_table),
	    cmocka_unit_test(bad_netns_path_is_an_error),
	    cmocka_unit_test(owned_table_refuses_other_processes),
	    cmocka_unit_test(restarted_agent_owns_the_table_again),
	    cmocka_unit_test(new_netns_gets_full_table),
	    cmocka_unit_test(inconsistent_ruleset_is_refused),
	    cmocka_unit_test(policed_interfaces_are_guarded_by_index),
	    cmocka_unit_test(link_messages_parse),
	    cmocka_unit_test(children_found_from_links),
	    cmocka_unit_test(many_stacked_links_cost_n_log_n),
	    cmocka_unit_test(stacked_links_are_policed_by_their_parent),
	    cmocka_unit_test(exempt_links_are_no_children),
	    cmocka_unit_test(exempt_interface_is_not_policed_as_its_neighbour),
	    cmocka_unit_test(drift_check_comes_before_a_change),
	    cmocka_unit_test(guard_counters_are_read),
	};
	int failed = cmocka_run_group_tests_name("nft netlink", tests, NULL, NULL);
	if (holder > 0) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	return failed ? 1 : 0;
}
