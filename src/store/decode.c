/* One decoder per kind: the JSON text of one object → a store record holding only what the
 * agent uses. Broken parts are logged once, naming the object and the field, and marked so they
 * match nothing; the rest of the object still counts. */
#include "store/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/json.h"
#include "util/log.h"

/* Decoding runs twice per object (see decode_pod); only the first pass logs. */
#define DLOG(store, level, ...)                                                                    \
	do {                                                                                       \
		if (!(store)->quiet)                                                               \
			log_msg(level, __VA_ARGS__);                                               \
	} while (0)

#define ANN_NETWORKS "k8s.v1.cni.cncf.io/networks"
#define ANN_STATUS "k8s.v1.cni.cncf.io/network-status"
#define ANN_POLICY_FOR "k8s.v1.cni.cncf.io/policy-for"

/* What is being decoded, for log lines. */
struct ctx {
	struct store *s;
	struct obj_mem *m;
	struct json j;
	const char *kind;
	char ns[256], name[256];
	bool walked; /* a pod: its string references stay out of the planned block (mem_walk_pod) */
};

/* A rejected document's name for log lines, read from its first tokens (metadata comes first in
 * what the API server sends). */
static void salvage_name(struct ctx *c, const char *text, size_t len)
{
	jsmntok_t tok[256];
	struct json j;

	json_parse(&j, text, len, tok, 256); /* fails for every document that gets here */
	if (json_str(&j, json_salvage_path(&j, "metadata.name"), c->name, sizeof(c->name)) < 0)
		c->name[0] = 0;
	if (json_str(&j, json_salvage_path(&j, "metadata.namespace"), c->ns, sizeof(c->ns)) < 0)
		c->ns[0] = 0;
}

/* "ns/name", "name" or "(name unreadable)" for log lines about a rejected object. */
static const char *rejected_name(const struct ctx *c, char *buf, size_t cap)
{
	if (!c->name[0])
		return "(name unreadable)";
	snprintf(buf, cap, "%s%s%s", c->ns, c->ns[0] ? "/" : "", c->name);
	return buf;
}

/* Parses the object into the store's token array, grown to fit. A document that is not JSON (-1)
 * or is over STORE_MAX_TOKENS (-2) is logged naming the object, and rejected. */
static int parse_doc(struct ctx *c, const char *text, size_t len)
{
	struct store *s = c->s;
	int n, rc;
	char who[520];

	if (s->quiet && s->parsed.text == text && s->parsed_len == len) {
		c->j = s->parsed; /* second pass: the first one's tokens are still there */
		return 0;
	}
	/* Most objects fit the tokens the previous one left: one scan. Only a failure (too few
	 * tokens, or not JSON) costs the counting scan. */
	rc = s->ntok > 0 ? json_parse(&c->j, text, len, s->tok, s->ntok) : -1;
	if (rc == -1) {
		n = json_count_tokens(text, len);
		if (n > STORE_MAX_TOKENS) {
			salvage_name(c, text, len);
			DLOG(s, LOG_ERROR,
			     "%s %s: %d JSON tokens, over the limit of %d per object; object "
			     "ignored",
			     c->kind, rejected_name(c, who, sizeof(who)), n, STORE_MAX_TOKENS);
			return -2;
		}
		if (n > s->ntok) {
			jsmntok_t *t = realloc(s->tok, (size_t)n * sizeof(*t));
			if (!t)
				return -1;
			s->tok = t;
			s->ntok = n;
			rc = json_parse(&c->j, text, len, s->tok, n);
		}
	}
	if (rc < 0) {
		salvage_name(c, text, len);
		if (rc == -2)
			DLOG(s, LOG_ERROR, "%s %s: JSON nested deeper than %d; object ignored",
			     c->kind, rejected_name(c, who, sizeof(who)), JSON_MAX_DEPTH);
		else
			DLOG(s, LOG_ERROR, "%s %s: not valid JSON; object ignored", c->kind,
			     rejected_name(c, who, sizeof(who)));
		return -1;
	}
	s->parsed = c->j;
	s->parsed_len = len;
	return 0;
}

/* Token arrays above this are given back after each object: a rare large object does not keep
 * its tokens (20 bytes each) for the agent's lifetime. */
#define KEEP_TOKENS 4096

static void trim_tokens(struct store *s)
{
	s->parsed.text = NULL; /* the object is done: its tokens are not to be reused */
	if (s->ntok > KEEP_TOKENS) {
		free(s->tok);
		s->tok = NULL;
		s->ntok = 0;
	}
}

