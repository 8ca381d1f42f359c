/* The store's containers: hash indexes by namespace/name, per-namespace lists, the local pod
 * list, the dirty set, and relist (replace) bookkeeping. Decoding lives in decode*.c, each
 * record's memory in mem.c. */
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Hash index keyed by two interned pointers. */
static uint32_t hkey(const char *k1, const char *k2)
{
	uint64_t h = (uint64_t)(uintptr_t)k1 * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)k2;
	h *= 0xC2B2AE3D27D4EB4Full;
	return (uint32_t)(h >> 32);
}

static const char *node_k1(const struct htab *t, const struct hnode *n)
{
	return t->k1_at ? *(const char *const *)(const void *)((const char *)n + t->k1_at)
			: t->k1_fixed;
}

static const char *node_k2(const struct htab *t, const struct hnode *n)
{
	return *(const char *const *)(const void *)((const char *)n + t->k2_at);
}

static uint32_t htab_key(const struct htab *t, const char *k1, const char *k2)
{
	if (t->by_text)
		return hkey(k1, (const char *)(uintptr_t)intern_hash(t->by_text, k2, strlen(k2)));
	return hkey(k1, k2);
}

static struct hnode *htab_find(const struct htab *t, const char *k1, const char *k2)
{
	if (!t->nb || !k1 || !k2)
		return NULL;
	for (struct hnode *n = t->b[htab_key(t, k1, k2) & (t->nb - 1)]; n; n = n->next)
		if (node_k1(t, n) == k1 &&
		    (node_k2(t, n) == k2 || (t->by_text && !strcmp(node_k2(t, n), k2))))
			return n;
	return NULL;
}

static int htab_add(struct htab *t, struct hnode *n)
{
	if (t->n >= t->nb) {
		uint32_t nb = t->nb ? t->nb * 2 : 64;
		struct hnode **b = calloc(nb, sizeof(*b));
		if (!b)
			return -1;
		for (uint32_t i = 0; i < t->nb; i++) {
			struct hnode *e = t->b[i], *next;
			for (; e; e = next) {
				next = e->next;
				uint32_t k = htab_key(t, node_k1(t, e), node_k2(t, e)) & (nb - 1);
				e->next = b[k];
				b[k] = e;
			}
		}
		free(t->b);
		t->b = b;
		t->nb = nb;
	}
	uint32_t k = htab_key(t, node_k1(t, n), node_k2(t, n)) & (t->nb - 1);
	n->next = t->b[k];
	t->b[k] = n;
	t->n++;
	return 0;
}

static void htab_del(struct htab *t, struct hnode *n)
{
	struct hnode **pp = &t->b[htab_key(t, node_k1(t, n), node_k2(t, n)) & (t->nb - 1)];
	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	t->n--;
}

/* Iterates every node of a table; safe against deleting the current one. */
#define HTAB_EACH(t, n, nx)                                                                        \
	for (uint32_t hb_ = 0; hb_ < (t)->nb; hb_++)                                               \
		for (n = (t)->b[hb_], nx = n ? n->next : NULL; n; n = nx, nx = n ? n->next : NULL)

/* Where a record's key field is, from its table node. */
#define KEY_AT(type, field) ((int)((ptrdiff_t)offsetof(type, field) - (ptrdiff_t)offsetof(type, h)))

struct store *store_new(const char *node_name)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->node = strdup(node_name ? node_name : "");
	s->empty = intern_get(&s->strings, "", 0);
	s->pods.by_text = &s->strings;
	s->pods.k1_at = KEY_AT(struct pod_rec, pub.ns);
	s->pods.k2_at = KEY_AT(struct pod_rec, pub.name);
	s->pols.k1_at = KEY_AT(struct pol_rec, pub.ns);
	s->pols.k2_at = KEY_AT(struct pol_rec, pub.name);
	s->nads.k1_at = KEY_AT(struct nad_rec, pub.ns);
	s->nads.k2_at = KEY_AT(struct nad_rec, pub.name);
	s->nss.k1_fixed = s->empty;
	s->nss.k2_at = KEY_AT(struct ns_rec, pub.name);
	if (!s->node || !s->empty) {
		intern_free(&s->strings);
		free(s->node);
		free(s);
		return NULL;
	}
	return s;
}

