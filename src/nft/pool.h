/* nft_pool: the per-pod kernel work of a pass (drift check, then the apply) on a few threads, so
 * the pods of a full sync are programmed side by side. The caller fills an nft_job per pod (the
 * ruleset stays its own and must not change until the job comes back; the pod's nft_applied is
 * moved into the job and moved back by the caller), submits it, and collects it when done. A
 * worker touches nothing but its job: it enters the pod's netns on its own thread (setns is per
 * thread) and logs nothing. With one worker there is no thread: submit runs the job at once. */
#ifndef NFT_POOL_H
#define NFT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/apply.h"

#define NFT_POOL_MAX 16

struct nft_job {
	/* in */
	const char *netns;	      /* path; the caller's, kept until the job is collected */
	const struct pod_ruleset *rs; /* the caller's, read-only while the job is out */
	uint64_t hash;		      /* nft_ruleset_hash(rs) */
	bool check_drift;	      /* compare the kernel's table first (something applied) */
	struct nft_applied applied;   /* the pod's state, the job's while it is out */
	void *tag;		      /* the caller's */
	/* out */
	int rc;	      /* 0, or -1 with err */
	bool drifted; /* the table differed from what was applied: rewritten */
	bool wrote;   /* nft_apply ran (the hash differed, or drift) */
	int64_t us;   /* time the job took on its worker */
	char err[512];
	struct nft_job *next; /* the pool's queues */
};

struct nft_pool;

/* The number of workers a pool gets for `asked` (0: the online CPUs, at most 4). */
unsigned nft_pool_size(unsigned asked);

/* A pool of n workers (1: none, jobs run in nft_pool_submit). NULL with err on failure. */
struct nft_pool *nft_pool_new(unsigned n, char *err, size_t errlen);
/* Waits for the jobs out, then ends the threads. */
void nft_pool_free(struct nft_pool *p);
unsigned nft_pool_workers(const struct nft_pool *p);

/* Hands the job to a worker (or runs it now, with one). */
void nft_pool_submit(struct nft_pool *p, struct nft_job *j);
/* A finished job, waiting at most timeout_ms for one (0: not at all, -1: until one is done);
 * NULL when none finished in time. */
struct nft_job *nft_pool_collect(struct nft_pool *p, int timeout_ms);
/* Jobs submitted and not yet collected. */
unsigned nft_pool_out(const struct nft_pool *p);

/* What a worker does with a job: with check_drift and a ruleset applied, reads the table and
 * marks it for repair when it is not what was applied (so a changed ruleset is then written in
 * full, not as element changes); then nft_apply when the hash differs. Exposed for the tests. */
void nft_job_run(struct nft_job *j);

#endif
