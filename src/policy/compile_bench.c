/* Benchmarks of the policy engine on a synthetic cluster:
 *  1. store memory for 10k pods in 1k namespaces with 500 policies (bytes the store holds,
 *     and what malloc handed out, side by side);
 *  2. a full node sync: rulesets of 100 local pods, each selected by 10 policies whose peers are
 *     1k pods (1k-address sets), best and median of several rounds;
 *  3. decoding throughput (objects per second). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"
#include "store/store.h"
#include "util/log.h"

#define NNS 1000
#define PODS_PER_NS 10
#define NPOLICIES 500
#define LOCAL 100
#define ROUNDS 7

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void up(struct store *s, enum kube_kind k, const char *json)
{
	if (store_upsert_json(s, k, json, strlen(json)) < 0) {
		fprintf(stderr, "bench: object rejected: %s\n", json);
		exit(1);
	}
}

/* Namespaces ns-0..ns-999 labelled group=g<i/100>; pods p-<i> with a secondary address each,
 * spread so no two are adjacent (every address is its own interval). The LOCAL pods of ns-0..9
 * are on node "bench". Policies 0..99 live in ns-0..ns-9 (10 each, so every local pod is
 * selected by 10), the other 400 in other namespaces; each selects every pod of its namespace,
 * its ingress peers the 1k pods of one group of namespaces plus an ipBlock with an except, its
 * egress peers the pods of another group with a named port. */
static size_t fill(struct store *s, double *decode_ms)
{
	char buf[2048];
	size_t n = 0;
	double t0 = now_ms();

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"m\",\"namespace\":\"default\"},\"spec\":{\"config\":"
		 "\"{\\\"type\\\":\\\"macvlan\\\"}\"}}");
	up(s, KIND_NAD, buf);
	for (int i = 0; i < NNS; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"ns-%d\",\"labels\":{\"kubernetes.io/"
			 "metadata.name\":\"ns-%d\",\"group\":\"g%d\"}}}",
			 i, i, i / 100);
		up(s, KIND_NAMESPACE, buf);
		n++;
		for (int k = 0; k < PODS_PER_NS; k++) {
			int id = i * PODS_PER_NS + k;
			bool local = i < LOCAL / PODS_PER_NS;
			snprintf(
			    buf, sizeof(buf),
			    "{\"metadata\":{\"name\":\"p-%d\",\"namespace\":\"ns-%d\",\"uid\":"
			    "\"0000%04d-1111-2222-3333-444455556666\",\"labels\":{\"app\":\"a%d\","
			    "\"pod-template-hash\":\"h%d\"},\"annotations\":{"
			    "\"k8s.v1.cni.cncf.io/networks\":\"default/m\","
			    "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"default/"
			    "m\\\","
			    "\\\"interface\\\":\\\"net1\\\",\\\"ips\\\":[\\\"10.%d.%d.%d\\\"]}]\"}}"
			    ","
			    "\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\","
			    "\"ports\":[{"
			    "\"name\":\"http\",\"containerPort\":80}]}]},\"status\":{\"phase\":"
			    "\"Running\"}}",
			    id, i, id, k, id / 3, (id * 2) >> 16, ((id * 2) >> 8) & 255,
			    (id * 2) & 255, local ? "bench" : "other");
			up(s, KIND_POD, buf);
			n++;
		}
	}
	for (int p = 0; p < NPOLICIES; p++) {
		snprintf(
		    buf, sizeof(buf),
		    "{\"metadata\":{\"name\":\"pol-%03d\",\"namespace\":\"ns-%d\",\"annotations\":"
		    "{\"k8s.v1.cni.cncf.io/policy-for\":\"default/m\"}},\"spec\":{\"podSelector\":"
		    "{},\"policyTypes\":[\"Ingress\",\"Egress\"],\"ingress\":[{\"from\":[{"
		    "\"namespaceSelector\":{\"matchLabels\":{\"group\":\"g%d\"}}},{\"ipBlock\":{"
		    "\"cidr\":\"192.168.0.0/16\",\"except\":[\"192.168.%d.0/24\"]}}],\"ports\":[{"
		    "\"port\":80},{\"port\":8000,\"endPort\":8100}]}],\"egress\":[{\"to\":[{"
		    "\"namespaceSelector\":{\"matchLabels\":{\"group\":\"g%d\"}},\"podSelector\":{"
		    "\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]}}],"
		    "\"ports\":[{\"port\":\"http\"}]}]}}",
		    p, p < 100 ? p / 10 : p, p % 10, p % 256, (p + 1) % 10);
		up(s, KIND_POLICY, buf);
		n++;
	}
	*decode_ms = now_ms() - t0;
	return n;
}

