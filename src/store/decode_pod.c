/* The pod decoder: networks requested and attached (network-status), container ports. */
#include "store/decode.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A name Linux accepts for an interface (dev_valid_name) that is also safe to quote in a rule:
 * 1..15 bytes, not "." or "..", no '/', ':', whitespace, control characters, quotes or
 * backslash. */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch == 0x7f || strchr("/:\"'`\\", ch))
			return false;
	}
	return true;
}

/* The interface name of an annotation entry: NULL for "" (the default applies, as when it is
 * absent) and for a name that is not a valid one (*bad set, logged naming the pod and field). */
static const char *entry_ifname(struct ctx *c, const char *ifname, const char *ann,
				const char *network, bool *bad)
{
	if (!ifname || !ifname[0])
		return NULL;
	if (valid_ifname(ifname))
		return ifname;
	DLOG(c->s, LOG_ERROR,
	     "Pod %s/%s: annotation %s: the interface of network %s is not a valid interface "
	     "name; the pod is isolated on that network",
	     c->ns, c->name, ann, network);
	*bad = true;
	return NULL;
}

/* k8s.v1.cni.cncf.io/networks: "a, ns/b, c@eth9" or a JSON list of {name, namespace, interface}. */
static int decode_networks(struct ctx *c, const char *v, size_t len, struct store_pod *p)
{
	struct store_net_ref *refs;
	size_t cap = 1, i;
	uint32_t n = 0;

	decode_trim(&v, &len);
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		cap += v[i] == ',';
	if (v[0] == '[') {
		struct json j;
		jsmntok_t *tok;
		int k, rc = -1;
		if (decode_nested(&j, v, len, &tok) < 0 || !json_is_array(&j, 0))
			goto out;
		refs = mem_alloc(c->m, decode_count(&j, 0) * sizeof(*refs));
		if (!refs)
			goto out;
		for (k = json_first(&j, 0); k >= 0; k = json_next(&j, 0, k)) {
			char name[256], nsb[256];
			int nl = json_str(&j, json_get(&j, k, "name"), name, sizeof(name));
			int ni = json_get(&j, k, "namespace");
			int ifi = json_get(&j, k, "interface");
			if (nl <= 0 || memchr(name, '/', (size_t)nl))
				goto out;
			if (ni >= 0 && json_str(&j, ni, nsb, sizeof(nsb)) <= 0)
				goto out;
			refs[n].network =
			    decode_net_key(c, ni >= 0 ? nsb : p->ns, name, (size_t)nl);
			if (!refs[n].network)
				goto out;
			if (ifi >= 0) {
				const char *ifn = decode_str(c, &j, ifi);
				if (!ifn)
					goto out;
				refs[n].ifname = entry_ifname(c, ifn, ANN_NETWORKS, refs[n].network,
							      &refs[n].bad);
			}
			n++;
		}
		rc = 0;
	out:
		free(tok);
		if (rc < 0)
			return -1;
	} else {
		refs = mem_alloc(c->m, cap * sizeof(*refs));
		if (!refs)
			return -1;
		while (len) {
			const char *comma = memchr(v, ',', len), *at;
			size_t el = comma ? (size_t)(comma - v) : len, nl;
			const char *e = v;
			decode_trim(&e, &el);
			at = memchr(e, '@', el);
			nl = at ? (size_t)(at - e) : el;
			refs[n].network = decode_net_key(c, p->ns, e, nl);
			if (!refs[n].network || (at && nl + 1 == el))
				return -1;
			if (at) {
				const char *ifn = mem_intern(c->s, c->m, at + 1, el - nl - 1);
				if (!ifn)
					return -1;
				refs[n].ifname = entry_ifname(c, ifn, ANN_NETWORKS, refs[n].network,
							      &refs[n].bad);
			}
			n++;
			if (!comma)
				break;
			len -= (size_t)(comma - v) + 1;
			v = comma + 1;
		}
	}
	p->nnets = n;
	p->nets = refs;
	return 0;
}

/* The cluster network is not a secondary network: no policy of ours applies there and its
 * addresses are in no peer set (so pods with only this entry need not be kept at all). */
static bool is_default_entry(const struct json *j, int k)
{
	bool dflt;
	return json_bool(j, json_get(j, k, "default"), &dflt) == 0 && dflt;
}

