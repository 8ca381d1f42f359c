#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "store/internal.h"
#include "store/store.h"

static int up(struct store *s, enum kube_kind k, const char *json)
{
	return store_upsert_json(s, k, json, strlen(json));
}

#define POD_FMT                                                                                    \
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"u-%s\","   \
	"\"labels\":{%s},\"annotations\":{%s}},\"spec\":{\"nodeName\":\"%s\",%s\"containers\":"    \
	"[{\"name\":\"c\",\"ports\":[%s]}]},\"status\":{\"phase\":\"%s\"}}"

static int pod(struct store *s, const char *ns, const char *name, const char *labels,
	       const char *ann, const char *node, const char *extra, const char *ports,
	       const char *phase)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), POD_FMT, name, ns, name, labels, ann, node, extra, ports, phase);
	return up(s, KIND_POD, buf);
}

static const char *label(const struct store_labels *l, const char *k)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return l->v[i].value;
	return NULL;
}

static void test_pod_fields(void **state)
{
	struct store *s = store_new("node-1");
	const struct store_pod *p;

	assert_int_equal(
	    pod(s, "ns1", "a", "\"b\":\"2\",\"a\":\"1\"",
		"\"k8s.v1.cni.cncf.io/networks\":\"net-a, other/net-b@eth7\","
		"\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"net-a\\\","
		"\\\"interface\\\":\\\"net1\\\",\\\"ips\\\":[\\\"10.1.2.3\\\",\\\"fd00::1\\\"]},"
		"{\\\"name\\\":\\\"other/net-b\\\",\\\"interface\\\":\\\"eth7\\\"}]\"",
		"node-1", "",
		"{\"name\":\"http\",\"containerPort\":80},{\"name\":\"dns\",\"containerPort\":53,"
		"\"protocol\":\"UDP\"},{\"containerPort\":9}",
		"Running"),
	    0);
	p = store_pod_get(s, "ns1", "a");
	assert_non_null(p);
	assert_string_equal(p->uid, "u-a");
	assert_true(p->local);
	assert_int_equal(p->labels.n, 2);
	assert_string_equal(p->labels.v[0].key, "a"); /* sorted */
	assert_string_equal(label(&p->labels, "b"), "2");
	assert_int_equal(p->nports, 2);
	assert_string_equal(p->ports[1].name, "dns");
	assert_int_equal(p->ports[1].port, 53);
	assert_int_equal(p->ports[1].proto, IPPROTO_UDP);
	assert_int_equal(p->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(p->nnets, 2);
	assert_string_equal(p->nets[0].network, "ns1/net-a");
	assert_null(p->nets[0].ifname);
	assert_string_equal(p->nets[1].network, "other/net-b");
	assert_string_equal(p->nets[1].ifname, "eth7");
	assert_int_equal(p->nstatus, 2);
	assert_string_equal(p->status[0].network, "ns1/net-a");
	assert_int_equal(p->status[0].nips, 2);
	assert_int_equal(p->status[0].ips[0].family, 4);
	assert_int_equal(p->status[0].ips[0].addr[3], 3);
	assert_int_equal(p->status[0].ips[1].family, 6);
	assert_int_equal(p->status[1].nips, 0);
	assert_false(p->nets_bad);
	assert_false(p->status_bad);
	store_free(s);
}

static void test_pod_locality(void **state)
{
	struct store *s = store_new("node-1");

	assert_int_equal(pod(s, "ns", "remote", "", "", "node-2", "", "", "Running"), 0);
	assert_int_equal(
	    pod(s, "ns", "hostnet", "", "", "node-1", "\"hostNetwork\":true,", "", "Running"), 0);
	assert_int_equal(pod(s, "ns", "done", "", "", "node-1", "", "", "Succeeded"), 0);
	assert_int_equal(pod(s, "ns", "failed", "", "", "node-1", "", "", "Failed"), 0);
	assert_int_equal(pod(s, "ns", "ok", "", "", "node-1", "", "", "Pending"), 0);
	assert_null(store_pod_get(s, "ns", "remote")); /* on no secondary network: not kept */
	assert_false(store_pod_get(s, "ns", "hostnet")->local);
	assert_true(store_pod_get(s, "ns", "hostnet")->host_network);
	assert_false(store_pod_get(s, "ns", "done")->local);
	assert_true(store_pod_get(s, "ns", "done")->terminated);
	assert_false(store_pod_get(s, "ns", "failed")->local);
	assert_true(store_pod_get(s, "ns", "ok")->local);
	store_free(s);
}

static void test_networks_forms(void **state)
{
	struct store *s = store_new("n");
	const struct store_pod *p;

	pod(s, "ns", "json", "",
	    "\"k8s.v1.cni.cncf.io/networks\":\"[{\\\"name\\\":\\\"m1\\\",\\\"namespace\\\":"
	    "\\\"x\\\",\\\"interface\\\":\\\"if9\\\"},{\\\"name\\\":\\\"m2\\\"}]\"",
	    "n", "", "", "Running");
	p = store_pod_get(s, "ns", "json");
	assert_false(p->nets_bad);
	assert_int_equal(p->nnets, 2);
	assert_string_equal(p->nets[0].network, "x/m1");
	assert_string_equal(p->nets[0].ifname, "if9");
	assert_string_equal(p->nets[1].network, "ns/m2");

	pod(s, "ns", "bad1", "", "\"k8s.v1.cni.cncf.io/networks\":\"[{\\\"name\\\":1}]\"", "n", "",
	    "", "Running");
	assert_true(store_pod_get(s, "ns", "bad1")->nets_bad);
	assert_int_equal(store_pod_get(s, "ns", "bad1")->nnets, 0);
	pod(s, "ns", "bad2", "", "\"k8s.v1.cni.cncf.io/networks\":\"a/b/c\"", "n", "", "",
	    "Running");
	assert_true(store_pod_get(s, "ns", "bad2")->nets_bad);
	pod(s, "ns", "bad3", "", "\"k8s.v1.cni.cncf.io/networks\":\"a@\"", "n", "", "", "Running");
	assert_true(store_pod_get(s, "ns", "bad3")->nets_bad);
	pod(s, "ns", "bad4", "",
	    "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":"
	    "\\\"a\\\",\\\"ips\\\":[\\\"300.1.1.1\\\"]}]\"",
	    "n", "", "", "Running");
	assert_true(store_pod_get(s, "ns", "bad4")->status_bad);
	assert_int_equal(store_pod_get(s, "ns", "bad4")->nstatus, 0);
	pod(s, "ns", "bad5", "", "\"k8s.v1.cni.cncf.io/network-status\":\"{nope\"", "n", "", "",
	    "Running");
	assert_true(store_pod_get(s, "ns", "bad5")->status_bad);
	store_free(s);
}

/* Sidecars (init containers with restartPolicy Always) serve named ports; other init
 * containers do not. */
static void test_sidecar_ports(void **state)
{
	struct store *s = store_new("n");
	const struct store_pod *p;

	pod(s, "ns", "a", "", "", "n",
	    "\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":\"Always\",\"ports\":["
	    "{\"name\":\"proxy\",\"containerPort\":15001}]},{\"name\":\"init\",\"ports\":["
	    "{\"name\":\"setup\",\"containerPort\":99}]}],",
	    "{\"name\":\"http\",\"containerPort\":80}", "Running");
	p = store_pod_get(s, "ns", "a");
	assert_int_equal(p->nports, 2);
	assert_string_equal(p->ports[0].name, "http");
	assert_string_equal(p->ports[1].name, "proxy");
	assert_int_equal(p->ports[1].port, 15001);
	store_free(s);
}

/* Interface names: "" is as absent; one Linux would refuse marks the entry bad (no name, no
 * addresses) instead of being used or skipped. */
static void test_interface_names(void **state)
{
	static const char *const bad[] = {
	    "a b",	  "x/y", "net1234567890123", ".",	  "..",
	    "a\\\\\\\"b", "a:1", "tab\\\\t",	     "\\\\u0001",
	};
	struct store *s = store_new("n");
	const struct store_pod *p;
	char ann[512];

	pod(s, "ns", "empty", "",
	    "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"m\\\","
	    "\\\"interface\\\":\\\"\\\",\\\"ips\\\":[\\\"10.0.0.1\\\"]}]\"",
	    "n", "", "", "Running");
	p = store_pod_get(s, "ns", "empty");
	assert_false(p->status_bad);
	assert_int_equal(p->nstatus, 1);
	assert_null(p->status[0].ifname);
	assert_false(p->status[0].bad);
	assert_int_equal(p->status[0].nips, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(ann, sizeof(ann),
			 "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"m\\\","
			 "\\\"interface\\\":\\\"%s\\\",\\\"ips\\\":[\\\"10.0.0.1\\\"]},"
			 "{\\\"name\\\":\\\"k\\\",\\\"interface\\\":\\\"net2\\\"}]\","
			 "\"k8s.v1.cni.cncf.io/networks\":\"m@%s\"",
			 bad[i], bad[i]);
		assert_int_equal(pod(s, "ns", "bad", "", ann, "n", "", "", "Running"), 0);
		p = store_pod_get(s, "ns", "bad");
		if (p->status_bad || p->nstatus != 2 || !p->status[0].bad)
			fail_msg("interface \"%s\" was not marked bad", bad[i]);
		assert_null(p->status[0].ifname);
		assert_int_equal(p->status[0].nips, 0);
		assert_false(p->status[1].bad);
		assert_string_equal(p->status[1].ifname, "net2");
		/* The networks annotation's name@interface form: only whitespace is trimmed away.
		 */
		if (!p->nets_bad && p->nnets == 1 && !strchr(bad[i], '\\'))
			assert_true(p->nets[0].bad);
	}
	pod(s, "ns", "json", "",
	    "\"k8s.v1.cni.cncf.io/networks\":\"[{\\\"name\\\":\\\"m\\\",\\\"interface\\\":"
	    "\\\"..\\\"},{\\\"name\\\":\\\"k\\\",\\\"interface\\\":\\\"\\\"}]\"",
	    "n", "", "", "Running");
	p = store_pod_get(s, "ns", "json");
	assert_int_equal(p->nnets, 2);
	assert_true(p->nets[0].bad);
	assert_null(p->nets[0].ifname);
	assert_false(p->nets[1].bad);
	assert_null(p->nets[1].ifname);
	store_free(s);
}

static void test_reject_whole_object(void **state)
{
	struct store *s = store_new("n");
	assert_int_equal(up(s, KIND_POD, "{\"metadata\":{}}"), -1);
	assert_int_equal(up(s, KIND_POD, "not json"), -1);
	assert_int_equal(up(s, KIND_POD, "{\"metadata\":{\"name\":\"x\"}}"), -1); /* no ns */
	assert_int_equal(up(s, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"x\"}}"), 0);
	store_free(s);
}

static void test_nad(void **state)
{
	struct store *s = store_new("n");

	assert_int_equal(
	    up(s, KIND_NAD,
	       "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	       "\"{\\\"type\\\":\\\"macvlan\\\"}\"}}"),
	    0);
	assert_string_equal(store_nad_get(s, "ns", "a")->plugin_type, "macvlan");
	assert_string_equal(store_nad_get(s, "ns", "a")->key, "ns/a");
	assert_ptr_equal(store_nad_get_key(s, "ns/a"), store_nad_get(s, "ns", "a"));
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	   "\"{\\\"cniVersion\\\":\\\"0.3.1\\\",\\\"plugins\\\":[{\\\"type\\\":\\\"bridge\\\"},"
	   "{\\\"type\\\":\\\"tuning\\\"}]}\"}}");
	assert_string_equal(store_nad_get(s, "ns", "b")->plugin_type, "bridge");
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"c\",\"namespace\":\"ns\"},\"spec\":{\"config\":\"{oops\"}}");
	assert_non_null(store_nad_get(s, "ns", "c"));
	assert_null(store_nad_get(s, "ns", "c")->plugin_type);
	/* As Multus reads it: an empty or null "type" falls to plugins[0]; the last repeated key
	 * wins. */
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"e\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	   "\"{\\\"type\\\":\\\"\\\",\\\"plugins\\\":[{\\\"type\\\":\\\"macvlan\\\"}]}\"}}");
	assert_string_equal(store_nad_get(s, "ns", "e")->plugin_type, "macvlan");
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"f\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	   "\"{\\\"type\\\":null,\\\"plugins\\\":[{\\\"type\\\":\\\"macvlan\\\"}]}\"}}");
	assert_string_equal(store_nad_get(s, "ns", "f")->plugin_type, "macvlan");
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"g\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	   "\"{\\\"type\\\":\\\"macvlan\\\",\\\"type\\\":\\\"bridge\\\"}\"}}");
	assert_string_equal(store_nad_get(s, "ns", "g")->plugin_type, "bridge");
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	   "\"{\\\"plugins\\\":[{\\\"type\\\":\\\"macvlan\\\"}],\\\"plugins\\\":"
	   "[{\\\"type\\\":\\\"bridge\\\",\\\"type\\\":\\\"ipvlan\\\"}]}\"}}");
	assert_string_equal(store_nad_get(s, "ns", "h")->plugin_type, "ipvlan");
	up(s, KIND_NAD,
	   "{\"metadata\":{\"name\":\"i\",\"namespace\":\"ns\"},\"spec\":{\"config\":"
	   "\"{\\\"type\\\":\\\"\\\"}\"}}");
	assert_null(store_nad_get(s, "ns", "i")->plugin_type);
	up(s, KIND_NAD, "{\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\"},\"spec\":{}}");
	assert_null(store_nad_get(s, "ns", "d")->plugin_type);
	assert_int_equal(store_delete(s, KIND_NAD, "ns", "a"), 0);
	assert_null(store_nad_get(s, "ns", "a"));
	assert_int_equal(store_delete(s, KIND_NAD, "ns", "a"), -1);
	store_free(s);
}

