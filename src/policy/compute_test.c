#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "policy/policy.h"
#include "store/store.h"

/* A compact text form of a ruleset for assertions: one line per set and per rule. */
static void addr_text(uint8_t fam, const uint8_t *a, char *buf, size_t cap)
{
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)cap);
}

static char *dump(const struct pod_ruleset *rs)
{
	static char buf[65536];
	size_t n = 0;
#define P(...) n += (size_t)snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__)
	buf[0] = 0;
	for (uint32_t i = 0; i < rs->nsets; i++) {
		const struct ir_addr_set *s = &rs->sets[i];
		P("set %s:", s->name);
		for (uint32_t k = 0; k < s->n; k++) {
			char lo[64], hi[64];
			addr_text(s->family, s->ranges[k].lo, lo, sizeof(lo));
			addr_text(s->family, s->ranges[k].hi, hi, sizeof(hi));
			if (strcmp(lo, hi) == 0)
				P(" %s", lo);
			else
				P(" %s-%s", lo, hi);
		}
		P("\n");
	}
	for (uint32_t c = 0; c < rs->nchains; c++) {
		const struct ir_chain *ch = &rs->chains[c];
		P("chain %s %s\n", ch->name, ch->ifname);
		for (uint32_t i = 0; i < ch->nrules; i++) {
			const struct ir_rule *r = &ch->rules[i];
			if (r->kind == IR_RULE_CT_ESTABLISHED) {
				P(" ct\n");
				continue;
			}
			if (r->kind == IR_RULE_NDP) {
				if (r->icmpv6_types == IR_NDP_INGRESS)
					P(" ndp-in\n");
				else if (r->icmpv6_types == (IR_NDP_INGRESS | IR_NDP_ROUTER))
					P(" ndp-in+router\n");
				else if (r->icmpv6_types == IR_NDP_EGRESS)
					P(" ndp-out\n");
				else
					P(" ndp 0x%x\n", r->icmpv6_types);
				continue;
			}
			P(" ");
			if (r->family)
				P("v%u ", r->family);
			if (r->addr_match == IR_ADDR_SET)
				P("%s @%s ", r->addr_is_dst ? "daddr" : "saddr",
				  rs->sets[r->addr_set].name);
			if (r->addr_match == IR_ADDR_PREFIX) {
				char a[64];
				addr_text(r->family, r->prefix, a, sizeof(a));
				P("%s %s/%u ", r->addr_is_dst ? "daddr" : "saddr", a,
				  r->prefix_len);
			}
			if (r->l4proto)
				P("%s ", r->l4proto == IPPROTO_TCP	? "tcp"
					 : r->l4proto == IPPROTO_UDP	? "udp"
					 : r->l4proto == IPPROTO_SCTP	? "sctp"
					 : r->l4proto == IPPROTO_ICMP	? "icmp"
					 : r->l4proto == IPPROTO_ICMPV6 ? "icmpv6"
									: "?");
			for (uint32_t k = 0; k < r->nports; k++) {
				if (r->ports[k].lo == r->ports[k].hi)
					P("%s%u", k ? "," : "", r->ports[k].lo);
				else
					P("%s%u-%u", k ? "," : "", r->ports[k].lo, r->ports[k].hi);
			}
			if (r->nports)
				P(" ");
			P("%s", r->verdict == IR_ACCEPT ? "accept" : "drop");
			if (r->comment)
				P(" %s", r->comment);
			P("\n");
		}
	}
	return buf;
#undef P
}

struct fx {
	struct store *s;
	struct policy_opts o;
	struct arena a;
	const char *plugins[2];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->s = store_new("n1");
	f->plugins[0] = "macvlan";
	f->o.plugins = f->plugins;
	f->o.nplugins = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_free(f->s);
	arena_free(&f->a);
	policy_opts_free(&f->o);
	free(f);
	return 0;
}

static void obj(struct fx *f, enum kube_kind k, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(store_upsert_json(f->s, k, buf, strlen(buf)), 0);
}

static void ns(struct fx *f, const char *name, const char *labels)
{
	obj(f, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"%s\",\"labels\":{%s}}}", name, labels);
}

static void nad(struct fx *f, const char *nsn, const char *name, const char *type)
{
	obj(f, KIND_NAD,
	    "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},\"spec\":{\"config\":"
	    "\"{\\\"type\\\":\\\"%s\\\"}\"}}",
	    name, nsn, type);
}

/* A pod on network default/m1 as net1 with the given IPs (JSON list body), on node; metadata
 * gets `extra` (members with a trailing comma, or ""), status the phase. */
static void pod_in(struct fx *f, const char *nsn, const char *name, const char *node,
		   const char *labels, const char *ips, const char *ports, const char *extra,
		   const char *phase)
{
	obj(f, KIND_POD,
	    "{\"metadata\":{%s\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"uid-%s\",\"labels\":{"
	    "%s},\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"default/m1\","
	    "\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":\\\"default/m1\\\","
	    "\\\"interface\\\":\\\"net1\\\",\\\"ips\\\":[%s]}]\"}},\"spec\":{\"nodeName\":\"%s\","
	    "\"containers\":[{\"name\":\"c\",\"ports\":[%s]}]},\"status\":{\"phase\":\"%s\"}}",
	    extra, name, nsn, name, labels, ips, node, ports, phase);
}