const char *store_node_name(const struct store *s)
{
	return s->node;
}

/* Namespace records exist while a Namespace object, a pod or a policy refers to them. */
static struct ns_rec *ns_lookup(const struct store *s, const char *name)
{
	const char *k = intern_find(&s->strings, name, strlen(name));
	struct hnode *n = htab_find(&s->nss, s->empty, k);
	return n ? container_of(n, struct ns_rec, h) : NULL;
}

static void ns_link(struct store *s, struct ns_rec *r)
{
	r->prev = NULL;
	r->pub.next = s->ns_head ? &s->ns_head->pub : NULL;
	if (s->ns_head)
		s->ns_head->prev = r;
	s->ns_head = r;
}

static void ns_unlink(struct store *s, struct ns_rec *r)
{
	struct ns_rec *next = (struct ns_rec *)(void *)r->pub.next;
	if (r->prev)
		r->prev->pub.next = r->pub.next;
	else
		s->ns_head = next;
	if (next)
		next->prev = r->prev;
}

static struct ns_rec *ns_ref(struct store *s, const char *name)
{
	struct ns_rec *r = ns_lookup(s, name);
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->pub.name = mem_intern_z(s, &r->mem, name);
	if (!r->pub.name || htab_add(&s->nss, &r->h) < 0) {
		mem_release(s, &r->mem);
		free(r);
		return NULL;
	}
	ns_link(s, r);
	return r;
}

static void ns_maybe_free(struct store *s, struct ns_rec *r)
{
	if (r->pub.exists || r->pub.npods || r->pub.npolicies)
		return;
	htab_del(&s->nss, &r->h);
	ns_unlink(s, r);
	mem_release(s, &r->mem);
	free(r);
}

static bool is_local(const struct store *s, const struct store_pod *p)
{
	return p->node[0] && strcmp(p->node, s->node) == 0 && !p->host_network && !p->terminated;
}

static void gone_add(struct store *s, const char *uid)
{
	char *copy;
	if (s->ngone == s->capgone) {
		uint32_t cap = s->capgone ? s->capgone * 2 : 16;
		char **g = realloc(s->gone, cap * sizeof(*g));
		if (!g)
			return;
		s->gone = g;
		s->capgone = cap;
	}
	copy = strdup(uid);
	if (copy)
		s->gone[s->ngone++] = copy;
}

/* Dirty marking: who a change can affect. */
static void mark_policied(struct store *s)
{
	for (struct pod_rec *p = s->local_head; p; p = p->local_next)
		if (p->nsr->pub.npolicies)
			p->dirty = true;
}

static void mark_ns(struct store *s, const struct ns_rec *ns)
{
	for (struct pod_rec *p = s->local_head; p; p = p->local_next)
		if (p->nsr == ns)
			p->dirty = true;
}

static bool pod_uses_net(const struct store_pod *p, const char *key)
{
	for (uint32_t i = 0; i < p->nnets; i++)
		if (p->nets[i].network == key)
			return true;
	for (uint32_t i = 0; i < p->nstatus; i++)
		if (p->status[i].network == key)
			return true;
	return false;
}

static bool policy_names_net(const struct store_policy *p, const char *key)
{
	for (uint32_t i = 0; i < p->nnets; i++)
		if (p->nets[i] == key)
			return true;
	return false;
}

/* A NAD decides whether its network is in scope: for the pods attached to it, and for every
 * pod a policy naming it may select, whose peer sets hold addresses on that network. */
static void mark_nad(struct store *s, const char *key)
{
	for (struct pod_rec *p = s->local_head; p; p = p->local_next)
		if (pod_uses_net(&p->pub, key))
			p->dirty = true;
	for (const struct ns_rec *ns = s->ns_head; ns; ns = (const void *)ns->pub.next)
		for (const struct store_policy *p = ns->pub.policies; p; p = p->ns_next)
			if (policy_names_net(p, key)) {
				mark_ns(s, ns);
				break;
			}
}