static const struct store_policy *policy(struct store *s, const char *ns, const char *name,
					 const char *ann, const char *spec)
{
	char buf[8192];
	const struct store_ns *n;
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"resourceVersion\":\"7\","
		 "\"annotations\":{%s}},\"spec\":%s}",
		 name, ns, ann, spec);
	if (up(s, KIND_POLICY, buf) < 0)
		return NULL;
	n = store_ns_get(s, ns);
	for (const struct store_policy *p = n ? n->policies : NULL; p; p = p->ns_next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

#define FOR "\"k8s.v1.cni.cncf.io/policy-for\":\" a , other/b,,\""

static void test_policy_decode(void **state)
{
	struct store *s = store_new("n");
	const struct store_policy *p;

	p = policy(s, "ns", "p1", FOR,
		   "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{"
		   "\"key\":\"tier\",\"operator\":\"NotIn\",\"values\":[\"z\",\"a\"]}]},"
		   "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.1/8\",\"except\":["
		   "\"10.1.0.0/16\"]}},{\"podSelector\":{},\"namespaceSelector\":{\"matchLabels\":{"
		   "\"x\":\"y\"}}}],\"ports\":[{\"port\":80},{\"protocol\":\"UDP\",\"port\":1000,"
		   "\"endPort\":2000},{\"port\":\"http\"},{\"protocol\":\"SCTP\"}]}],"
		   "\"egress\":[{}]}");
	assert_non_null(p);
	assert_string_equal(p->comment, "ns/p1");
	assert_string_equal(p->resource_version, "7");
	assert_int_equal(p->nnets, 2);
	assert_string_equal(p->nets[0], "ns/a");
	assert_string_equal(p->nets[1], "other/b");
	assert_true(p->ingress);
	assert_true(p->egress); /* defaulted: egress rules present */
	assert_int_equal(p->pod_sel.nreqs, 2);
	assert_int_equal(p->pod_sel.reqs[1].op, SEL_NOT_IN);
	assert_string_equal(p->pod_sel.reqs[1].values[0], "a"); /* sorted */
	assert_int_equal(p->ningress, 1);
	assert_int_equal(p->ingress_rules[0].npeers, 2);
	assert_true(p->ingress_rules[0].peers[0].is_ipblock);
	assert_int_equal(p->ingress_rules[0].peers[0].cidr.addr[3], 0); /* host bits cleared */
	assert_int_equal(p->ingress_rules[0].peers[0].cidr.len, 8);
	assert_int_equal(p->ingress_rules[0].peers[0].nexcept, 1);
	assert_non_null(p->ingress_rules[0].peers[1].pod_sel);
	assert_int_equal(p->ingress_rules[0].peers[1].pod_sel->nreqs, 0);
	assert_non_null(p->ingress_rules[0].peers[1].ns_sel);
	assert_int_equal(p->ingress_rules[0].nports, 4);
	assert_int_equal(p->ingress_rules[0].ports[0].proto, IPPROTO_TCP);
	assert_int_equal(p->ingress_rules[0].ports[0].end_port, 80);
	assert_int_equal(p->ingress_rules[0].ports[1].end_port, 2000);
	assert_int_equal(p->ingress_rules[0].ports[2].kind, PORT_NAMED);
	assert_int_equal(p->ingress_rules[0].ports[3].kind, PORT_ANY);
	assert_int_equal(p->ingress_rules[0].ports[3].proto, IPPROTO_SCTP);
	assert_int_equal(p->negress, 1);
	assert_int_equal(p->egress_rules[0].npeers, 0);

	p = policy(s, "ns", "p2", FOR, "{\"podSelector\":{},\"egress\":[]}");
	assert_true(p->ingress);
	assert_false(p->egress);
	p = policy(s, "ns", "p3", FOR, "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}");
	assert_false(p->ingress);
	assert_true(p->egress);
	p = policy(s, "ns", "p4", "", "{\"podSelector\":{}}");
	assert_int_equal(p->nnets, 0);
	store_free(s);
}

static void test_policy_bad_pieces(void **state)
{
	struct store *s = store_new("n");
	const struct store_policy *p;
	const struct store_rule *r;

	p = policy(
	    s, "ns", "bad", FOR,
	    "{\"podSelector\":{},\"ingress\":[{\"from\":["
	    "{\"ipBlock\":{\"cidr\":\"10.0.0.0/33\"}},"
	    "{\"ipBlock\":{\"cidr\":\"10.0.0.0\"}},"
	    "{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"fd00::/8\"]}},"
	    "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}},"
	    "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}},"
	    "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\","
	    "\"values\":[\"x\"]}]}},"
	    "{},"
	    "{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"},\"podSelector\":{}},"
	    "{\"ipBlock\":{\"cidr\":\"fd00::/64\",\"except\":[\"fd00::/80\"]}}"
	    "],\"ports\":["
	    "{\"port\":0},{\"port\":65536},{\"port\":10,\"endPort\":9},"
	    "{\"protocol\":\"ICMP\",\"port\":1},{\"port\":\"http\",\"endPort\":90},"
	    "{\"port\":\"Bad_Name\"},{\"endPort\":5},{\"port\":65535,\"endPort\":65535}]}]}");
	assert_non_null(p);
	r = &p->ingress_rules[0];
	assert_int_equal(r->npeers, 9);
	for (int i = 0; i < 8; i++)
		assert_true(r->peers[i].bad);
	assert_false(r->peers[8].bad);
	assert_int_equal(r->peers[8].cidr.family, 6);
	assert_int_equal(r->nports, 8);
	for (int i = 0; i < 7; i++)
		assert_true(r->ports[i].bad);
	assert_false(r->ports[7].bad);
	store_free(s);
}