/* k8s.v1.cni.cncf.io/network-status: [{name, interface, ips: [...]}, ...]. */
static int decode_status(struct ctx *c, const char *v, size_t len, struct store_pod *p)
{
	struct store_net_status *st;
	struct json j;
	jsmntok_t *tok;
	uint32_t n = 0;
	int k, rc = -1;

	if (decode_nested(&j, v, len, &tok) < 0 || !json_is_array(&j, 0))
		goto out;
	for (k = json_first(&j, 0); k >= 0; k = json_next(&j, 0, k))
		n += !is_default_entry(&j, k);
	if (!n) {
		rc = 0; /* the cluster network only: nothing to keep */
		goto out;
	}
	st = mem_alloc(c->m, n * sizeof(*st));
	n = 0;
	if (!st)
		goto out;
	for (k = json_first(&j, 0); k >= 0; k = json_next(&j, 0, k)) {
		char name[256];
		int nl = json_str(&j, json_get(&j, k, "name"), name, sizeof(name));
		int ips = json_get(&j, k, "ips"), ifi = json_get(&j, k, "interface"), e;
		struct store_ip *ipv;
		uint32_t ni = 0;
		if (is_default_entry(&j, k))
			continue;
		if (nl <= 0)
			goto out;
		st[n].network = decode_net_key(c, p->ns, name, (size_t)nl);
		if (!st[n].network)
			goto out;
		if (ifi >= 0 && !json_is_null(&j, ifi)) {
			const char *ifn = decode_str(c, &j, ifi);
			if (!ifn)
				goto out;
			st[n].ifname = entry_ifname(c, ifn, ANN_STATUS, st[n].network, &st[n].bad);
		}
		if (ips >= 0 && !json_is_array(&j, ips))
			goto out;
		if (st[n].bad) {
			n++; /* its addresses are not trusted either */
			continue;
		}
		ipv = mem_alloc(c->m, decode_count(&j, ips) * sizeof(*ipv));
		if (!ipv)
			goto out;
		for (e = json_first(&j, ips); e >= 0; e = json_next(&j, ips, e)) {
			char ip[64];
			int il = json_str(&j, e, ip, sizeof(ip));
			if (il <= 0 || parse_ip(ip, (size_t)il, &ipv[ni]) < 0)
				goto out;
			ni++;
		}
		st[n].nips = ni;
		st[n].ips = ipv;
		n++;
	}
	p->nstatus = n;
	p->status = st;
	rc = 0;
out:
	free(tok);
	return rc;
}

/* Whether the container at k can serve a named port: every container, and init containers only
 * as sidecars (restartPolicy Always), as Kubernetes' FindPort. */
static bool serves_ports(const struct json *j, int k, bool init)
{
	return !init || json_str_eq(j, json_get(j, k, "restartPolicy"), "Always");
}

static uint32_t count_named_ports(const struct json *j, int spec)
{
	uint32_t cap = 0;
	for (int init = 0; init < 2; init++) {
		int cs = json_get(j, spec, init ? "initContainers" : "containers");
		for (int k = json_first(j, cs); k >= 0; k = json_next(j, cs, k)) {
			int ports = json_get(j, k, "ports");
			if (!serves_ports(j, k, init))
				continue;
			for (int e = json_first(j, ports); e >= 0; e = json_next(j, ports, e))
				cap += json_get(j, e, "name") >= 0;
		}
	}
	return cap;
}

static int decode_container_ports(struct ctx *c, int spec, struct store_pod *p)
{
	const struct json *j = &c->j;
	uint32_t n = 0, cap = count_named_ports(j, spec);
	struct store_port *v;

	if (!cap)
		return 0;
	v = mem_alloc(c->m, cap * sizeof(*v));
	if (!v)
		return -1;
	for (int init = 0; init < 2; init++) {
		const char *field = init ? "initContainers" : "containers";
		int cs = json_get(j, spec, field);
		for (int k = json_first(j, cs); k >= 0; k = json_next(j, cs, k)) {
			int ports = json_get(j, k, "ports");
			if (!serves_ports(j, k, init))
				continue;
			for (int e = json_first(j, ports); e >= 0; e = json_next(j, ports, e)) {
				long long num;
				const char *name = decode_str(c, j, json_get(j, e, "name"));
				if (!name)
					continue;
				if (json_int(j, json_get(j, e, "containerPort"), &num) < 0 ||
				    num < 1 || num > 65535 ||
				    decode_proto(j, json_get(j, e, "protocol"), &v[n].proto) < 0) {
					DLOG(c->s, LOG_WARNING,
					     "Pod %s/%s: spec.%s[].ports %s: bad port or protocol, "
					     "ignored",
					     c->ns, c->name, field, name);
					continue;
				}
				v[n].name = name;
				v[n].port = (uint16_t)num;
				n++;
			}
		}
	}
	p->nports = n;
	p->ports = v;
	return 0;
}

