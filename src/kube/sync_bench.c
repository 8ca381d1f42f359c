/* sync_bench: time and memory of a full initial sync of 10,000 realistic pods (managedFields,
 * multi-KB annotations) and 1,000 namespaces from the API server double, with two sinks side by
 * side in one run: a sink that only counts (the client's own cost) and the store (what the agent
 * keeps). Each sink runs in a child process so peak RSS (VmHWM) is its own.
 * Usage: sync_bench [PODS [NAMESPACES]]   (run from the repository root; needs /usr/bin/python3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/apidouble.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/reflector.h"
#include "store/store.h"
#include "util/log.h"

static struct apidouble api;

/* A pod as a real cluster serves it: labels, multi-KB annotations, managedFields, status. */
static void add_pod(struct buf *b, int i, int nns)
{
	bprintf(
	    b,
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-%d-7c9f8d6b5-x%"
	    "04d\","
	    "\"namespace\":\"ns-%d\",\"labels\":{\"app\":\"web-%d\",\"pod-template-hash\":"
	    "\"7c9f8d6b5\",\"tier\":\"frontend\",\"version\":\"v%d\"},\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/networks\":\"macvlan-%d\","
	    "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"cbr0\\\",\\\"interface\\\":"
	    "\\\"eth0\\\",\\\"ips\\\":[\\\"10.244.%d.%d\\\"],\\\"mac\\\":\\\"0a:58:0a:f4:00:01\\\","
	    "\\\"default\\\":true,\\\"dns\\\":{}},{\\\"name\\\":\\\"ns-%d/macvlan-%d\\\","
	    "\\\"interface\\\":\\\"net1\\\",\\\"ips\\\":[\\\"192.168.%d.%d\\\"],\\\"mac\\\":"
	    "\\\"9e:2a:1b:3c:4d:5e\\\",\\\"dns\\\":{}}]\",",
	    i % 500, i, i % nns, i % 500, i % 4, i % 3, (i / 250) % 256, i % 250, i % nns, i % 3,
	    (i / 250) % 256, i % 250);
	bprintf(b, "\"kubectl.kubernetes.io/last-applied-configuration\":\"");
	for (int k = 0; k < 24; k++)
		bprintf(b, "{\\\"k%d\\\":\\\"some applied configuration text %08d\\\"}", k, i);
	bprintf(b, "\"},\"managedFields\":[");
	for (int m = 0; m < 3; m++)
		bprintf(
		    b,
		    "%s{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-27T10:00:0%dZ\",\"fieldsType\":"
		    "\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}"
		    ","
		    "\"f:tier\":{}},\"f:ownerReferences\":{\".\":{},\"k:{\\\"uid\\\":\\\"abc\\\"}"
		    "\":{}}},"
		    "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},"
		    "\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{},\"f:ports\":{\".\":{},"
		    "\"k:{\\\"containerPort\\\":8080,\\\"protocol\\\":\\\"TCP\\\"}\":{}},"
		    "\"f:resources\":{},\"f:terminationMessagePath\":{}}},\"f:dnsPolicy\":{},"
		    "\"f:enableServiceLinks\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{}}}}",
		    m ? "," : "", m);
	bprintf(
	    b,
	    "],\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":"
	    "\"web-%d-7c9f8d6b5\",\"uid\":\"0e3c9a9e-4f4e-4a1b-9d0a-%012d\",\"controller\":true}]},"
	    "\"spec\":{\"nodeName\":\"node-%d\",\"containers\":[{\"name\":\"web\",\"image\":"
	    "\"registry.example/web:1.2.%d\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080,"
	    "\"protocol\":\"TCP\"},{\"name\":\"metrics\",\"containerPort\":9090,\"protocol\":"
	    "\"TCP\"}],\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
	    "\"volumeMounts\":[{\"name\":\"kube-api-access\",\"mountPath\":"
	    "\"/var/run/secrets/kubernetes.io/serviceaccount\",\"readOnly\":true}]}],"
	    "\"restartPolicy\":\"Always\",\"serviceAccountName\":\"default\"},\"status\":{"
	    "\"phase\":\"Running\",\"hostIP\":\"172.18.0.%d\",\"podIP\":\"10.244.%d.%d\","
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":"
	    "\"ContainersReady\",\"status\":\"True\"}],\"startTime\":\"2026-11-27T10:00:00Z\"}}",
	    i % 500, i, i % 100, i % 10, i % 100, (i / 250) % 256, i % 250);
}