/* An invalid spec.podSelector selects every pod of the namespace and allows nothing. */
static void test_policy_invalid_selector(void **state)
{
	static const char *const bad[] = {
	    "{\"matchLabels\":{\"a\":1}}",
	    "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}",
	    "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}",
	    "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\",\"values\":[]}]}",
	    "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
	    "\"app=web\"",
	    "[]",
	};
	struct store *s = store_new("n");
	const struct store_policy *p;
	char spec[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec),
			 "{\"podSelector\":%s,\"ingress\":[{}],\"egress\":[{}]}", bad[i]);
		p = policy(s, "ns", "badsel", FOR, spec);
		assert_non_null(p);
		assert_true(p->pod_sel_invalid);
		assert_false(p->pod_sel.bad);
		assert_int_equal(p->pod_sel.nreqs, 0); /* every pod */
		assert_int_equal(p->ningress, 0);      /* no allow */
		assert_int_equal(p->negress, 0);
		assert_true(p->ingress);
		assert_true(p->egress); /* defaulted from the egress rules it had */
	}
	p = policy(s, "ns", "ok", FOR, "{\"podSelector\":{\"matchLabels\":{\"a\":\"1\"}}}");
	assert_false(p->pod_sel_invalid);
	assert_int_equal(p->pod_sel.nreqs, 1);
	store_free(s);
}

