/* nft_pool against the kernel: a full sync of many pods, each in its own network namespace, on
 * several workers at once (and on one, inline). Every pod's table must list as rendered for its
 * own ruleset (addresses differ per pod, so a table in the wrong netns shows), pods made to fail
 * (missing netns, a path that is no netns, a ruleset the kernel refuses) fail alone with their
 * error, and a drift pass rewrites exactly the tables edited by hand. The test's own netns never
 * changes. Run by tests/t-nft-netlink with ASan and with ThreadSanitizer. Needs root. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nft/pool.h"
#include "nft/render.h"
#include "nft/testns.h"

enum { NPODS = 24, NSETS = 3, PER = 40, WORKERS = 4 };
/* Pods that fail, each its own way; the others must not notice. */
enum { BAD_MISSING = 5, BAD_NOT_NETNS = 11, BAD_KERNEL = 17 };

struct pod {
	struct ir_addr_range ranges[NSETS][PER];
	struct ir_addr_set sets[NSETS];
	struct ir_rule rules[NSETS + 2];
	struct ir_chain chain;
	struct pod_ruleset rs;
	char names[NSETS][32];
	char netns[64];
	pid_t holder;
	struct nft_applied st;
	struct nft_job job;
};

static struct pod pods[NPODS];
static char own_ns[64];
static const struct ir_port_range tcp[] = {{8080, 8080}};

static void own_netns(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/thread-self/ns/net", buf, len - 1);
	buf[n < 0 ? 0 : n] = 0;
}

/* nft's listing of the pod's table, without what ownership adds. */
static char *listed(const char *netns)
{
	return testns_without_owner(testns_run(
	    "nsenter --net=%s nft list table inet multi_networkpolicy 2>/dev/null", netns));
}