static int populate(int npods, int nns)
{
	struct buf b = {malloc(1 << 20), 0, 1 << 20};
	bprintf(&b, "[");
	for (int n = 0; n < nns; n++)
		bprintf(&b,
			"%s{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
			"\"ns-%d\",\"labels\":{\"team\":\"t%d\",\"env\":\"prod\"}}}",
			n ? "," : "", n, n % 20);
	bprintf(&b, "]");
	if (apidouble_put(&api, b.p, b.len) != 200)
		return -1;
	for (int i = 0; i < npods; i += 500) {
		b.len = 0;
		bprintf(&b, "[");
		for (int k = i; k < i + 500 && k < npods; k++) {
			if (k > i)
				bprintf(&b, ",");
			add_pod(&b, k, nns);
		}
		bprintf(&b, "]");
		if (apidouble_put(&api, b.p, b.len) != 200)
			return -1;
	}
	free(b.p);
	return 0;
}

static unsigned long counted;
static size_t counted_bytes;
static int count_object(void *ctx, enum kube_kind kind, enum kube_event ev, const char *json,
			size_t len)
{
	counted++;
	counted_bytes += len;
	return 0;
}
static void count_begin(void *ctx, enum kube_kind kind)
{
}
static void count_end(void *ctx, enum kube_kind kind)
{
}

static struct kube_reflector *rs[2];
static bool all_synced(void *ctx)
{
	return kube_reflector_synced(rs[0]) && kube_reflector_synced(rs[1]);
}

/* Child: syncs pods and namespaces into the sink, prints one result line. */
static int run_sink(const char *label, bool use_store)
{
	char err[512], path[96];
	struct kube_config cfg;
	snprintf(path, sizeof(path), "%s/kubeconfig", api.dir);
	long rss0 = vm_kib("VmRSS");
	if (kube_config_load(&cfg, path, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct kube_client *c = kube_client_new(&cfg, err, sizeof(err));
	struct store *st = use_store ? store_new("node-1") : NULL;
	struct kube_sink sink =
	    use_store ? store_sink(st)
		      : (struct kube_sink){NULL, count_object, count_begin, count_end};
	rs[0] = kube_reflector_new(c, KIND_NAMESPACE, &sink, NULL);
	rs[1] = kube_reflector_new(c, KIND_POD, &sink, NULL);
	int64_t t0 = kube_now_ms();
	if (!c || kube_reflectors_run(rs, 2, all_synced, NULL, 300000)) {
		fprintf(stderr, "%s: not synced\n", label);
		return 1;
	}
	int64_t ms = kube_now_ms() - t0;
	long hwm = vm_kib("VmHWM"), rss = vm_kib("VmRSS");
	long cpu = cpu_ms();
	if (use_store) {
		struct store_stats ss;
		store_get_stats(st, &ss);
		printf("%-12s sync %5lld ms (client CPU %5ld ms)   RSS %6ld KiB (peak %6ld KiB, at "
		       "start %5ld KiB)   store: %u pods %u namespaces, %zu KiB held\n",
		       label, (long long)ms, cpu, rss, hwm, rss0, ss.pods, ss.namespaces,
		       ss.bytes >> 10);
	} else {
		printf("%-12s sync %5lld ms (client CPU %5ld ms)   RSS %6ld KiB (peak %6ld KiB, at "
		       "start %5ld KiB)   %lu objects, %zu MiB of JSON\n",
		       label, (long long)ms, cpu, rss, hwm, rss0, counted, counted_bytes >> 20);
	}
	/* consuming moves an offset: compaction copies stay a small share of what was read */
	struct kube_reflector_stats rst;
	kube_reflector_get_stats(rs[1], &rst);
	printf("%-12s pods: %llu KiB read, %llu KiB moved compacting the body buffer\n", label,
	       (unsigned long long)rst.bytes_received >> 10,
	       (unsigned long long)rst.bytes_moved >> 10);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int npods = argc > 1 ? atoi(argv[1]) : 10000, nns = argc > 2 ? atoi(argv[2]) : 1000;
	if (apidouble_start(&api, "sync_bench") < 0 || populate(npods, nns)) {
		fprintf(stderr, "sync_bench: the API server double did not start or load\n");
		apidouble_stop(&api);
		return 1;
	}
	printf("initial sync of %d pods + %d namespaces (list pages of 500, TLS, one connection "
	       "per kind)\n",
	       npods, nns);
	fflush(stdout);
	int rc = 0;
	const char *labels[] = {"count-only", "store"};
	for (int s = 0; s < 2; s++) {
		pid_t p = fork();
		if (p == 0)
			_exit(run_sink(labels[s], s == 1));
		int status;
		waitpid(p, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rc = 1;
	}
	apidouble_stop(&api);
	return rc;
}
