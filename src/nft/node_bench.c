/* A full node sync, side by side in one run: NPODS pods, each in its own network namespace,
 * each with a ruleset of 10 policies and 1,000 peer addresses in 10 sets (apply_bench's pod).
 * Per round and phase it times every pod's hash + nft_apply, one pod after the other as the
 * agent does them:
 *   cold       no tables yet (a new node), fresh per-pod state (socket opened in the apply);
 *   restart    tables from the previous run, fresh state (new sockets): every table, ownerless
 *              meanwhile, is rewritten;
 *   reset      state reset in the same process, sockets kept (they own the tables): adopted;
 *   changed    a reset after one peer of every pod left: sets read back, elements sent;
 *   drift      the periodic drift check of every pod (table + rule counts);
 *   nft -f     the same text loaded with `nft -f` in every netns (incl. exec), for comparison.
 * The ruleset computation is policy/compile_bench's figure, not repeated here. */
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nft/apply.h"
#include "nft/pool.h"
#include "nft/testns.h"
#include "nft/render.h"


enum { NPODS = 100, NPOL = 10, PEERS = 1000, PER = PEERS / NPOL, ROUNDS = 3 };

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One pod's ruleset; pods differ in their peers' third octet so no two tables are alike. */
struct pod {
	struct ir_addr_range ranges[NPOL][PER];
	struct ir_addr_set sets[NPOL];
	struct ir_rule rules[2 * NPOL + 3];
	struct ir_chain chain;
	struct pod_ruleset rs;
	char names[NPOL][32];
	char netns[64];
	pid_t holder;
	struct nft_applied st;
};

static const struct ir_port_range tcp[] = {{8080, 8080}}, udp[] = {{5000, 5999}};
static const char *const comments[NPOL] = {
    "bench/policy-0", "bench/policy-1", "bench/policy-2", "bench/policy-3", "bench/policy-4",
    "bench/policy-5", "bench/policy-6", "bench/policy-7", "bench/policy-8", "bench/policy-9"};

static void build(struct pod *pd, int k)
{
	uint32_t n = 0;
	pd->rules[n++] = (struct ir_rule){.kind = IR_RULE_CT_ESTABLISHED};
	pd->rules[n++] = (struct ir_rule){.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS};
	for (int p = 0; p < NPOL; p++) {
		for (int i = 0; i < PER; i++) {
			/* Spread, non-adjacent single addresses in order: each is its own interval.
			 */
			uint8_t a[4] = {10, (uint8_t)p, (uint8_t)(i / 2 + k),
					(uint8_t)(i % 2 ? 200 : 7)};
			memset(&pd->ranges[p][i], 0, sizeof pd->ranges[p][i]);
			memcpy(pd->ranges[p][i].lo, a, 4);
			memcpy(pd->ranges[p][i].hi, a, 4);
		}
		snprintf(pd->names[p], sizeof pd->names[p], "ingress-net1-%d-v4", p);
		pd->sets[p] = (struct ir_addr_set){
		    .name = pd->names[p], .family = 4, .n = PER, .ranges = pd->ranges[p]};
		for (int udp_rule = 0; udp_rule < 2; udp_rule++)
			pd->rules[n++] =
			    (struct ir_rule){.kind = IR_RULE_MATCH,
					     .addr_match = IR_ADDR_SET,
					     .addr_set = (uint32_t)p,
					     .l4proto = udp_rule ? IPPROTO_UDP : IPPROTO_TCP,
					     .nports = 1,
					     .ports = udp_rule ? udp : tcp,
					     .verdict = IR_ACCEPT,
					     .comment = comments[p]};
	}
	pd->rules[n++] =
	    (struct ir_rule){.kind = IR_RULE_MATCH, .verdict = IR_DROP, .counter = true};
	pd->chain = (struct ir_chain){.name = "ingress-net1",
				      .ifname = "net1",
				      .dir = IR_INGRESS,
				      .nrules = n,
				      .rules = pd->rules};
	pd->rs = (struct pod_ruleset){
	    .nsets = NPOL, .sets = pd->sets, .nchains = 1, .chains = &pd->chain};
}