struct sync {
	const struct store *s;
	const struct policy_opts *o;
	struct arena *a;
	uint32_t pods, chains, rules, sets, elements;
	int err;
};

static void compute_one(void *ctx, const char *uid, const struct store_pod *p)
{
	struct sync *sy = ctx;
	struct pod_ruleset rs;

	arena_reset(sy->a);
	if (pod_ruleset_compute(sy->s, p, sy->o, sy->a, &rs) < 0) {
		sy->err = 1;
		return;
	}
	sy->pods++;
	sy->chains += rs.nchains;
	sy->sets += rs.nsets;
	for (uint32_t i = 0; i < rs.nchains; i++)
		sy->rules += rs.chains[i].nrules;
	for (uint32_t i = 0; i < rs.nsets; i++)
		sy->elements += rs.sets[i].n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	static const char *const plugins[] = {"macvlan"};
	struct policy_opts o = {.nplugins = 1, .plugins = plugins};
	struct mallinfo2 m0, m1;
	struct store_stats st;
	struct arena a = {0};
	struct store *s;
	double decode_ms, t[ROUNDS];
	size_t nobj;
	struct sync sy = {0};

	log_verbosity = 0;
	m0 = mallinfo2();
	s = store_new("bench");
	nobj = fill(s, &decode_ms);
	m1 = mallinfo2();
	store_get_stats(s, &st);
	printf("store: %u pods (%u local), %u namespaces, %u policies, %u strings\n", st.pods,
	       st.local_pods, st.namespaces, st.policies, st.strings);
	printf("store memory: %zu bytes counted by the store (%.2f MiB), %zu bytes from malloc "
	       "(%.2f MiB)\n",
	       st.bytes, st.bytes / 1048576.0, m1.uordblks - m0.uordblks,
	       (m1.uordblks - m0.uordblks) / 1048576.0);
	printf("decode: %zu objects in %.1f ms (%.0f objects/s)\n", nobj, decode_ms,
	       nobj / (decode_ms / 1000.0));

	sy.s = s;
	sy.o = &o;
	sy.a = &a;
	/* Cold: a store change before every round empties the peer cache (the first sync after an
	 * event); warm: rounds with no change in between (a periodic resync). */
	for (int warm = 0; warm < 2; warm++) {
		for (int r = 0; r < ROUNDS; r++) {
			double t0;
			if (!warm) {
				char ns[128];
				snprintf(ns, sizeof(ns),
					 "{\"metadata\":{\"name\":\"bench-tick\",\"labels\":{"
					 "\"round\":\"%d\"}}}",
					 r);
				up(s, KIND_NAMESPACE, ns);
			}
			memset(&sy.pods, 0, sizeof(sy) - offsetof(struct sync, pods));
			t0 = now_ms();
			store_for_each_local(s, compute_one, &sy);
			t[r] = now_ms() - t0;
		}
		if (sy.err) {
			fprintf(stderr, "bench: compute failed\n");
			return 1;
		}
		qsort(t, ROUNDS, sizeof(t[0]), cmp_double);
		if (!warm)
			printf(
			    "full sync: %u pods, %u chains, %u rules, %u sets, %u set elements per "
			    "round\n",
			    sy.pods, sy.chains, sy.rules, sy.sets, sy.elements);
		printf("full sync compute, %s peer cache: best %.1f ms, median %.1f ms (%d rounds; "
		       "budget 200 ms for the whole sync)\n",
		       warm ? "warm" : "cold", t[0], t[ROUNDS / 2], ROUNDS);
	}
	{
		struct mallinfo2 m2 = mallinfo2();
		printf("heap held after the syncs beyond the store (peer cache, one pod's arena): "
		       "%zu bytes (%.2f MiB)\n",
		       m2.uordblks - m1.uordblks, (m2.uordblks - m1.uordblks) / 1048576.0);
	}
	arena_free(&a);
	store_free(s);
	return 0;
}