static void test_policy_types(void **state)
{
	static const struct {
		const char *types;
		bool ingress, egress;
	} cases[] = {
	    {"[\"ingress\"]", true, false},
	    {"[\"EGRESS\"]", false, true},
	    {"[\"Ingress\",\"egress\"]", true, true},
	    {"[\"Foo\"]", true, true},
	    {"[\"Egress\",\"Foo\"]", true, true},
	    {"[3]", true, true},
	    {"[\"Egress\",null]", true, true},
	    {"\"Egress\"", true, true},
	    {"{}", true, true},
	    {"[]", true, false}, /* defaulted: no egress rules */
	    {"null", true, false},
	};
	struct store *s = store_new("n");
	char spec[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct store_policy *p;
		snprintf(spec, sizeof(spec), "{\"podSelector\":{},\"policyTypes\":%s}",
			 cases[i].types);
		p = policy(s, "ns", "p", FOR, spec);
		assert_non_null(p);
		if (p->ingress != cases[i].ingress || p->egress != cases[i].egress)
			fail_msg("policyTypes %s: ingress %d egress %d", cases[i].types, p->ingress,
				 p->egress);
	}
	store_free(s);
}

/* A present field of the wrong JSON type is never read as absent. */
static void test_policy_wrong_types(void **state)
{
	struct store *s = store_new("n");
	const struct store_policy *p;
	const struct store_rule *r;

	p = policy(s, "ns", "w", FOR,
		   "{\"podSelector\":{},\"ingress\":[{\"from\":\"x\"},{\"from\":{}},"
		   "{\"ports\":{\"port\":80}},\"x\",{\"from\":[],\"ports\":[\"x\",{\"port\":81}]},"
		   "{\"from\":null,\"ports\":null},{\"from\":[\"x\",{\"podSelector\":\"x\"}]}],"
		   "\"egress\":[{\"to\":3},{\"ports\":\"x\"}]}");
	assert_non_null(p);
	assert_int_equal(p->ningress, 7);
	r = p->ingress_rules;
	for (int i = 0; i < 4; i++)
		assert_true(r[i].bad);
	assert_false(r[4].bad);
	assert_int_equal(r[4].npeers, 0); /* [] is every peer */
	assert_int_equal(r[4].nports, 2);
	assert_true(r[4].ports[0].bad); /* not an object: never "all TCP ports" */
	assert_false(r[4].ports[1].bad);
	assert_false(r[5].bad); /* null is absent */
	assert_int_equal(r[6].npeers, 2);
	assert_true(r[6].peers[0].bad && r[6].peers[1].bad);
	assert_int_equal(p->negress, 2);
	assert_true(p->egress_rules[0].bad && p->egress_rules[1].bad);

	/* A list field that is not a list still counts: egress is isolated, allowing nothing. */
	p = policy(s, "ns", "e", FOR, "{\"podSelector\":{},\"egress\":\"x\",\"ingress\":7}");
	assert_true(p->ingress && p->egress);
	assert_int_equal(p->negress, 1);
	assert_true(p->egress_rules[0].bad);
	assert_int_equal(p->ningress, 1);
	assert_true(p->ingress_rules[0].bad);
	store_free(s);
}

struct dirty {
	int n;
	char uids[16][64];
	bool gone[16];
};

static void collect(void *ctx, const char *uid, const struct store_pod *pod)
{
	struct dirty *d = ctx;
	if (d->n < 16) {
		snprintf(d->uids[d->n], 64, "%s", uid);
		d->gone[d->n] = pod == NULL;
	}
	d->n++;
}

static bool has(const struct dirty *d, const char *uid, bool gone)
{
	for (int i = 0; i < d->n && i < 16; i++)
		if (strcmp(d->uids[i], uid) == 0 && d->gone[i] == gone)
			return true;
	return false;
}