static bool labels_equal(const struct store_labels *a, const struct store_labels *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->v[i].key != b->v[i].key || a->v[i].value != b->v[i].value)
			return false;
	return true;
}

/* Whether what other pods' rules see of this pod (labels, addresses, ports) changed. */
static bool peer_view_equal(const struct store_pod *a, const struct store_pod *b)
{
	if (!labels_equal(&a->labels, &b->labels) || a->nstatus != b->nstatus ||
	    a->nports != b->nports || a->terminated != b->terminated ||
	    a->host_network != b->host_network)
		return false;
	for (uint32_t i = 0; i < a->nports; i++)
		if (a->ports[i].name != b->ports[i].name || a->ports[i].port != b->ports[i].port ||
		    a->ports[i].proto != b->ports[i].proto)
			return false;
	for (uint32_t i = 0; i < a->nstatus; i++) {
		const struct store_net_status *x = &a->status[i], *y = &b->status[i];
		if (x->network != y->network || x->ifname != y->ifname || x->nips != y->nips ||
		    (x->nips && memcmp(x->ips, y->ips, x->nips * sizeof(*x->ips))))
			return false;
	}
	return true;
}

static void local_link(struct store *s, struct pod_rec *p)
{
	p->local_prev = NULL;
	p->local_next = s->local_head;
	if (s->local_head)
		s->local_head->local_prev = p;
	s->local_head = p;
}

static void local_unlink(struct store *s, struct pod_rec *p)
{
	if (p->local_prev)
		p->local_prev->local_next = p->local_next;
	else
		s->local_head = p->local_next;
	if (p->local_next)
		p->local_next->local_prev = p->local_prev;
}

/* Takes the pod out of every index; frees it. */
static void pod_remove(struct store *s, struct pod_rec *p)
{
	struct ns_rec *ns = p->nsr;
	struct pod_rec *next = (struct pod_rec *)(void *)p->pub.ns_next;

	htab_del(&s->pods, &p->h);
	if (p->ns_prev)
		p->ns_prev->pub.ns_next = p->pub.ns_next;
	else
		ns->pub.pods = p->pub.ns_next;
	if (next)
		next->ns_prev = p->ns_prev;
	ns->pub.npods--;
	if (p->pub.local)
		local_unlink(s, p);
	s->obj_bytes -= mem_bytes(&p->mem) + sizeof(*p);
	mem_release(s, &p->mem);
	free(p);
	ns_maybe_free(s, ns);
}

static int pod_insert(struct store *s, struct pod_rec *p)
{
	struct ns_rec *ns = ns_ref(s, p->pub.ns);
	if (!ns)
		return -1;
	if (htab_add(&s->pods, &p->h) < 0) {
		ns_maybe_free(s, ns);
		return -1;
	}
	p->nsr = ns;
	p->ns_prev = NULL;
	p->pub.ns_next = ns->pub.pods;
	if (ns->pub.pods)
		((struct pod_rec *)(void *)ns->pub.pods)->ns_prev = p;
	ns->pub.pods = &p->pub;
	ns->pub.npods++;
	p->pub.local = is_local(s, &p->pub);
	if (p->pub.local) {
		local_link(s, p);
		p->dirty = true;
	}
	s->obj_bytes += mem_bytes(&p->mem) + sizeof(*p);
	return 0;
}

bool store_pod_kept(const struct store *s, const struct store_pod *p)
{
	if (s->keep_all)
		return true;
	if (p->node[0] && strcmp(p->node, s->node) == 0)
		return true; /* local pods, and this node's others (the agent's own) */
	if (p->terminated || p->host_network)
		return false; /* never a peer */
	return p->nnets || p->nets_bad || p->nstatus || p->status_bad;
}

static bool nets_equal(const struct store_pod *a, const struct store_pod *b)
{
	if (a->nnets != b->nnets || a->nets_bad != b->nets_bad || a->status_bad != b->status_bad)
		return false;
	for (uint32_t i = 0; i < a->nnets; i++)
		if (a->nets[i].network != b->nets[i].network ||
		    a->nets[i].ifname != b->nets[i].ifname || a->nets[i].bad != b->nets[i].bad)
			return false;
	for (uint32_t i = 0; i < a->nstatus; i++) /* peer_view_equal compared the rest */
		if (a->status[i].bad != b->status[i].bad)
			return false;
	return true;
}

