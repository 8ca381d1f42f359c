/* NetworkPolicy semantics for one pod: which policies select it on which interfaces, and the
 * rules of each (interface, direction) chain. See DESIGN.md "Semantics". */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/addrset.h"
#include "util/log.h"

/* Policed interfaces per pod; a pod with more has all of them isolated. */
#define MAX_IFACES 32
#define MAX_PORTS 256

static const uint8_t protos[3] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};

static int proto_index(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : 2;
}

/* Which ports a group of addresses may reach: everything, or per protocol all ports or ranges. */
struct portset {
	bool all;
	bool any[3];
	uint32_t n[3];
	struct ir_port_range r[3][MAX_PORTS];
};

static void portset_add(struct portset *ps, uint8_t proto, uint16_t lo, uint16_t hi)
{
	int p = proto_index(proto);
	if (ps->n[p] < MAX_PORTS)
		ps->r[p][ps->n[p]++] = (struct ir_port_range){lo, hi};
}

static int cmp_port(const void *a, const void *b)
{
	const struct ir_port_range *x = a, *y = b;
	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

static void portset_normalise(struct portset *ps)
{
	for (int p = 0; p < 3; p++) {
		uint32_t out = 0;
		if (ps->any[p] || ps->n[p] == 0) {
			ps->n[p] = 0;
			continue;
		}
		qsort(ps->r[p], ps->n[p], sizeof(ps->r[p][0]), cmp_port);
		for (uint32_t i = 1; i < ps->n[p]; i++) {
			struct ir_port_range *cur = &ps->r[p][out];
			if ((uint32_t)ps->r[p][i].lo <= (uint32_t)cur->hi + 1) {
				if (ps->r[p][i].hi > cur->hi)
					cur->hi = ps->r[p][i].hi;
			} else {
				ps->r[p][++out] = ps->r[p][i];
			}
		}
		ps->n[p] = out + 1;
	}
}

static void portset_union(struct portset *dst, const struct portset *src)
{
	dst->all |= src->all;
	for (int p = 0; p < 3; p++) {
		dst->any[p] |= src->any[p];
		for (uint32_t i = 0; i < src->n[p]; i++)
			portset_add(dst, protos[p], src->r[p][i].lo, src->r[p][i].hi);
	}
	portset_normalise(dst);
}

/* A growable list of rules for one chain. */
struct rulevec {
	struct ir_rule *v;
	uint32_t n, cap;
};

struct cctx {
	const struct store *s;
	const struct store_pod *pod;
	const struct policy_opts *opts;
	struct arena *a;
	/* sets of the table, with a hash of each one's content */
	struct ir_addr_set *sets;
	uint64_t *hashes;
	uint32_t nsets, capsets;
	/* the chain being built */
	const char *chain;
	enum ir_dir dir;
	uint32_t setno;
	struct rulevec rv;
	/* the policy being compiled: its policy-for networks whose NAD is in scope */
	const char **nets;
	uint32_t nnets;
	uint32_t rule_no; /* the policy rule being compiled, from 1 */
	int err;
};

static struct ir_rule *rule_push(struct cctx *c)
{
	struct rulevec *rv = &c->rv;
	if (rv->n == rv->cap) {
		uint32_t cap = rv->cap ? rv->cap * 2 : 16;
		struct ir_rule *v = realloc(rv->v, cap * sizeof(*v));
		if (!v) {
			c->err = -1;
			return NULL;
		}
		rv->v = v;
		rv->cap = cap;
	}
	memset(&rv->v[rv->n], 0, sizeof(rv->v[0]));
	return &rv->v[rv->n++];
}

/* The index of a set with this content, creating it when new; -1 on memory failure. */
static int64_t set_for(struct cctx *c, const struct addrset *as, uint32_t unit)
{
	struct ir_addr_set *st;
	struct ir_addr_range *r;
	uint64_t h = 1469598103934665603ull ^ as->family;

	for (uint32_t i = 0; i < as->n; i++) {
		uint64_t w[4];
		memcpy(w, &as->r[i], sizeof(w));
		for (int k = 0; k < 4; k++)
			h = (h ^ w[k]) * 0x100000001b3ull + (h >> 29);
	}
	for (uint32_t i = 0; i < c->nsets; i++)
		if (c->hashes[i] == h && c->sets[i].family == as->family && c->sets[i].n == as->n &&
		    memcmp(c->sets[i].ranges, as->r, as->n * sizeof(*as->r)) == 0)
			return i;
	if (c->nsets == c->capsets) {
		uint32_t cap = c->capsets ? c->capsets * 2 : 8;
		uint64_t *hv = realloc(c->hashes, cap * sizeof(*hv));
		if (!hv)
			return -1;
		c->hashes = hv;
		st = realloc(c->sets, cap * sizeof(*st));
		if (!st)
			return -1;
		c->sets = st;
		c->capsets = cap;
	}
	r = arena_alloc(c->a, as->n * sizeof(*r));
	st = &c->sets[c->nsets];
	st->name = arena_printf(c->a, "%s-%u-v%u", c->chain, unit, as->family);
	if (!r || !st->name)
		return -1;
	memcpy(r, as->r, as->n * sizeof(*r));
	st->family = as->family;
	st->n = as->n;
	c->hashes[c->nsets] = h;
	st->ranges = r;
	return c->nsets++;
}

/* Rules for one port set, restricted to one address set (or none: family 0, any address). */
static void emit(struct cctx *c, const struct portset *ps, const struct addrset *as, uint32_t unit,
		 const char *comment)
{
	int64_t set = -1;

	if (!ps->all && !ps->any[0] && !ps->any[1] && !ps->any[2] && !ps->n[0] && !ps->n[1] &&
	    !ps->n[2])
		return; /* no port left (a named port resolved nowhere): no rule, so no set */
	if (as) {
		if (as->n == 0)
			return;
		set = set_for(c, as, unit);
		if (set < 0) {
			c->err = -1;
			return;
		}
	}
	for (int p = -1; p < 3; p++) {
		struct ir_rule *r;
		if (p < 0 ? !ps->all : (ps->all || (!ps->any[p] && !ps->n[p])))
			continue;
		if (!(r = rule_push(c)))
			return;
		r->kind = IR_RULE_MATCH;
		r->verdict = IR_ACCEPT;
		r->comment = comment;
		r->rule_no = c->rule_no;
		if (as) {
			r->family = as->family;
			r->addr_match = IR_ADDR_SET;
			r->addr_set = (uint32_t)set;
			r->addr_is_dst = c->dir == IR_EGRESS;
		}
		if (p >= 0) {
			r->l4proto = protos[p];
			if (!ps->any[p]) {
				struct ir_port_range *pr =
				    arena_alloc(c->a, ps->n[p] * sizeof(*pr));
				if (!pr) {
					c->err = -1;
					return;
				}
				memcpy(pr, ps->r[p], ps->n[p] * sizeof(*pr));
				r->nports = ps->n[p];
				r->ports = pr;
			}
		}
	}
}

static bool policy_has_net(const struct store_policy *p, const char *net)
{
	for (uint32_t i = 0; i < p->nnets; i++)
		if (p->nets[i] == net)
			return true;
	return false;
}

/* A pod's addresses on the policy's networks in scope (c->nets), added to v4/v6. */
static int add_pod_addrs(const struct cctx *c, const struct store_pod *peer, struct addrset *v4,
			 struct addrset *v6)
{
	if (peer->terminated || peer->host_network)
		return 0;
	for (uint32_t i = 0; i < peer->nstatus; i++) {
		const struct store_net_status *st = &peer->status[i];
		bool in = false;
		for (uint32_t k = 0; k < c->nnets && !in; k++)
			in = c->nets[k] == st->network;
		if (!in)
			continue;
		for (uint32_t k = 0; k < st->nips; k++)
			if (addrset_add_ip(st->ips[k].family == 4 ? v4 : v6, st->ips[k].addr) < 0)
				return -1;
	}
	return 0;
}

/* Resolves a rule's named ports against one pod's container ports. */
static void resolve_named(const struct store_rule *r, const struct store_pod *pod,
			  struct portset *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < r->nports; i++) {
		const struct store_port_spec *ps = &r->ports[i];
		if (ps->bad || ps->kind != PORT_NAMED)
			continue;
		for (uint32_t k = 0; k < pod->nports; k++)
			if (pod->ports[k].proto == ps->proto && pod->ports[k].name == ps->name)
				portset_add(out, ps->proto, pod->ports[k].port, pod->ports[k].port);
	}
	portset_normalise(out);
}