enum phase { COLD, COLD_POOL, RESTART, RESET, CHANGED, DRIFT, COUNTERS, NPHASES };
static const char *const phase_names[NPHASES] = {"cold: no tables, netlink apply",
						 "cold, on the apply workers",
						 "restart: tables rewritten",
						 "reset, sockets kept: tables adopted",
						 "reset: a peer left meanwhile",
						 "drift check of every pod",
						 "drop counters read (a /metrics scrape)"};
static struct nft_pool *pool;

/* Every pod's cold apply on the pool's workers, as the agent's full sync hands them out. */
static int run_pool(struct pod *pods)
{
	static struct nft_job jobs[NPODS];
	int failed = 0;
	for (int k = 0; k < NPODS; k++) {
		jobs[k] = (struct nft_job){.netns = pods[k].netns,
					   .rs = &pods[k].rs,
					   .hash = nft_ruleset_hash(&pods[k].rs),
					   .applied = pods[k].st,
					   .tag = &pods[k]};
		nft_pool_submit(pool, &jobs[k]);
	}
	for (struct nft_job *j; (j = nft_pool_collect(pool, -1));) {
		struct pod *pd = j->tag;
		pd->st = j->applied;
		if (j->rc < 0 || !j->wrote || pd->st.last_was_adopted) {
			fprintf(stderr, "node_bench: pod %s: %s\n", pd->netns, j->err);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

static void count_counter(void *ctx, const char *chain, const struct nft_ifguard *guard,
			  uint64_t packets, uint64_t bytes)
{
	(*(int *)ctx)++;
}

/* One phase over every pod; returns the wall time in ms, or -1 when a pod failed or did not
 * end as the phase expects. */
static double run_phase(struct pod *pods, enum phase ph)
{
	char err[512];
	if (ph == COLD || ph == COLD_POOL)
		for (int k = 0; k < NPODS; k++)
			if (nft_delete_table(pods[k].netns, &pods[k].st, err, sizeof err) < 0)
				return -1;
	for (int k = 0; k < NPODS && ph == CHANGED; k++)
		pods[k].sets[0].n = PER - 1;
	for (int k = 0; k < NPODS && (ph == RESET || ph == CHANGED); k++)
		nft_applied_reset(&pods[k].st); /* the sockets still own the tables */
	for (int k = 0; k < NPODS && (ph == COLD || ph == COLD_POOL || ph == RESTART); k++) {
		/* A new agent: nothing remembered, no socket yet. */
		nft_applied_free(&pods[k].st);
		memset(&pods[k].st, 0, sizeof pods[k].st);
	}
	double t0 = now_ms();
	if (ph == COLD_POOL)
		return run_pool(pods) < 0 ? -1 : now_ms() - t0;
	for (int k = 0; k < NPODS; k++) {
		struct pod *pd = &pods[k];
		if (ph == COUNTERS) {
			int found = 0;
			if (nft_read_counters(&pd->st, count_counter, &found, err, sizeof err) < 0 ||
			    found != 1)
				return -1;
			continue;
		}
		if (ph == DRIFT) {
			bool present = false;
			struct nft_table_counts c;
			if (nft_table_present(pd->netns, &pd->st, &present, &c, err, sizeof err) <
				0 ||
			    !nft_applied_intact(&pd->st, present, &c))
				return -1;
			continue;
		}
		uint64_t hash = nft_ruleset_hash(&pd->rs); /* the agent's comparison */
		if (nft_apply(pd->netns, &pd->rs, &pd->st, err, sizeof err) < 0 ||
		    pd->st.hash != hash ||
		    pd->st.last_was_adopted != (ph == RESET || ph == CHANGED) ||
		    pd->st.last_was_elements != (ph == CHANGED)) {
			fprintf(stderr, "node_bench: pod %d: %s\n", k, err);
			return -1;
		}
	}
	double t = now_ms() - t0;
	for (int k = 0; k < NPODS && ph == CHANGED; k++)
		pods[k].sets[0].n = PER; /* the next round's cold phase starts over */
	return t;
}

static void report(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	printf("%-40s %6d %10.1f %10.1f %12.1f\n", what, n, t[n / 2], t[0],
	       t[n / 2] * 1000 / NPODS);
}

int main(int argc, char **argv)
{
	/* --cold-only: the two cold phases (scripts/bench-agent prints them beside the agent's). */
	bool cold_only = argc > 1 && strcmp(argv[1], "--cold-only") == 0;
	char perr[256];
	static struct pod pods[NPODS];
	static double t[NPHASES][ROUNDS];
	double tnft[ROUNDS];
	int made = 0, rc = 1;
	char file[] = "/tmp/node_bench_XXXXXX";
	int fd = -1;

	for (; made < NPODS; made++) {
		build(&pods[made], made);
		pods[made].holder = testns_hold(pods[made].netns, sizeof pods[made].netns);
		if (pods[made].holder < 0) {
			fprintf(stderr, "node_bench: needs root to make network namespaces\n");
			goto out;
		}
	}
	printf("full node sync: %d pods in %d network namespaces, each %d policies, %d peer "
	       "addresses in %d sets, %u rules\n",
	       NPODS, NPODS, NPOL, PEERS, NPOL, pods[0].chain.nrules);
	if (!(pool = nft_pool_new(nft_pool_size(0), perr, sizeof perr))) {
		fprintf(stderr, "node_bench: %s\n", perr);
		goto out;
	}
	printf("%-40s %6s %10s %10s %12s\n", "phase (pods one after another)", "rounds",
	       "median ms", "best ms", "per pod us");
	int nph = cold_only ? COLD_POOL + 1 : NPHASES;
	for (int r = 0; r < ROUNDS; r++)
		for (int ph = 0; ph < nph; ph++)
			if ((t[ph][r] = run_phase(pods, (enum phase)ph)) < 0) {
				fprintf(stderr, "node_bench: phase '%s' failed\n", phase_names[ph]);
				goto out;
			}
	for (int ph = 0; ph < nph; ph++)
		report(phase_names[ph], t[ph], ROUNDS);
	printf("cold apply on %u workers is %.2fx faster than one pod after another\n",
	       nft_pool_workers(pool), t[COLD][ROUNDS / 2] / t[COLD_POOL][ROUNDS / 2]);
	if (cold_only) {
		rc = 0;
		goto out;
	}

	/* nft -f of each pod's text, with the same add, delete, add prefix as the batch; our
	 * tables go first: owned or persistent ones refuse nft's plain `add table`. */
	for (int k = 0; k < NPODS; k++) {
		char err[512];
		nft_applied_free(&pods[k].st);
		if (nft_delete_table(pods[k].netns, NULL, err, sizeof err) < 0) {
			fprintf(stderr, "node_bench: %s\n", err);
			goto out;
		}
	}
	fd = mkstemp(file);
	for (int r = 0; r < ROUNDS && fd >= 0; r++) {
		double sum = 0;
		for (int k = 0; k < NPODS; k++) {
			FILE *f = fopen(file, "w");
			if (!f)
				goto out;
			fprintf(f, "table inet " RULESET_TABLE "\ndelete table inet " RULESET_TABLE
				   "\n");
			int prc = nft_ruleset_print(&pods[k].rs, f);
			if (fclose(f) != 0 || prc < 0)
				goto out;
			double t0 = now_ms();
			if (testns_nft_file(pods[k].netns, file) < 0) {
				fprintf(stderr, "node_bench: nft -f failed\n");
				goto out;
			}
			sum += now_ms() - t0;
		}
		tnft[r] = sum;
	}
	if (fd < 0)
		goto out;
	report("nft -f of the same text (incl. exec)", tnft, ROUNDS);
	qsort(t[COLD], ROUNDS, sizeof(double), cmp_double);
	printf("cold netlink sync is %.1fx faster than nft -f; adopting the tables after a reset "
	       "is %.1fx faster than a restart's rewrite\n",
	       tnft[ROUNDS / 2] / t[COLD][ROUNDS / 2],
	       t[RESTART][ROUNDS / 2] / t[RESET][ROUNDS / 2]);
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(file);
	}
	nft_pool_free(pool);
	for (int k = 0; k < made; k++) {
		nft_applied_free(&pods[k].st);
		if (pods[k].holder > 0) {
			kill(pods[k].holder, SIGKILL);
			waitpid(pods[k].holder, NULL, 0);
		}
	}
	return rc;
}
