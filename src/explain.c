/* explain: whether a new connection between two endpoints is allowed on a secondary network, and
 * why. Both pods' rulesets are computed exactly as the agent computes them (each in a store whose
 * node is the pod's own) and walked with ruleset_evaluate: no second reading of the semantics. */
#include "explain.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flags.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/reflector.h"
#include "policy/policy.h"
#include "policy/verdict.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/log.h"

/* Where the objects come from: a file (--objects), or the cluster of --kubeconfig listed once
 * into memory (each object's text and kind), so that every store below reads the same. */
struct source {
	const char *file;
	struct fetched {
		enum kube_kind kind;
		char *json;
		size_t len;
	} * v;
	size_t n, cap;
};

static int fetched_object(void *ctx, enum kube_kind kind, enum kube_event ev, const char *json,
			  size_t len)
{
	struct source *src = ctx;
	if (ev == EV_DELETED)
		return 0;
	if (src->n == src->cap) {
		size_t cap = src->cap ? 2 * src->cap : 256;
		struct fetched *v = realloc(src->v, cap * sizeof(*v));
		if (!v)
			return -1;
		src->v = v;
		src->cap = cap;
	}
	char *copy = malloc(len);
	if (!copy)
		return -1;
	memcpy(copy, json, len);
	src->v[src->n++] = (struct fetched){kind, copy, len};
	return 0;
}

static void fetched_replace(void *ctx, enum kube_kind kind)
{
}

static bool all_synced(void *ctx)
{
	struct kube_reflector **r = ctx;
	for (int k = 0; k < KIND_COUNT; k++)
		if (!kube_reflector_synced(r[k]))
			return false;
	return true;
}

/* Lists the four kinds once from the API server into src. */
static int fetch(struct source *src, const struct flags *f, char *err, size_t errcap)
{
	struct kube_config cfg;
	struct kube_reflector *r[KIND_COUNT] = {0};
	int rc = -1;
	if (kube_config_load(&cfg, f->kubeconfig, NULL, err, errcap) < 0)
		return -1;
	struct kube_client *c = kube_client_new(&cfg, err, errcap);
	if (!c) {
		kube_config_free(&cfg);
		return -1;
	}
	struct kube_sink sink = {src, fetched_object, fetched_replace, fetched_replace};
	for (int k = 0; k < KIND_COUNT; k++)
		if (!(r[k] = kube_reflector_new(c, (enum kube_kind)k, &sink, NULL))) {
			snprintf(err, errcap, "out of memory");
			goto out;
		}
	if (kube_reflectors_run(r, KIND_COUNT, all_synced, r, 60000) < 0) {
		snprintf(err, errcap, "listing the cluster's objects took over 60 s (see the log)");
		goto out;
	}
	rc = 0;
out:
	for (int k = 0; k < KIND_COUNT; k++)
		kube_reflector_free(r[k]);
	kube_client_free(c);
	return rc;
}

/* A store of every object, for the node given ("" for none). */
static struct store *load(const struct source *src, const char *node, char *err, size_t errcap)
{
	struct store *s = store_new(node);
	if (!s) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	if (src->file && store_load_file(s, src->file, err, errcap) < 0) {
		store_free(s);
		return NULL;
	}
	for (size_t i = 0; !src->file && i < src->n; i++)
		store_upsert_json(s, src->v[i].kind, src->v[i].json, src->v[i].len);
	return s;
}

static void source_free(struct source *src)
{
	for (size_t i = 0; i < src->n; i++)
		free(src->v[i].json);
	free(src->v);
}

/* One end of the connection: a pod (found by name or by one of its addresses) or an address. */
struct endpoint {
	const char *arg;
	char ns[256], name[256]; /* the pod, or name[0] == 0 */
	bool has_addr;		 /* given as an address */
	struct store_ip addr;
	struct store *s; /* the store whose node is the pod's (owned) */
	const struct store_pod *pod;
	struct pod_ruleset rs;
	struct arena a;
};

static int parse_addr(const char *text, struct store_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, text, ip->addr) == 1)
		return ip->family = 4, 0;
	if (inet_pton(AF_INET6, text, ip->addr) == 1)
		return ip->family = 6, 0;
	return -1;
}

static bool ip_eq(const struct store_ip *a, const struct store_ip *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);
}