static struct dirty drain(struct store *s)
{
	struct dirty d = {0};
	store_for_each_dirty(s, collect, &d);
	return d;
}

#define NAD_JSON(name, type)                                                                       \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\"},\"spec\":{\"config\":"         \
	"\"{\\\"type\\\":\\\"" type "\\\"}\"}}"

/* A network-status annotation with an address on ns/m. */
#define STATUS_M                                                                                   \
	"\"k8s.v1.cni.cncf.io/"                                                                    \
	"network-status\":\"[{\\\"name\\\":\\\"m\\\",\\\"ips\\\":[\\\"10.9.9.9\\\"]}]\""

static void test_dirty_tracking(void **state)
{
	struct store *s = store_new("n1");
	struct dirty d;

	pod(s, "ns", "a", "\"app\":\"a\"", "\"k8s.v1.cni.cncf.io/networks\":\"m\"", "n1", "", "",
	    "Running");
	pod(s, "other", "b", "", "", "n1", "", "", "Running");
	pod(s, "ns", "r", "", STATUS_M, "n2", "", "", "Running");
	d = drain(s);
	assert_int_equal(d.n, 2); /* local pods are dirty when they appear */
	assert_true(has(&d, "u-a", false) && has(&d, "u-b", false));
	assert_int_equal(drain(s).n, 0); /* handed out and cleared */

	/* A policy marks the local pods of its namespace only. */
	policy(s, "ns", "p", FOR, "{\"podSelector\":{}}");
	d = drain(s);
	assert_int_equal(d.n, 1);
	assert_true(has(&d, "u-a", false));

	/* A remote pod's labels change: local pods in namespaces with policies. */
	pod(s, "ns", "r", "\"x\":\"1\"", STATUS_M, "n2", "", "", "Running");
	d = drain(s);
	assert_int_equal(d.n, 1);
	assert_true(has(&d, "u-a", false));
	/* The same remote pod again, unchanged: nothing. */
	pod(s, "ns", "r", "\"x\":\"1\"", STATUS_M, "n2", "", "", "Running");
	assert_int_equal(drain(s).n, 0);

	/* A namespace's labels change. */
	up(s, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"zzz\",\"labels\":{\"a\":\"b\"}}}");
	d = drain(s);
	assert_int_equal(d.n, 1);
	assert_true(has(&d, "u-a", false));
	up(s, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"zzz\",\"labels\":{\"a\":\"b\"}}}");
	assert_int_equal(drain(s).n, 0);

	/* A NAD: pods attached to it. */
	up(s, KIND_NAD, NAD_JSON("m", "macvlan"));
	d = drain(s);
	assert_int_equal(d.n, 1);
	assert_true(has(&d, "u-a", false));
	up(s, KIND_NAD, NAD_JSON("unused", "macvlan"));
	assert_int_equal(drain(s).n, 0);
	/* A NAD a policy names: every local pod the policy may select (their peer sets hold
	 * addresses on it), not only the pods attached to it. */
	pod(s, "ns", "t", "", "", "n1", "", "", "Running");
	drain(s);
	up(s, KIND_NAD, NAD_JSON("a", "macvlan")); /* FOR names ns/a */
	d = drain(s);
	assert_int_equal(d.n, 2);
	assert_true(has(&d, "u-a", false) && has(&d, "u-t", false));
	store_delete(s, KIND_NAD, "ns", "a");
	d = drain(s);
	assert_int_equal(d.n, 2);
	store_delete(s, KIND_POD, "ns", "t");
	drain(s);

	/* A local pod leaving the node, and one deleted: handed out with NULL. */
	pod(s, "other", "b", "", "", "n1", "", "", "Succeeded");
	d = drain(s);
	assert_true(has(&d, "u-b", true));
	store_delete(s, KIND_POD, "ns", "a");
	d = drain(s);
	assert_true(has(&d, "u-a", true));

	pod(s, "ns", "c", "", "", "n1", "", "", "Running");
	drain(s);
	store_mark_all_dirty(s);
	d = drain(s);
	assert_int_equal(d.n, 1);
	assert_true(has(&d, "u-c", false));
	store_free(s);
}

/* Only the cluster network's entry ("default": true): not a secondary network. */
#define STATUS_DEFAULT                                                                             \
	"\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"cbr0\\\",\\\"interface\\\":"   \
	"\\\"eth0\\\",\\\"ips\\\":[\\\"10.244.0.9\\\"],\\\"default\\\":true}]\""
/* The cluster network's entry and one on ns/m. */
#define STATUS_BOTH                                                                                \
	"\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"cbr0\\\",\\\"interface\\\":"   \
	"\\\"eth0\\\",\\\"ips\\\":[\\\"10.244.0.9\\\"],\\\"default\\\":true},{\\\"name\\\":"       \
	"\\\"m\\\",\\\"interface\\\":\\\"net1\\\",\\\"ips\\\":[\\\"10.9.9.9\\\"]}]\""

