#include "util/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};

static struct arena_block *block_new(size_t cap)
{
	struct arena_block *b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->next = NULL;
	b->cap = cap;
	b->used = 0;
	return b;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size_t want = (size + 15) & ~(size_t)15;
	size_t dflt = a->block_size ? a->block_size : 16384;
	struct arena_block *b = a->head;

	if (size > SIZE_MAX / 2)
		return NULL;
	if (!b || b->cap - b->used < want) {
		struct arena_block **pp = &a->spare;
		/* Reuse a spare block big enough before asking malloc. */
		while (*pp && (*pp)->cap < want)
			pp = &(*pp)->next;
		if (*pp) {
			b = *pp;
			*pp = b->next;
			b->used = 0;
		} else {
			b = block_new(want > dflt ? want : dflt);
			if (!b)
				return NULL;
		}
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += want;
	a->used_total += want;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void arena_reset(struct arena *a)
{
	while (a->head) {
		struct arena_block *b = a->head;
		a->head = b->next;
		b->next = a->spare;
		a->spare = b;
	}
	a->used_total = 0;
}

void arena_free(struct arena *a)
{
	arena_reset(a);
	while (a->spare) {
		struct arena_block *b = a->spare;
		a->spare = b->next;
		free(b);
	}
}