bool store_pod_refresh(struct store *s, const struct store_pod *p)
{
	struct hnode *h = htab_find(&s->pods, p->ns, p->name);
	struct pod_rec *old = h ? container_of(h, struct pod_rec, h) : NULL;

	if (!old || old->pub.local || is_local(s, p) || old->pub.node != p->node ||
	    old->pub.deleting != p->deleting || strcmp(old->pub.uid, p->uid) ||
	    !peer_view_equal(&old->pub, p) || !nets_equal(&old->pub, p))
		return false;
	old->gen = s->gen[KIND_POD];
	return true;
}

static void delete_pod(struct store *s, struct pod_rec *p);

static int upsert_pod(struct store *s, struct pod_rec *p)
{
	struct hnode *h = htab_find(&s->pods, p->pub.ns, p->pub.name);
	struct pod_rec *old = h ? container_of(h, struct pod_rec, h) : NULL;
	bool peer_change = true;

	if (s->in_replace[KIND_POD])
		s->pods_listing++;
	if (p->same) { /* held as it is, and marked seen */
		mem_release(s, &p->mem);
		free(p);
		return 0;
	}
	if (!store_pod_kept(s, &p->pub)) {
		/* Not kept: what the store held for it goes as on a delete. */
		mem_release(s, &p->mem);
		free(p);
		if (old) {
			s->version++;
			delete_pod(s, old);
		}
		return 0;
	}
	s->version++;
	p->gen = s->gen[KIND_POD];
	if (old) {
		peer_change = !peer_view_equal(&old->pub, &p->pub);
		if (old->pub.local && (!is_local(s, &p->pub) || strcmp(old->pub.uid, p->pub.uid)))
			gone_add(s, old->pub.uid);
		pod_remove(s, old);
	}
	if (pod_insert(s, p) < 0) {
		mem_release(s, &p->mem);
		free(p);
		return -1;
	}
	if (peer_change)
		mark_policied(s);
	return 0;
}

static void policy_remove(struct store *s, struct pol_rec *p)
{
	struct ns_rec *ns = p->nsr;
	struct pol_rec *next = (struct pol_rec *)(void *)p->pub.ns_next;

	htab_del(&s->pols, &p->h);
	if (p->ns_prev)
		p->ns_prev->pub.ns_next = p->pub.ns_next;
	else
		ns->pub.policies = p->pub.ns_next;
	if (next)
		next->ns_prev = p->ns_prev;
	ns->pub.npolicies--;
	s->obj_bytes -= mem_bytes(&p->mem) + sizeof(*p);
	mem_release(s, &p->mem);
	free(p);
}

static int upsert_policy(struct store *s, struct pol_rec *p)
{
	struct hnode *h = htab_find(&s->pols, p->pub.ns, p->pub.name);
	struct ns_rec *ns;

	if (h)
		policy_remove(s, container_of(h, struct pol_rec, h));
	ns = ns_ref(s, p->pub.ns);
	if (!ns || htab_add(&s->pols, &p->h) < 0) {
		if (ns)
			ns_maybe_free(s, ns);
		mem_release(s, &p->mem);
		free(p);
		return -1;
	}
	p->gen = s->gen[KIND_POLICY];
	p->nsr = ns;
	p->ns_prev = NULL;
	p->pub.ns_next = ns->pub.policies;
	if (ns->pub.policies)
		((struct pol_rec *)(void *)ns->pub.policies)->ns_prev = p;
	ns->pub.policies = &p->pub;
	ns->pub.npolicies++;
	s->obj_bytes += mem_bytes(&p->mem) + sizeof(*p);
	mark_ns(s, ns);
	return 0;
}

static void nad_remove(struct store *s, struct nad_rec *n)
{
	htab_del(&s->nads, &n->h);
	s->obj_bytes -= mem_bytes(&n->mem) + sizeof(*n);
	mem_release(s, &n->mem);
	free(n);
}

