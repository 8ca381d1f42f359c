/* The MultiNetworkPolicy decoder: policy-for, selectors, peers, ports, rules, policy types. */
#include "store/decode.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A label selector at i (absent handled by the caller). field names it in log lines. */
static int decode_selector(struct ctx *c, int i, const char *field, struct store_selector *sel)
{
	const struct json *j = &c->j;
	int ml = json_get(j, i, "matchLabels"), me = json_get(j, i, "matchExpressions"), k;
	uint32_t cap = 0, n = 0;
	struct store_requirement *reqs;

	memset(sel, 0, sizeof(*sel));
	if (!json_is_object(j, i) || (ml >= 0 && !json_is_object(j, ml) && !json_is_null(j, ml)) ||
	    (me >= 0 && !json_is_array(j, me) && !json_is_null(j, me)))
		goto bad;
	cap = (uint32_t)(json_size(j, ml) > 0 ? json_size(j, ml) : 0) +
	      (uint32_t)(json_size(j, me) > 0 ? json_size(j, me) : 0);
	if (!cap)
		return 0;
	reqs = mem_alloc(c->m, cap * sizeof(*reqs));
	if (!reqs)
		return -1;
	for (k = json_first(j, ml); k >= 0 && n < cap; k = json_next(j, ml, k)) {
		const char **vals = mem_alloc(c->m, sizeof(*vals));
		if (!vals)
			return -1;
		reqs[n].key = decode_str(c, j, k);
		vals[0] = decode_str(c, j, k + 1);
		if (!reqs[n].key || !vals[0])
			goto bad;
		reqs[n].op = SEL_IN;
		reqs[n].nvalues = 1;
		reqs[n].values = vals;
		n++;
	}
	for (k = json_first(j, me); k >= 0 && n < cap; k = json_next(j, me, k)) {
		int op = json_get(j, k, "operator"), vs = json_get(j, k, "values"), e;
		uint32_t nv = 0;
		const char **vals;
		reqs[n].key = decode_str(c, j, json_get(j, k, "key"));
		if (!reqs[n].key)
			goto bad;
		if (json_str_eq(j, op, "In"))
			reqs[n].op = SEL_IN;
		else if (json_str_eq(j, op, "NotIn"))
			reqs[n].op = SEL_NOT_IN;
		else if (json_str_eq(j, op, "Exists"))
			reqs[n].op = SEL_EXISTS;
		else if (json_str_eq(j, op, "DoesNotExist"))
			reqs[n].op = SEL_DOES_NOT_EXIST;
		else
			goto bad;
		if (vs >= 0 && !json_is_array(j, vs) && !json_is_null(j, vs))
			goto bad;
		if ((reqs[n].op == SEL_IN || reqs[n].op == SEL_NOT_IN) ? json_size(j, vs) <= 0
								       : json_size(j, vs) > 0)
			goto bad;
		vals = mem_alloc(c->m, decode_count(j, vs) * sizeof(*vals));
		if (!vals)
			return -1;
		for (e = json_first(j, vs); e >= 0; e = json_next(j, vs, e))
			if (!(vals[nv++] = decode_str(c, j, e)))
				goto bad;
		qsort(vals, nv, sizeof(*vals), str_ptr_cmp);
		reqs[n].nvalues = nv;
		reqs[n].values = vals;
		n++;
	}
	sel->nreqs = n;
	sel->reqs = reqs;
	return 0;
bad:
	DLOG(c->s, LOG_ERROR,
	     "MultiNetworkPolicy %s/%s: %s: invalid label selector; it matches nothing", c->ns,
	     c->name, field);
	sel->bad = true;
	sel->nreqs = 0;
	return 0;
}

/* The selector at i, field.which of a peer, into *out; a bad one marks the peer bad. 0, or -1
 * without memory. */
static int peer_selector(struct ctx *c, int i, const char *field, const char *which,
			 struct store_peer *p, const struct store_selector **out)
{
	struct store_selector *sel = mem_alloc(c->m, sizeof(*sel));
	char f[96];
	snprintf(f, sizeof(f), "%s.%s", field, which);
	if (!sel || decode_selector(c, i, f, sel) < 0)
		return -1;
	*out = sel;
	p->bad |= sel->bad;
	return 0;
}

