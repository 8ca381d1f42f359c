/* Fuzzes the store's decoders and the ruleset computation over what they stored: the first
 * byte picks the kind, the rest is one object's JSON. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"
#include "store/store.h"

static const char nad[] = "{\"metadata\":{\"name\":\"m\",\"namespace\":\"ns\"},\"spec\":{"
			  "\"config\":\"{\\\"type\\\":\\\"macvlan\\\"}\"}}";
static const char pod[] =
    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\",\"labels\":{\"a\":\"b\"},"
    "\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"m\",\"k8s.v1.cni.cncf.io/"
    "network-status\":\"[{\\\"name\\\":\\\"ns/m\\\",\\\"interface\\\":\\\"net1\\\",\\\"ips\\\":"
    "[\\\"10.0.0.1\\\",\\\"fd00::1\\\"]}]\"}},\"spec\":{\"nodeName\":\"n\",\"containers\":[{"
    "\"name\":\"c\",\"ports\":[{\"name\":\"http\",\"containerPort\":80}]}]}}";
static const char policy[] =
    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"ns\",\"annotations\":{\"k8s.v1.cni.cncf.io/"
    "policy-for\":\"m\"}},\"spec\":{\"podSelector\":{},\"egress\":[{\"ports\":[{\"port\":"
    "\"http\"}]}]}}";

static void compute_one(void *ctx, const char *uid, const struct store_pod *p)
{
	struct store *s = ctx;
	static const char *const plugins[] = {"macvlan"};
	struct policy_opts o = {.nplugins = 1, .plugins = plugins, .accept_icmp = true};
	struct arena a = {0};
	struct pod_ruleset rs;

	if (p)
		pod_ruleset_compute(s, p, &o, &a, &rs);
	arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *s;

	if (size < 1)
		return 0;
	s = store_new("n");
	store_upsert_json(s, KIND_NAD, nad, strlen(nad));
	store_upsert_json(s, KIND_POD, pod, strlen(pod));
	store_upsert_json(s, KIND_POLICY, policy, strlen(policy));
	store_upsert_json(s, (enum kube_kind)(data[0] % KIND_COUNT), (const char *)data + 1,
			  size - 1);
	store_for_each_dirty(s, compute_one, s);
	store_delete_json(s, (enum kube_kind)(data[0] % KIND_COUNT), (const char *)data + 1,
			  size - 1);
	store_for_each_dirty(s, compute_one, s);
	store_free(s);
	return 0;
}