/* A nested JSON document (an annotation, a NAD config) with its own token array. */
static int parse_nested(struct json *j, const char *text, size_t len, jsmntok_t **tok)
{
	int n = json_count_tokens(text, len);
	*tok = NULL;
	if (n <= 0 || n > STORE_MAX_TOKENS)
		return -1;
	*tok = malloc((size_t)n * sizeof(**tok));
	if (!*tok)
		return -1;
	return json_parse(j, text, len, *tok, n);
}

/* Interned copy of the string at i, NULL when absent or not a string. */
static const char *get_str(struct ctx *c, const struct json *j, int i)
{
	char buf[512];
	int n;

	if (!json_is_string(j, i))
		return NULL;
	n = json_str(j, i, buf, sizeof(buf));
	if (n < 0)
		return NULL;
	return mem_intern(c->s, c->m, buf, (size_t)n);
}

/* A malloc'd unescaped copy of a long string (annotation values, configs). */
static char *dup_str(const struct json *j, int i, size_t *len)
{
	size_t cap;
	char *buf;
	int n;

	if (!json_is_string(j, i))
		return NULL;
	cap = (size_t)(j->tok[i].end - j->tok[i].start) + 1;
	buf = malloc(cap);
	if (!buf)
		return NULL;
	n = json_str(j, i, buf, cap);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

/* Members or elements of the container at i; 0 when absent or not a container. */
static size_t count(const struct json *j, int i)
{
	int n = json_size(j, i);
	return n > 0 ? (size_t)n : 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_label *)a)->key, ((const struct store_label *)b)->key);
}

/* metadata.labels: a map of strings, keys unique. Anything else rejects the whole object: a label
 * dropped could make the object match a NotIn or DoesNotExist selector it should not. */
static int decode_labels(struct ctx *c, int obj, struct store_labels *out)
{
	const struct json *j = &c->j;
	int n = json_size(j, obj), k;
	struct store_label *v;
	uint32_t cnt = 0;

	out->n = 0;
	out->v = NULL;
	if (obj < 0 || json_is_null(j, obj))
		return 0;
	if (!json_is_object(j, obj)) {
		DLOG(c->s, LOG_ERROR, "%s %s%s%s: metadata.labels is not a map; object ignored",
		     c->kind, c->ns, c->ns[0] ? "/" : "", c->name);
		return -1;
	}
	if (n <= 0)
		return 0;
	v = mem_alloc(c->m, (size_t)n * sizeof(*v));
	if (!v)
		return -1;
	for (k = json_first(j, obj); k >= 0 && cnt < (uint32_t)n; k = json_next(j, obj, k)) {
		const char *key = get_str(c, j, k), *val = get_str(c, j, k + 1);
		if (!key || !val) {
			DLOG(c->s, LOG_ERROR,
			     "%s %s%s%s: metadata.labels: a label is not a pair of strings (or is "
			     "too long); object ignored",
			     c->kind, c->ns, c->ns[0] ? "/" : "", c->name);
			return -1;
		}
		v[cnt].key = key;
		v[cnt].value = val;
		cnt++;
	}
	qsort(v, cnt, sizeof(*v), label_cmp);
	for (uint32_t i = 1; i < cnt; i++) {
		/* Which of two values a selector would see is arbitrary: refuse the object. */
		if (v[i].key == v[i - 1].key) {
			DLOG(c->s, LOG_ERROR,
			     "%s %s%s%s: metadata.labels: key \"%s\" appears twice; object ignored",
			     c->kind, c->ns, c->ns[0] ? "/" : "", c->name, v[i].key);
			return -1;
		}
	}
	out->n = cnt;
	out->v = v;
	return 0;
}

static int meta(struct ctx *c, bool namespaced)
{
	const struct json *j = &c->j;
	int md = json_get(j, 0, "metadata");
	int nm = json_get(j, md, "name"), ns = json_get(j, md, "namespace");

	c->ns[0] = c->name[0] = 0;
	if (json_str(j, nm, c->name, sizeof(c->name)) <= 0) {
		DLOG(c->s, LOG_ERROR, "%s: metadata.name missing or invalid, object ignored",
		     c->kind);
		return -1;
	}
	if (namespaced && json_str(j, ns, c->ns, sizeof(c->ns)) <= 0) {
		DLOG(c->s, LOG_ERROR,
		     "%s %s: metadata.namespace missing or invalid, object ignored", c->kind,
		     c->name);
		return -1;
	}
	return md;
}

int parse_ip(const char *s, size_t len, struct store_ip *out)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		return 0;
	}
	return -1;
}