static void test_pod_slimming(void **state)
{
	struct store *s = store_new("n1");
	struct store_stats st;
	const struct store_pod *p;
	uint64_t v;
	struct dirty d;

	/* A local pod on no secondary network is kept (it gets a table). */
	pod(s, "ns", "loc", "\"app\":\"l\"", "", "n1", "", "", "Running");
	assert_non_null(p = store_pod_get(s, "ns", "loc"));
	assert_true(p->local);
	/* So is the agent's own pod (hostNetwork, this node). */
	pod(s, "ns", "agent", "", "", "n1", "\"hostNetwork\":true,", "", "Running");
	assert_non_null(store_pod_get(s, "ns", "agent"));
	policy(s, "ns", "p", FOR, "{\"podSelector\":{}}");
	drain(s);

	/* A remote pod with only the cluster network: not kept, and nothing changes. */
	v = store_version(s);
	assert_int_equal(pod(s, "ns", "r", "\"x\":\"1\"", STATUS_DEFAULT, "n2", "", "", "Running"),
			 0);
	assert_null(store_pod_get(s, "ns", "r"));
	assert_int_equal(store_version(s), v);
	assert_int_equal(drain(s).n, 0);
	/* Nor are remote pods that are never peers, whatever their networks. */
	pod(s, "ns", "hn", "", STATUS_M, "n2", "\"hostNetwork\":true,", "", "Running");
	pod(s, "ns", "done", "", STATUS_M, "n2", "", "", "Succeeded");
	assert_null(store_pod_get(s, "ns", "hn"));
	assert_null(store_pod_get(s, "ns", "done"));
	store_get_stats(s, &st);
	assert_int_equal(st.pods, 2);

	/* Its DELETED event: harmless, nothing changes. */
	assert_int_equal(store_delete(s, KIND_POD, "ns", "r"), -1);
	assert_int_equal(store_version(s), v);
	assert_int_equal(drain(s).n, 0);

	/* It gains a secondary network: kept from that event on, a peer, without the cluster
	 * network's entry; the local pods its policies may see are dirty. */
	pod(s, "ns", "r", "\"x\":\"1\"", STATUS_BOTH, "n2", "", "", "Running");
	assert_non_null(p = store_pod_get(s, "ns", "r"));
	assert_int_equal(p->nstatus, 1);
	assert_string_equal(p->status[0].network, "ns/m");
	assert_string_equal(label(&p->labels, "x"), "1");
	assert_string_equal(p->uid, ""); /* only this node's pods need theirs */
	assert_true(store_version(s) != v);
	d = drain(s);
	assert_true(has(&d, "u-loc", false));

	/* It loses it again: dropped as on a delete, and the peer sets are recomputed. */
	v = store_version(s);
	pod(s, "ns", "r", "\"x\":\"1\"", STATUS_DEFAULT, "n2", "", "", "Running");
	assert_null(store_pod_get(s, "ns", "r"));
	assert_true(store_version(s) != v);
	d = drain(s);
	assert_true(has(&d, "u-loc", false));

	/* A networks annotation alone (addresses not yet reported) keeps it, as does a
	 * network-status that cannot be parsed. */
	pod(s, "ns", "n", "", "\"k8s.v1.cni.cncf.io/networks\":\"m\"", "n2", "", "", "Pending");
	pod(s, "ns", "b", "", "\"k8s.v1.cni.cncf.io/network-status\":\"[{\"", "n2", "", "",
	    "Running");
	assert_non_null(store_pod_get(s, "ns", "n"));
	assert_non_null(store_pod_get(s, "ns", "b"));

	/* A local pod that stops being local and has no secondary network: its table goes. */
	pod(s, "ns", "loc", "\"app\":\"l\"", "", "n2", "", "", "Running");
	assert_null(store_pod_get(s, "ns", "loc"));
	d = drain(s);
	assert_true(has(&d, "u-loc", true));
	store_free(s);
}

/* An update of a kept remote pod that changes nothing the store keeps (status conditions, say)
 * leaves its record and store_version as they were, and still counts as seen in a relist. */
static void test_unchanged_update(void **state)
{
	struct store *s = store_new("n1");
	struct kube_sink k = store_sink(s);
	const struct store_pod *p;
	uint64_t v;

	pod(s, "ns", "r", "\"x\":\"1\"", STATUS_BOTH, "n2", "", "", "Running");
	p = store_pod_get(s, "ns", "r");
	assert_non_null(p);
	v = store_version(s);
	/* extra spec fields and managedFields-like noise: nothing kept changes */
	k.replace_begin(k.ctx, KIND_POD);
	pod(s, "ns", "r", "\"x\":\"1\"", STATUS_BOTH, "n2", "\"priority\":7,", "", "Running");
	k.replace_end(k.ctx, KIND_POD);
	assert_ptr_equal(store_pod_get(s, "ns", "r"), p);
	assert_int_equal(store_version(s), v + 1); /* the relist's end only */
	/* a label change is a change */
	pod(s, "ns", "r", "\"x\":\"2\"", STATUS_BOTH, "n2", "", "", "Running");
	assert_string_equal(label(&store_pod_get(s, "ns", "r")->labels, "x"), "2");
	assert_true(store_version(s) > v + 1);
	/* so is an address change */
	v = store_version(s);
	pod(s, "ns", "r", "\"x\":\"2\"", STATUS_M, "n2", "", "", "Running");
	assert_true(store_version(s) > v);
	assert_string_equal(store_pod_get(s, "ns", "r")->status[0].network, "ns/m");
	store_free(s);
}

/* Pod names are not interned: the pod index hashes and compares their text, through growth. */
static void test_pod_index_by_text(void **state)
{
	struct store *s = store_new("n1");
	struct store_stats st;
	char name[32];

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(pod(s, i % 2 ? "a" : "b", name, "", "", "n1", "", "", "Running"),
				 0);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_non_null(store_pod_get(s, i % 2 ? "a" : "b", name));
		assert_null(store_pod_get(s, i % 2 ? "b" : "a", name));
		assert_string_equal(store_pod_get(s, i % 2 ? "a" : "b", name)->name, name);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(store_delete(s, KIND_POD, i % 2 ? "a" : "b", name), 0);
	}
	store_get_stats(s, &st);
	assert_int_equal(st.pods, 0);
	store_free(s);
}

/* A store loaded from a file (render, explain) keeps every pod: explain names any of them. */
static void test_file_keeps_all(void **state)
{
	char path[] = "/tmp/store_test.XXXXXX", err[256], buf[4096];
	struct store *s = store_new("");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	snprintf(buf, sizeof(buf), POD_FMT, "plain", "ns", "plain", "", STATUS_DEFAULT, "n2", "",
		 "", "Running");
	fputs(buf, f);
	fclose(f);
	assert_int_equal(store_load_file(s, path, err, sizeof(err)), 0);
	unlink(path);
	assert_non_null(store_pod_get(s, "ns", "plain"));
	store_free(s);
}

/* A relist neither resurrects nor leaks pods the store does not keep, and replaces what it keeps
 * in place: the same objects listed again leave the store's size as it was. */
