/* Side by side, in one run and one throwaway netns: rendering nft text, a full netlink apply,
 * `nft -f` of the same text (what a shell-out agent would pay), a restarted agent's apply (new
 * socket, the table in place, ownerless), adopting the table after a reset in the same process
 * (its socket owns the table), an element-only update (one peer joins or leaves) and the drift
 * check, for a pod with 10 policies and 1,000 peer addresses. */
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nft/apply.h"
#include "nft/testns.h"
#include "nft/render.h"


enum { NPOL = 10, PEERS = 1000, PER = PEERS / NPOL };

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	printf("%-38s %5d %12.1f %12.1f %12.1f\n", what, n, t[n / 2], t[0], t[n - 1]);
}

static struct ir_addr_range ranges[NPOL][PER + 1];
static struct ir_addr_set sets[NPOL];
static struct ir_rule rules[2 * NPOL + 3];
static char names[NPOL][32], comments[NPOL][32];

static void build(struct pod_ruleset *rs, struct ir_chain *ch)
{
	static const struct ir_port_range tcp[] = {{8080, 8080}}, udp[] = {{5000, 5999}};
	uint32_t k = 0;
	rules[k++] = (struct ir_rule){.kind = IR_RULE_CT_ESTABLISHED};
	rules[k++] = (struct ir_rule){.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS};
	for (int p = 0; p < NPOL; p++) {
		for (int i = 0; i < PER; i++) {
			/* Spread, non-adjacent single addresses in order: 10.p.i/2.(i%2 ? 200 : 7)
			 */
			uint8_t a[4] = {10, (uint8_t)p, (uint8_t)(i / 2),
					(uint8_t)(i % 2 ? 200 : 7)};
			memset(&ranges[p][i], 0, sizeof ranges[p][i]);
			memcpy(ranges[p][i].lo, a, 4);
			memcpy(ranges[p][i].hi, a, 4);
		}
		snprintf(names[p], sizeof names[p], "ingress-net1-%d-v4", p);
		snprintf(comments[p], sizeof comments[p], "bench/policy-%d", p);
		sets[p] = (struct ir_addr_set){
		    .name = names[p], .family = 4, .n = PER, .ranges = ranges[p]};
		rules[k++] = (struct ir_rule){.kind = IR_RULE_MATCH,
					      .addr_match = IR_ADDR_SET,
					      .addr_set = (uint32_t)p,
					      .l4proto = IPPROTO_TCP,
					      .nports = 1,
					      .ports = tcp,
					      .verdict = IR_ACCEPT,
					      .comment = comments[p]};
		rules[k++] = (struct ir_rule){.kind = IR_RULE_MATCH,
					      .addr_match = IR_ADDR_SET,
					      .addr_set = (uint32_t)p,
					      .l4proto = IPPROTO_UDP,
					      .nports = 1,
					      .ports = udp,
					      .verdict = IR_ACCEPT,
					      .comment = comments[p]};
	}
	rules[k++] = (struct ir_rule){.kind = IR_RULE_MATCH, .verdict = IR_DROP};
	*ch = (struct ir_chain){.name = "ingress-net1",
				.ifname = "net1",
				.dir = IR_INGRESS,
				.nrules = k,
				.rules = rules};
	*rs = (struct pod_ruleset){.nsets = NPOL, .sets = sets, .nchains = 1, .chains = ch};
}

