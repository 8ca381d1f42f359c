/* Agent counters, exported as Prometheus text on --metrics-bind-address.
 * One struct owned by the agent; formatting writes into a caller's buffer. */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kube/sink.h"

enum apply_failure {
	APPLY_FAIL_NETNS,   /* the runtime could not tell the pod's netns */
	APPLY_FAIL_NETLINK, /* the kernel refused the batch */
	APPLY_FAIL_COUNT,
};

#define METRICS_LATENCY_BUCKETS 10

/* A latency histogram over metrics_latency_bounds. */
struct histogram {
	uint64_t le[METRICS_LATENCY_BUCKETS]; /* cumulative: observations <= each bound */
	uint64_t count;
	double sum; /* seconds */
};

struct metrics {
	uint64_t watch_events[KIND_COUNT];
	uint64_t relists[KIND_COUNT];
	uint64_t applies; /* batches the kernel accepted */
	uint64_t apply_failures[APPLY_FAIL_COUNT];
	struct histogram apply_latency;
	uint64_t pods_enforced; /* local pods with a table */
	uint64_t pods_in_companion; /* ... in a companion table: the name was held (nft/apply.h) */
	uint64_t pods_pending;	/* local pods whose last attempt failed */
	uint64_t policies_idle; /* policies enforcing nothing on this node */
	int64_t last_full_sync; /* unix seconds, 0 before the first */
	/* per resource, copied from the reflectors when /metrics is read */
	uint64_t watches[KIND_COUNT], watch_errors[KIND_COUNT];
	uint64_t rejected[KIND_COUNT], oversized[KIND_COUNT];
	double watch_age[KIND_COUNT]; /* seconds since the last list page or event, -1: none */
	/* CRI netns lookups (answers from the agent's cache included) */
	uint64_t cri_errors;
	struct histogram cri_latency;
};

/* Upper bounds of the apply latency buckets, in seconds. */
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

void histogram_observe(struct histogram *h, double seconds);
/* Prometheus text exposition; returns bytes written (truncated output is never partial-line). */
size_t metrics_format(const struct metrics *m, char *buf, size_t cap);
/* Resident set size of this process in bytes, from /proc/self/statm (0 if unknown). */
uint64_t process_rss_bytes(void);

#endif