static void pod(struct fx *f, const char *nsn, const char *name, const char *node,
		const char *labels, const char *ips, const char *ports)
{
	pod_in(f, nsn, name, node, labels, ips, ports, "", "Running");
}

static void policy(struct fx *f, const char *nsn, const char *name, const char *spec)
{
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"default/m1\"}},\"spec\":%s}",
	    name, nsn, spec);
}

static const char *compute(struct fx *f, const char *nsn, const char *name)
{
	struct pod_ruleset rs;
	const struct store_pod *p = store_pod_get(f->s, nsn, name);
	assert_non_null(p);
	arena_reset(&f->a);
	assert_int_equal(pod_ruleset_compute(f->s, p, &f->o, &f->a, &rs), 0);
	return dump(&rs);
}

/* A small cluster: default/m1 (macvlan); web (local) and client pods. */
static void cluster(struct fx *f)
{
	ns(f, "default", "\"kubernetes.io/metadata.name\":\"default\"");
	ns(f, "db", "\"name\":\"database\"");
	nad(f, "default", "m1", "macvlan");
	pod(f, "default", "web", "n1", "\"app\":\"web\"", "\\\"10.0.0.1\\\",\\\"fd00::1\\\"",
	    "{\"name\":\"http\",\"containerPort\":8080},{\"name\":\"dns\",\"containerPort\":53,"
	    "\"protocol\":\"UDP\"}");
	pod(f, "default", "fe1", "n2", "\"app\":\"fe\"", "\\\"10.0.0.2\\\",\\\"fd00::2\\\"",
	    "{\"name\":\"http\",\"containerPort\":80}");
	pod(f, "default", "fe2", "n2", "\"app\":\"fe\"", "\\\"10.0.0.3\\\"",
	    "{\"name\":\"http\",\"containerPort\":81}");
	pod(f, "default", "other", "n2", "\"app\":\"other\"", "\\\"10.0.0.9\\\"", "");
	pod(f, "db", "db1", "n2", "\"app\":\"db\"", "\\\"10.0.1.1\\\"",
	    "{\"name\":\"http\",\"containerPort\":80}");
	pod(f, "db", "db2", "n2", "\"app\":\"cache\"", "\\\"10.0.1.2\\\"", "");
}

static const char *idle(struct fx *f, const char *nsn, const char *name, char *buf, size_t cap)
{
	const struct store_ns *n = store_ns_get(f->s, nsn);
	for (const struct store_policy *p = n ? n->policies : NULL; p; p = p->ns_next)
		if (!strcmp(p->name, name))
			return policy_idle_reason(f->s, &f->o, p, buf, cap);
	fail_msg("no policy %s/%s", nsn, name);
	return NULL;
}

/* "My policy does nothing": each reason, and none for a policy selecting a local pod; the
 * chains name the policies selecting the pod there. */
static void test_idle_reasons(void **state)
{
	struct fx *f = *state;
	char buf[256];
	cluster(f);
	nad(f, "default", "br", "bridge");
	policy(f, "default", "selects-web", "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}");
	assert_null(idle(f, "default", "selects-web", buf, sizeof buf));
	policy(f, "default", "remote-only", "{\"podSelector\":{\"matchLabels\":{\"app\":\"fe\"}}}");
	assert_string_equal(idle(f, "default", "remote-only", buf, sizeof buf),
			    "no pod on this node matches its podSelector");
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"no-for\",\"namespace\":\"default\"},\"spec\":{"
	    "\"podSelector\":{}}}");
	assert_non_null(strstr(idle(f, "default", "no-for", buf, sizeof buf), "policy-for"));
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"nets\",\"namespace\":\"default\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"default/br,ghost\"}},\"spec\":{\"podSelector\":{}}}");
	assert_string_equal(idle(f, "default", "nets", buf, sizeof buf),
			    "default/br's plugin type bridge is not in --network-plugins; no "
			    "NetworkAttachmentDefinition default/ghost");
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"other-net\",\"namespace\":\"default\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"m2\"}},\"spec\":{\"podSelector\":{}}}");
	nad(f, "default", "m2", "macvlan");
	assert_string_equal(idle(f, "default", "other-net", buf, sizeof buf),
			    "the pods it selects on this node are on none of its networks");

	struct pod_ruleset rs;
	arena_reset(&f->a);
	assert_int_equal(pod_ruleset_compute(f->s, store_pod_get(f->s, "default", "web"), &f->o,
					     &f->a, &rs),
			 0);
	assert_int_equal(rs.nchains, 1);
	assert_int_equal(rs.chains[0].npolicies, 1);
	assert_string_equal(rs.chains[0].policies[0], "default/selects-web");
	assert_string_equal(rs.chains[0].network, "default/m1");
}

