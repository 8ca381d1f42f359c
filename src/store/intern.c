#include "store/intern.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct istr {
	struct istr *next;
	uint32_t hash, refs;
	uint32_t len;
	char s[];
};

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct istr *lookup(const struct intern *t, const char *s, size_t len, uint32_t h)
{
	if (!t->nb)
		return NULL;
	for (struct istr *e = t->b[h & (t->nb - 1)]; e; e = e->next)
		if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
			return e;
	return NULL;
}

static int grow(struct intern *t)
{
	uint32_t nb = t->nb ? t->nb * 2 : 256;
	struct istr **b = calloc(nb, sizeof(*b));
	if (!b)
		return -1;
	for (uint32_t i = 0; i < t->nb; i++) {
		struct istr *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	t->bytes += (size_t)(nb - t->nb) * sizeof(*b);
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

const char *intern_get(struct intern *t, const char *s, size_t len)
{
	uint32_t h = hash_bytes(s, len);
	struct istr *e = lookup(t, s, len, h);

	if (e) {
		e->refs++;
		return e->s;
	}
	if (len > UINT32_MAX - 1 || (t->n >= t->nb && grow(t) < 0))
		return NULL;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	e->hash = h;
	e->refs = 1;
	e->len = (uint32_t)len;
	memcpy(e->s, s, len);
	e->s[len] = 0;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
	t->bytes += sizeof(*e) + len + 1;
	return e->s;
}

const char *intern_find(const struct intern *t, const char *s, size_t len)
{
	struct istr *e = lookup(t, s, len, hash_bytes(s, len));
	return e ? e->s : NULL;
}

void intern_put(struct intern *t, const char *s)
{
	struct istr *e, **pp;

	if (!s)
		return;
	e = (struct istr *)(void *)(s - offsetof(struct istr, s));
	if (--e->refs)
		return;
	for (pp = &t->b[e->hash & (t->nb - 1)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	t->n--;
	t->bytes -= sizeof(*e) + e->len + 1;
	free(e);
}

void intern_free(struct intern *t)
{
	for (uint32_t i = 0; i < t->nb; i++) {
		struct istr *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}