int main(void)
{
	enum { RUNS = 50, NFT_RUNS = 20 };
	static double t[RUNS];
	char netns[64], err[512];
	pid_t holder = testns_hold(netns, sizeof netns);
	if (holder < 0) {
		fprintf(stderr, "apply_bench: needs root to make a network namespace\n");
		return 1;
	}
	struct pod_ruleset rs;
	struct ir_chain ch;
	build(&rs, &ch);
	int rc = 1;

	printf("nft: pod with %d policies, %d peer addresses in %d sets, %u rules\n", NPOL, PEERS,
	       NPOL, ch.nrules);
	printf("%-38s %5s %12s %12s %12s\n", "operation", "runs", "median us", "min us", "max us");

	char *text = NULL;
	size_t len = 0;
	for (int i = 0; i < RUNS; i++) {
		free(text);
		text = NULL;
		FILE *m = open_memstream(&text, &len);
		double t0 = now_us();
		nft_ruleset_print(&rs, m);
		fflush(m);
		t[i] = now_us() - t0;
		fclose(m);
	}
	report("render nft text", t, RUNS);

	struct nft_applied st = {0};
	for (int i = 0; i < RUNS; i++) {
		nft_applied_repair(&st);
		double t0 = now_us();
		if (nft_apply(netns, &rs, &st, err, sizeof err) < 0) {
			fprintf(stderr, "apply_bench: %s\n", err);
			goto out;
		}
		t[i] = now_us() - t0;
	}
	report("netlink apply (full table)", t, RUNS);
	double netlink_median = t[RUNS / 2];
	for (int i = 0; i < RUNS; i++) {
		nft_applied_free(&st); /* the agent exits: the table stays, ownerless */
		memset(&st, 0, sizeof st);
		double t0 = now_us();
		if (nft_apply(netns, &rs, &st, err, sizeof err) < 0) {
			fprintf(stderr, "apply_bench: restart: %s\n", err);
			goto out;
		}
		t[i] = now_us() - t0;
	}
	report("restart (new socket, table in place)", t, RUNS);
	for (int i = 0; i < RUNS; i++) {
		nft_applied_reset(&st);
		double t0 = now_us();
		if (nft_apply(netns, &rs, &st, err, sizeof err) < 0 || !st.last_was_adopted) {
			fprintf(stderr, "apply_bench: adoption: %s\n", err);
			goto out;
		}
		t[i] = now_us() - t0;
	}
	report("adoption (reset, socket owns table)", t, RUNS);

	char file[] = "/tmp/apply_bench_XXXXXX";
	int fd = mkstemp(file);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f)
		goto out;
	/* The same add, delete, add sequence as the netlink batch; our table goes first: an
	 * owned or persistent one refuses nft's plain `add table`. */
	nft_applied_free(&st);
	if (nft_delete_table(netns, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "apply_bench: %s\n", err);
		goto out;
	}
	fprintf(f, "table inet " RULESET_TABLE "\ndelete table inet " RULESET_TABLE "\n%s", text);
	fclose(f);
	for (int i = 0; i < NFT_RUNS; i++) {
		double t0 = now_us();
		if (testns_nft_file(netns, file) < 0) {
			fprintf(stderr, "apply_bench: nft -f failed\n");
			unlink(file);
			goto out;
		}
		t[i] = now_us() - t0;
	}
	unlink(file);
	report("nft -f of the same text (incl. exec)", t, NFT_RUNS);
	double nft_median = t[NFT_RUNS / 2];

	nft_applied_reset(&st);
	if (nft_apply(netns, &rs, &st, err, sizeof err) < 0)
		goto out;
	for (int i = 0; i < RUNS; i++) {
		/* A peer joins policy 3, then leaves again. */
		uint8_t joiner[4] = {10, 3, 200, 1};
		memset(&ranges[3][PER], 0, sizeof ranges[3][PER]);
		memcpy(ranges[3][PER].lo, joiner, 4);
		memcpy(ranges[3][PER].hi, joiner, 4);
		sets[3].n = i % 2 ? PER : PER + 1;
		double t0 = now_us();
		if (nft_apply(netns, &rs, &st, err, sizeof err) < 0 || !st.last_was_elements) {
			fprintf(stderr, "apply_bench: element update: %s\n", err);
			goto out;
		}
		t[i] = now_us() - t0;
	}
	report("netlink element-only update (1 peer)", t, RUNS);
	sets[3].n = PER;
	for (int i = 0; i < RUNS; i++) {
		bool present = false;
		struct nft_table_counts c;
		double t0 = now_us();
		if (nft_table_present(netns, &st, &present, &c, err, sizeof err) < 0 ||
		    !nft_applied_intact(&st, present, &c)) {
			fprintf(stderr, "apply_bench: drift check: %s\n", err);
			goto out;
		}
		t[i] = now_us() - t0;
	}
	report("drift check (table + rule counts)", t, RUNS);
	printf("netlink full apply is %.1fx faster than nft -f\n", nft_median / netlink_median);
	rc = 0;
out:
	nft_applied_free(&st);
	free(text);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	return rc;
}
