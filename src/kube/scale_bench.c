/* scale_bench: the agent's client and store at cluster scale, side by side in one run. Clusters
 * of 10k and 100k realistic pods (managedFields, ~6 KB each, generated here), 1,000 namespaces,
 * 500 policies and 100 pods on this node, with 10% of pods on a secondary network (the usual
 * case: the others have only the cluster network's network-status entry) and 100% (the worst
 * case). For each cluster a child process syncs pods, namespaces and policies from the API server
 * double into the store over TLS, the way the agent does (list pages of 500, then watch), and
 * reports client CPU to the first sync, RSS after it, peak RSS (VmHWM), and the peak again after
 * a relist forced by a 410 (compaction + expired watches). Then the store alone absorbs a churn of
 * MODIFIED watch events, framed and decoded from their wire text on one core.
 * The shipped binary then syncs the 10k clusters too: its RSS and peak after the first full sync
 * ($SCALE_BENCH_AGENT names another binary or a wrapper).
 * Usage: scale_bench [PODS:PERCENT ... | churn | agent]   (default 10000:10 10000:100 100000:10
 * 100000:100, the agent rows, churn;
 * run from the repository root; needs /usr/bin/python3; the 100k clusters take ~6 GB in the
 * double and a few minutes) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube/apidouble.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/frame.h"
#include "kube/reflector.h"
#include "store/store.h"
#include "util/log.h"

#define NNS 1000
#define NPOL 500
#define NLOCAL 100
#define NODE "node-1"
#define AGENT_BIN "./multi-networkpolicy-nftables"

static struct apidouble api;

/* Churn of updates that change only what the store does not keep (status, resourceVersion). */
static bool status_only;

/* A pod as a real cluster serves it: labels, multi-KB annotations, managedFields, status. Pods
 * below NLOCAL are on this node. A secondary pod is attached to macvlan-N of its namespace; the
 * others have the cluster network's network-status entry only. ver changes a label (churn). */
static void add_pod(struct buf *b, int i, bool secondary, int ver)
{
	int ns = i % NNS;
	bprintf(b,
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-%d-7c9f8d6b5-"
		"x%06d\",\"namespace\":\"ns-%d\",\"uid\":\"0e3c9a9e-4f4e-4a1b-9d0a-%012d\","
		"\"resourceVersion\":\"%d\",\"labels\":{\"app\":\"web-%d\",\"pod-template-hash\":"
		"\"7c9f8d6b5\",\"tier\":\"frontend\",\"version\":\"v%d\"},\"annotations\":{",
		i % 500, i, ns, i, 1000 + ver, i % 500, (i + (status_only ? 0 : ver)) % 4);
	if (secondary)
		bprintf(b, "\"k8s.v1.cni.cncf.io/networks\":\"macvlan-%d\",", i % 3);
	bprintf(
	    b,
	    "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"cbr0\\\",\\\"interface\\\":"
	    "\\\"eth0\\\",\\\"ips\\\":[\\\"10.%d.%d.%d\\\"],\\\"mac\\\":\\\"0a:58:0a:f4:00:01\\\","
	    "\\\"default\\\":true,\\\"dns\\\":{}}",
	    64 + (i >> 16), (i >> 8) & 255, i & 255);
	if (secondary)
		bprintf(b,
			",{\\\"name\\\":\\\"ns-%d/macvlan-%d\\\",\\\"interface\\\":\\\"net1\\\","
			"\\\"ips\\\":[\\\"172.%d.%d.%d\\\"],\\\"mac\\\":\\\"9e:2a:1b:3c:4d:5e\\\","
			"\\\"dns\\\":{}}",
			ns, i % 3, 16 + (i >> 16), (i >> 8) & 255, i & 255);
	bprintf(b, "]\",\"kubectl.kubernetes.io/last-applied-configuration\":\"");
	for (int k = 0; k < 24; k++)
		bprintf(b, "{\\\"k%d\\\":\\\"some applied configuration text %08d\\\"}", k, i);
	bprintf(b, "\"},\"managedFields\":[");
	for (int m = 0; m < 3; m++)
		bprintf(
		    b,
		    "%s{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-27T10:00:0%dZ\",\"fieldsType\":"
		    "\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}"
		    ",\"f:tier\":{}},\"f:ownerReferences\":{\".\":{},\"k:{\\\"uid\\\":\\\"abc\\\"}"
		    "\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":"
		    "{},"
		    "\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{},\"f:ports\":{\".\":{},"
		    "\"k:{\\\"containerPort\\\":8080,\\\"protocol\\\":\\\"TCP\\\"}\":{}},"
		    "\"f:resources\":{},\"f:terminationMessagePath\":{}}},\"f:dnsPolicy\":{},"
		    "\"f:enableServiceLinks\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{}}}}",
		    m ? "," : "", m);
	bprintf(
	    b,
	    "],\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":"
	    "\"web-%d-7c9f8d6b5\",\"uid\":\"0e3c9a9e-4f4e-4a1b-9d0a-%012d\",\"controller\":true}]},"
	    "\"spec\":{\"nodeName\":\"%s%d\",\"containers\":[{\"name\":\"web\",\"image\":"
	    "\"registry.example/web:1.2.%d\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080,"
	    "\"protocol\":\"TCP\"},{\"name\":\"metrics\",\"containerPort\":9090,\"protocol\":"
	    "\"TCP\"}],\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
	    "\"volumeMounts\":[{\"name\":\"kube-api-access\",\"mountPath\":"
	    "\"/var/run/secrets/kubernetes.io/serviceaccount\",\"readOnly\":true}]}],"
	    "\"restartPolicy\":\"Always\",\"serviceAccountName\":\"default\"},\"status\":{"
	    "\"phase\":\"Running\",\"hostIP\":\"172.18.0.%d\",\"podIP\":\"10.%d.%d.%d\","
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":"
	    "\"ContainersReady\",\"status\":\"True\"}],\"startTime\":\"2026-11-27T10:00:00Z\"}}",
	    i % 500, i, "node-", i < NLOCAL ? 1 : 2 + i % 99, i % 10, i % 100, 64 + (i >> 16),
	    (i >> 8) & 255, i & 255);
}