static void ip_text(const struct store_ip *ip, char *buf, size_t cap)
{
	inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)cap);
}

/* The pod owning addr on some network, or NULL. */
static const struct store_pod *pod_by_addr(const struct store *s, const struct store_ip *addr)
{
	for (const struct store_ns *ns = store_ns_first(s); ns; ns = ns->next)
		for (const struct store_pod *p = ns->pods; p; p = p->ns_next)
			for (uint32_t i = 0; i < p->nstatus; i++)
				for (uint32_t k = 0; k < p->status[i].nips; k++)
					if (ip_eq(&p->status[i].ips[k], addr) && !p->terminated)
						return p;
	return NULL;
}

static int resolve(struct endpoint *e, const struct store *all)
{
	const char *slash = strchr(e->arg, '/');
	if (parse_addr(e->arg, &e->addr) == 0) {
		e->has_addr = true;
		const struct store_pod *p = pod_by_addr(all, &e->addr);
		if (p) {
			snprintf(e->ns, sizeof(e->ns), "%s", p->ns);
			snprintf(e->name, sizeof(e->name), "%s", p->name);
		}
		return 0;
	}
	if (!slash || slash == e->arg || !slash[1] || (size_t)(slash - e->arg) >= sizeof(e->ns)) {
		fprintf(stderr, "explain: \"%s\" is neither NS/POD nor an address\n", e->arg);
		return -1;
	}
	snprintf(e->ns, sizeof(e->ns), "%.*s", (int)(slash - e->arg), e->arg);
	snprintf(e->name, sizeof(e->name), "%s", slash + 1);
	if (!store_pod_get(all, e->ns, e->name)) {
		fprintf(stderr, "explain: pod %s not found\n", e->arg);
		return -1;
	}
	return 0;
}

static const struct store_net_status *status_on(const struct store_pod *p, const char *net)
{
	for (uint32_t i = 0; p && i < p->nstatus; i++)
		if (!strcmp(p->status[i].network, net))
			return &p->status[i];
	return NULL;
}

/* The pod's first address of that family on net. */
static bool addr_on(const struct store_pod *p, const char *net, int family, struct store_ip *out)
{
	const struct store_net_status *st = status_on(p, net);
	for (uint32_t k = 0; st && k < st->nips; k++)
		if (st->ips[k].family == family)
			return *out = st->ips[k], true;
	return false;
}

/* The network both ends use: --network, else the one secondary network (one with a NAD) the
 * pods share. NULL with a message when there is none or several. */
static const char *pick_network(const struct store *all, const struct flags *f,
				const struct store_pod *from, const struct store_pod *to, char *buf,
				size_t cap)
{
	if (f->network) {
		if (!strchr(f->network, '/')) {
			fprintf(stderr, "explain: --network %s: give it as NS/NAD\n", f->network);
			return NULL;
		}
		return f->network;
	}
	const struct store_pod *a = to ? to : from, *b = to ? from : NULL;
	const char *found = NULL;
	int n = 0;
	for (uint32_t i = 0; a && i < a->nstatus; i++) {
		const char *net = a->status[i].network;
		if (b && !status_on(b, net))
			continue;
		if (!a->status[i].nips || !store_nad_get_key(all, net))
			continue; /* no address there, or the default network (it has no NAD) */
		if (n++ == 0)
			found = net;
	}
	if (n == 1) {
		snprintf(buf, cap, "%s", found);
		return buf;
	}
	fprintf(stderr, "explain: %s; name it with --network NS/NAD\n",
		n ? "the endpoints share several networks" : "no network found that both ends are on");
	return NULL;
}