static void test_relist_slim(void **state)
{
	struct store *s = store_new("n1");
	struct kube_sink k = store_sink(s);
	struct store_stats before, after;
	char buf[1024];

	for (int round = 0; round < 3; round++) {
		k.replace_begin(k.ctx, KIND_POD);
		for (int i = 0; i < 20; i++) {
			snprintf(buf, sizeof(buf), POD_FMT, (char[8]){'p', (char)('a' + i), 0},
				 "ns", (char[8]){'p', (char)('a' + i), 0}, "\"app\":\"x\"",
				 i % 4 ? STATUS_DEFAULT : STATUS_BOTH, i == 1 ? "n1" : "n2", "", "",
				 "Running");
			assert_int_equal(k.object(k.ctx, KIND_POD, EV_ADDED, buf, strlen(buf)), 0);
		}
		k.replace_end(k.ctx, KIND_POD);
		store_get_stats(s, round ? &after : &before);
		if (round) {
			assert_int_equal(after.pods, before.pods);
			assert_int_equal(after.bytes, before.bytes);
			assert_int_equal(after.strings, before.strings);
		}
	}
	/* pa, pe, pi, pm, pq (secondary) and pb (local). */
	assert_int_equal(before.pods, 6);
	assert_int_equal(before.pods_listed, 20);
	assert_non_null(store_pod_get(s, "ns", "pb"));
	assert_null(store_pod_get(s, "ns", "pc"));

	/* A relist where a kept pod comes back without its network drops it; DELETED events for
	 * pods never kept are harmless. */
	k.replace_begin(k.ctx, KIND_POD);
	snprintf(buf, sizeof(buf), POD_FMT, "pa", "ns", "pa", "", STATUS_DEFAULT, "n2", "", "",
		 "Running");
	k.object(k.ctx, KIND_POD, EV_ADDED, buf, strlen(buf));
	k.replace_end(k.ctx, KIND_POD);
	store_get_stats(s, &after);
	assert_int_equal(after.pods, 0);
	assert_int_equal(after.pods_listed, 1);
	snprintf(buf, sizeof(buf), POD_FMT, "pc", "ns", "pc", "", STATUS_DEFAULT, "n2", "", "",
		 "Running");
	assert_int_equal(k.object(k.ctx, KIND_POD, EV_DELETED, buf, strlen(buf)), 0);
	store_free(s);
}

static void test_sink_replace(void **state)
{
	struct store *s = store_new("n1");
	struct kube_sink k = store_sink(s);
	const char *a = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"uid\":\"ua\"},"
			"\"spec\":{\"nodeName\":\"n1\"}}";
	const char *b = "{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\",\"uid\":\"ub\"},"
			"\"spec\":{\"nodeName\":\"n1\"}}";
	struct dirty d;

	assert_int_equal(k.object(k.ctx, KIND_POD, EV_ADDED, a, strlen(a)), 0);
	assert_int_equal(k.object(k.ctx, KIND_POD, EV_ADDED, b, strlen(b)), 0);
	drain(s);
	k.replace_begin(k.ctx, KIND_POD);
	k.object(k.ctx, KIND_POD, EV_ADDED, b, strlen(b));
	k.replace_end(k.ctx, KIND_POD);
	assert_null(store_pod_get(s, "ns", "a"));
	assert_non_null(store_pod_get(s, "ns", "b"));
	d = drain(s);
	assert_true(has(&d, "ua", true));
	k.object(k.ctx, KIND_POD, EV_DELETED, b, strlen(b));
	assert_null(store_pod_get(s, "ns", "b"));
	assert_int_equal(k.object(k.ctx, KIND_POD, EV_ADDED, "{", 1), -1);
	store_free(s);
}

static void test_sink_replace_other_kinds(void **state)
{
	struct store *s = store_new("n1");
	struct kube_sink k = store_sink(s);
	struct dirty d;
	const char *nsa = "{\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}}}";
	const char *nsb = "{\"metadata\":{\"name\":\"b\"}}";

	pod(s, "ns", "local", "", "\"k8s.v1.cni.cncf.io/networks\":\"m\"", "n1", "", "", "Running");
	up(s, KIND_NAD, NAD_JSON("m", "macvlan"));
	up(s, KIND_NAD, NAD_JSON("gone", "macvlan"));
	policy(s, "ns", "keep", FOR, "{\"podSelector\":{}}");
	policy(s, "ns", "drop", FOR, "{\"podSelector\":{}}");
	k.object(k.ctx, KIND_NAMESPACE, EV_ADDED, nsa, strlen(nsa));
	k.object(k.ctx, KIND_NAMESPACE, EV_ADDED, nsb, strlen(nsb));
	drain(s);

	/* A relist of policies that no longer has "drop": it goes, the local pod is dirty. */
	k.replace_begin(k.ctx, KIND_POLICY);
	policy(s, "ns", "keep", FOR, "{\"podSelector\":{}}");
	k.replace_end(k.ctx, KIND_POLICY);
	assert_int_equal(store_ns_get(s, "ns")->npolicies, 1);
	assert_string_equal(store_ns_get(s, "ns")->policies->name, "keep");
	d = drain(s);
	assert_true(has(&d, "u-local", false));

	/* NADs: "gone" vanishes; the pod is not attached to it, so nothing is dirty. */
	k.replace_begin(k.ctx, KIND_NAD);
	up(s, KIND_NAD, NAD_JSON("m", "macvlan"));
	k.replace_end(k.ctx, KIND_NAD);
	assert_null(store_nad_get(s, "ns", "gone"));
	assert_non_null(store_nad_get(s, "ns", "m"));
	assert_int_equal(drain(s).n, 0);
	/* Deleting the NAD the pod uses marks it. */
	assert_int_equal(store_delete(s, KIND_NAD, "ns", "m"), 0);
	d = drain(s);
	assert_true(has(&d, "u-local", false));

	/* Namespaces: "b" vanishes (no pods, no policies: its record goes); "a" stays. */
	k.replace_begin(k.ctx, KIND_NAMESPACE);
	k.object(k.ctx, KIND_NAMESPACE, EV_MODIFIED, nsa, strlen(nsa));
	k.replace_end(k.ctx, KIND_NAMESPACE);
	assert_null(store_ns_get(s, "b"));
	assert_non_null(store_ns_get(s, "a"));
	assert_string_equal(store_ns_get(s, "a")->labels.v[0].value, "1");
	/* "ns" never had a Namespace object; its record stays for its pod and policy. */
	assert_non_null(store_ns_get(s, "ns"));
	assert_false(store_ns_get(s, "ns")->exists);

	/* Deleting the last policy marks the pod (its table must go). */
	assert_int_equal(store_delete(s, KIND_POLICY, "ns", "keep"), 0);
	d = drain(s);
	assert_true(has(&d, "u-local", false));
	assert_int_equal(store_delete(s, KIND_POLICY, "ns", "keep"), -1);
	store_free(s);
}

