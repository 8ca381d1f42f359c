/* A bump allocator for per-computation memory (one pod's ruleset, one decoded event).
 * The owner resets or frees it as a whole; blocks are kept across resets so steady-state work
 * does not call malloc. Allocation failure returns NULL. */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;  /* block being filled */
	struct arena_block *spare; /* blocks kept by arena_reset */
	size_t block_size;         /* default block payload, 0 means 16 KiB */
	size_t used_total;         /* bytes handed out since the last reset */
};

void *arena_alloc(struct arena *a, size_t size);          /* 16-byte aligned, uninitialised */
void *arena_zalloc(struct arena *a, size_t size);         /* zeroed */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_reset(struct arena *a); /* forget everything, keep the memory */
void arena_free(struct arena *a);  /* give everything back */

#endif
