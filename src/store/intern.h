/* Interned, reference-counted strings: equal text gives the same pointer, so the store compares
 * labels and names by pointer and keeps one copy of each. The table owns the memory. Strings come
 * from the API server (label keys anyone who can create a pod chooses), so the hash is keyed with
 * a random key per table (SipHash-1-3): nobody can make them collide into one long chain. */
#ifndef STORE_INTERN_H
#define STORE_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct istr;

struct intern {
	struct istr **b;
	uint32_t nb, n;
	size_t bytes;
	uint64_t key[2]; /* set on first use */
	bool keyed;
};

/* Returns the interned copy of s[0..len) with one more reference, or NULL when out of memory. */
const char *intern_get(struct intern *t, const char *s, size_t len);
/* The interned copy without taking a reference, or NULL when s is not interned. */
const char *intern_find(const struct intern *t, const char *s, size_t len);
/* Drops one reference; the string is freed with its last one. NULL is ignored. */
void intern_put(struct intern *t, const char *s);
void intern_free(struct intern *t);
/* Length of the longest bucket chain (for tests: lookups stay short whatever the strings). */
uint32_t intern_longest_chain(const struct intern *t);

#endif