/* What a peer pod's named ports resolve to (egress): sorted (proto, port) pairs. */
#define MAX_NAMED 16

struct named_key {
	uint32_t n;
	struct {
		uint16_t port;
		uint8_t proto;
	} v[MAX_NAMED];
};

static int key_cmp(const struct named_key *a, const struct named_key *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (uint32_t i = 0; i < a->n; i++) {
		if (a->v[i].proto != b->v[i].proto)
			return a->v[i].proto < b->v[i].proto ? -1 : 1;
		if (a->v[i].port != b->v[i].port)
			return a->v[i].port < b->v[i].port ? -1 : 1;
	}
	return 0;
}

static void resolve_key(const struct store_rule *r, const struct store_pod *pod,
			struct named_key *k)
{
	k->n = 0;
	for (uint32_t i = 0; i < r->nports; i++) {
		const struct store_port_spec *ps = &r->ports[i];
		if (ps->bad || ps->kind != PORT_NAMED)
			continue;
		for (uint32_t j = 0; j < pod->nports; j++) {
			uint32_t at;
			if (pod->ports[j].proto != ps->proto || pod->ports[j].name != ps->name)
				continue;
			/* insertion sort, no duplicates */
			for (at = 0; at < k->n && (k->v[at].proto < ps->proto ||
						   (k->v[at].proto == ps->proto &&
						    k->v[at].port < pod->ports[j].port));
			     at++)
				;
			if ((at < k->n && k->v[at].proto == ps->proto &&
			     k->v[at].port == pod->ports[j].port) ||
			    k->n == MAX_NAMED)
				continue;
			memmove(&k->v[at + 1], &k->v[at], (k->n - at) * sizeof(k->v[0]));
			k->v[at].proto = ps->proto;
			k->v[at].port = pod->ports[j].port;
			k->n++;
		}
	}
}

