/* Shared by the store's decoders (decode.c: the document, metadata, labels, namespaces and NADs;
 * decode_pod.c; decode_policy.c): the decoding context and the helpers every kind uses. Each
 * helper logs through the context (first pass only) and names the object and the field. */
#ifndef STORE_DECODE_H
#define STORE_DECODE_H

#include "store/internal.h"

#include "util/json.h"
#include "util/log.h"

/* Decoding runs twice per object (see decode_pod); only the first pass logs. */
#define DLOG(store, level, ...)                                                                    \
	do {                                                                                       \
		if (!(store)->quiet)                                                               \
			log_msg(level, __VA_ARGS__);                                               \
	} while (0)

#define ANN_NETWORKS "k8s.v1.cni.cncf.io/networks"
#define ANN_STATUS "k8s.v1.cni.cncf.io/network-status"
#define ANN_POLICY_FOR "k8s.v1.cni.cncf.io/policy-for"

/* What is being decoded, for log lines. */
struct ctx {
	struct store *s;
	struct obj_mem *m;
	struct json j;
	const char *kind;
	char ns[256], name[256];
	bool walked; /* a pod: its string references stay out of the planned block (mem_walk_pod) */
};

/* A nested JSON document (an annotation, a NAD config) with its own token array. */
int decode_nested(struct json *j, const char *text, size_t len, jsmntok_t **tok);

/* Interned copy of the string at i, NULL when absent or not a string. */
const char *decode_str(struct ctx *c, const struct json *j, int i);

/* A malloc'd unescaped copy of a long string (annotation values, configs). */
char *decode_dup(const struct json *j, int i, size_t *len);

/* Members or elements of the container at i; 0 when absent or not a container. */
size_t decode_count(const struct json *j, int i);

/* metadata.labels: a map of strings, keys unique. Anything else rejects the whole object: a label
 * dropped could make the object match a NotIn or DoesNotExist selector it should not. */
int decode_labels(struct ctx *c, int obj, struct store_labels *out);

bool decode_annotation(struct ctx *c, int md, const char *key, char **val, size_t *len);

void decode_trim(const char **s, size_t *len);

/* "ns/name" interned; a bare name is in ns. */
const char *decode_net_key(struct ctx *c, const char *ns, const char *name, size_t len);

int decode_proto(const struct json *j, int i, uint8_t *proto);

/* What every decoder does first: lay out the object's block as the first pass planned (second
 * pass only), parse the document, read the metadata. Returns the metadata token, or -1 when the
 * object is to be ignored (logged) or the block could not be laid out (m stays empty, so the
 * caller's usual release is safe). */
int decode_start(struct ctx *c, struct obj_mem *m, const struct obj_mem *plan, const char *json,
		 size_t len, bool namespaced);

void decode_trim_tokens(struct store *s);

/* Every kind is decoded twice: the first pass measures the object (and logs what is broken),
 * the second fills one block of exactly that size, quietly. */
#define DECODE_TWICE(name, rec, once)                                                              \
	struct rec *name(struct store *s, const char *json, size_t len)                            \
	{                                                                                          \
		struct rec *first = once(s, json, len, NULL), *r;                                  \
		if (!first) {                                                                      \
			decode_trim_tokens(s);                                                     \
			return NULL;                                                               \
		}                                                                                  \
		s->quiet = true;                                                                   \
		r = once(s, json, len, &first->mem);                                               \
		s->quiet = false;                                                                  \
		mem_release(s, &first->mem);                                                       \
		free(first);                                                                       \
		decode_trim_tokens(s);                                                             \
		return r;                                                                          \
	}

#endif