int parse_cidr(const char *s, size_t len, struct store_cidr *out)
{
	const char *slash = memchr(s, '/', len);
	struct store_ip ip;
	unsigned plen = 0, max;
	size_t i;

	if (!slash || parse_ip(s, (size_t)(slash - s), &ip) < 0)
		return -1;
	max = ip.family == 4 ? 32 : 128;
	i = (size_t)(slash - s) + 1;
	if (i >= len || len - i > 3)
		return -1;
	for (; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		plen = plen * 10 + (unsigned)(s[i] - '0');
	}
	if (plen > max || (len - (size_t)(slash - s) > 2 && slash[1] == '0'))
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = ip.family;
	out->len = (uint8_t)plen;
	for (unsigned b = 0; b < max / 8; b++) {
		unsigned keep = plen >= (b + 1) * 8 ? 8 : (plen > b * 8 ? plen - b * 8 : 0);
		out->addr[b] = (uint8_t)(ip.addr[b] & (uint8_t)(0xff00u >> keep));
	}
	return 0;
}

static bool ann_string(struct ctx *c, int md, const char *key, char **val, size_t *len)
{
	int ann = json_get(&c->j, md, "annotations");
	int v = json_get(&c->j, ann, key);
	*val = NULL;
	if (v < 0)
		return false;
	*val = dup_str(&c->j, v, len);
	return true;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s))
		(*s)++, (*len)--;
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