/* Groups of peer pods by what their named ports resolve to (egress). */
struct group {
	struct named_key key;
	struct addrset v4, v6;
};

struct groups {
	struct group *v;
	uint32_t n, cap;
};

static struct group *group_for(struct groups *g, const struct named_key *key)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (key_cmp(&g->v[i].key, key) == 0)
			return &g->v[i];
	if (g->n == g->cap) {
		uint32_t cap = g->cap ? g->cap * 2 : 4;
		struct group *v = realloc(g->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n].key = *key;
	addrset_init(&g->v[g->n].v4, 4);
	addrset_init(&g->v[g->n].v6, 6);
	return &g->v[g->n++];
}

static int group_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct group *)a)->key, &((const struct group *)b)->key);
}

/* Adds a peer pod: to the base group (ingress, or no named port resolved), else to its own. */
static int add_peer_pod(struct cctx *c, const struct store_policy *pol, const struct store_rule *r,
			bool named, const struct store_pod *peer, struct group *base,
			struct groups *gs)
{
	struct group *g = base;
	if (peer->terminated || peer->host_network)
		return 0;
	if (named && c->dir == IR_EGRESS) {
		struct named_key key;
		resolve_key(r, peer, &key);
		if (key.n)
			g = group_for(gs, &key);
		if (!g)
			return -1;
	}
	return add_pod_addrs(c, peer, &g->v4, &g->v6);
}

static int collect_peers(struct cctx *c, const struct store_policy *pol, const struct store_rule *r,
			 bool named, struct group *base, struct groups *gs)
{
	const struct store_ns *pol_ns = store_ns_get(c->s, pol->ns);

	for (uint32_t i = 0; i < r->npeers; i++) {
		const struct store_peer *pe = &r->peers[i];
		if (pe->bad)
			continue;
		if (pe->is_ipblock) {
			struct addrset *as = pe->cidr.family == 4 ? &base->v4 : &base->v6;
			if (addrset_add_block(as, &pe->cidr, pe->except, pe->nexcept) < 0)
				return -1;
			continue;
		}
		for (const struct store_ns *ns = pe->ns_sel ? store_ns_first(c->s) : pol_ns; ns;
		     ns = pe->ns_sel ? ns->next : NULL) {
			if (pe->ns_sel && !selector_matches(pe->ns_sel, &ns->labels))
				continue;
			for (const struct store_pod *p = ns->pods; p; p = p->ns_next)
				if ((!pe->pod_sel || selector_matches(pe->pod_sel, &p->labels)) &&
				    add_peer_pod(c, pol, r, named, p, base, gs) < 0)
					return -1;
		}
	}
	return 0;
}

/* The addresses a rule's peers stand for: base sets (ipBlocks and peers without a resolved
 * named port) and, for egress named ports, one group per resolution. Independent of the
 * target pod, so it is cached per rule while the store does not change. */
struct peer_result {
	struct addrset v4, v6;
	struct groups gs;
};

static void peer_result_free(struct peer_result *pr)
{
	for (uint32_t i = 0; i < pr->gs.n; i++) {
		addrset_free(&pr->gs.v[i].v4);
		addrset_free(&pr->gs.v[i].v6);
	}
	free(pr->gs.v);
	addrset_free(&pr->v4);
	addrset_free(&pr->v6);
	memset(pr, 0, sizeof(*pr));
}