/* Whether pod i is on a secondary network: pct% of pods, spread evenly, and every local one. */
static bool secondary_pod(int i, int pct)
{
	return i < NLOCAL || (i * (long)pct) / 100 != ((i + 1) * (long)pct) / 100;
}

static void add_namespace(struct buf *b, int n)
{
	bprintf(b,
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns-%d\","
		"\"labels\":{\"team\":\"t%d\",\"group\":\"g%d\",\"env\":\"prod\"}}}",
		n, n % 20, n % 10);
}

static void add_policy(struct buf *b, int p)
{
	bprintf(
	    b,
	    "{\"apiVersion\":\"k8s.cni.cncf.io/v1beta1\",\"kind\":\"MultiNetworkPolicy\","
	    "\"metadata\":{\"name\":\"pol-%03d\",\"namespace\":\"ns-%d\",\"annotations\":"
	    "{\"k8s.v1.cni.cncf.io/policy-for\":\"macvlan-%d\"}},\"spec\":{\"podSelector\":"
	    "{\"matchLabels\":{\"tier\":\"frontend\"}},\"policyTypes\":[\"Ingress\",\"Egress\"],"
	    "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"group\":\"g%d\"}}},"
	    "{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\",\"except\":[\"192.168.%d.0/24\"]}}],"
	    "\"ports\":[{\"port\":8080},{\"port\":8000,\"endPort\":8100}]}],\"egress\":[{\"to\":"
	    "[{\"namespaceSelector\":{\"matchLabels\":{\"group\":\"g%d\"}},\"podSelector\":{"
	    "\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]}}],"
	    "\"ports\":[{\"port\":\"http\"}]}]}}",
	    p, p % NNS, p % 3, p % 10, p % 256, (p + 1) % 10);
}

static int populate(int npods, int pct)
{
	struct buf b = {malloc(1 << 20), 0, 1 << 20};
	int rc = -1;
	bprintf(&b, "[");
	for (int n = 0; n < NNS; n++) {
		bprintf(&b, n ? "," : "");
		add_namespace(&b, n);
	}
	for (int p = 0; p < NPOL; p++) {
		bprintf(&b, ",");
		add_policy(&b, p);
	}
	bprintf(&b, "]");
	if (apidouble_put(&api, b.p, b.len) != 200)
		goto out;
	for (int i = 0; i < npods; i += 500) {
		b.len = 0;
		bprintf(&b, "[");
		for (int k = i; k < i + 500 && k < npods; k++) {
			bprintf(&b, k > i ? "," : "");
			add_pod(&b, k, secondary_pod(k, pct), 0);
		}
		bprintf(&b, "]");
		if (apidouble_put(&api, b.p, b.len) != 200)
			goto out;
	}
	rc = 0;
out:
	free(b.p);
	return rc;
}

