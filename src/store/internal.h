/* Store internals shared by store.c (containers, indexes, change tracking), the decoders
 * (decode.c, decode_pod.c, decode_policy.c: one per kind, see decode.h) and mem.c (object
 * memory). Every object owns its memory (obj_mem) and the string references it took; releasing
 * the object gives both back. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "store/intern.h"
#include "store/store.h"

#include "util/json.h"

/* The record holding member m at p. */
#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

struct chunk;

struct obj_mem {
	struct chunk *chunks;
	const char **held; /* interned strings this object references */
	uint32_t nheld, capheld;
	bool held_inline; /* held lives in the first chunk (planned), not its own malloc */
	/* A kept pod's: no list, its references are released by walking its fields (the list
	 * costs 8 bytes a string, ~120 a pod); see mem_walk_pod. */
	bool walked;
};

/* A record's link in a table; its two keys are the record's own fields (see htab). */
struct hnode {
	struct hnode *next;
};

struct htab {
	struct hnode **b;
	uint32_t nb, n;
	/* Where a node's keys are, in bytes from the node: its record's namespace (interned, or
	 * k1_fixed when k1_at is 0: namespaces themselves) and name fields; kept per table, not
	 * per record (16 bytes less for each). */
	int k1_at, k2_at;
	const char *k1_fixed;
	/* k2 is compared and hashed as text, not as an interned pointer (pod names: unique, so
	 * not interned), with the store's keyed hash. */
	const struct intern *by_text;
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
	bool same; /* decode_pod: the store already holds exactly this (see store_pod_refresh) */
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
	uint32_t pods_listed, pods_listing; /* pods the last full list delivered; this one so far */
	bool in_replace[KIND_COUNT];
	bool quiet;    /* decoders do not log (second pass) */
	bool keep_all; /* every pod is kept (stores loaded from files) */
	uint64_t version;
	struct store_derived derived;
	jsmntok_t *tok;
	int ntok;
	/* The object the first decoding pass parsed into tok, for the second pass to reuse. */
	struct json parsed;
	size_t parsed_len;
	size_t obj_bytes;
};

void *mem_alloc(struct obj_mem *m, size_t n); /* zeroed, 8-byte aligned; NULL when out of memory */
/* Heap bytes m holds; bytes mem_alloc handed out from an unplanned m (to plan a second decode).
 * Computed, not stored: every record would carry them. */
size_t mem_bytes(const struct obj_mem *m);
size_t mem_need(const struct obj_mem *m);
/* Prepares m for a decode known to need `need` bytes and `nheld` strings: one exact block. */
int mem_plan(struct obj_mem *m, size_t need, uint32_t nheld);
const char *mem_intern(struct store *s, struct obj_mem *m, const char *str, size_t len);
const char *mem_intern_z(struct store *s, struct obj_mem *m, const char *str);
void mem_release(struct store *s, struct obj_mem *m);
/* Drops the pod's list of references when walking its fields finds exactly the same strings
 * (else keeps it: a reference no field shows, like a refused interface name, is never lost). */
void mem_walk_pod(struct pod_rec *r);

/* Decoders: a new record from one object's JSON, or NULL when the object is rejected (logged).
 * Namespace records come back with exists set and no indexes filled. */
/* Each decodes twice: once to learn the exact size, then into one block of that size. */
/* decode_pod skips the second pass for a pod store_pod_kept refuses. */
struct pod_rec *decode_pod(struct store *s, const char *json, size_t len);
/* Whether the store keeps this pod (see store.h, "What the store keeps of pods"). */
bool store_pod_kept(const struct store *s, const struct store_pod *p);
/* When the store holds this pod, not local, with exactly this content: marks it seen (relists)
 * and returns true, so that the event costs no second decoding pass and no change. */
bool store_pod_refresh(struct store *s, const struct store_pod *p);
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