static int peers_compute(struct cctx *c, const struct store_policy *pol, const struct store_rule *r,
			 bool named, struct peer_result *pr)
{
	struct group base;
	int rc = 0;

	memset(pr, 0, sizeof(*pr));
	addrset_init(&base.v4, 4);
	addrset_init(&base.v6, 6);
	if (r->npeers == 0) {
		if (named && c->dir == IR_EGRESS) {
			/* Every pod is a peer: those whose named ports resolve get those ports. */
			for (const struct store_ns *ns = store_ns_first(c->s); ns && !rc;
			     ns = ns->next)
				for (const struct store_pod *p = ns->pods; p && !rc; p = p->ns_next)
					rc = add_peer_pod(c, pol, r, true, p, &base, &pr->gs);
		}
	} else {
		rc = collect_peers(c, pol, r, named, &base, &pr->gs);
	}
	addrset_normalise(&base.v4);
	addrset_normalise(&base.v6);
	if (pr->gs.n)
		qsort(pr->gs.v, pr->gs.n, sizeof(*pr->gs.v), group_cmp);
	for (uint32_t i = 0; i < pr->gs.n; i++) {
		addrset_normalise(&pr->gs.v[i].v4);
		addrset_normalise(&pr->gs.v[i].v6);
	}
	pr->v4 = base.v4;
	pr->v6 = base.v6;
	addrset_shrink(&pr->v4);
	addrset_shrink(&pr->v6);
	for (uint32_t i = 0; i < pr->gs.n; i++) {
		addrset_shrink(&pr->gs.v[i].v4);
		addrset_shrink(&pr->gs.v[i].v6);
	}
	if (rc < 0)
		peer_result_free(pr);
	return rc;
}

#define CACHE_BUCKETS 1024
#define CACHE_MAX_BYTES (4u << 20)

/* A set as the cache keeps it: IPv4 ranges as two host-order words (8 bytes, not 32). */
struct packed_set {
	uint32_t n;
	void *v; /* uint32_t[2n] for IPv4, struct ir_addr_range[n] for IPv6 */
};

struct packed_group {
	struct named_key key;
	struct packed_set v4, v6;
};

struct cache_entry {
	struct cache_entry *next;
	const struct store_rule *rule;
	enum ir_dir dir;
	struct packed_set v4, v6;
	uint32_t ngroups;
	struct packed_group *groups;
	size_t bytes;
};

struct peer_cache {
	uint64_t version;
	const struct policy_opts *opts;
	size_t bytes;
	struct cache_entry *b[CACHE_BUCKETS];
};

static size_t packed_size(const struct addrset *a)
{
	return a->n * (a->family == 4 ? 2 * sizeof(uint32_t) : sizeof(struct ir_addr_range));
}

static int pack_set(const struct addrset *a, struct packed_set *p)
{
	p->n = a->n;
	p->v = NULL;
	if (!a->n)
		return 0;
	p->v = malloc(packed_size(a));
	if (!p->v)
		return -1;
	if (a->family == 6) {
		memcpy(p->v, a->r, packed_size(a));
		return 0;
	}
	for (uint32_t i = 0; i < a->n; i++) {
		uint32_t lo, hi;
		memcpy(&lo, a->r[i].lo, 4);
		memcpy(&hi, a->r[i].hi, 4);
		((uint32_t *)p->v)[2 * i] = ntohl(lo);
		((uint32_t *)p->v)[2 * i + 1] = ntohl(hi);
	}
	return 0;
}

static int unpack_set(const struct packed_set *p, uint8_t family, struct addrset *a)
{
	addrset_init(a, family);
	if (!p->n)
		return 0;
	a->r = calloc(p->n, sizeof(*a->r));
	if (!a->r)
		return -1;
	a->n = a->cap = p->n;
	if (family == 6) {
		memcpy(a->r, p->v, p->n * sizeof(*a->r));
		return 0;
	}
	for (uint32_t i = 0; i < p->n; i++) {
		uint32_t lo = htonl(((const uint32_t *)p->v)[2 * i]);
		uint32_t hi = htonl(((const uint32_t *)p->v)[2 * i + 1]);
		memcpy(a->r[i].lo, &lo, 4);
		memcpy(a->r[i].hi, &hi, 4);
	}
	return 0;
}

static void entry_free(struct cache_entry *e)
{
	free(e->v4.v);
	free(e->v6.v);
	for (uint32_t i = 0; i < e->ngroups; i++) {
		free(e->groups[i].v4.v);
		free(e->groups[i].v6.v);
	}
	free(e->groups);
	free(e);
}

static struct cache_entry *entry_pack(const struct peer_result *pr)
{
	struct cache_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->bytes = sizeof(*e) + packed_size(&pr->v4) + packed_size(&pr->v6);
	if (pack_set(&pr->v4, &e->v4) < 0 || pack_set(&pr->v6, &e->v6) < 0)
		goto fail;
	if (pr->gs.n) {
		e->groups = calloc(pr->gs.n, sizeof(*e->groups));
		if (!e->groups)
			goto fail;
		e->ngroups = pr->gs.n;
		for (uint32_t i = 0; i < pr->gs.n; i++) {
			e->groups[i].key = pr->gs.v[i].key;
			e->bytes += sizeof(e->groups[i]) + packed_size(&pr->gs.v[i].v4) +
				    packed_size(&pr->gs.v[i].v6);
			if (pack_set(&pr->gs.v[i].v4, &e->groups[i].v4) < 0 ||
			    pack_set(&pr->gs.v[i].v6, &e->groups[i].v6) < 0)
				goto fail;
		}
	}
	return e;
fail:
	entry_free(e);
	return NULL;
}