static void test_memory_freed(void **state)
{
	struct store *s = store_new("n1");
	struct store_stats st0, st1, st2;
	char name[32];

	up(s, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"keep\"}}");
	store_get_stats(s, &st0);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		pod(s, "ns", name, "\"app\":\"x\",\"uniq\":\"v-0\"",
		    "\"k8s.v1.cni.cncf.io/networks\":\"m\"", "n1", "", "", "Running");
		policy(s, "ns", name, FOR, "{\"podSelector\":{},\"ingress\":[{}]}");
	}
	store_get_stats(s, &st1);
	assert_int_equal(st1.pods, 200);
	assert_int_equal(st1.policies, 200);
	assert_true(st1.bytes > st0.bytes);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(store_delete(s, KIND_POD, "ns", name), 0);
		assert_int_equal(store_delete(s, KIND_POLICY, "ns", name), 0);
	}
	store_get_stats(s, &st2);
	assert_int_equal(st2.pods, 0);
	assert_int_equal(st2.namespaces, 1); /* "ns" went with its last pod and policy */
	assert_int_equal(st2.strings, st0.strings);
	/* Index arrays stay grown; objects and strings are gone. */
	print_message("store bytes: empty %zu, 200 pods+policies %zu, after deleting %zu\n",
		      st0.bytes, st1.bytes, st2.bytes);
	assert_true(st2.bytes < st0.bytes + 16384);
	assert_true(st2.bytes - st0.bytes < (st1.bytes - st0.bytes) / 8);
	store_free(s);
}

static void test_parse_cidr(void **state)
{
	struct store_cidr c;
	assert_int_equal(parse_cidr("10.1.2.3/16", 11, &c), 0);
	assert_int_equal(c.addr[2], 0);
	assert_int_equal(c.addr[1], 1);
	assert_int_equal(parse_cidr("::/0", 4, &c), 0);
	assert_int_equal(c.family, 6);
	assert_int_equal(parse_cidr("fd00::1/129", 11, &c), -1);
	assert_int_equal(parse_cidr("10.0.0.0/", 9, &c), -1);
	assert_int_equal(parse_cidr("10.0.0.0/08", 11, &c), -1);
	assert_int_equal(parse_cidr("10.0.0.0/-1", 11, &c), -1);
	assert_int_equal(parse_cidr("0.0.0.0/0", 9, &c), 0);
	assert_int_equal(parse_cidr("1.2.3.4/32", 10, &c), 0);
	assert_int_equal(c.addr[3], 4);
}

/* A kept pod keeps no list of its string references: they are found again by walking its
 * fields when it goes (one whose fields do not show them all, like a refused interface name,
 * keeps the list). Either way every string is given back. */
static void test_walked_strings(void **state)
{
	struct store *s = store_new("n1");
	struct kube_sink k = store_sink(s);
	struct store_stats st0, st;
	const struct pod_rec *r;
	char buf[2048];

	store_get_stats(s, &st0);
	pod(s, "ns", "a", "\"app\":\"a\",\"tier\":\"web\"",
	    "\"k8s.v1.cni.cncf.io/networks\":\"m@net1\"," STATUS_BOTH, "n1", "",
	    "{\"name\":\"http\",\"containerPort\":80}", "Running");
	r = (const struct pod_rec *)(const void *)store_pod_get(s, "ns", "a");
	assert_non_null(r);
	assert_true(r->mem.walked);
	assert_int_equal(r->mem.nheld, 0);
	/* an interface name that is no Linux name: interned, but no field holds it */
	pod(s, "ns", "b", "\"app\":\"b\"",
	    "\"k8s.v1.cni.cncf.io/networks\":\"m@not/an/ifname\"," STATUS_M, "n2", "", "",
	    "Running");
	r = (const struct pod_rec *)(const void *)store_pod_get(s, "ns", "b");
	assert_non_null(r);
	assert_false(r->mem.walked);
	assert_true(r->mem.nheld > 0);
	/* replaced (labels change), then deleted: the walk gives back what the decode took */
	pod(s, "ns", "a", "\"app\":\"a2\"", "\"k8s.v1.cni.cncf.io/networks\":\"m@net1\","
	    STATUS_BOTH, "n1", "", "{\"name\":\"http\",\"containerPort\":80}", "Running");
	for (int i = 0; i < 2; i++) {
		snprintf(buf, sizeof(buf), POD_FMT, i ? "b" : "a", "ns", i ? "b" : "a", "", "", "n1",
			 "", "", "Running");
		assert_int_equal(k.object(k.ctx, KIND_POD, EV_DELETED, buf, strlen(buf)), 0);
	}
	store_get_stats(s, &st);
	assert_int_equal(st.pods, 0);
	assert_int_equal(st.strings, st0.strings);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_fields),
	    cmocka_unit_test(test_pod_locality),
	    cmocka_unit_test(test_networks_forms),
	    cmocka_unit_test(test_reject_whole_object),
	    cmocka_unit_test(test_nad),
	    cmocka_unit_test(test_policy_decode),
	    cmocka_unit_test(test_policy_bad_pieces),
	    cmocka_unit_test(test_policy_invalid_selector),
	    cmocka_unit_test(test_policy_types),
	    cmocka_unit_test(test_policy_wrong_types),
	    cmocka_unit_test(test_sidecar_ports),
	    cmocka_unit_test(test_interface_names),
	    cmocka_unit_test(test_dirty_tracking),
	    cmocka_unit_test(test_sink_replace),
	    cmocka_unit_test(test_sink_replace_other_kinds),
	    cmocka_unit_test(test_memory_freed),
	    cmocka_unit_test(test_pod_slimming),
	    cmocka_unit_test(test_relist_slim),
	    cmocka_unit_test(test_file_keeps_all),
	    cmocka_unit_test(test_pod_index_by_text),
	    cmocka_unit_test(test_unchanged_update),
	    cmocka_unit_test(test_parse_cidr),
	    cmocka_unit_test(test_walked_strings),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