static int parse_port(const char *text, struct ir_packet *p)
{
	const char *slash = strchr(text, '/'), *num = slash ? slash + 1 : text;
	p->l4proto = IPPROTO_TCP;
	if (slash) {
		size_t n = (size_t)(slash - text);
		if (n == 3 && !strncasecmp(text, "tcp", 3))
			p->l4proto = IPPROTO_TCP;
		else if (n == 3 && !strncasecmp(text, "udp", 3))
			p->l4proto = IPPROTO_UDP;
		else if (n == 4 && !strncasecmp(text, "sctp", 4))
			p->l4proto = IPPROTO_SCTP;
		else
			return -1;
	}
	char *end;
	long v = strtol(num, &end, 10);
	if (!*num || *end || v < 1 || v > 65535)
		return -1;
	p->dport = (uint16_t)v;
	p->sport = 40000; /* an ephemeral source port */
	return 0;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

static int load_for_node(struct endpoint *e, const struct source *src, const struct store *all,
			 const struct policy_opts *o)
{
	char err[512];
	const struct store_pod *p = store_pod_get(all, e->ns, e->name);
	if (!p || !(e->s = load(src, p->node, err, sizeof(err))) ||
	    !(e->pod = store_pod_get(e->s, e->ns, e->name)))
		return -1;
	if (pod_ruleset_compute(e->s, e->pod, o, &e->a, &e->rs) < 0)
		return -1;
	return 0;
}

/* One direction's line; returns whether that side lets the packet through. */
static bool report(const char *dirname, const struct endpoint *e, const char *net,
		   enum ir_dir dir, const struct ir_packet *pkt, const struct endpoint *peer)
{
	char who[520];
	snprintf(who, sizeof(who), "%s/%s", e->ns, e->name);
	if (!e->name[0]) {
		printf("%-7s %s: not a pod: nothing of the agent's there\n", dirname, e->arg);
		return true;
	}
	if (!e->pod || !e->pod->local) {
		printf("%-7s %s: not policed: the pod is hostNetwork or terminated\n", dirname, who);
		return true;
	}
	struct ir_trace t;
	ruleset_evaluate(&e->rs, net, dir, pkt, &t);
	if (!t.chain) {
		printf("%-7s %s: not policed: no policy selects it for %s on %s\n", dirname, who,
		       dirname, net);
		return true;
	}
	if (t.rule >= t.chain->nrules) {
		printf("%-7s %s: allowed: chain %s has no final drop\n", dirname, who,
		       t.chain->name);
		return true;
	}
	const struct ir_rule *r = &t.chain->rules[t.rule];
	if (r->verdict == IR_DROP && r->addr_match == IR_ADDR_NONE && !r->l4proto && !r->family) {
		printf("%-7s %s: denied: no rule of the policies selecting it on %s (%s) accepts "
		       "it:",
		       dirname, who, t.chain->ifname, net);
		for (uint32_t i = 0; i < t.chain->npolicies; i++)
			printf("%s %s", i ? "," : "", t.chain->policies[i]);
		if (!t.chain->npolicies)
			printf(" none (its network-status entry is malformed: isolated)");
		printf("; chain %s ends in drop\n", t.chain->name);
		return false;
	}
	char peerdesc[600] = "any peer";
	if (r->addr_match == IR_ADDR_SET && r->addr_set < e->rs.nsets) {
		char pw[520] = "";
		if (peer->name[0])
			snprintf(pw, sizeof(pw), "%s/%s, ", peer->ns, peer->name);
		snprintf(peerdesc, sizeof(peerdesc), "peer %sin set %s", pw,
			 e->rs.sets[r->addr_set].name);
	} else if (r->addr_match == IR_ADDR_PREFIX) {
		struct store_ip ip = {.family = r->family};
		char a[64];
		memcpy(ip.addr, r->prefix, 16);
		ip_text(&ip, a, sizeof(a));
		snprintf(peerdesc, sizeof(peerdesc), "peer %s/%u", a, r->prefix_len);
	}
	const char *verdict = r->verdict == IR_ACCEPT ? "allowed" : "denied";
	if (r->comment)
		printf("%-7s %s: %s by policy %s, %s rule %u, %s (chain %s, rule %u)\n", dirname,
		       who, verdict, r->comment, dirname, r->rule_no, peerdesc, t.chain->name,
		       t.rule + 1);
	else
		printf("%-7s %s: %s by a custom or ICMP rule given by flag, %s (chain %s, rule %u)\n",
		       dirname, who, verdict, peerdesc, t.chain->name, t.rule + 1);
	return r->verdict == IR_ACCEPT;
}

int explain_main(int argc, char **argv)
{
	struct flags f;
	struct policy_opts opts;
	struct endpoint from = {0}, to = {0};
	struct ir_packet pkt = {0};
	struct store *all = NULL;
	struct source src = {0};
	char err[512], netbuf[512];
	int rc = 1;

	if (flags_parse(&f, FLAGS_EXPLAIN, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "explain: %s (see explain --help)\n", err);
		flags_free(&f);
		return 2;
	}
	if (f.help || f.version) {
		flags_usage(stdout, FLAGS_EXPLAIN);
		flags_free(&f);
		return 0;
	}
	log_verbosity = f.verbosity;
	log_format = f.log_json ? LOG_JSON : LOG_TEXT;
	if (parse_port(f.port, &pkt) < 0) {
		fprintf(stderr, "explain: --port %s: expected [tcp|udp|sctp/]1-65535\n", f.port);
		flags_free(&f);
		return 2;
	}
	if (policy_opts_init(&opts, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "explain: %s\n", err);
		flags_free(&f);
		return 1;
	}
	from.arg = f.from;
	to.arg = f.to;
	src.file = f.objects;
	if (!src.file && fetch(&src, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "explain: %s\n", err);
		goto out;
	}
	if (!(all = load(&src, "", err, sizeof(err)))) {
		fprintf(stderr, "explain: %s\n", err);
		goto out;
	}
	if (resolve(&from, all) < 0 || resolve(&to, all) < 0)
		goto out;
	if (!from.name[0] && !to.name[0]) {
		fprintf(stderr, "explain: neither end is a pod: the agent polices pods only\n");
		goto out;
	}
	const char *net =
	    pick_network(all, &f, from.name[0] ? store_pod_get(all, from.ns, from.name) : NULL,
			 to.name[0] ? store_pod_get(all, to.ns, to.name) : NULL, netbuf,
			 sizeof(netbuf));
	if (!net)
		goto out;
	for (struct endpoint *e = &from; e; e = e == &from ? &to : NULL)
		if (e->name[0] && load_for_node(e, &src, all, &opts) < 0) {
			fprintf(stderr, "explain: pod %s/%s: could not compute its ruleset\n", e->ns,
				e->name);
			goto out;
		}
	/* The family: asked for, else the given address's, else IPv4 when both ends have one. */
	int family = f.family;
	if (!family && from.has_addr)
		family = from.addr.family;
	if (!family && to.has_addr)
		family = to.addr.family;
	if (!family) {
		struct store_ip x;
		bool v4 = (!from.pod || addr_on(from.pod, net, 4, &x)) &&
			  (!to.pod || addr_on(to.pod, net, 4, &x));
		family = v4 ? 4 : 6;
	}
	pkt.family = (uint8_t)family;
	struct endpoint *ends[2] = {&from, &to};
	uint8_t *slots[2] = {pkt.saddr, pkt.daddr};
	for (int i = 0; i < 2; i++) {
		struct endpoint *e = ends[i];
		struct store_ip ip;
		if (e->has_addr) {
			ip = e->addr;
		} else if (!addr_on(e->pod, net, family, &ip)) {
			fprintf(stderr, "explain: pod %s/%s has no IPv%d address on %s\n", e->ns,
				e->name, family, net);
			goto out;
		}
		if (ip.family != family) {
			fprintf(stderr, "explain: %s is not an IPv%d address\n", e->arg, family);
			goto out;
		}
		memcpy(slots[i], ip.addr, 16);
		e->addr = ip;
	}
	char fa[64], ta[64];
	ip_text(&from.addr, fa, sizeof(fa));
	ip_text(&to.addr, ta, sizeof(ta));
	printf("connection %s -> %s %s/%u on %s\n", fa, ta, proto_name(pkt.l4proto), pkt.dport, net);
	const struct store_nad *nad = store_nad_get_key(all, net);
	if (!nad || !policy_plugin_in_scope(&opts, nad->plugin_type)) {
		printf("network %s is not policed: %s\nallowed\n", net,
		       !nad ? "no such NetworkAttachmentDefinition"
			    : "its plugin type is not in --network-plugins");
		rc = 0;
		goto out;
	}
	bool ok = report("egress", &from, net, IR_EGRESS, &pkt, &to);
	ok = report("ingress", &to, net, IR_INGRESS, &pkt, &from) && ok;
	printf("%s\n", ok ? "allowed" : "denied");
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		struct endpoint *e = i ? &to : &from;
		arena_free(&e->a);
		store_free(e->s);
	}
	store_free(all);
	source_free(&src);
	policy_opts_free(&opts);
	flags_free(&f);
	return rc;
}