static int entry_unpack(const struct cache_entry *e, struct peer_result *pr)
{
	memset(pr, 0, sizeof(*pr));
	if (unpack_set(&e->v4, 4, &pr->v4) < 0 || unpack_set(&e->v6, 6, &pr->v6) < 0)
		goto fail;
	if (e->ngroups) {
		pr->gs.v = calloc(e->ngroups, sizeof(*pr->gs.v));
		if (!pr->gs.v)
			goto fail;
		pr->gs.cap = e->ngroups;
		for (uint32_t i = 0; i < e->ngroups; i++) {
			struct group *g = &pr->gs.v[pr->gs.n++];
			g->key = e->groups[i].key;
			if (unpack_set(&e->groups[i].v4, 4, &g->v4) < 0 ||
			    unpack_set(&e->groups[i].v6, 6, &g->v6) < 0)
				goto fail;
		}
	}
	return 0;
fail:
	peer_result_free(pr);
	return -1;
}

static void cache_flush(struct peer_cache *pc)
{
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry *e = pc->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
		pc->b[i] = NULL;
	}
	pc->bytes = 0;
}

static void cache_free(void *data)
{
	cache_flush(data);
	free(data);
}

/* The peer cache of this store, emptied when the store or the options changed. */
static struct peer_cache *cache_get(struct cctx *c)
{
	struct store_derived *slot = store_derived_slot(c->s);
	struct peer_cache *pc = slot->data;

	if (!pc) {
		pc = calloc(1, sizeof(*pc));
		if (!pc)
			return NULL;
		slot->data = pc;
		slot->data_free = cache_free;
		pc->version = store_version(c->s);
		pc->opts = c->opts;
	}
	if (pc->version != store_version(c->s) || pc->opts != c->opts) {
		cache_flush(pc);
		pc->version = store_version(c->s);
		pc->opts = c->opts;
	}
	return pc;
}

/* The rule's peers into *pr (the caller frees it): from the cache, or computed and then kept
 * in the cache while it has room. */
static int peers_get(struct cctx *c, const struct store_policy *pol, const struct store_rule *r,
		     bool named, struct peer_result *pr)
{
	struct peer_cache *pc = cache_get(c);
	uint32_t h = (uint32_t)(((uintptr_t)r >> 4) * 2654435761u) % CACHE_BUCKETS;
	struct cache_entry *e;

	if (pc)
		for (e = pc->b[h]; e; e = e->next)
			if (e->rule == r && e->dir == c->dir)
				return entry_unpack(e, pr);
	if (peers_compute(c, pol, r, named, pr) < 0)
		return -1;
	if (pc && pc->bytes < CACHE_MAX_BYTES && (e = entry_pack(pr))) {
		if (pc->bytes + e->bytes > CACHE_MAX_BYTES) {
			entry_free(e);
			return 0;
		}
		e->rule = r;
		e->dir = c->dir;
		e->next = pc->b[h];
		pc->b[h] = e;
		pc->bytes += e->bytes;
	}
	return 0;
}

static void compile_rule(struct cctx *c, const struct store_policy *pol, const struct store_rule *r)
{
	struct portset *fixed = calloc(1, sizeof(*fixed)), *tmp = malloc(sizeof(*tmp));
	struct peer_result local = {0}, *pr = &local;
	bool named = false, any_good = false;
	uint32_t unit;

	if (r->bad)
		goto out; /* of the wrong JSON type: it allows nothing, never "everything" */
	if (!fixed || !tmp) {
		c->err = -1;
		goto out;
	}
	fixed->all = r->nports == 0;
	for (uint32_t i = 0; i < r->nports; i++) {
		const struct store_port_spec *ps = &r->ports[i];
		if (ps->bad)
			continue;
		any_good = true;
		if (ps->kind == PORT_ANY)
			fixed->any[proto_index(ps->proto)] = true;
		else if (ps->kind == PORT_NUMBER)
			portset_add(fixed, ps->proto, ps->port, ps->end_port);
		else
			named = true;
	}
	if (r->nports && !any_good)
		goto out; /* every port entry is broken: the rule matches nothing */
	portset_normalise(fixed);
	if (named && c->dir == IR_INGRESS) {
		resolve_named(r, c->pod, tmp);
		portset_union(fixed, tmp);
	}
	if (peers_get(c, pol, r, named, &local) < 0) {
		c->err = -1;
		goto out;
	}
	if (r->npeers == 0) {
		emit(c, fixed, NULL, 0, pol->comment);
	} else {
		unit = c->setno++;
		emit(c, fixed, &pr->v4, unit, pol->comment);
		emit(c, fixed, &pr->v6, unit, pol->comment);
	}
	for (uint32_t i = 0; i < pr->gs.n; i++) {
		const struct group *g = &pr->gs.v[i];
		memset(tmp, 0, sizeof(*tmp));
		for (uint32_t k = 0; k < g->key.n; k++)
			portset_add(tmp, g->key.v[k].proto, g->key.v[k].port, g->key.v[k].port);
		portset_normalise(tmp);
		if (r->npeers != 0)
			portset_union(tmp, fixed);
		unit = c->setno++;
		emit(c, tmp, &g->v4, unit, pol->comment);
		emit(c, tmp, &g->v6, unit, pol->comment);
	}
out:
	peer_result_free(&local);
	free(fixed);
	free(tmp);
}