static int decode_peer(struct ctx *c, int i, const char *field, struct store_peer *p)
{
	const struct json *j = &c->j;
	int ps = json_get(j, i, "podSelector"), nss = json_get(j, i, "namespaceSelector");
	int ipb = json_get(j, i, "ipBlock"), ex, k;
	char buf[80];
	int n;

	if (ps >= 0 && json_is_null(j, ps))
		ps = -1;
	if (nss >= 0 && json_is_null(j, nss))
		nss = -1;
	if (ipb >= 0 && json_is_null(j, ipb))
		ipb = -1;
	if (ipb >= 0) {
		if (ps >= 0 || nss >= 0) {
			DLOG(c->s, LOG_ERROR,
			     "MultiNetworkPolicy %s/%s: %s: ipBlock combined with a selector; "
			     "the peer matches nothing",
			     c->ns, c->name, field);
			p->bad = true;
			return 0;
		}
		p->is_ipblock = true;
		n = json_str(j, json_get(j, ipb, "cidr"), buf, sizeof(buf));
		if (n <= 0 || parse_cidr(buf, (size_t)n, &p->cidr) < 0) {
			DLOG(c->s, LOG_ERROR,
			     "MultiNetworkPolicy %s/%s: %s.ipBlock.cidr: invalid CIDR; the peer "
			     "matches nothing",
			     c->ns, c->name, field);
			p->bad = true;
			return 0;
		}
		ex = json_get(j, ipb, "except");
		if (ex >= 0 && !json_is_null(j, ex)) {
			struct store_cidr *v;
			if (!json_is_array(j, ex))
				goto bad_except;
			v = mem_alloc(c->m, decode_count(j, ex) * sizeof(*v));
			if (!v)
				return -1;
			for (k = json_first(j, ex); k >= 0; k = json_next(j, ex, k)) {
				n = json_str(j, k, buf, sizeof(buf));
				if (n <= 0 || parse_cidr(buf, (size_t)n, &v[p->nexcept]) < 0 ||
				    v[p->nexcept].family != p->cidr.family)
					goto bad_except;
				p->nexcept++;
			}
			p->except = v;
		}
		return 0;
	bad_except:
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: %s.ipBlock.except: invalid CIDR; the peer "
		     "matches nothing",
		     c->ns, c->name, field);
		p->bad = true;
		return 0;
	}
	if (ps < 0 && nss < 0) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: %s: empty peer; it matches nothing", c->ns, c->name,
		     field);
		p->bad = true;
		return 0;
	}
	if ((ps >= 0 && peer_selector(c, ps, field, "podSelector", p, &p->pod_sel) < 0) ||
	    (nss >= 0 && peer_selector(c, nss, field, "namespaceSelector", p, &p->ns_sel) < 0))
		return -1;
	return 0;
}

static bool valid_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (islower((unsigned char)s[i]))
			letter = true;
		else if (!isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	}
	return letter;
}

static void decode_port(struct ctx *c, int i, const char *field, struct store_port_spec *p)
{
	const struct json *j = &c->j;
	int proto = json_get(j, i, "protocol"), port = json_get(j, i, "port");
	int end = json_get(j, i, "endPort");
	long long num, e;

	if (!json_is_object(j, i)) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: %s is not an object; the entry matches nothing",
		     c->ns, c->name, field);
		p->bad = true;
		return;
	}
	if (proto >= 0 && json_is_null(j, proto))
		proto = -1;
	if (port >= 0 && json_is_null(j, port))
		port = -1;
	if (end >= 0 && json_is_null(j, end))
		end = -1;
	if (decode_proto(j, proto, &p->proto) < 0) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: %s.protocol: unsupported protocol; the entry "
		     "matches nothing",
		     c->ns, c->name, field);
		p->bad = true;
		return;
	}
	if (port < 0) {
		p->kind = PORT_ANY;
		if (end >= 0)
			goto bad;
		return;
	}
	if (json_is_string(j, port)) {
		p->kind = PORT_NAMED;
		p->name = decode_str(c, j, port);
		if (!p->name || !valid_port_name(p->name) || end >= 0)
			goto bad;
		return;
	}
	p->kind = PORT_NUMBER;
	if (json_int(j, port, &num) < 0 || num < 1 || num > 65535)
		goto bad;
	e = num;
	if (end >= 0 && (json_int(j, end, &e) < 0 || e < num || e > 65535))
		goto bad;
	p->port = (uint16_t)num;
	p->end_port = (uint16_t)e;
	return;
bad:
	DLOG(c->s, LOG_ERROR,
	     "MultiNetworkPolicy %s/%s: %s: invalid port or endPort; the entry matches "
	     "nothing",
	     c->ns, c->name, field);
	p->bad = true;
}

/* A present list field (from, to, ports): -1 when absent or null, -2 when of another JSON type
 * (the rule then allows nothing: never read a broken list as an absent one, which allows all). */
static int list_field(const struct json *j, int obj, const char *key)
{
	int v = json_get(j, obj, key);
	if (v < 0 || json_is_null(j, v))
		return -1;
	return json_is_array(j, v) ? v : -2;
}

