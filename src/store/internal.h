/* Store internals shared by store.c (containers, indexes, change tracking) and decode.c (one
 * JSON decoder per kind). Every object owns its memory (obj_mem) and the string references it
 * took; releasing the object gives both back. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "store/intern.h"
#include "store/store.h"

#include "util/json.h"

struct chunk;

struct obj_mem {
	struct chunk *chunks;
	const char **held; /* interned strings this object references */
	uint32_t nheld, capheld;
	bool held_inline; /* held lives in the first chunk (planned), not its own malloc */
	size_t bytes;	  /* heap bytes held */
	size_t need;	  /* bytes handed out by mem_alloc (for planning a second decode) */
};

struct hnode {
	struct hnode *next;
	const char *k1, *k2; /* interned: namespace (or "") and name */
};

struct htab {
	struct hnode **b;
	uint32_t nb, n;
};

struct ns_rec;

struct pod_rec {
	struct store_pod pub;
	struct hnode h;
	struct obj_mem mem;
	struct pod_rec *ns_prev;
	struct pod_rec *local_prev, *local_next;
	struct ns_rec *nsr;
	uint32_t gen;
	bool dirty;
};

struct ns_rec {
	struct store_ns pub;
	struct hnode h;
	struct obj_mem mem;
	struct ns_rec *prev;
	uint32_t gen;
};

struct nad_rec {
	struct store_nad pub;
	struct hnode h;
	struct obj_mem mem;
	uint32_t gen;
};

struct pol_rec {
	struct store_policy pub;
	struct hnode h;
	struct obj_mem mem;
	struct pol_rec *ns_prev;
	struct ns_rec *nsr;
	uint32_t gen;
};

struct store {
	char *node;
	const char *empty; /* "" interned, one reference held by the store */
	struct intern strings;
	struct htab pods, nss, nads, pols;
	struct ns_rec *ns_head;
	struct pod_rec *local_head;
	char **gone; /* uids of local pods that went away, not yet handed out */
	uint32_t ngone, capgone;
	uint32_t gen[KIND_COUNT];
	bool in_replace[KIND_COUNT];
	bool quiet; /* decoders do not log (second pass) */
	uint64_t version;
	struct store_derived derived;
	jsmntok_t *tok;
	int ntok;
	size_t obj_bytes;
};

void *mem_alloc(struct obj_mem *m, size_t n); /* zeroed, 16-byte aligned; NULL when out of memory */
/* Prepares m for a decode known to need `need` bytes and `nheld` strings: one exact block. */
int mem_plan(struct obj_mem *m, size_t need, uint32_t nheld);
const char *mem_intern(struct store *s, struct obj_mem *m, const char *str, size_t len);
const char *mem_intern_z(struct store *s, struct obj_mem *m, const char *str);
void mem_release(struct store *s, struct obj_mem *m);

/* Decoders: a new record from one object's JSON, or NULL when the object is rejected (logged).
 * Namespace records come back with exists set and no indexes filled. */
/* Each decodes twice: once to learn the exact size, then into one block of that size. */
struct pod_rec *decode_pod(struct store *s, const char *json, size_t len);
struct ns_rec *decode_namespace(struct store *s, const char *json, size_t len);
struct nad_rec *decode_nad(struct store *s, const char *json, size_t len);
struct pol_rec *decode_policy(struct store *s, const char *json, size_t len);
/* metadata.namespace and metadata.name of one object (for DELETED events); 0 or -1. */
int decode_meta_name(struct store *s, const char *json, size_t len, char *ns, size_t nscap,
		     char *name, size_t namecap);

/* Parses an address ("10.1.2.3", "fd00::1") or a prefix ("10.0.0.0/8") for the decoders and
 * the custom rule parser. Returns 0 or -1. A prefix's host bits are cleared. */
int parse_ip(const char *s, size_t len, struct store_ip *out);
int parse_cidr(const char *s, size_t len, struct store_cidr *out);

#endif