/* An interface of the pod on a policed network: in scope and named by a selected policy.
 * isolate: it cannot be described safely; both its chains allow nothing (replies and NDP only). */
struct iface {
	const char *ifname, *network;
	bool isolate;
};

bool policy_plugin_in_scope(const struct policy_opts *o, const char *type)
{
	if (!type)
		return false;
	for (uint32_t i = 0; i < o->nplugins; i++)
		if (strcmp(o->plugins[i], type) == 0)
			return true;
	return false;
}

static bool net_in_scope(const struct cctx *c, const char *network)
{
	const struct store_nad *nad = store_nad_get_key(c->s, network);
	return nad && policy_plugin_in_scope(c->opts, nad->plugin_type);
}

static bool policed(const struct cctx *c, const struct store_policy **pols, uint32_t npols,
		    const char *network)
{
	bool named = false;
	for (uint32_t k = 0; k < npols && !named; k++)
		named = policy_has_net(pols[k], network);
	return named && net_in_scope(c, network);
}

static int iface_cmp(const void *a, const void *b)
{
	const struct iface *x = a, *y = b;
	int d = strcmp(x->ifname, y->ifname);
	return d ? d : strcmp(x->network, y->network);
}

static bool status_bad_for(const struct store_pod *p, const char *network)
{
	for (uint32_t k = 0; k < p->nstatus; k++)
		if (p->status[k].bad && p->status[k].network == network)
			return true;
	return false;
}

/* The pod's policed interfaces, sorted by name, into *out (arena); their count, or -1 when
 * memory ran out. Names come from network-status; a network without one there gets its
 * requested name or Multus' default net<N>. A malformed entry (an invalid interface name)
 * isolates its interface; when that interface cannot be named at all, or the pod has more than
 * MAX_IFACES policed interfaces, every policed interface of the pod is isolated: nothing is
 * ever skipped silently. */
static int pod_ifaces(struct cctx *c, const struct store_policy **pols, uint32_t npols,
		      struct iface **out)
{
	const struct store_pod *p = c->pod;
	struct iface *v = arena_alloc(c->a, (p->nstatus + p->nnets + 1) * sizeof(*v));
	bool unnamed = false;
	uint32_t n = 0, k = 0;