static int upsert_nad(struct store *s, struct nad_rec *n)
{
	struct hnode *h = htab_find(&s->nads, n->pub.ns, n->pub.name);
	bool changed = true;

	if (h) {
		struct nad_rec *old = container_of(h, struct nad_rec, h);
		changed = old->pub.plugin_type != n->pub.plugin_type;
		nad_remove(s, old);
	}
	if (htab_add(&s->nads, &n->h) < 0) {
		mem_release(s, &n->mem);
		free(n);
		return -1;
	}
	n->gen = s->gen[KIND_NAD];
	s->obj_bytes += mem_bytes(&n->mem) + sizeof(*n);
	if (changed)
		mark_nad(s, n->pub.key);
	return 0;
}

/* A Namespace object: labels move into the (possibly already referenced) record. */
static int upsert_ns(struct store *s, struct ns_rec *fresh)
{
	struct ns_rec *r = ns_ref(s, fresh->pub.name);
	bool changed;

	if (!r) {
		mem_release(s, &fresh->mem);
		free(fresh);
		return -1;
	}
	changed = !r->pub.exists || !labels_equal(&r->pub.labels, &fresh->pub.labels);
	/* Swap the label memory: the record keeps the new object's strings and chunks. */
	if (r->pub.exists)
		s->obj_bytes -= mem_bytes(&r->mem);
	{
		struct obj_mem tmp = r->mem;
		const char *name = r->pub.name;
		r->mem = fresh->mem;
		fresh->mem = tmp;
		r->pub.labels = fresh->pub.labels;
		r->pub.name = fresh->pub.name;
		(void)name;
	}
	mem_release(s, &fresh->mem);
	free(fresh);
	r->pub.exists = true;
	r->gen = s->gen[KIND_NAMESPACE];
	s->obj_bytes += mem_bytes(&r->mem);
	if (changed)
		mark_policied(s);
	return 0;
}

uint64_t store_version(const struct store *s)
{
	return s->version;
}

struct store_derived *store_derived_slot(const struct store *s)
{
	/* Derived data is not the store's content: a const store may still carry it. */
	return (struct store_derived *)&s->derived;
}

int store_upsert_json(struct store *s, enum kube_kind kind, const char *json, size_t len)
{
	switch (kind) {
	case KIND_POD: {
		/* upsert_pod counts a change only when a kept pod comes or goes: the churn of pods
		 * the store does not keep leaves readers' derived data valid. */
		struct pod_rec *p = decode_pod(s, json, len);
		return p ? upsert_pod(s, p) : -1;
	}
	default:
		break;
	}
	s->version++;
	switch (kind) {
	case KIND_NAMESPACE: {
		struct ns_rec *n = decode_namespace(s, json, len);
		return n ? upsert_ns(s, n) : -1;
	}
	case KIND_NAD: {
		struct nad_rec *n = decode_nad(s, json, len);
		return n ? upsert_nad(s, n) : -1;
	}
	case KIND_POLICY: {
		struct pol_rec *p = decode_policy(s, json, len);
		return p ? upsert_policy(s, p) : -1;
	}
	default:
		return -1;
	}
}

static void delete_pod(struct store *s, struct pod_rec *p)
{
	if (p->pub.local)
		gone_add(s, p->pub.uid);
	pod_remove(s, p);
	mark_policied(s);
}

static void delete_policy(struct store *s, struct pol_rec *p)
{
	struct ns_rec *ns = p->nsr;
	mark_ns(s, ns);
	policy_remove(s, p);
	ns_maybe_free(s, ns);
}

static void delete_nad(struct store *s, struct nad_rec *n)
{
	mark_nad(s, n->pub.key);
	nad_remove(s, n);
}

static void delete_ns(struct store *s, struct ns_rec *r)
{
	s->obj_bytes -= mem_bytes(&r->mem);
	r->pub.exists = false;
	r->pub.labels.n = 0;
	r->pub.labels.v = NULL;
	mark_policied(s);
	ns_maybe_free(s, r);
}

