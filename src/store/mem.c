/* Object memory: each record's block (chunks handed out by mem_alloc, or one planned block) and
 * the interned strings it references, given back together by mem_release; see internal.h. */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

struct chunk {
	struct chunk *next;
	size_t cap, used;
	_Alignas(8) unsigned char d[]; /* nothing stored needs more than a pointer's alignment */
};

void *mem_alloc(struct obj_mem *m, size_t n)
{
	size_t want = (n + 7) & ~(size_t)7;
	struct chunk *c = m->chunks;
	void *p;

	if (!c || c->cap - c->used < want) {
		size_t cap = want > 240 ? want : 240;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = m->chunks;
		m->chunks = c;
	}
	p = c->d + c->used;
	c->used += want;
	memset(p, 0, n);
	return p;
}

size_t mem_bytes(const struct obj_mem *m)
{
	size_t n = m->held_inline ? 0 : (size_t)m->capheld * sizeof(*m->held);
	for (const struct chunk *c = m->chunks; c; c = c->next)
		n += sizeof(*c) + c->cap;
	return n;
}

size_t mem_need(const struct obj_mem *m)
{
	size_t n = 0;
	for (const struct chunk *c = m->chunks; c; c = c->next)
		n += c->used;
	return n;
}

int mem_plan(struct obj_mem *m, size_t need, uint32_t nheld)
{
	size_t held = (size_t)nheld * sizeof(char *);
	struct chunk *c = malloc(sizeof(*c) + need + held);

	if (!c)
		return -1;
	c->cap = need + held;
	c->used = held;
	c->next = NULL;
	m->chunks = c;
	m->held = (const char **)(void *)c->d;
	m->capheld = nheld;
	m->held_inline = true;
	return 0;
}

const char *mem_intern(struct store *s, struct obj_mem *m, const char *str, size_t len)
{
	const char *r;

	if (m->nheld == m->capheld) {
		uint32_t cap = m->capheld ? m->capheld * 2 : 8;
		const char **h =
		    m->held_inline ? malloc(cap * sizeof(*h)) : realloc(m->held, cap * sizeof(*h));
		if (!h)
			return NULL;
		if (m->held_inline && m->nheld)
			memcpy(h, m->held, m->nheld * sizeof(*h));
		m->held_inline = false;
		m->held = h;
		m->capheld = cap;
	}
	r = intern_get(&s->strings, str, len);
	if (r)
		m->held[m->nheld++] = r;
	return r;
}

const char *mem_intern_z(struct store *s, struct obj_mem *m, const char *str)
{
	return mem_intern(s, m, str, strlen(str));
}

/* Every interned string a pod's fields reference, in field order; returns how many (all of
 * them, even beyond cap). */
static uint32_t pod_strings(const struct store_pod *p, const char **v, uint32_t cap)
{
	uint32_t n = 0;
#define ADD(str)                                                                                   \
	do {                                                                                       \
		if (str) {                                                                         \
			if (n < cap)                                                               \
				v[n] = (str);                                                      \
			n++;                                                                       \
		}                                                                                  \
	} while (0)
	ADD(p->ns);
	ADD(p->node);
	for (uint32_t i = 0; i < p->labels.n; i++) {
		ADD(p->labels.v[i].key);
		ADD(p->labels.v[i].value);
	}
	for (uint32_t i = 0; i < p->nports; i++)
		ADD(p->ports[i].name);
	for (uint32_t i = 0; i < p->nnets; i++) {
		ADD(p->nets[i].network);
		ADD(p->nets[i].ifname);
	}
	for (uint32_t i = 0; i < p->nstatus; i++) {
		ADD(p->status[i].network);
		ADD(p->status[i].ifname);
	}
#undef ADD
	return n;
}

/* A pod's ~15 pointers: insertion sort beats qsort's calls. */
static void sort_ptrs(const char **v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		const char *x = v[i];
		uint32_t k = i;
		for (; k > 0 && (uintptr_t)v[k - 1] > (uintptr_t)x; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
}

void mem_walk_pod(struct pod_rec *r)
{
	struct obj_mem *m = &r->mem;
	const char *walk[64];

	if (m->held_inline || m->walked || m->nheld > 64 ||
	    pod_strings(&r->pub, walk, 64) != m->nheld)
		return;
	sort_ptrs(walk, m->nheld);
	sort_ptrs(m->held, m->nheld);
	if (memcmp(walk, m->held, m->nheld * sizeof(*walk)) != 0)
		return;
	free(m->held);
	m->held = NULL;
	m->nheld = m->capheld = 0;
	m->walked = true;
}

void mem_release(struct store *s, struct obj_mem *m)
{
	struct chunk *c, *next;

	if (m->walked) {
		const char *v[64];
		uint32_t n = pod_strings(&container_of(m, struct pod_rec, mem)->pub, v, 64);
		for (uint32_t i = 0; i < n && i < 64; i++)
			intern_put(&s->strings, v[i]);
	}
	for (uint32_t i = 0; i < m->nheld; i++)
		intern_put(&s->strings, m->held[i]);
	if (!m->held_inline)
		free(m->held);
	for (c = m->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	memset(m, 0, sizeof(*m));
}