	if (!v)
		return -1;
	for (uint32_t i = 0; i < p->nstatus; i++) {
		const struct store_net_status *st = &p->status[i];
		if (st->ifname)
			v[n++] = (struct iface){st->ifname, st->network, false};
	}
	for (uint32_t i = 0; i < p->nnets; i++) {
		const struct store_net_ref *ref = &p->nets[i];
		bool seen = false;
		for (uint32_t j = 0; j < p->nstatus; j++)
			seen |= p->status[j].network == ref->network && p->status[j].ifname;
		if (seen)
			continue;
		if (ref->bad) {
			unnamed |= policed(c, pols, npols, ref->network);
			continue;
		}
		v[n].ifname = ref->ifname ? ref->ifname : arena_printf(c->a, "net%u", i + 1);
		v[n].network = ref->network;
		v[n].isolate = status_bad_for(p, ref->network);
		if (!v[n++].ifname)
			return -1;
	}
	/* A malformed network-status entry whose network the networks annotation lacks. */
	for (uint32_t i = 0; i < p->nstatus; i++) {
		bool named = false;
		if (!p->status[i].bad || !policed(c, pols, npols, p->status[i].network))
			continue;
		for (uint32_t j = 0; j < n; j++)
			named |= v[j].network == p->status[i].network && v[j].isolate;
		unnamed |= !named;
	}
	for (uint32_t i = 0; i < n; i++)
		if (policed(c, pols, npols, v[i].network))
			v[k++] = v[i];
	qsort(v, k, sizeof(*v), iface_cmp);
	n = 0;
	for (uint32_t i = 0; i < k; i++) {
		if (n && strcmp(v[n - 1].ifname, v[i].ifname) == 0)
			v[n - 1].isolate |= v[i].isolate;
		else
			v[n++] = v[i];
	}
	if (unnamed || n > MAX_IFACES) {
		if (unnamed)
			log_error("Pod %s/%s: an interface on a policed network has no valid name; "
				  "all its %u policed interfaces drop everything",
				  p->ns, p->name, n);
		else
			log_error(
			    "Pod %s/%s: %u policed interfaces, more than %d; all of them drop "
			    "everything",
			    p->ns, p->name, n, MAX_IFACES);
		for (uint32_t i = 0; i < n; i++)
			v[i].isolate = true;
	}
	*out = v;
	return (int)n;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The pod's interfaces in network-status that no chain polices, sorted and unique, into
 * out->exempt (arena): a second network on the policed one's host device is no child of it.
 * Returns 0, or -1 when memory ran out. */
static int pod_exempt(struct cctx *c, const struct ir_chain *chains, uint32_t nchains,
		      struct pod_ruleset *out)
{
	const struct store_pod *p = c->pod;
	const char **v = arena_alloc(c->a, (p->nstatus + 1) * sizeof(*v));
	uint32_t n = 0, k = 0;
	if (!v)
		return -1;
	for (uint32_t i = 0; i < p->nstatus; i++) {
		const char *ifname = p->status[i].ifname;
		bool policed_here = false;
		for (uint32_t j = 0; ifname && j < nchains && !policed_here; j++)
			policed_here = strcmp(chains[j].ifname, ifname) == 0;
		if (ifname && !policed_here)
			v[n++] = ifname;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	for (uint32_t i = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	out->exempt = v;
	out->nexempt = k;
	return 0;
}

static int policy_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct store_policy *const *)a)->name,
		      (*(const struct store_policy *const *)b)->name);
}

static void push_fixed(struct cctx *c, enum ir_rule_kind kind)
{
	struct ir_rule *r = rule_push(c);
	if (r)
		r->kind = kind;
}

static void push_ndp(struct cctx *c, uint32_t types)
{
	struct ir_rule *r = rule_push(c);
	if (!r)
		return;
	r->kind = IR_RULE_NDP;
	r->icmpv6_types = types;
}

static void push_icmp(struct cctx *c, uint8_t family, uint8_t proto)
{
	struct ir_rule *r = rule_push(c);
	if (!r)
		return;
	r->kind = IR_RULE_MATCH;
	r->family = family;
	r->l4proto = proto;
	r->verdict = IR_ACCEPT;
}

static void push_custom(struct cctx *c, const struct custom_rules *cr)
{
	for (uint32_t i = 0; i < cr->n; i++) {
		struct ir_rule *r = rule_push(c);
		struct ir_port_range *pr;
		if (!r)
			return;
		*r = cr->rules[i];
		if (r->nports) {
			pr = arena_alloc(c->a, r->nports * sizeof(*pr));
			if (!pr) {
				c->err = -1;
				return;
			}
			memcpy(pr, cr->rules[i].ports, r->nports * sizeof(*pr));
			r->ports = pr;
		}
	}
}

/* The accepts of one chain (c->dir, network): ICMP and custom rules, then every selected
 * policy's rules for that direction and network. */
static void push_allows(struct cctx *c, const struct store_policy **pols, uint32_t npols,
			const char *network)
{
	const struct policy_opts *opts = c->opts;
	bool in = c->dir == IR_INGRESS;

	if (opts->accept_icmp)
		push_icmp(c, 4, IPPROTO_ICMP);
	if (opts->accept_icmpv6)
		push_icmp(c, 6, IPPROTO_ICMPV6);
	push_custom(c, &opts->custom[0][c->dir]);
	push_custom(c, &opts->custom[1][c->dir]);
	for (uint32_t k = 0; k < npols && !c->err; k++) {
		const struct store_policy *p = pols[k];
		uint32_t nr = in ? p->ningress : p->negress;
		const struct store_rule *rs = in ? p->ingress_rules : p->egress_rules;
		if (!(in ? p->ingress : p->egress) || !policy_has_net(p, network))
			continue;
		c->nnets = 0;
		for (uint32_t n = 0; n < p->nnets; n++)
			if (net_in_scope(c, p->nets[n]))
				c->nets[c->nnets++] = p->nets[n];
		for (uint32_t j = 0; j < nr && !c->err; j++) {
			c->rule_no = j + 1;
			compile_rule(c, p, &rs[j]);
		}
	}
}