int store_delete(struct store *s, enum kube_kind kind, const char *ns, const char *name)
{
	const char *kns = intern_find(&s->strings, ns, strlen(ns));
	const char *kname = intern_find(&s->strings, name, strlen(name));
	struct hnode *h;

	/* A DELETED event for an object the store does not hold (a pod it did not keep) changes
	 * nothing, not even the version. */
	switch (kind) {
	case KIND_POD:
		if (!(h = htab_find(&s->pods, kns, name)))
			return -1;
		s->version++;
		delete_pod(s, container_of(h, struct pod_rec, h));
		return 0;
	case KIND_POLICY:
		if (!(h = htab_find(&s->pols, kns, kname)))
			return -1;
		s->version++;
		delete_policy(s, container_of(h, struct pol_rec, h));
		return 0;
	case KIND_NAD:
		if (!(h = htab_find(&s->nads, kns, kname)))
			return -1;
		s->version++;
		delete_nad(s, container_of(h, struct nad_rec, h));
		return 0;
	case KIND_NAMESPACE: {
		struct ns_rec *r = ns_lookup(s, name);
		if (!r || !r->pub.exists)
			return -1;
		s->version++;
		delete_ns(s, r);
		return 0;
	}
	default:
		return -1;
	}
}

int store_delete_json(struct store *s, enum kube_kind kind, const char *json, size_t len)
{
	char ns[256], name[256];

	if (decode_meta_name(s, json, len, ns, sizeof(ns), name, sizeof(name)) < 0) {
		log_error("DELETED event without metadata.name, ignored");
		return -1;
	}
	return store_delete(s, kind, ns, name);
}

static int sink_object(void *ctx, enum kube_kind kind, enum kube_event ev, const char *json,
		       size_t len)
{
	struct store *s = ctx;
	if (ev == EV_DELETED) {
		store_delete_json(s, kind, json, len);
		return 0;
	}
	return store_upsert_json(s, kind, json, len);
}

static void sink_replace_begin(void *ctx, enum kube_kind kind)
{
	struct store *s = ctx;
	if (kind < KIND_COUNT) {
		s->gen[kind]++;
		s->in_replace[kind] = true;
		if (kind == KIND_POD)
			s->pods_listing = 0;
	}
}

static void sink_replace_end(void *ctx, enum kube_kind kind)
{
	struct store *s = ctx;
	struct hnode *n, *nx;
	uint32_t g;

	if (kind >= KIND_COUNT || !s->in_replace[kind])
		return;
	s->in_replace[kind] = false;
	s->version++;
	g = s->gen[kind];
	switch (kind) {
	case KIND_POD:
		s->pods_listed = s->pods_listing;
		HTAB_EACH(&s->pods, n, nx)
		{
			struct pod_rec *p = container_of(n, struct pod_rec, h);
			if (p->gen != g)
				delete_pod(s, p);
		}
		break;
	case KIND_POLICY:
		HTAB_EACH(&s->pols, n, nx)
		{
			struct pol_rec *p = container_of(n, struct pol_rec, h);
			if (p->gen != g)
				delete_policy(s, p);
		}
		break;
	case KIND_NAD:
		HTAB_EACH(&s->nads, n, nx)
		{
			struct nad_rec *r = container_of(n, struct nad_rec, h);
			if (r->gen != g)
				delete_nad(s, r);
		}
		break;
	case KIND_NAMESPACE: {
		struct ns_rec *r = s->ns_head, *next;
		for (; r; r = next) {
			next = (struct ns_rec *)(void *)r->pub.next;
			if (r->pub.exists && r->gen != g)
				delete_ns(s, r);
		}
		break;
	}
	default:
		break;
	}
}

struct kube_sink store_sink(struct store *s)
{
	struct kube_sink k = {.ctx = s,
			      .object = sink_object,
			      .replace_begin = sink_replace_begin,
			      .replace_end = sink_replace_end};
	return k;
}

const struct store_ns *store_ns_get(const struct store *s, const char *name)
{
	struct ns_rec *r = ns_lookup(s, name);
	return r ? &r->pub : NULL;
}

const struct store_ns *store_ns_first(const struct store *s)
{
	return s->ns_head ? &s->ns_head->pub : NULL;
}