static void test_selectors(void **state)
{
	struct fx *f = *state;
	const struct store_ns *n;
	const struct store_policy *p;
	const struct store_pod *pod_web, *pod_fe;

	cluster(f);
	policy(f, "default", "s",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":["
	       "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\","
	       "\"values\":[\"fe\",\"x\"]}]}},"
	       "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\","
	       "\"values\":[\"fe\"]}]}},"
	       "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":"
	       "\"Exists\"}]}},"
	       "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":"
	       "\"DoesNotExist\"}]}},"
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":"
	       "\"app\",\"operator\":\"In\",\"values\":[\"fe\"]}]}},"
	       "{\"podSelector\":{}}]}]}");
	n = store_ns_get(f->s, "default");
	p = n->policies;
	pod_web = store_pod_get(f->s, "default", "web");
	pod_fe = store_pod_get(f->s, "default", "fe1");
	const struct store_peer *pe = p->ingress_rules[0].peers;
	assert_false(selector_matches(pe[0].pod_sel, &pod_web->labels));
	assert_true(selector_matches(pe[0].pod_sel, &pod_fe->labels));
	assert_true(selector_matches(pe[1].pod_sel, &pod_web->labels));
	assert_false(selector_matches(pe[1].pod_sel, &pod_fe->labels));
	assert_true(selector_matches(pe[2].pod_sel, &pod_web->labels));
	assert_false(selector_matches(pe[3].pod_sel, &pod_web->labels));
	assert_true(selector_matches(pe[3].pod_sel, &n->labels));	 /* ns labels have no app */
	assert_false(selector_matches(pe[4].pod_sel, &pod_web->labels)); /* AND of both */
	assert_false(selector_matches(pe[4].pod_sel, &pod_fe->labels));
	assert_true(selector_matches(pe[5].pod_sel, &pod_web->labels)); /* empty: all */
	struct store_selector bad = {.bad = true};
	assert_false(selector_matches(&bad, &pod_web->labels));
}

static void test_untargeted(void **state)
{
	struct fx *f = *state;
	cluster(f);
	assert_string_equal(compute(f, "default", "web"), ""); /* no policy */
	policy(f, "default", "p", "{\"podSelector\":{\"matchLabels\":{\"app\":\"nope\"}}}");
	assert_string_equal(compute(f, "default", "web"), ""); /* selects nothing */
	policy(f, "default", "p", "{\"podSelector\":{}}");
	assert_string_not_equal(compute(f, "default", "web"), "");
	/* The network's plugin is not in --network-plugins: the pod is left alone. */
	nad(f, "default", "m1", "bridge");
	assert_string_equal(compute(f, "default", "web"), "");
	nad(f, "default", "m1", "macvlan");
	/* A policy whose policy-for names another network. */
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"m2\"}},\"spec\":{\"podSelector\":{}}}");
	assert_string_equal(compute(f, "default", "web"), "");
	/* No policy-for at all: not ours. */
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{\"podSelector\":{}}"
	    "}");
	assert_string_equal(compute(f, "default", "web"), "");
}

static void test_web_policy(void **state)
{
	struct fx *f = *state;
	cluster(f);
	policy(f, "default", "web-policy",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"policyTypes\":[\"Ingress\","
	       "\"Egress\"],\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":"
	       "\"fe\"}}},{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\",\"except\":[\"192.168.1.0/"
	       "24\"]}}],\"ports\":[{\"protocol\":\"TCP\",\"port\":8080}]}],\"egress\":[{\"to\":[{"
	       "\"namespaceSelector\":{\"matchLabels\":{\"name\":\"database\"}}}],\"ports\":[{"
	       "\"protocol\":\"TCP\",\"port\":5432}]}]}");
	assert_string_equal(
	    compute(f, "default", "web"),
	    "set ingress-net1-0-v4: 10.0.0.2-10.0.0.3 192.168.0.0-192.168.0.255 "
	    "192.168.2.0-192.168.255.255\n"
	    "set ingress-net1-0-v6: fd00::2\n"
	    "set egress-net1-0-v4: 10.0.1.1-10.0.1.2\n"
	    "chain ingress-net1 net1\n ct\n ndp-in\n"
	    " v4 saddr @ingress-net1-0-v4 tcp 8080 accept default/web-policy\n"
	    " v6 saddr @ingress-net1-0-v6 tcp 8080 accept default/web-policy\n drop\n"
	    "chain egress-net1 net1\n ct\n ndp-out\n"
	    " v4 daddr @egress-net1-0-v4 tcp 5432 accept default/web-policy\n drop\n");
	/* Not local: no table. */
	assert_string_equal(compute(f, "default", "fe1"), "");
}