int pod_ruleset_compute(const struct store *s, const struct store_pod *pod,
			const struct policy_opts *opts, struct arena *a, struct pod_ruleset *out)
{
	struct cctx c = {.s = s, .pod = pod, .opts = opts, .a = a};
	const struct store_ns *ns = store_ns_get(s, pod->ns);
	const struct store_policy **pols = NULL;
	struct iface *ifs = NULL;
	struct ir_chain *chains = NULL;
	uint32_t npols = 0, nchains = 0, maxnets = 0;
	int nifs;

	memset(out, 0, sizeof(*out));
	if (!ns || !ns->npolicies || !pod->local)
		return 0;
	pols = malloc(ns->npolicies * sizeof(*pols));
	if (!pols)
		return -1;
	for (const struct store_policy *p = ns->policies; p; p = p->ns_next)
		if (p->nnets && selector_matches(&p->pod_sel, &pod->labels))
			pols[npols++] = p;
	qsort(pols, npols, sizeof(*pols), policy_name_cmp);
	for (uint32_t k = 0; k < npols; k++)
		maxnets = pols[k]->nnets > maxnets ? pols[k]->nnets : maxnets;
	c.nets = arena_alloc(a, (maxnets + 1) * sizeof(*c.nets));
	if (!c.nets) {
		free(pols);
		return -1;
	}
	nifs = npols ? pod_ifaces(&c, pols, npols, &ifs) : 0;
	if (nifs < 0)
		c.err = -1;
	if (nifs > 0)
		chains = arena_zalloc(a, 2 * (size_t)nifs * sizeof(*chains));
	if (nifs > 0 && !chains)
		c.err = -1;
	for (uint32_t i = 0; i < (uint32_t)(nifs > 0 ? nifs : 0) && !c.err; i++) {
		for (int d = IR_INGRESS; d <= IR_EGRESS && !c.err; d++) {
			bool any = ifs[i].isolate;
			struct ir_rule *rules;
			for (uint32_t k = 0; k < npols; k++)
				any |= (d == IR_INGRESS ? pols[k]->ingress : pols[k]->egress) &&
				       policy_has_net(pols[k], ifs[i].network);
			if (!any)
				continue;
			c.dir = (enum ir_dir)d;
			c.chain = arena_printf(a, "%s-%s", d == IR_INGRESS ? "ingress" : "egress",
					       ifs[i].ifname);
			c.setno = 0;
			c.rv.n = 0;
			if (!c.chain) {
				c.err = -1;
				break;
			}
			push_fixed(&c, IR_RULE_CT_ESTABLISHED);
			if (d == IR_EGRESS)
				push_ndp(&c, IR_NDP_EGRESS);
			else if (opts->accept_ipv6_router_advertisements)
				push_ndp(&c, IR_NDP_INGRESS | IR_NDP_ROUTER);
			else
				push_ndp(&c, IR_NDP_INGRESS);
			if (!ifs[i].isolate)
				push_allows(&c, pols, npols, ifs[i].network);
			{
				struct ir_rule *drop = rule_push(&c);
				if (drop) {
					drop->kind = IR_RULE_MATCH;
					drop->verdict = IR_DROP;
					drop->counter = true;
				}
			}
			if (c.err)
				break;
			rules = arena_alloc(a, c.rv.n * sizeof(*rules));
			if (!rules) {
				c.err = -1;
				break;
			}
			memcpy(rules, c.rv.v, c.rv.n * sizeof(*rules));
			const char **names = arena_alloc(a, (npols ? npols : 1) * sizeof(*names));
			uint32_t nnames = 0;
			if (!names) {
				c.err = -1;
				break;
			}
			for (uint32_t k = 0; k < npols; k++)
				if ((d == IR_INGRESS ? pols[k]->ingress : pols[k]->egress) &&
				    policy_has_net(pols[k], ifs[i].network))
					names[nnames++] = pols[k]->comment;
			chains[nchains++] = (struct ir_chain){.name = c.chain,
							      .ifname = ifs[i].ifname,
							      .network = ifs[i].network,
							      .dir = (enum ir_dir)d,
							      .nrules = c.rv.n,
							      .rules = rules,
							      .npolicies = nnames,
							      .policies = names};
		}
	}
	if (!c.err && c.nsets) {
		struct ir_addr_set *sets = arena_alloc(a, c.nsets * sizeof(*sets));
		if (!sets)
			c.err = -1;
		else
			memcpy(sets, c.sets, c.nsets * sizeof(*sets));
		out->sets = sets;
		out->nsets = c.nsets;
	}
	free(c.sets);
	free(c.hashes);
	free(c.rv.v);
	free(pols);
	if (c.err) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->nchains = nchains;
	out->chains = chains;
	if (nchains && pod_exempt(&c, chains, nchains, out) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}