const struct store_pod *store_pod_get(const struct store *s, const char *ns, const char *name)
{
	struct hnode *h = htab_find(&s->pods, intern_find(&s->strings, ns, strlen(ns)), name);
	return h ? &container_of(h, struct pod_rec, h)->pub : NULL;
}

const struct store_nad *store_nad_get(const struct store *s, const char *ns, const char *name)
{
	struct hnode *h = htab_find(&s->nads, intern_find(&s->strings, ns, strlen(ns)),
				    intern_find(&s->strings, name, strlen(name)));
	return h ? &container_of(h, struct nad_rec, h)->pub : NULL;
}

const struct store_nad *store_nad_get_key(const struct store *s, const char *key)
{
	const char *slash = strchr(key, '/');
	const char *kns, *kname;
	struct hnode *h;

	if (!slash)
		return NULL;
	kns = intern_find(&s->strings, key, (size_t)(slash - key));
	kname = intern_find(&s->strings, slash + 1, strlen(slash + 1));
	h = htab_find(&s->nads, kns, kname);
	return h ? &container_of(h, struct nad_rec, h)->pub : NULL;
}

void store_for_each_dirty(struct store *s, store_dirty_cb cb, void *ctx)
{
	for (uint32_t i = 0; i < s->ngone; i++) {
		cb(ctx, s->gone[i], NULL);
		free(s->gone[i]);
	}
	s->ngone = 0;
	for (struct pod_rec *p = s->local_head; p; p = p->local_next) {
		if (p->dirty) {
			p->dirty = false;
			cb(ctx, p->pub.uid, &p->pub);
		}
	}
}

void store_mark_all_dirty(struct store *s)
{
	for (struct pod_rec *p = s->local_head; p; p = p->local_next)
		p->dirty = true;
}

void store_for_each_local(const struct store *s, store_dirty_cb cb, void *ctx)
{
	for (struct pod_rec *p = s->local_head; p; p = p->local_next)
		cb(ctx, p->pub.uid, &p->pub);
}

void store_get_stats(const struct store *s, struct store_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->pods = s->pods.n;
	st->pods_listed = s->pods_listed;
	st->namespaces = s->nss.n;
	st->nads = s->nads.n;
	st->policies = s->pols.n;
	st->strings = s->strings.n;
	for (struct pod_rec *p = s->local_head; p; p = p->local_next)
		st->local_pods++;
	st->bytes = sizeof(*s) + s->strings.bytes + s->obj_bytes +
		    ((size_t)s->pods.nb + s->nss.nb + s->nads.nb + s->pols.nb) * sizeof(void *) +
		    (size_t)s->ntok * sizeof(jsmntok_t) + (size_t)s->capgone * sizeof(char *);
	for (const struct ns_rec *r = s->ns_head; r; r = (const struct ns_rec *)(void *)r->pub.next)
		st->bytes += sizeof(*r) + (r->pub.exists ? 0 : mem_bytes(&r->mem));
}

void store_free(struct store *s)
{
	struct hnode *n, *nx;

	if (!s)
		return;
	if (s->derived.data && s->derived.data_free)
		s->derived.data_free(s->derived.data);
	HTAB_EACH(&s->pods, n, nx)
	{
		struct pod_rec *p = container_of(n, struct pod_rec, h);
		mem_release(s, &p->mem);
		free(p);
	}
	HTAB_EACH(&s->pols, n, nx)
	{
		struct pol_rec *p = container_of(n, struct pol_rec, h);
		mem_release(s, &p->mem);
		free(p);
	}
	HTAB_EACH(&s->nads, n, nx)
	{
		struct nad_rec *r = container_of(n, struct nad_rec, h);
		mem_release(s, &r->mem);
		free(r);
	}
	for (struct ns_rec *r = s->ns_head, *next; r; r = next) {
		next = (struct ns_rec *)(void *)r->pub.next;
		mem_release(s, &r->mem);
		free(r);
	}
	for (uint32_t i = 0; i < s->ngone; i++)
		free(s->gone[i]);
	free(s->gone);
	free(s->pods.b);
	free(s->pols.b);
	free(s->nads.b);
	free(s->nss.b);
	free(s->tok);
	intern_free(&s->strings);
	free(s->node);
	free(s);
}