/* "ns/name" interned; a bare name is in ns. */
static const char *net_key(struct ctx *c, const char *ns, const char *name, size_t len)
{
	char buf[520];
	const char *slash = memchr(name, '/', len);
	int n;

	if (len == 0 || (slash && (slash == name || slash == name + len - 1)))
		return NULL;
	if (slash) {
		if (memchr(slash + 1, '/', len - (size_t)(slash - name) - 1))
			return NULL;
		n = snprintf(buf, sizeof(buf), "%.*s", (int)len, name);
	} else {
		n = snprintf(buf, sizeof(buf), "%s/%.*s", ns, (int)len, name);
	}
	if (n <= 0 || n >= (int)sizeof(buf))
		return NULL;
	return mem_intern(c->s, c->m, buf, (size_t)n);
}

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

	trim(&v, &len);
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		cap += v[i] == ',';
	if (v[0] == '[') {
		struct json j;
		jsmntok_t *tok;
		int k, rc = -1;
		if (parse_nested(&j, v, len, &tok) < 0 || !json_is_array(&j, 0))
			goto out;
		refs = mem_alloc(c->m, count(&j, 0) * sizeof(*refs));
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
			refs[n].network = net_key(c, ni >= 0 ? nsb : p->ns, name, (size_t)nl);
			if (!refs[n].network)
				goto out;
			if (ifi >= 0) {
				const char *ifn = get_str(c, &j, ifi);
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
			trim(&e, &el);
			at = memchr(e, '@', el);
			nl = at ? (size_t)(at - e) : el;
			refs[n].network = net_key(c, p->ns, e, nl);
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

	if (parse_nested(&j, v, len, &tok) < 0 || !json_is_array(&j, 0))
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
		st[n].network = net_key(c, p->ns, name, (size_t)nl);
		if (!st[n].network)
			goto out;
		if (ifi >= 0 && !json_is_null(&j, ifi)) {
			const char *ifn = get_str(c, &j, ifi);
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
		ipv = mem_alloc(c->m, count(&j, ips) * sizeof(*ipv));
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

static int proto_of(const struct json *j, int i, uint8_t *proto)
{
	if (i < 0 || json_str_eq(j, i, "TCP"))
		*proto = IPPROTO_TCP;
	else if (json_str_eq(j, i, "UDP"))
		*proto = IPPROTO_UDP;
	else if (json_str_eq(j, i, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return -1;
	return 0;
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
				const char *name = get_str(c, j, json_get(j, e, "name"));
				if (!name)
					continue;
				if (json_int(j, json_get(j, e, "containerPort"), &num) < 0 ||
				    num < 1 || num > 65535 ||
				    proto_of(j, json_get(j, e, "protocol"), &v[n].proto) < 0) {
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

/* What every decoder does first: lay out the object's block as the first pass planned (second
 * pass only), parse the document, read the metadata. Returns the metadata token, or -1 when the
 * object is to be ignored (logged) or the block could not be laid out (m stays empty, so the
 * caller's usual release is safe). */
static int decode_start(struct ctx *c, struct obj_mem *m, const struct obj_mem *plan,
			const char *json, size_t len, bool namespaced)
{
	if (plan && mem_plan(m, mem_need(plan), c->walked ? 0 : plan->nheld) < 0)
		return -1;
	c->m = m;
	if (parse_doc(c, json, len) < 0)
		return -1;
	return meta(c, namespaced);
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
	p->node = get_str(&c, &c.j, json_get(&c.j, spec, "nodeName"));
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
	if (ann_string(&c, md, ANN_NETWORKS, &ann, &alen)) {
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
	if (ann_string(&c, md, ANN_STATUS, &ann, &alen)) {
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

static struct ns_rec *decode_namespace_once(struct store *s, const char *json, size_t len,
					    const struct obj_mem *plan)
{
	struct ns_rec *r = calloc(1, sizeof(*r));
	struct ctx c = {.s = s, .kind = "Namespace"};
	int md;

	if (!r)
		return NULL;
	md = decode_start(&c, &r->mem, plan, json, len, false);
	if (md < 0)
		goto fail;
	r->pub.name = mem_intern_z(s, c.m, c.name);
	if (!r->pub.name || decode_labels(&c, json_get(&c.j, md, "labels"), &r->pub.labels) < 0)
		goto fail;
	r->pub.exists = true;
	return r;
fail:
	mem_release(s, &r->mem);
	free(r);
	return NULL;
}

/* The value of the last member named key, as Go's encoding/json (and so Multus) reads a
 * repeated key; -1 when absent or obj is not an object. */
static int get_last(const struct json *j, int obj, const char *key)
{
	int v = -1;
	if (!json_is_object(j, obj))
		return -1;
	for (int k = json_first(j, obj); k >= 0; k = json_next(j, obj, k))
		if (json_str_eq(j, k, key))
			v = k + 1;
	return v;
}

/* The plugin type as Multus reads it: the top-level "type" when it is a non-empty string, else
 * plugins[0].type (a conflist). */
static struct nad_rec *decode_nad_once(struct store *s, const char *json, size_t len,
				       const struct obj_mem *plan)
{
	struct nad_rec *r = calloc(1, sizeof(*r));
	struct ctx c = {.s = s, .kind = "NetworkAttachmentDefinition"};
	struct json cj;
	jsmntok_t *tok = NULL;
	char *cfg = NULL;
	size_t clen = 0;
	int type, md;

	if (!r)
		return NULL;
	md = decode_start(&c, &r->mem, plan, json, len, true);
	if (md < 0)
		goto fail;
	r->pub.ns = mem_intern_z(s, c.m, c.ns);
	r->pub.name = mem_intern_z(s, c.m, c.name);
	r->pub.key = net_key(&c, c.ns, c.name, strlen(c.name));
	if (!r->pub.ns || !r->pub.name || !r->pub.key)
		goto fail;
	cfg = dup_str(&c.j, json_path(&c.j, 0, "spec.config"), &clen);
	if (!cfg || parse_nested(&cj, cfg, clen, &tok) < 0 || !json_is_object(&cj, 0)) {
		DLOG(s, LOG_ERROR,
		     "NetworkAttachmentDefinition %s/%s: spec.config is not a JSON object; the "
		     "network is out of scope",
		     c.ns, c.name);
		goto done;
	}
	type = get_last(&cj, 0, "type");
	if (type < 0 || json_is_null(&cj, type) || json_str_eq(&cj, type, ""))
		type = get_last(&cj, json_index(&cj, get_last(&cj, 0, "plugins"), 0), "type");
	c.ns[0] = 0;
	r->pub.plugin_type = json_str_eq(&cj, type, "") ? NULL : get_str(&c, &cj, type);
	if (!r->pub.plugin_type)
		DLOG(s, LOG_ERROR,
		     "NetworkAttachmentDefinition %s/%s: spec.config has no plugin type; the "
		     "network is out of scope",
		     r->pub.ns, r->pub.name);
done:
	free(tok);
	free(cfg);
	return r;
fail:
	free(tok);
	free(cfg);
	mem_release(s, &r->mem);
	free(r);
	return NULL;
}

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
		reqs[n].key = get_str(c, j, k);
		vals[0] = get_str(c, j, k + 1);
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
		reqs[n].key = get_str(c, j, json_get(j, k, "key"));
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
		vals = mem_alloc(c->m, count(j, vs) * sizeof(*vals));
		if (!vals)
			return -1;
		for (e = json_first(j, vs); e >= 0; e = json_next(j, vs, e))
			if (!(vals[nv++] = get_str(c, j, e)))
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
			v = mem_alloc(c->m, count(j, ex) * sizeof(*v));
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
	if (ps >= 0) {
		struct store_selector *sel = mem_alloc(c->m, sizeof(*sel));
		char f[96];
		snprintf(f, sizeof(f), "%s.podSelector", field);
		if (!sel || decode_selector(c, ps, f, sel) < 0)
			return -1;
		p->pod_sel = sel;
		p->bad |= sel->bad;
	}
	if (nss >= 0) {
		struct store_selector *sel = mem_alloc(c->m, sizeof(*sel));
		char f[96];
		snprintf(f, sizeof(f), "%s.namespaceSelector", field);
		if (!sel || decode_selector(c, nss, f, sel) < 0)
			return -1;
		p->ns_sel = sel;
		p->bad |= sel->bad;
	}
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
	if (proto_of(j, proto, &p->proto) < 0) {
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
		p->name = get_str(c, j, port);
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
	rules = mem_alloc(c->m, count(j, arr) * sizeof(*rules));
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
		trim(&e, &el);
		if (el) {
			const char *k = net_key(c, p->ns, e, el);
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
	p->resource_version = get_str(&c, &c.j, json_get(&c.j, md, "resourceVersion"));
	if (!p->resource_version)
		p->resource_version = mem_intern_z(s, c.m, "");
	snprintf(buf, sizeof(buf), "%s/%s", c.ns, c.name);
	p->comment = mem_intern_z(s, c.m, buf);
	if (!p->ns || !p->name || !p->resource_version || !p->comment)
		goto fail;
	if (ann_string(&c, md, ANN_POLICY_FOR, &ann, &alen)) {
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

int decode_meta_name(struct store *s, const char *json, size_t len, char *ns, size_t nscap,
		     char *name, size_t namecap)
{
	struct ctx c = {.s = s, .kind = "object"};
	const struct json *j = &c.j;
	int md, rc;

	/* The deletion of an object too large to decode is still acted on (its name comes from its
	 * first tokens): the record it removes was decoded from an earlier version. */
	s->quiet = true;
	rc = parse_doc(&c, json, len);
	s->quiet = false;
	if (rc < 0) {
		trim_tokens(s);
		if (rc != -2 || !c.name[0] || strlen(c.name) >= namecap || strlen(c.ns) >= nscap)
			return -1;
		strcpy(name, c.name);
		strcpy(ns, c.ns);
		return 0;
	}
	md = json_get(j, 0, "metadata");
	ns[0] = 0;
	if (json_str(j, json_get(j, md, "name"), name, namecap) <= 0 ||
	    (json_get(j, md, "namespace") >= 0 &&
	     json_str(j, json_get(j, md, "namespace"), ns, nscap) < 0)) {
		trim_tokens(s);
		return -1;
	}
	trim_tokens(s);
	return 0;
}

/* Every kind is decoded twice: the first pass measures the object (and logs what is broken),
 * the second fills one block of exactly that size, quietly. */
#define DECODE_TWICE(name, rec, once)                                                              \
	struct rec *name(struct store *s, const char *json, size_t len)                            \
	{                                                                                          \
		struct rec *first = once(s, json, len, NULL), *r;                                  \
		if (!first) {                                                                      \
			trim_tokens(s);                                                            \
			return NULL;                                                               \
		}                                                                                  \
		s->quiet = true;                                                                   \
		r = once(s, json, len, &first->mem);                                               \
		s->quiet = false;                                                                  \
		mem_release(s, &first->mem);                                                       \
		free(first);                                                                       \
		trim_tokens(s);                                                                    \
		return r;                                                                          \
	}

/* decode_pod as DECODE_TWICE, except that a pod the store will not keep (store_pod_kept), or
 * already holds as it is (store_pod_refresh), comes back from the first pass: it is freed at once,
 * so its exact block is not worth a second pass. */
struct pod_rec *decode_pod(struct store *s, const char *json, size_t len)
{
	struct pod_rec *first = decode_pod_once(s, json, len, NULL), *r;
	if (!first || !store_pod_kept(s, &first->pub)) {
		trim_tokens(s);
		return first;
	}
	if (store_pod_refresh(s, &first->pub)) {
		first->same = true; /* most pod updates are status the store does not keep */
		trim_tokens(s);
		return first;
	}
	s->quiet = true;
	r = decode_pod_once(s, json, len, &first->mem);
	s->quiet = false;
	mem_release(s, &first->mem);
	free(first);
	trim_tokens(s);
	if (r)
		mem_walk_pod(r);
	return r;
}

DECODE_TWICE(decode_namespace, ns_rec, decode_namespace_once)
DECODE_TWICE(decode_nad, nad_rec, decode_nad_once)
DECODE_TWICE(decode_policy, pol_rec, decode_policy_once)