static void assert_table_is(const struct pod *pd)
{
	char *want = NULL, *got = listed(pd->netns);
	size_t len = 0;
	FILE *m = open_memstream(&want, &len);
	assert_int_equal(nft_ruleset_print(&pd->rs, m), 0);
	fclose(m);
	if (strcmp(want, got) != 0)
		fprintf(stderr, "--- %s rendered\n%s--- listed\n%s", pd->netns, want, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* Pod k's ruleset: NSETS sets of PER addresses whose second octet is k. */
static void build(struct pod *pd, int k)
{
	uint32_t n = 0;
	pd->rules[n++] = (struct ir_rule){.kind = IR_RULE_CT_ESTABLISHED};
	for (int s = 0; s < NSETS; s++) {
		for (int i = 0; i < PER; i++) {
			uint8_t a[4] = {10, (uint8_t)k, (uint8_t)s, (uint8_t)(2 * i + 1)};
			memset(&pd->ranges[s][i], 0, sizeof pd->ranges[s][i]);
			memcpy(pd->ranges[s][i].lo, a, 4);
			memcpy(pd->ranges[s][i].hi, a, 4);
		}
		snprintf(pd->names[s], sizeof pd->names[s], "ingress-net1-%d-v4", s);
		pd->sets[s] = (struct ir_addr_set){
		    .name = pd->names[s], .family = 4, .n = PER, .ranges = pd->ranges[s]};
		pd->rules[n++] = (struct ir_rule){.kind = IR_RULE_MATCH,
						  .addr_match = IR_ADDR_SET,
						  .addr_set = (uint32_t)s,
						  .l4proto = IPPROTO_TCP,
						  .nports = 1,
						  .ports = tcp,
						  .verdict = IR_ACCEPT,
						  .comment = "test/pool"};
	}
	pd->rules[n++] =
	    (struct ir_rule){.kind = IR_RULE_MATCH, .verdict = IR_DROP, .counter = true};
	pd->chain = (struct ir_chain){.name = "ingress-net1",
				      .ifname = "net1",
				      .dir = IR_INGRESS,
				      .nrules = n,
				      .rules = pd->rules};
	pd->rs = (struct pod_ruleset){
	    .nsets = NSETS, .sets = pd->sets, .nchains = 1, .chains = &pd->chain};
}

/* Two sets of the same name: the kernel refuses the batch (EEXIST), naming the set. */
static void make_kernel_refuse(struct pod *pd)
{
	snprintf(pd->names[1], sizeof pd->names[1], "%s", pd->names[0]);
}

/* Hands every pod to the pool (its state lent to its job), collects them all, takes the
 * states back. Returns the number of jobs collected. */
static int sync_all(struct nft_pool *p, bool check_drift)
{
	int got = 0;
	for (int k = 0; k < NPODS; k++) {
		struct pod *pd = &pods[k];
		pd->job = (struct nft_job){.netns = pd->netns,
					   .rs = &pd->rs,
					   .hash = nft_ruleset_hash(&pd->rs),
					   .check_drift = check_drift,
					   .applied = pd->st,
					   .tag = pd};
		memset(&pd->st, 0, sizeof pd->st);
		nft_pool_submit(p, &pd->job);
	}
	for (struct nft_job *j; (j = nft_pool_collect(p, -1)); got++) {
		struct pod *pd = j->tag;
		assert_ptr_equal(j, &pd->job);
		pd->st = j->applied;
	}
	assert_int_equal(nft_pool_out(p), 0);
	char now[64];
	own_netns(now, sizeof now);
	assert_string_equal(now, own_ns);
	return got;
}

static bool bad(int k)
{
	return k == BAD_MISSING || k == BAD_NOT_NETNS || k == BAD_KERNEL;
}

static void full_sync(unsigned workers)
{
	char err[256];
	struct nft_pool *p = nft_pool_new(workers, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(nft_pool_workers(p), workers);
	for (int k = 0; k < NPODS; k++) {
		nft_applied_free(&pods[k].st);
		memset(&pods[k].st, 0, sizeof pods[k].st);
		if (bad(k))
			continue;
		int rc = nft_delete_table(pods[k].netns, NULL, err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "pod %d: %s\n", k, err);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(sync_all(p, false), NPODS);
	for (int k = 0; k < NPODS; k++) {
		const struct nft_job *j = &pods[k].job;
		assert_true(j->wrote);
		if (!bad(k)) {
			if (j->rc != 0)
				fprintf(stderr, "pod %d: %s\n", k, j->err);
			assert_int_equal(j->rc, 0);
			assert_int_equal(pods[k].st.hash, j->hash);
			assert_table_is(&pods[k]);
			continue;
		}
		assert_int_equal(j->rc, -1);
		assert_int_equal(pods[k].st.hash, 0);
		if (k == BAD_MISSING)
			assert_non_null(strstr(j->err, "/nonexistent/netns"));
		else if (k == BAD_NOT_NETNS)
			assert_non_null(strstr(j->err, "/dev/null"));
		else
			assert_non_null(strstr(j->err, "ingress-net1-0-v4"));
	}
	/* The kernel kept nothing of the refused batch. */
	char *left = listed(pods[BAD_KERNEL].netns);
	assert_string_equal(left, "");
	free(left);

	/* Tables edited by hand in three pods: a drift pass rewrites those and only those. Owned
	 * tables refuse the edits: then nothing drifted. */
	const int edited[3] = {0, 9, NPODS - 1};
	bool owned = nft_table_guard() == NFT_GUARD_OWNER;
	free(testns_run(
	    "nsenter --net=%s nft flush chain inet multi_networkpolicy ingress-net1 2>&1",
	    pods[0].netns));
	free(testns_run("nsenter --net=%s nft delete table inet multi_networkpolicy 2>&1",
			pods[9].netns));
	free(testns_run(
	    "nsenter --net=%s nft delete element inet multi_networkpolicy ingress-net1-2-v4 "
	    "'{ 10.%d.2.1 }' 2>&1 && nsenter --net=%s nft add rule inet multi_networkpolicy "
	    "ingress-net1 accept 2>&1",
	    pods[NPODS - 1].netns, NPODS - 1, pods[NPODS - 1].netns));
	assert_int_equal(sync_all(p, true), NPODS);
	for (int k = 0; k < NPODS; k++) {
		const struct nft_job *j = &pods[k].job;
		bool was_edited = !owned && (k == edited[0] || k == edited[1] || k == edited[2]);
		if (bad(k)) {
			assert_int_equal(j->rc, -1);
			continue;
		}
		if (j->rc != 0)
			fprintf(stderr, "pod %d: %s\n", k, j->err);
		assert_int_equal(j->rc, 0);
		assert_int_equal(j->drifted, was_edited);
		assert_int_equal(j->wrote, was_edited);
		assert_table_is(&pods[k]);
	}
	nft_pool_free(p);
}

static void many_pods_on_four_workers(void **unused)
{
	full_sync(WORKERS);
}

static void many_pods_one_after_another(void **unused)
{
	full_sync(1);
}

/* The default: the online CPUs, at most 4; an explicit count is kept (up to the cap). */
static void pool_size(void **unused)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;
	assert_int_equal(nft_pool_size(0), want);
	assert_int_equal(nft_pool_size(1), 1);
	assert_int_equal(nft_pool_size(3), 3);
	assert_int_equal(nft_pool_size(1000), NFT_POOL_MAX);
}

/* Nothing out: collecting returns at once, whatever the timeout. */
static void collect_with_nothing_out(void **unused)
{
	char err[256];
	struct nft_pool *p = nft_pool_new(2, err, sizeof err);
	assert_non_null(p);
	assert_null(nft_pool_collect(p, -1));
	assert_null(nft_pool_collect(p, 50));
	nft_pool_free(p);
}

int main(void)
{
	int made = 0, failed = 1;
	if (geteuid() != 0) {
		fprintf(stderr, "pool_test: needs root (network namespaces)\n");
		return 1;
	}
	own_netns(own_ns, sizeof own_ns);
	for (; made < NPODS; made++) {
		build(&pods[made], made);
		pods[made].holder = testns_hold(pods[made].netns, sizeof pods[made].netns);
		if (pods[made].holder < 0) {
			fprintf(stderr, "pool_test: cannot make a network namespace\n");
			goto out;
		}
	}
	snprintf(pods[BAD_MISSING].netns, sizeof pods[BAD_MISSING].netns, "/nonexistent/netns");
	snprintf(pods[BAD_NOT_NETNS].netns, sizeof pods[BAD_NOT_NETNS].netns, "/dev/null");
	make_kernel_refuse(&pods[BAD_KERNEL]);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pool_size),
	    cmocka_unit_test(collect_with_nothing_out),
	    cmocka_unit_test(many_pods_on_four_workers),
	    cmocka_unit_test(many_pods_one_after_another),
	};
	failed = cmocka_run_group_tests_name("nft pool", tests, NULL, NULL);
out:
	for (int k = 0; k < made; k++) {
		nft_applied_free(&pods[k].st);
		if (pods[k].holder > 0) {
			kill(pods[k].holder, SIGKILL);
			waitpid(pods[k].holder, NULL, 0);
		}
	}
	return failed ? 1 : 0;
}