static struct kube_reflector *rs[3];
static bool all_synced(void *ctx)
{
	for (int i = 0; i < 3; i++)
		if (!kube_reflector_synced(rs[i]))
			return false;
	return true;
}

static bool relisted(void *ctx)
{
	struct kube_reflector_stats st;
	kube_reflector_get_stats(rs[1], &st);
	return st.lists >= 2;
}

/* What one cluster's child reports to the parent. */
struct result {
	long sync_ms, cpu_ms, rss_kib, hwm_kib, relist_hwm_kib, relist_rss_kib;
	unsigned kept, listed;
	size_t store_kib;
	int ok;
};

/* Child: the agent's watches (namespaces, pods, policies) into the store. */
static struct result run_store(void)
{
	struct result res = {0};
	char err[512], path[96];
	struct kube_config cfg;
	struct store_stats ss;

	snprintf(path, sizeof(path), "%s/kubeconfig", api.dir);
	if (kube_config_load(&cfg, path, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return res;
	}
	struct kube_client *c = kube_client_new(&cfg, err, sizeof(err));
	struct store *st = store_new(NODE);
	struct kube_sink sink = store_sink(st);
	rs[0] = kube_reflector_new(c, KIND_NAMESPACE, &sink, NULL);
	rs[1] = kube_reflector_new(c, KIND_POD, &sink, NULL);
	rs[2] = kube_reflector_new(c, KIND_POLICY, &sink, NULL);
	int64_t t0 = kube_now_ms();
	if (!c || kube_reflectors_run(rs, 3, all_synced, NULL, 900000)) {
		fprintf(stderr, "scale_bench: not synced\n");
		return res;
	}
	res.sync_ms = kube_now_ms() - t0;
	res.cpu_ms = cpu_ms();
	res.rss_kib = vm_kib("VmRSS");
	res.hwm_kib = vm_kib("VmHWM");
	store_get_stats(st, &ss);
	res.kept = ss.pods;
	res.listed = ss.pods_listed;
	res.store_kib = ss.bytes >> 10;
	/* A 410: the pods' watch expires with its resourceVersion compacted away; relist. */
	/* (the watches may not be open yet at the double: expire until one relists) */
	bool again = true;
	for (int tries = 0; again && tries < 60; tries++)
		again = apidouble_post(&api, "compact") != 200 ||
			apidouble_post(&api, "expire-watches") != 200 ||
			kube_reflectors_run(rs, 3, relisted, NULL, 1000) < 0;
	if (again) {
		fprintf(stderr, "scale_bench: no relist\n");
		return res;
	}
	kube_reflectors_run(rs, 3, all_synced, NULL, 900000);
	res.relist_hwm_kib = vm_kib("VmHWM");
	res.relist_rss_kib = vm_kib("VmRSS");
	store_get_stats(st, &ss);
	res.ok = ss.pods == res.kept;
	return res;
}

/* Budgets of peak RSS (MiB) by cluster; 0 where none is set. */
static int budget_mib(int npods, int pct)
{
	if (npods == 10000)
		return pct <= 10 ? 4 : pct == 100 ? 8 : 0;
	if (npods == 100000)
		return pct <= 10 ? 16 : pct == 100 ? 64 : 0;
	return 0;
}

static int cluster_row(int npods, int pct, const struct result *base, struct result *out)
{
	int pfd[2];
	struct result r = {0};
	pid_t p;

	if (apidouble_start(&api, "scale_bench") < 0 || populate(npods, pct) || pipe(pfd)) {
		fprintf(stderr, "scale_bench: the API server double did not start or load\n");
		apidouble_stop(&api);
		return -1;
	}
	p = fork();
	if (p == 0) {
		close(pfd[0]);
		r = run_store();
		_exit(write(pfd[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(pfd[1]);
	if (read(pfd[0], &r, sizeof(r)) != sizeof(r))
		r.ok = 0;
	close(pfd[0]);
	waitpid(p, NULL, 0);
	apidouble_stop(&api);
	if (!r.ok) {
		printf("%7d %4d%%  FAILED (not synced, or the relist lost pods)\n", npods, pct);
		return -1;
	}
	*out = r;
	int budget = budget_mib(npods, pct);
	printf("%7d %4d%% %7u %7ld %8ld %6.1fx %8ld %8ld %8ld %8zu %6d", npods, pct, r.kept,
	       r.sync_ms, r.cpu_ms, base ? (double)r.cpu_ms / base->cpu_ms : 1.0, r.rss_kib,
	       r.hwm_kib, r.relist_hwm_kib, r.store_kib, budget);
	if (budget)
		printf(" %5.2f %s\n", (double)r.relist_hwm_kib / (budget * 1024.0),
		       r.relist_hwm_kib <= budget * 1024L ? "ok" : "OVER");
	else
		printf("     -\n");
	fflush(stdout);
	return 0;
}

/* The shipped agent (the static binary) against the same cluster: its own RSS and peak after
 * the first full sync, and its CPU to get there. No runtime answers (the 100 local pods fail
 * their CRI lookup, each alone), so no table is programmed: the figures are the watches, the
 * store and the pass, as the budgets mean them. */
static int agent_row(const char *bin, int npods, int pct)
{
	char kc[96], line[1024], status[64];
	int out[2];
	FILE *f;

	if (access(bin, X_OK) != 0) {
		printf("agent %7d %4d%%  not run: %s is not built\n", npods, pct, bin);
		return -1;
	}
	if (apidouble_start(&api, "scale_bench") < 0 || populate(npods, pct) || pipe(out)) {
		fprintf(stderr, "scale_bench: the API server double did not start or load\n");
		apidouble_stop(&api);
		return -1;
	}
	snprintf(kc, sizeof(kc), "--kubeconfig=%s/kubeconfig", api.dir);
	int64_t t0 = kube_now_ms();
	pid_t p = fork();
	if (p == 0) {
		dup2(out[1], 2);
		close(out[0]);
		execl(bin, bin, kc, "--hostname-override=" NODE,
		      "--container-runtime-endpoint=/nonexistent/cri.sock",
		      "--debug-bind-address=", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	bool synced = false;
	while (f && !synced && fgets(line, sizeof(line), f))
		synced = strstr(line, "first full sync done") != NULL;
	int64_t ms = kube_now_ms() - t0;
	long rss = -1, hwm = -1, ticks = -1;
	snprintf(status, sizeof(status), "/proc/%d/status", (int)p);
	FILE *st = fopen(status, "r");
	while (st && fgets(line, sizeof(line), st)) {
		if (!strncmp(line, "VmRSS:", 6))
			rss = strtol(line + 6, NULL, 10);
		if (!strncmp(line, "VmHWM:", 6))
			hwm = strtol(line + 6, NULL, 10);
	}
	if (st)
		fclose(st);
	snprintf(status, sizeof(status), "/proc/%d/stat", (int)p);
	st = fopen(status, "r");
	unsigned long ut = 0, stime = 0;
	/* utime and stime are fields 14 and 15, after the command in parentheses */
	if (st && fgets(line, sizeof(line), st) && strrchr(line, ')') &&
	    sscanf(strrchr(line, ')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &stime) == 2)
		ticks = (long)(ut + stime);
	if (st)
		fclose(st);
	kill(p, SIGTERM);
	waitpid(p, NULL, 0);
	if (f)
		fclose(f);
	apidouble_stop(&api);
	if (!synced) {
		printf("agent %7d %4d%%  FAILED (no first full sync)\n", npods, pct);
		return -1;
	}
	int budget = budget_mib(npods, pct);
	printf("agent %7d %4d%%   first full sync %6lld ms, agent CPU %5ld ms, RSS %6ld KiB, peak "
	       "%6ld KiB, budget %d MiB (%.2fx)\n",
	       npods, pct, (long long)ms, ticks * 1000 / sysconf(_SC_CLK_TCK), rss, hwm, budget,
	       budget ? (double)hwm / (budget * 1024.0) : 0);
	fflush(stdout);
	return 0;
}

/* Events/s the store absorbs: MODIFIED watch events for the pods of a 10k cluster (every one
 * changes a label, so local pods in policied namespaces are marked too), framed from their wire
 * text and decoded on this one core. */
static int churn_row(int pct, bool only_status)
{
	enum { PODS = 10000, EVENTS = 20000 };
	struct store *s = store_new(NODE);
	struct buf b = {malloc(1 << 20), 0, 1 << 20}, one = {malloc(1 << 14), 0, 1 << 14};
	struct json_framer fr;
	struct timespec t0, t1;
	unsigned long n = 0;

	for (int p = 0; p < NPOL; p++) {
		one.len = 0;
		add_policy(&one, p);
		store_upsert_json(s, KIND_POLICY, one.p, one.len);
	}
	for (int i = 0; i < PODS; i++) {
		one.len = 0;
		add_pod(&one, i, secondary_pod(i, pct), 0);
		store_upsert_json(s, KIND_POD, one.p, one.len);
	}
	status_only = only_status;
	for (int e = 0; e < EVENTS; e++) {
		bprintf(&b, "{\"type\":\"MODIFIED\",\"object\":");
		add_pod(&b, e % PODS, secondary_pod(e % PODS, pct), 1 + e / PODS);
		bprintf(&b, "}\n");
	}
	json_framer_init(&fr, FRAMER_WATCH, 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (size_t off = 0; off < b.len;) {
		struct json_frame f;
		const char *obj;
		size_t ol;
		long k = json_framer_next(&fr, b.p + off, b.len - off, &f);
		if (k < 0)
			break;
		if (f.kind == FRAME_OBJECT &&
		    !json_member_span(b.p + off + f.off, f.len, "object", &obj, &ol) &&
		    store_upsert_json(s, KIND_POD, obj, ol) == 0)
			n++;
		off += (size_t)k;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	struct store_stats ss;
	store_get_stats(s, &ss);
	status_only = false;
	printf(
	    "churn %3d%% secondary, %s: %lu MODIFIED events (%zu MiB of wire text) in %.0f ms CPU: "
	    "%.0f events/s (%.1fx the 50k/s budget: %s); %u pods kept\n",
	    pct, only_status ? "status only" : "labels change", n, b.len >> 20, sec * 1000, n / sec,
	    n / sec / 50000, n / sec >= 50000 && n == EVENTS ? "ok" : "UNDER", ss.pods);
	fflush(stdout);
	free(b.p);
	free(one.p);
	store_free(s);
	return n / sec >= 50000 && n == EVENTS ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const char *const def[] = {"10000:10", "10000:100", "100000:10", "100000:100"};
	bool churn_only = argc == 2 && !strcmp(argv[1], "churn");
	bool agent_only = argc == 2 && !strcmp(argv[1], "agent");
	const char *const *sc = argc > 1 ? (const char *const *)argv + 1 : def;
	int nsc = churn_only || agent_only ? 0 : argc > 1 ? argc - 1 : 4, rc = 0;
	struct result base = {0};

	printf("store at scale: %d namespaces, %d policies, %d pods on this node; pods ~6 KB of "
	       "JSON each\n(a child per cluster syncs namespaces, pods and policies over TLS, list "
	       "pages of 500;\n relist: the pods' watch gets a 410 and lists again; RSS in KiB, "
	       "budget in MiB, ratio = relist peak / budget)\n",
	       NNS, NPOL, NLOCAL);
	printf("%7s %5s %7s %7s %8s %7s %8s %8s %8s %8s %6s %5s\n", "pods", "2nd", "kept",
	       "sync-ms", "cpu-ms", "cpu-x", "rss", "peak", "relist", "store", "budget", "ratio");
	for (int i = 0; i < nsc; i++) {
		int npods = 0, pct = 0;
		if (sscanf(sc[i], "%d:%d", &npods, &pct) != 2 || npods <= 0 || pct < 0 ||
		    pct > 100) {
			fprintf(stderr, "scale_bench: %s: want PODS:PERCENT\n", sc[i]);
			return 2;
		}
		struct result r;
		/* cpu-x: client CPU against the first cluster's */
		if (cluster_row(npods, pct, i ? &base : NULL, &r) < 0)
			rc = 1;
		else if (i == 0)
			base = r;
	}
	/* the shipped binary, the same clusters of 10k pods */
	for (int i = 0; i < 2 && (argc == 1 || agent_only); i++)
		if (agent_row(getenv("SCALE_BENCH_AGENT") ? getenv("SCALE_BENCH_AGENT") : AGENT_BIN,
			      10000, i ? 100 : 10) < 0)
			rc = 1;
	if (agent_only)
		return rc;
	/* every event changes a label (the worst case), then only status (kubelet's updates) */
	for (int only = 0; only < 2; only++) {
		if (churn_row(10, only) < 0)
			rc = 1;
		if (churn_row(100, only) < 0)
			rc = 1;
	}
	return rc;
}