static void test_policy_types_and_deny_all(void **state)
{
	struct fx *f = *state;
	cluster(f);
	policy(f, "default", "deny", "{\"podSelector\":{}}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
	policy(f, "default", "deny", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain egress-net1 net1\n ct\n ndp-out\n drop\n");
	/* egress rules present: Egress defaults on too; "to" absent means anywhere */
	policy(
	    f, "default", "deny",
	    "{\"podSelector\":{},\"egress\":[{\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}]}");
	assert_string_equal(
	    compute(f, "default", "web"),
	    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n"
	    "chain egress-net1 net1\n ct\n ndp-out\n udp 53 accept default/deny\n drop\n");
	/* allow all: an empty rule */
	policy(f, "default", "deny", "{\"podSelector\":{},\"ingress\":[{}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n accept default/deny\n drop\n");
}

static void test_ports(void **state)
{
	struct fx *f = *state;
	cluster(f);
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":80},{\"port\":81},"
	       "{\"port\":1000,\"endPort\":2000},{\"port\":1500,\"endPort\":2500},{\"port\":"
	       "\"http\"},{\"protocol\":\"UDP\",\"port\":\"dns\"},{\"protocol\":\"UDP\",\"port\":"
	       "\"http\"},{\"port\":\"nosuch\"},{\"protocol\":\"SCTP\"},{\"protocol\":\"SCTP\","
	       "\"port\":7}]}]}");
	/* named ports resolve against the target pod (http/TCP 8080, dns/UDP 53); UDP "http"
	 * does not exist; SCTP protocol-only absorbs SCTP 7; TCP ranges merge. */
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " tcp 80-81,1000-2500,8080 accept default/p\n"
			    " udp 53 accept default/p\n"
			    " sctp accept default/p\n drop\n");
	/* Only an unresolvable named port: the rule matches nothing. */
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":\"x\"}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
	/* Only broken entries: nothing, never "all ports". */
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":0},{\"protocol\":\"ICMP\"}]}"
	       "]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
	/* A broken entry next to a good one: the good one still counts. */
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":99999},{\"port\":22}]}]}");
	assert_string_equal(
	    compute(f, "default", "web"),
	    "chain ingress-net1 net1\n ct\n ndp-in\n tcp 22 accept default/p\n drop\n");
}

static void test_egress_named_ports_grouped(void **state)
{
	struct fx *f = *state;
	cluster(f);
	/* Peers in default: fe1 (http=80), fe2 (http=81), web itself (http=8080), other (no http
	 * port); db1 in another namespace is not selected. The ipBlock gets only the numbered port
	 * and shares a set with the peers whose named port did not resolve. */
	policy(f, "default", "p",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"egress\":[{\"to\":[{"
	       "\"podSelector\":{}},{\"ipBlock\":{\"cidr\":\"172.16.0.0/12\"}}],\"ports\":[{"
	       "\"port\":\"http\"},{\"port\":443}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "set egress-net1-0-v4: 10.0.0.9 172.16.0.0-172.31.255.255\n"
			    "set egress-net1-1-v4: 10.0.0.2\n"
			    "set egress-net1-1-v6: fd00::2\n"
			    "set egress-net1-2-v4: 10.0.0.3\n"
			    "set egress-net1-3-v4: 10.0.0.1\n"
			    "set egress-net1-3-v6: fd00::1\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n"
			    "chain egress-net1 net1\n ct\n ndp-out\n"
			    " v4 daddr @egress-net1-0-v4 tcp 443 accept default/p\n"
			    " v4 daddr @egress-net1-1-v4 tcp 80,443 accept default/p\n"
			    " v6 daddr @egress-net1-1-v6 tcp 80,443 accept default/p\n"
			    " v4 daddr @egress-net1-2-v4 tcp 81,443 accept default/p\n"
			    " v4 daddr @egress-net1-3-v4 tcp 443,8080 accept default/p\n"
			    " v6 daddr @egress-net1-3-v6 tcp 443,8080 accept default/p\n"
			    " drop\n");
}