static int decode_rule(struct ctx *c, int k, bool ingress, int idx, struct store_rule *r)
{
	const struct json *j = &c->j;
	const char *dir = ingress ? "ingress" : "egress", *pk = ingress ? "from" : "to";
	int peers, ports, e;
	char f[64];

	if (!json_is_object(j, k)) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: spec.%s[%d] is not an object; the rule allows "
		     "nothing",
		     c->ns, c->name, dir, idx);
		r->bad = true;
		return 0;
	}
	peers = list_field(j, k, pk);
	ports = list_field(j, k, "ports");
	if (peers == -2 || ports == -2) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: spec.%s[%d].%s is not a list; the rule allows "
		     "nothing",
		     c->ns, c->name, dir, idx, peers == -2 ? pk : "ports");
		r->bad = true;
		return 0;
	}
	if (json_size(j, peers) > 0) {
		struct store_peer *pv = mem_alloc(c->m, (size_t)json_size(j, peers) * sizeof(*pv));
		if (!pv)
			return -1;
		for (e = json_first(j, peers); e >= 0; e = json_next(j, peers, e)) {
			snprintf(f, sizeof(f), "spec.%s[%d].%s[%u]", dir, idx, pk, r->npeers);
			if (decode_peer(c, e, f, &pv[r->npeers++]) < 0)
				return -1;
		}
		r->peers = pv;
	}
	if (json_size(j, ports) > 0) {
		struct store_port_spec *sv =
		    mem_alloc(c->m, (size_t)json_size(j, ports) * sizeof(*sv));
		if (!sv)
			return -1;
		for (e = json_first(j, ports); e >= 0; e = json_next(j, ports, e)) {
			snprintf(f, sizeof(f), "spec.%s[%d].ports[%u]", dir, idx, r->nports);
			decode_port(c, e, f, &sv[r->nports++]);
		}
		r->ports = sv;
	}
	return 0;
}

/* spec.ingress / spec.egress. A value that is not a list stands for one rule allowing nothing,
 * so that it still counts for policyTypes defaulting. */
static int decode_rules(struct ctx *c, int arr, bool ingress, uint32_t *nout,
			const struct store_rule **out)
{
	const struct json *j = &c->j;
	struct store_rule *rules;
	int k, idx = 0;

	*nout = 0;
	if (arr < 0 || json_is_null(j, arr))
		return 0;
	if (!json_is_array(j, arr)) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: spec.%s is not a list; it allows nothing", c->ns,
		     c->name, ingress ? "ingress" : "egress");
		rules = mem_alloc(c->m, sizeof(*rules));
		if (!rules)
			return -1;
		rules->bad = true;
		*nout = 1;
		*out = rules;
		return 0;
	}
	rules = mem_alloc(c->m, decode_count(j, arr) * sizeof(*rules));
	if (!rules)
		return -1;
	for (k = json_first(j, arr); k >= 0; k = json_next(j, arr, k), idx++)
		if (decode_rule(c, k, ingress, idx, &rules[idx]) < 0)
			return -1;
	*nout = (uint32_t)idx;
	*out = rules;
	return 0;
}

static int decode_policy_for(struct ctx *c, const char *v, size_t len, struct store_policy *p)
{
	const char **nets;
	size_t cap = 1;
	uint32_t n = 0;

	for (size_t i = 0; i < len; i++)
		cap += v[i] == ',';
	nets = mem_alloc(c->m, cap * sizeof(*nets));
	if (!nets)
		return -1;
	while (len) {
		const char *comma = memchr(v, ',', len), *e = v;
		size_t el = comma ? (size_t)(comma - v) : len;
		decode_trim(&e, &el);
		if (el) {
			const char *k = decode_net_key(c, p->ns, e, el);
			if (!k)
				DLOG(c->s, LOG_ERROR,
				     "MultiNetworkPolicy %s/%s: annotation %s: bad network "
				     "name \"%.*s\", ignored",
				     c->ns, c->name, ANN_POLICY_FOR, (int)el, e);
			else
				nets[n++] = k;
		}
		if (!comma)
			break;
		len -= (size_t)(comma - v) + 1;
		v = comma + 1;
	}
	qsort(nets, n, sizeof(*nets), str_ptr_cmp);
	p->nnets = n;
	p->nets = nets;
	return 0;
}

/* An invalid spec.podSelector fails closed: the policy selects every pod of its namespace (on
 * its networks) and allows nothing, so each direction of its policyTypes is isolated. Matching
 * nothing instead would leave the pods it was meant for open. */
