/* Interned, reference-counted strings: equal text gives the same pointer, so the store compares
 * labels and names by pointer and keeps one copy of each. The table owns the memory. */
#ifndef STORE_INTERN_H
#define STORE_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct istr;

struct intern {
	struct istr **b;
	uint32_t nb, n;
	size_t bytes;
};

/* Returns the interned copy of s[0..len) with one more reference, or NULL when out of memory. */
const char *intern_get(struct intern *t, const char *s, size_t len);
/* The interned copy without taking a reference, or NULL when s is not interned. */
const char *intern_find(const struct intern *t, const char *s, size_t len);
/* Drops one reference; the string is freed with its last one. NULL is ignored. */
void intern_put(struct intern *t, const char *s);
void intern_free(struct intern *t);

#endif