static void test_peers(void **state)
{
	struct fx *f = *state;
	cluster(f);
	/* namespaceSelector AND podSelector; ns selector alone; empty namespaceSelector: all. */
	policy(
	    f, "default", "a",
	    "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{"
	    "\"name\":\"database\"}},\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}}}]}]}");
	policy(f, "default", "b",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":{}}],\"ports\":"
	       "[{\"port\":1}]}]}");
	policy(f, "default", "c",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{"
	       "\"app\":\"none\"}}}]},{\"from\":[{\"ipBlock\":{\"cidr\":\"bad\"}}]}]}");
	/* Stacked policies in name order; c's peers match nothing, so it emits no accept. */
	assert_string_equal(compute(f, "default", "web"),
			    "set ingress-net1-0-v4: 10.0.1.1\n"
			    "set ingress-net1-1-v4: 10.0.0.1-10.0.0.3 10.0.0.9 10.0.1.1-10.0.1.2\n"
			    "set ingress-net1-1-v6: fd00::1-fd00::2\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " v4 saddr @ingress-net1-0-v4 accept default/a\n"
			    " v4 saddr @ingress-net1-1-v4 tcp 1 accept default/b\n"
			    " v6 saddr @ingress-net1-1-v6 tcp 1 accept default/b\n"
			    " drop\n");
}

/* A pod being deleted (deletionTimestamp set, still in the API) runs until kubelet has stopped
 * its containers: it stays a target (its table stays) and a peer (its addresses stay in the
 * sets) until it is gone. A pod that has terminated (Succeeded or Failed) is no peer. */
static void test_terminating_pods(void **state)
{
	struct fx *f = *state;
	static const char deleting[] = "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\","
				       "\"deletionGracePeriodSeconds\":30,";
	cluster(f);
	policy(f, "default", "a",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"ingress\":[{\"from\":[{"
	       "\"podSelector\":{\"matchLabels\":{\"app\":\"fe\"}}}]}]}");
	char *before = strdup(compute(f, "default", "web"));
	assert_non_null(strstr(before, "set ingress-net1-0-v4: 10.0.0.2-10.0.0.3\n"));
	pod_in(f, "default", "web", "n1", "\"app\":\"web\"", "\\\"10.0.0.1\\\",\\\"fd00::1\\\"", "",
	       deleting, "Running");
	pod_in(f, "default", "fe1", "n2", "\"app\":\"fe\"", "\\\"10.0.0.2\\\",\\\"fd00::2\\\"", "",
	       deleting, "Running");
	const struct store_pod *web = store_pod_get(f->s, "default", "web");
	assert_true(web->deleting && web->local);
	assert_true(store_pod_get(f->s, "default", "fe1")->deleting);
	assert_string_equal(compute(f, "default", "web"), before);
	/* fe2 finished (Succeeded) while still listed: its address leaves the set */
	pod_in(f, "default", "fe2", "n2", "\"app\":\"fe\"", "\\\"10.0.0.3\\\"", "", deleting,
	       "Succeeded");
	assert_non_null(strstr(compute(f, "default", "web"), "set ingress-net1-0-v4: 10.0.0.2\n"));
	free(before);
}

static void test_cache_follows_changes(void **state)
{
	struct fx *f = *state;
	cluster(f);
	policy(f, "default", "p",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"ingress\":[{\"from\":[{"
	       "\"podSelector\":{\"matchLabels\":{\"app\":\"fe\"}}}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "set ingress-net1-0-v4: 10.0.0.2-10.0.0.3\n"
			    "set ingress-net1-0-v6: fd00::2\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " v4 saddr @ingress-net1-0-v4 accept default/p\n"
			    " v6 saddr @ingress-net1-0-v6 accept default/p\n drop\n");
	/* The same again (from the peer cache), then after a peer's labels and address change. */
	assert_string_equal(compute(f, "default", "web"),
			    "set ingress-net1-0-v4: 10.0.0.2-10.0.0.3\n"
			    "set ingress-net1-0-v6: fd00::2\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " v4 saddr @ingress-net1-0-v4 accept default/p\n"
			    " v6 saddr @ingress-net1-0-v6 accept default/p\n drop\n");
	pod(f, "default", "fe1", "n2", "\"app\":\"gone\"", "\\\"10.0.0.2\\\"", "");
	pod(f, "default", "fe2", "n2", "\"app\":\"fe\"", "\\\"10.0.0.7\\\"", "");
	assert_string_equal(compute(f, "default", "web"),
			    "set ingress-net1-0-v4: 10.0.0.7\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " v4 saddr @ingress-net1-0-v4 accept default/p\n drop\n");
	assert_int_equal(store_delete(f->s, KIND_POD, "default", "fe2"), 0);
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
}

static void test_dedup_sets(void **state)
{
	struct fx *f = *state;
	cluster(f);
	policy(f, "default", "a",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{"
	       "\"app\":\"fe\"}}}],\"ports\":[{\"port\":1}]},{\"from\":[{\"ipBlock\":{\"cidr\":"
	       "\"10.0.0.2/31\"}},{\"ipBlock\":{\"cidr\":\"fd00::2/128\"}}],\"ports\":[{\"port\":"
	       "2}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "set ingress-net1-0-v4: 10.0.0.2-10.0.0.3\n"
			    "set ingress-net1-0-v6: fd00::2\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " v4 saddr @ingress-net1-0-v4 tcp 1 accept default/a\n"
			    " v6 saddr @ingress-net1-0-v6 tcp 1 accept default/a\n"
			    " v4 saddr @ingress-net1-0-v4 tcp 2 accept default/a\n"
			    " v6 saddr @ingress-net1-0-v6 tcp 2 accept default/a\n"
			    " drop\n");
}

static void test_icmp_and_custom(void **state)
{
	struct fx *f = *state;
	char err[256];
	const char *v4 = "tcp dport 9999 accept\nip saddr 192.168.100.0/24 accept\n";
	const char *v6 = "ip6 saddr 2001:db8:100::/64 accept\n";

	cluster(f);
	f->o.accept_icmp = true;
	f->o.accept_icmpv6 = true;
	assert_int_equal(custom_rules_parse_text(&f->o.custom[0][IR_INGRESS], "v4", v4, strlen(v4),
						 4, err, sizeof(err)),
			 0);
	assert_int_equal(custom_rules_parse_text(&f->o.custom[1][IR_INGRESS], "v6", v6, strlen(v6),
						 6, err, sizeof(err)),
			 0);
	policy(f, "default", "p", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}");
	assert_string_equal(
	    compute(f, "default", "web"),
	    "chain ingress-net1 net1\n ct\n ndp-in\n v4 icmp accept\n v6 icmpv6 accept\n"
	    " v4 tcp 9999 accept\n v4 saddr 192.168.100.0/24 accept\n"
	    " v6 saddr 2001:db8:100::/64 accept\n drop\n"
	    "chain egress-net1 net1\n ct\n ndp-out\n v4 icmp accept\n v6 icmpv6 accept\n"
	    " drop\n");
}

/* Router advertisements and redirects come in only when asked for; egress never changes. */
static void test_router_advertisements_on_request(void **state)
{
	struct fx *f = *state;
	cluster(f);
	f->o.accept_ipv6_router_advertisements = true;
	policy(f, "default", "p", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in+router\n drop\n"
			    "chain egress-net1 net1\n ct\n ndp-out\n drop\n");
}

static void test_interfaces(void **state)
{
	struct fx *f = *state;
	ns(f, "default", "");
	nad(f, "default", "m1", "macvlan");
	nad(f, "default", "m2", "macvlan");
	nad(f, "default", "br", "bridge");
	/* Two networks in scope, one not; m2 has no network-status yet: its requested name. */
	obj(f, KIND_POD,
	    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"uid\":\"u\",\"annotations\":"
	    "{"
	    "\"k8s.v1.cni.cncf.io/networks\":\"m1,br,m2@data\",\"k8s.v1.cni.cncf.io/"
	    "network-status\":\"[{\\\"name\\\":\\\"default/m1\\\",\\\"interface\\\":\\\"net1\\\","
	    "\\\"ips\\\":[\\\"10.0.0.1\\\"]},{\\\"name\\\":\\\"default/br\\\",\\\"interface\\\":"
	    "\\\"net2\\\"}]\"}},\"spec\":{\"nodeName\":\"n1\"}}");
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"m1,default/"
	    "m2,br\"}},\"spec\":{\"podSelector\":{}}}");
	assert_string_equal(compute(f, "default", "x"),
			    "chain ingress-data data\n ct\n ndp-in\n drop\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
}

/* Unusual policy input never opens traffic. */
static void test_fail_closed_policies(void **state)
{
	struct fx *f = *state;
	cluster(f);
	/* "ingress" is Ingress (EqualFold), not nothing: before, the pod had no table at all. */
	policy(f, "default", "p", "{\"podSelector\":{},\"policyTypes\":[\"ingress\"]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
	/* An unknown type isolates both directions; the valid rules still allow. */
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"policyTypes\":[\"Foo\"],\"ingress\":[{\"ports\":[{\"port\":"
	       "80}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n tcp 80 accept default/p\n drop\n"
			    "chain egress-net1 net1\n ct\n ndp-out\n drop\n");
	/* Wrong-typed from/to/ports/rules allow nothing (absent would allow everything). */
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":\"x\"},{\"from\":{}},{\"ports\":{"
	       "\"port\":80}},\"x\",{\"ports\":[\"x\"]}],\"egress\":[{\"to\":3}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n"
			    "chain egress-net1 net1\n ct\n ndp-out\n drop\n");
	policy(f, "default", "p", "{\"podSelector\":{},\"egress\":\"x\"}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n"
			    "chain egress-net1 net1\n ct\n ndp-out\n drop\n");
	/* An invalid spec.podSelector selects every pod and allows nothing. */
	policy(f, "default", "p",
	       "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\"}]},"
	       "\"ingress\":[{}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
	/* An invalid selector in a peer matches nothing. */
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":"
	       "[]}}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
}

/* A named port that resolves nowhere leaves no rule and no unused set behind; sidecar ports
 * resolve. */
static void test_named_ports_unresolved_and_sidecar(void **state)
{
	struct fx *f = *state;
	cluster(f);
	policy(f, "default", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}],\"ports\":[{"
	       "\"port\":\"nowhere\"}]}]}");
	assert_string_equal(compute(f, "default", "web"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n");
	obj(f, KIND_POD,
	    "{\"metadata\":{\"name\":\"side\",\"namespace\":\"default\",\"uid\":\"u-side\","
	    "\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"default/m1\"}},\"spec\":{"
	    "\"nodeName\":\"n1\",\"initContainers\":[{\"name\":\"proxy\",\"restartPolicy\":"
	    "\"Always\",\"ports\":[{\"name\":\"nowhere\",\"containerPort\":15001}]},{\"name\":"
	    "\"setup\",\"ports\":[{\"name\":\"nowhere\",\"containerPort\":99}]}],\"containers\":"
	    "[{\"name\":\"c\"}]}}");
	assert_string_equal(compute(f, "default", "side"),
			    "set ingress-net1-0-v4: 10.0.0.1-10.0.0.3 10.0.0.9\n"
			    "set ingress-net1-0-v6: fd00::1-fd00::2\n"
			    "chain ingress-net1 net1\n ct\n ndp-in\n"
			    " v4 saddr @ingress-net1-0-v4 tcp 15001 accept default/p\n"
			    " v6 saddr @ingress-net1-0-v6 tcp 15001 accept default/p\n drop\n");
}

static void status_pod(struct fx *f, const char *name, const char *nets, const char *status)
{
	obj(f, KIND_POD,
	    "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\","
	    "\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":\"%s\",\"k8s.v1.cni.cncf.io/"
	    "network-status\":\"[%s]\"}},\"spec\":{\"nodeName\":\"n1\"}}",
	    name, name, nets, status);
}

#define ST(net, ifn) "{\\\"name\\\":\\\"" net "\\\",\\\"interface\\\":\\\"" ifn "\\\"}"

/* Interfaces are never skipped silently: out-of-scope entries take no room, a malformed entry
 * isolates its interface, too many policed interfaces isolate them all. */
static void test_interface_fail_closed(void **state)
{
	struct fx *f = *state;
	char st[16384], nets[4096], pol[4096];
	size_t n = 0, m = 0;

	ns(f, "default", "");
	nad(f, "default", "m1", "macvlan");
	nad(f, "default", "m2", "macvlan");
	policy(f, "default", "p", "{\"podSelector\":{}}");
	/* 40 out-of-scope entries (the default network, unknown NADs) before the policed one. */
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(st + n, sizeof(st) - n,
				      "{\\\"name\\\":\\\"other%d\\\","
				      "\\\"interface\\\":\\\"o%d\\\"},",
				      i, i);
	snprintf(st + n, sizeof(st) - n, ST("default/m1", "net41"));
	status_pod(f, "many", "", st);
	assert_string_equal(compute(f, "default", "many"),
			    "chain ingress-net41 net41\n ct\n ndp-in\n drop\n");
	/* An empty interface falls back like an absent one: the networks annotation's name. */
	status_pod(f, "empty", "m1@data", ST("default/m1", ""));
	assert_string_equal(compute(f, "default", "empty"),
			    "chain ingress-data data\n ct\n ndp-in\n drop\n");
	/* An invalid name isolates that interface in both directions (named from the networks
	 * annotation); the other one keeps its policy. */
	policy(f, "default", "p", "{\"podSelector\":{},\"ingress\":[{}]}");
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"m1,m2\"}},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{}]}}");
	status_pod(f, "badname", "m1,m2", ST("default/m1", "a b") "," ST("default/m2", "net2"));
	assert_string_equal(compute(f, "default", "badname"),
			    "chain ingress-net1 net1\n ct\n ndp-in\n drop\n"
			    "chain egress-net1 net1\n ct\n ndp-out\n drop\n"
			    "chain ingress-net2 net2\n ct\n ndp-in\n accept default/p\n drop\n");
	/* Not in the networks annotation: its interface cannot be named, all are isolated. */
	status_pod(f, "unnamed", "m2", ST("default/m1", "..") "," ST("default/m2", "net2"));
	assert_string_equal(compute(f, "default", "unnamed"),
			    "chain ingress-net2 net2\n ct\n ndp-in\n drop\n"
			    "chain egress-net2 net2\n ct\n ndp-out\n drop\n");
	/* 33 policed interfaces: more than supported, every one isolated. */
	n = m = 0;
	m += (size_t)snprintf(pol + m, sizeof(pol) - m, "m1");
	for (int i = 0; i < 33; i++) {
		char name[16];
		snprintf(name, sizeof(name), "x%d", i);
		nad(f, "default", name, "macvlan");
		n += (size_t)snprintf(st + n, sizeof(st) - n,
				      "%s{\\\"name\\\":\\\"%s\\\","
				      "\\\"interface\\\":\\\"if%02d\\\"}",
				      i ? "," : "", name, i);
		m += (size_t)snprintf(pol + m, sizeof(pol) - m, ",%s", name);
	}
	obj(f, KIND_POLICY,
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"annotations\":{"
	    "\"k8s.v1.cni.cncf.io/policy-for\":\"%s\"}},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{}]}}",
	    pol);
	snprintf(nets, sizeof(nets), "x0");
	status_pod(f, "toomany", nets, st);
	{
		const char *out = compute(f, "default", "toomany");
		assert_non_null(strstr(out, "chain ingress-if00 if00\n ct\n ndp-in\n drop\n"
					    "chain egress-if00 if00\n ct\n ndp-out\n drop\n"));
		assert_non_null(strstr(out, "chain egress-if32 if32\n ct\n ndp-out\n drop\n"));
		assert_null(strstr(out, "accept"));
	}
}

/* The pod's other interfaces from network-status are listed as exempt (nft/ never takes them
 * for links stacked on a policed one): a NAD the policy does not name, one out of scope; the
 * policed ones are not, and a pod without chains lists none. */
static void test_exempt_interfaces(void **state)
{
	struct fx *f = *state;
	struct pod_ruleset rs;
	ns(f, "default", "");
	nad(f, "default", "m1", "macvlan");
	nad(f, "default", "m2", "macvlan");
	nad(f, "default", "br", "bridge");
	policy(f, "default", "p", "{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}}}");
	obj(f, KIND_POD,
	    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"uid\":\"u\","
	    "\"labels\":{\"app\":\"x\"},\"annotations\":{\"k8s.v1.cni.cncf.io/networks\":"
	    "\"m1,m2,br\",\"k8s.v1.cni.cncf.io/network-status\":\"[%s]\"}},\"spec\":{"
	    "\"nodeName\":\"n1\"}}",
	    ST("default/m2", "net2") "," ST("default/m1", "net1") "," ST("default/br", "net3") ","
		ST("default/m2", "net2"));
	status_pod(f, "y", "m1,m2", ST("default/m1", "net1") "," ST("default/m2", "net2"));
	arena_reset(&f->a);
	assert_int_equal(
	    pod_ruleset_compute(f->s, store_pod_get(f->s, "default", "x"), &f->o, &f->a, &rs), 0);
	assert_int_equal(rs.nchains, 1);
	assert_int_equal(rs.nexempt, 2);
	assert_string_equal(rs.exempt[0], "net2");
	assert_string_equal(rs.exempt[1], "net3");
	assert_int_equal(
	    pod_ruleset_compute(f->s, store_pod_get(f->s, "default", "y"), &f->o, &f->a, &rs), 0);
	assert_int_equal(rs.nchains, 0);
	assert_int_equal(rs.nexempt, 0);
}

static void test_deterministic(void **state)
{
	struct fx *f = *state;
	struct fx g = {0};
	char first[65536];
	const char *plugins[] = {"macvlan"};

	cluster(f);
	policy(
	    f, "default", "b",
	    "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":{}}]}],\"egress\""
	    ":[{\"to\":[{\"podSelector\":{}}],\"ports\":[{\"port\":\"http\"}]}]}");
	policy(f, "default", "a",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}]}]}");
	snprintf(first, sizeof(first), "%s", compute(f, "default", "web"));

	/* The same objects in another order give the same ruleset. */
	g.s = store_new("n1");
	g.o.plugins = plugins;
	g.o.nplugins = 1;
	policy(&g, "default", "a",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}]}]}");
	pod(&g, "db", "db2", "n2", "\"app\":\"cache\"", "\\\"10.0.1.2\\\"", "");
	pod(&g, "default", "other", "n2", "\"app\":\"other\"", "\\\"10.0.0.9\\\"", "");
	pod(&g, "default", "fe2", "n2", "\"app\":\"fe\"", "\\\"10.0.0.3\\\"",
	    "{\"name\":\"http\",\"containerPort\":81}");
	policy(
	    &g, "default", "b",
	    "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":{}}]}],\"egress\""
	    ":[{\"to\":[{\"podSelector\":{}}],\"ports\":[{\"port\":\"http\"}]}]}");
	pod(&g, "db", "db1", "n2", "\"app\":\"db\"", "\\\"10.0.1.1\\\"",
	    "{\"name\":\"http\",\"containerPort\":80}");
	pod(&g, "default", "fe1", "n2", "\"app\":\"fe\"", "\\\"10.0.0.2\\\",\\\"fd00::2\\\"",
	    "{\"name\":\"http\",\"containerPort\":80}");
	pod(&g, "default", "web", "n1", "\"app\":\"web\"", "\\\"10.0.0.1\\\",\\\"fd00::1\\\"",
	    "{\"name\":\"http\",\"containerPort\":8080},{\"name\":\"dns\",\"containerPort\":53,"
	    "\"protocol\":\"UDP\"}");
	nad(&g, "default", "m1", "macvlan");
	ns(&g, "db", "\"name\":\"database\"");
	ns(&g, "default", "\"kubernetes.io/metadata.name\":\"default\"");
	assert_string_equal(compute(&g, "default", "web"), first);
	store_free(g.s);
	arena_free(&g.a);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_selectors),
	    T(test_untargeted),
	    T(test_web_policy),
	    T(test_policy_types_and_deny_all),
	    T(test_ports),
	    T(test_egress_named_ports_grouped),
	    T(test_peers),
	    T(test_terminating_pods),
	    T(test_dedup_sets),
	    T(test_icmp_and_custom),
	    T(test_router_advertisements_on_request),
	    T(test_idle_reasons),
	    T(test_interfaces),
	    T(test_exempt_interfaces),
	    T(test_deterministic),
	    T(test_cache_follows_changes),
	    T(test_fail_closed_policies),
	    T(test_named_ports_unresolved_and_sidecar),
	    T(test_interface_fail_closed),
	};
	return cmocka_run_group_tests_name("compute", tests, NULL, NULL);
}