static struct pod_rec *decode_pod_once(struct store *s, const char *json, size_t len,
				       const struct obj_mem *plan)
{
	struct pod_rec *r = calloc(1, sizeof(*r));
	struct ctx c = {.s = s, .kind = "Pod", .walked = true};
	struct store_pod *p;
	char *ann;
	size_t alen;
	bool b;
	int md, spec, v;

	if (!r)
		return NULL;
	p = &r->pub;
	md = decode_start(&c, &r->mem, plan, json, len, true);
	if (md < 0)
		goto fail;
	p->ns = mem_intern_z(s, c.m, c.ns);
	{
		/* Pod names are unique: a copy in the block costs less than interning. */
		size_t nl = strlen(c.name);
		char *nm = mem_alloc(c.m, nl + 1);
		if (nm)
			memcpy(nm, c.name, nl + 1);
		p->name = nm;
	}
	spec = json_get(&c.j, 0, "spec");
	p->node = decode_str(&c, &c.j, json_get(&c.j, spec, "nodeName"));
	if (!p->node)
		p->node = mem_intern_z(s, c.m, "");
	p->uid = "";
	if (p->node && p->node[0] && strcmp(p->node, s->node) == 0) {
		/* Only this node's pods need their uid (tables are keyed by it); uids are unique:
		 * a copy in the object's block costs less than interning. */
		char ub[128];
		int ul = json_str(&c.j, json_get(&c.j, md, "uid"), ub, sizeof(ub));
		char *u = mem_alloc(c.m, ul > 0 ? (size_t)ul + 1 : 1);
		if (u && ul > 0)
			memcpy(u, ub, (size_t)ul);
		p->uid = u;
	}
	if (!p->ns || !p->name || !p->uid ||
	    decode_labels(&c, json_get(&c.j, md, "labels"), &p->labels) < 0)
		goto fail;
	v = json_get(&c.j, md, "deletionTimestamp");
	p->deleting = v >= 0 && !json_is_null(&c.j, v);
	if (json_bool(&c.j, json_get(&c.j, spec, "hostNetwork"), &b) == 0)
		p->host_network = b;
	v = json_path(&c.j, 0, "status.phase");
	p->terminated = json_str_eq(&c.j, v, "Succeeded") || json_str_eq(&c.j, v, "Failed");
	if (!p->node || decode_container_ports(&c, spec, p) < 0)
		goto fail;
	if (decode_annotation(&c, md, ANN_NETWORKS, &ann, &alen)) {
		if (!ann || decode_networks(&c, ann, alen, p) < 0) {
			DLOG(s, LOG_ERROR,
			     "Pod %s/%s: annotation %s cannot be parsed; its networks are "
			     "ignored",
			     c.ns, c.name, ANN_NETWORKS);
			p->nets_bad = true;
			p->nnets = 0;
		}
		free(ann);
	}
	if (decode_annotation(&c, md, ANN_STATUS, &ann, &alen)) {
		if (!ann || decode_status(&c, ann, alen, p) < 0) {
			DLOG(s, LOG_ERROR,
			     "Pod %s/%s: annotation %s cannot be parsed; the pod has no "
			     "addresses on secondary networks",
			     c.ns, c.name, ANN_STATUS);
			p->status_bad = true;
			p->nstatus = 0;
		}
		free(ann);
	}
	return r;
fail:
	mem_release(s, &r->mem);
	free(r);
	return NULL;
}

/* decode_pod as DECODE_TWICE, except that a pod the store will not keep (store_pod_kept), or
 * already holds as it is (store_pod_refresh), comes back from the first pass: it is freed at once,
 * so its exact block is not worth a second pass. */
struct pod_rec *decode_pod(struct store *s, const char *json, size_t len)
{
	struct pod_rec *first = decode_pod_once(s, json, len, NULL), *r;
	if (!first || !store_pod_kept(s, &first->pub)) {
		decode_trim_tokens(s);
		return first;
	}
	if (store_pod_refresh(s, &first->pub)) {
		first->same = true; /* most pod updates are status the store does not keep */
		decode_trim_tokens(s);
		return first;
	}
	s->quiet = true;
	r = decode_pod_once(s, json, len, &first->mem);
	s->quiet = false;
	mem_release(s, &first->mem);
	free(first);
	decode_trim_tokens(s);
	if (r)
		mem_walk_pod(r);
	return r;
}
