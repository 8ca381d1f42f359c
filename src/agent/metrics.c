#include "agent/metrics.h"

#if defined(__x86_64__)
#define BUILD_ARCH "amd64"
#elif defined(__aarch64__)
#define BUILD_ARCH "arm64"
#elif defined(__arm__)
#define BUILD_ARCH "arm"
#else
#define BUILD_ARCH "unknown"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
};

static const char *const kind_names[KIND_COUNT] = {
    [KIND_POD] = "pods",
    [KIND_NAMESPACE] = "namespaces",
    [KIND_NAD] = "network-attachment-definitions",
    [KIND_POLICY] = "multi-networkpolicies",
};

static const char *const failure_names[APPLY_FAIL_COUNT] = {
    [APPLY_FAIL_NETNS] = "netns",
    [APPLY_FAIL_NETLINK] = "netlink",
};

void histogram_observe(struct histogram *h, double seconds)
{
	for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++)
		if (seconds <= metrics_latency_bounds[i])
			h->le[i]++;
	h->count++;
	h->sum += seconds;
}

uint64_t process_rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

struct out {
	char *buf;
	size_t cap, len;
	int full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->buf[o->len] = '\0'; /* drop the partial line */
		o->full = 1;
		return;
	}
	o->len += (size_t)n;
}

static void put_histogram(struct out *o, const char *name, const char *help,
			  const struct histogram *h)
{
	put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++)
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, metrics_latency_bounds[i],
		    (unsigned long long)h->le[i]);
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
	    (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}

size_t metrics_format(const struct metrics *m, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, 0};

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	put(&o, "# HELP mnp_watch_events_total Objects received from lists and watch events, by "
		"resource.\n"
		"# TYPE mnp_watch_events_total counter\n");
	for (int k = 0; k < KIND_COUNT; k++)
		put(&o, "mnp_watch_events_total{resource=\"%s\"} %llu\n", kind_names[k],
		    (unsigned long long)m->watch_events[k]);
	put(&o, "# HELP mnp_relists_total Full lists, by resource (start and after 410).\n"
		"# TYPE mnp_relists_total counter\n");
	for (int k = 0; k < KIND_COUNT; k++)
		put(&o, "mnp_relists_total{resource=\"%s\"} %llu\n", kind_names[k],
		    (unsigned long long)m->relists[k]);
	put(&o,
	    "# HELP mnp_applies_total Netlink batches applied to pods.\n"
	    "# TYPE mnp_applies_total counter\nmnp_applies_total %llu\n",
	    (unsigned long long)m->applies);
	put(&o, "# HELP mnp_apply_failures_total Failed pod applies, by reason.\n"
		"# TYPE mnp_apply_failures_total counter\n");
	for (int r = 0; r < APPLY_FAIL_COUNT; r++)
		put(&o, "mnp_apply_failures_total{reason=\"%s\"} %llu\n", failure_names[r],
		    (unsigned long long)m->apply_failures[r]);
	put_histogram(&o, "mnp_apply_duration_seconds",
		      "Time to compute and apply one pod's ruleset.", &m->apply_latency);
	put(&o,
	    "# HELP mnp_pods_enforced Local pods that have a policy table.\n"
	    "# TYPE mnp_pods_enforced gauge\nmnp_pods_enforced %llu\n",
	    (unsigned long long)m->pods_enforced);
	put(&o,
	    "# HELP mnp_pods_in_companion_table Local pods whose policy is in a companion table: "
	    "table inet multi_networkpolicy was held by a table the agent did not write or "
	    "cannot change.\n"
	    "# TYPE mnp_pods_in_companion_table gauge\nmnp_pods_in_companion_table %llu\n",
	    (unsigned long long)m->pods_in_companion);
	static const struct {
		const char *name, *help;
		size_t off;
	} per_kind[] = {
	    {"mnp_watches_total",
	     "Lists and watches started (a watch restarts every few minutes "
	     "and after errors), by resource.",
	     offsetof(struct metrics, watches)},
	    {"mnp_watch_errors_total", "Errors of lists and watches (they back off), by resource.",
	     offsetof(struct metrics, watch_errors)},
	    {"mnp_objects_rejected_total",
	     "Objects that could not be decoded at all (logged with "
	     "their name), by resource.",
	     offsetof(struct metrics, rejected)},
	    {"mnp_objects_oversized_total",
	     "Objects dropped as larger than the agent reads, by "
	     "resource.",
	     offsetof(struct metrics, oversized)},
	};
	for (size_t f = 0; f < sizeof(per_kind) / sizeof(per_kind[0]); f++) {
		const uint64_t *v =
		    (const uint64_t *)(const void *)((const char *)m + per_kind[f].off);
		put(&o, "# HELP %s %s\n# TYPE %s counter\n", per_kind[f].name, per_kind[f].help,
		    per_kind[f].name);
		for (int k = 0; k < KIND_COUNT; k++)
			put(&o, "%s{resource=\"%s\"} %llu\n", per_kind[f].name, kind_names[k],
			    (unsigned long long)v[k]);
	}
	put(&o, "# HELP mnp_watch_last_activity_age_seconds Time since the last list page or watch "
		"event (bookmarks included), by resource.\n"
		"# TYPE mnp_watch_last_activity_age_seconds gauge\n");
	for (int k = 0; k < KIND_COUNT; k++)
		if (m->watch_age[k] >= 0)
			put(&o, "mnp_watch_last_activity_age_seconds{resource=\"%s\"} %.3f\n",
			    kind_names[k], m->watch_age[k]);
	put(&o,
	    "# HELP mnp_cri_errors_total Network namespace lookups the runtime failed (a pod "
	    "with no sandbox yet is not counted).\n# TYPE mnp_cri_errors_total counter\n"
	    "mnp_cri_errors_total %llu\n",
	    (unsigned long long)m->cri_errors);
	put_histogram(&o, "mnp_cri_lookup_duration_seconds",
		      "Time to find a pod's network namespace (answers from the agent's cache "
		      "included).",
		      &m->cri_latency);
	put(&o,
	    "# HELP mnp_pods_pending Local pods waiting for a retry (no network namespace yet, "
	    "or the kernel refused the batch).\n# TYPE mnp_pods_pending gauge\nmnp_pods_pending "
	    "%llu\n",
	    (unsigned long long)m->pods_pending);
	put(&o,
	    "# HELP mnp_policies_idle MultiNetworkPolicies that enforce nothing on this node "
	    "(the reasons are in the log and on /debug/pods).\n# TYPE mnp_policies_idle gauge\n"
	    "mnp_policies_idle %llu\n",
	    (unsigned long long)m->policies_idle);
	put(&o,
	    "# HELP mnp_build_info The agent's version, commit and architecture.\n"
	    "# TYPE mnp_build_info gauge\nmnp_build_info{version=\"%s\",commit=\"%s\",arch=\"%s\"} "
	    "1\n",
	    VERSION, GITREV, BUILD_ARCH);
	put(&o,
	    "# HELP mnp_last_full_sync_timestamp_seconds End of the last full resync.\n"
	    "# TYPE mnp_last_full_sync_timestamp_seconds gauge\n"
	    "mnp_last_full_sync_timestamp_seconds %lld\n",
	    (long long)m->last_full_sync);
	put(&o,
	    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
	    (unsigned long long)process_rss_bytes());
	return o.len;
}