static int decode_policy_selector(struct ctx *c, int ps, struct store_policy *p)
{
	bool quiet = c->s->quiet;
	int rc;

	c->s->quiet = true; /* logged below, with what it means for a policy's own selector */
	rc = decode_selector(c, ps, "spec.podSelector", &p->pod_sel);
	c->s->quiet = quiet;
	if (rc < 0 || !p->pod_sel.bad)
		return rc;
	DLOG(c->s, LOG_ERROR,
	     "MultiNetworkPolicy %s/%s: spec.podSelector: invalid label selector; the policy "
	     "selects every pod of its namespace and allows nothing",
	     c->ns, c->name);
	memset(&p->pod_sel, 0, sizeof(p->pod_sel));
	p->pod_sel_invalid = true;
	return 0;
}

/* Whether the string at i equals s ignoring ASCII case (Go's strings.EqualFold for these). */
static bool str_eq_fold(const struct json *j, int i, const char *s)
{
	char buf[16];
	return json_str(j, i, buf, sizeof(buf)) >= 0 && strcasecmp(buf, s) == 0;
}

/* spec.policyTypes, compared as the Go agent does (EqualFold). Absent, null or [] defaults to
 * Ingress, plus Egress when there are egress rules. Any other value, or a value that is not a
 * list of strings, isolates both directions: a typo must not leave a direction open. */
static void decode_policy_types(struct ctx *c, int pt, struct store_policy *p)
{
	const struct json *j = &c->j;
	bool bad = pt >= 0 && !json_is_null(j, pt) && !json_is_array(j, pt);
	int k;

	if (!bad && json_size(j, pt) == 0) {
		p->ingress = true;
		p->egress = p->negress > 0;
		return;
	}
	for (k = json_first(j, pt); k >= 0; k = json_next(j, pt, k)) {
		if (str_eq_fold(j, k, "Ingress"))
			p->ingress = true;
		else if (str_eq_fold(j, k, "Egress"))
			p->egress = true;
		else
			bad = true;
	}
	if (bad) {
		DLOG(c->s, LOG_ERROR,
		     "MultiNetworkPolicy %s/%s: spec.policyTypes: not a list of \"Ingress\" and "
		     "\"Egress\"; the policy isolates both directions",
		     c->ns, c->name);
		p->ingress = p->egress = true;
	}
}

static struct pol_rec *decode_policy_once(struct store *s, const char *json, size_t len,
					  const struct obj_mem *plan)
{
	struct pol_rec *r = calloc(1, sizeof(*r));
	struct ctx c = {.s = s, .kind = "MultiNetworkPolicy"};
	struct store_policy *p;
	char *ann = NULL, buf[520];
	size_t alen;
	int md, spec, ps;

	if (!r)
		return NULL;
	p = &r->pub;
	md = decode_start(&c, &r->mem, plan, json, len, true);
	if (md < 0)
		goto fail;
	p->ns = mem_intern_z(s, c.m, c.ns);
	p->name = mem_intern_z(s, c.m, c.name);
	p->resource_version = decode_str(&c, &c.j, json_get(&c.j, md, "resourceVersion"));
	if (!p->resource_version)
		p->resource_version = mem_intern_z(s, c.m, "");
	snprintf(buf, sizeof(buf), "%s/%s", c.ns, c.name);
	p->comment = mem_intern_z(s, c.m, buf);
	if (!p->ns || !p->name || !p->resource_version || !p->comment)
		goto fail;
	if (decode_annotation(&c, md, ANN_POLICY_FOR, &ann, &alen)) {
		if (!ann)
			DLOG(s, LOG_ERROR,
			     "MultiNetworkPolicy %s/%s: annotation %s is not a string", c.ns,
			     c.name, ANN_POLICY_FOR);
		else if (decode_policy_for(&c, ann, alen, p) < 0)
			goto fail;
		free(ann);
		ann = NULL;
	}
	spec = json_get(&c.j, 0, "spec");
	ps = json_get(&c.j, spec, "podSelector");
	if (ps >= 0 && !json_is_null(&c.j, ps) && decode_policy_selector(&c, ps, p) < 0)
		goto fail;
	if (decode_rules(&c, json_get(&c.j, spec, "ingress"), true, &p->ningress,
			 &p->ingress_rules) < 0 ||
	    decode_rules(&c, json_get(&c.j, spec, "egress"), false, &p->negress, &p->egress_rules) <
		0)
		goto fail;
	decode_policy_types(&c, json_get(&c.j, spec, "policyTypes"), p);
	if (p->pod_sel_invalid)
		p->ningress = p->negress = 0;
	return r;
fail:
	free(ann);
	mem_release(s, &r->mem);
	free(r);
	return NULL;
}

DECODE_TWICE(decode_policy, pol_rec, decode_policy_once)
