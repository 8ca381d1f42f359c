/* One decoder per kind: the JSON text of one object → a store record holding only what the
 * agent uses. Broken parts are logged once, naming the object and the field, and marked so they
 * match nothing; the rest of the object still counts. This file: the document, metadata, labels
 * and names every kind shares, and the namespace and NAD decoders; pods and policies have their
 * own files. */
#include "store/decode.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A rejected document's name for log lines, read from its first tokens (metadata comes first in
 * what the API server sends). */
static void salvage_name(struct ctx *c, const char *text, size_t len)
{
	jsmntok_t tok[256];
	struct json j;

	json_parse(&j, text, len, tok, 256); /* fails for every document that gets here */
	if (json_str(&j, json_salvage_path(&j, "metadata.name"), c->name, sizeof(c->name)) < 0)
		c->name[0] = 0;
	if (json_str(&j, json_salvage_path(&j, "metadata.namespace"), c->ns, sizeof(c->ns)) < 0)
		c->ns[0] = 0;
}

/* "ns/name", "name" or "(name unreadable)" for log lines about a rejected object. */
static const char *rejected_name(const struct ctx *c, char *buf, size_t cap)
{
	if (!c->name[0])
		return "(name unreadable)";
	snprintf(buf, cap, "%s%s%s", c->ns, c->ns[0] ? "/" : "", c->name);
	return buf;
}

/* Parses the object into the store's token array, grown to fit. A document that is not JSON (-1)
 * or is over STORE_MAX_TOKENS (-2) is logged naming the object, and rejected. */
static int parse_doc(struct ctx *c, const char *text, size_t len)
{
	struct store *s = c->s;
	int n, rc;
	char who[520];

	if (s->quiet && s->parsed.text == text && s->parsed_len == len) {
		c->j = s->parsed; /* second pass: the first one's tokens are still there */
		return 0;
	}
	/* Most objects fit the tokens the previous one left: one scan. Only a failure (too few
	 * tokens, or not JSON) costs the counting scan. */
	rc = s->ntok > 0 ? json_parse(&c->j, text, len, s->tok, s->ntok) : -1;
	if (rc == -1) {
		n = json_count_tokens(text, len);
		if (n > STORE_MAX_TOKENS) {
			salvage_name(c, text, len);
			DLOG(s, LOG_ERROR,
			     "%s %s: %d JSON tokens, over the limit of %d per object; object "
			     "ignored",
			     c->kind, rejected_name(c, who, sizeof(who)), n, STORE_MAX_TOKENS);
			return -2;
		}
		if (n > s->ntok) {
			jsmntok_t *t = realloc(s->tok, (size_t)n * sizeof(*t));
			if (!t)
				return -1;
			s->tok = t;
			s->ntok = n;
			rc = json_parse(&c->j, text, len, s->tok, n);
		}
	}
	if (rc < 0) {
		salvage_name(c, text, len);
		if (rc == -2)
			DLOG(s, LOG_ERROR, "%s %s: JSON nested deeper than %d; object ignored",
			     c->kind, rejected_name(c, who, sizeof(who)), JSON_MAX_DEPTH);
		else
			DLOG(s, LOG_ERROR, "%s %s: not valid JSON; object ignored", c->kind,
			     rejected_name(c, who, sizeof(who)));
		return -1;
	}
	s->parsed = c->j;
	s->parsed_len = len;
	return 0;
}

/* Token arrays above this are given back after each object: a rare large object does not keep
 * its tokens (20 bytes each) for the agent's lifetime. */
#define KEEP_TOKENS 4096

void decode_trim_tokens(struct store *s)
{
	s->parsed.text = NULL; /* the object is done: its tokens are not to be reused */
	if (s->ntok > KEEP_TOKENS) {
		free(s->tok);
		s->tok = NULL;
		s->ntok = 0;
	}
}

/* A nested JSON document (an annotation, a NAD config) with its own token array. */
int decode_nested(struct json *j, const char *text, size_t len, jsmntok_t **tok)
{
	int n = json_count_tokens(text, len);
	*tok = NULL;
	if (n <= 0 || n > STORE_MAX_TOKENS)
		return -1;
	*tok = malloc((size_t)n * sizeof(**tok));
	if (!*tok)
		return -1;
	return json_parse(j, text, len, *tok, n);
}

/* Interned copy of the string at i, NULL when absent or not a string. */
const char *decode_str(struct ctx *c, const struct json *j, int i)
{
	char buf[512];
	int n;

	if (!json_is_string(j, i))
		return NULL;
	n = json_str(j, i, buf, sizeof(buf));
	if (n < 0)
		return NULL;
	return mem_intern(c->s, c->m, buf, (size_t)n);
}

/* A malloc'd unescaped copy of a long string (annotation values, configs). */
char *decode_dup(const struct json *j, int i, size_t *len)
{
	size_t cap;
	char *buf;
	int n;

	if (!json_is_string(j, i))
		return NULL;
	cap = (size_t)(j->tok[i].end - j->tok[i].start) + 1;
	buf = malloc(cap);
	if (!buf)
		return NULL;
	n = json_str(j, i, buf, cap);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

/* Members or elements of the container at i; 0 when absent or not a container. */
size_t decode_count(const struct json *j, int i)
{
	int n = json_size(j, i);
	return n > 0 ? (size_t)n : 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_label *)a)->key, ((const struct store_label *)b)->key);
}

/* metadata.labels: a map of strings, keys unique. Anything else rejects the whole object: a label
 * dropped could make the object match a NotIn or DoesNotExist selector it should not. */
int decode_labels(struct ctx *c, int obj, struct store_labels *out)
{
	const struct json *j = &c->j;
	int n = json_size(j, obj), k;
	struct store_label *v;
	uint32_t cnt = 0;

	out->n = 0;
	out->v = NULL;
	if (obj < 0 || json_is_null(j, obj))
		return 0;
	if (!json_is_object(j, obj)) {
		DLOG(c->s, LOG_ERROR, "%s %s%s%s: metadata.labels is not a map; object ignored",
		     c->kind, c->ns, c->ns[0] ? "/" : "", c->name);
		return -1;
	}
	if (n <= 0)
		return 0;
	v = mem_alloc(c->m, (size_t)n * sizeof(*v));
	if (!v)
		return -1;
	for (k = json_first(j, obj); k >= 0 && cnt < (uint32_t)n; k = json_next(j, obj, k)) {
		const char *key = decode_str(c, j, k), *val = decode_str(c, j, k + 1);
		if (!key || !val) {
			DLOG(c->s, LOG_ERROR,
			     "%s %s%s%s: metadata.labels: a label is not a pair of strings (or is "
			     "too long); object ignored",
			     c->kind, c->ns, c->ns[0] ? "/" : "", c->name);
			return -1;
		}
		v[cnt].key = key;
		v[cnt].value = val;
		cnt++;
	}
	qsort(v, cnt, sizeof(*v), label_cmp);
	for (uint32_t i = 1; i < cnt; i++) {
		/* Which of two values a selector would see is arbitrary: refuse the object. */
		if (v[i].key == v[i - 1].key) {
			DLOG(c->s, LOG_ERROR,
			     "%s %s%s%s: metadata.labels: key \"%s\" appears twice; object ignored",
			     c->kind, c->ns, c->ns[0] ? "/" : "", c->name, v[i].key);
			return -1;
		}
	}
	out->n = cnt;
	out->v = v;
	return 0;
}

static int meta(struct ctx *c, bool namespaced)
{
	const struct json *j = &c->j;
	int md = json_get(j, 0, "metadata");
	int nm = json_get(j, md, "name"), ns = json_get(j, md, "namespace");

	c->ns[0] = c->name[0] = 0;
	if (json_str(j, nm, c->name, sizeof(c->name)) <= 0) {
		DLOG(c->s, LOG_ERROR, "%s: metadata.name missing or invalid, object ignored",
		     c->kind);
		return -1;
	}
	if (namespaced && json_str(j, ns, c->ns, sizeof(c->ns)) <= 0) {
		DLOG(c->s, LOG_ERROR,
		     "%s %s: metadata.namespace missing or invalid, object ignored", c->kind,
		     c->name);
		return -1;
	}
	return md;
}

int parse_ip(const char *s, size_t len, struct store_ip *out)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		return 0;
	}
	return -1;
}

int parse_cidr(const char *s, size_t len, struct store_cidr *out)
{
	const char *slash = memchr(s, '/', len);
	struct store_ip ip;
	unsigned plen = 0, max;
	size_t i;

	if (!slash || parse_ip(s, (size_t)(slash - s), &ip) < 0)
		return -1;
	max = ip.family == 4 ? 32 : 128;
	i = (size_t)(slash - s) + 1;
	if (i >= len || len - i > 3)
		return -1;
	for (; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		plen = plen * 10 + (unsigned)(s[i] - '0');
	}
	if (plen > max || (len - (size_t)(slash - s) > 2 && slash[1] == '0'))
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = ip.family;
	out->len = (uint8_t)plen;
	for (unsigned b = 0; b < max / 8; b++) {
		unsigned keep = plen >= (b + 1) * 8 ? 8 : (plen > b * 8 ? plen - b * 8 : 0);
		out->addr[b] = (uint8_t)(ip.addr[b] & (uint8_t)(0xff00u >> keep));
	}
	return 0;
}

bool decode_annotation(struct ctx *c, int md, const char *key, char **val, size_t *len)
{
	int ann = json_get(&c->j, md, "annotations");
	int v = json_get(&c->j, ann, key);
	*val = NULL;
	if (v < 0)
		return false;
	*val = decode_dup(&c->j, v, len);
	return true;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

void decode_trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s))
		(*s)++, (*len)--;
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

/* "ns/name" interned; a bare name is in ns. */
const char *decode_net_key(struct ctx *c, const char *ns, const char *name, size_t len)
{
	char buf[520];
	const char *slash = memchr(name, '/', len);
	int n;

	if (len == 0 || (slash && (slash == name || slash == name + len - 1)))
		return NULL;
	if (slash) {
		if (memchr(slash + 1, '/', len - (size_t)(slash - name) - 1))
			return NULL;
		n = snprintf(buf, sizeof(buf), "%.*s", (int)len, name);
	} else {
		n = snprintf(buf, sizeof(buf), "%s/%.*s", ns, (int)len, name);
	}
	if (n <= 0 || n >= (int)sizeof(buf))
		return NULL;
	return mem_intern(c->s, c->m, buf, (size_t)n);
}

int decode_proto(const struct json *j, int i, uint8_t *proto)
{
	if (i < 0 || json_str_eq(j, i, "TCP"))
		*proto = IPPROTO_TCP;
	else if (json_str_eq(j, i, "UDP"))
		*proto = IPPROTO_UDP;
	else if (json_str_eq(j, i, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return -1;
	return 0;
}

/* What every decoder does first: lay out the object's block as the first pass planned (second
 * pass only), parse the document, read the metadata. Returns the metadata token, or -1 when the
 * object is to be ignored (logged) or the block could not be laid out (m stays empty, so the
 * caller's usual release is safe). */
int decode_start(struct ctx *c, struct obj_mem *m, const struct obj_mem *plan, const char *json,
		 size_t len, bool namespaced)
{
	if (plan && mem_plan(m, mem_need(plan), c->walked ? 0 : plan->nheld) < 0)
		return -1;
	c->m = m;
	if (parse_doc(c, json, len) < 0)
		return -1;
	return meta(c, namespaced);
}

static struct ns_rec *decode_namespace_once(struct store *s, const char *json, size_t len,
					    const struct obj_mem *plan)
{
	struct ns_rec *r = calloc(1, sizeof(*r));
	struct ctx c = {.s = s, .kind = "Namespace"};
	int md;

	if (!r)
		return NULL;
	md = decode_start(&c, &r->mem, plan, json, len, false);
	if (md < 0)
		goto fail;
	r->pub.name = mem_intern_z(s, c.m, c.name);
	if (!r->pub.name || decode_labels(&c, json_get(&c.j, md, "labels"), &r->pub.labels) < 0)
		goto fail;
	r->pub.exists = true;
	return r;
fail:
	mem_release(s, &r->mem);
	free(r);
	return NULL;
}

/* The value of the last member named key, as Go's encoding/json (and so Multus) reads a
 * repeated key; -1 when absent or obj is not an object. */
static int get_last(const struct json *j, int obj, const char *key)
{
	int v = -1;
	if (!json_is_object(j, obj))
		return -1;
	for (int k = json_first(j, obj); k >= 0; k = json_next(j, obj, k))
		if (json_str_eq(j, k, key))
			v = k + 1;
	return v;
}

/* The plugin type as Multus reads it: the top-level "type" when it is a non-empty string, else
 * plugins[0].type (a conflist). */
static struct nad_rec *decode_nad_once(struct store *s, const char *json, size_t len,
				       const struct obj_mem *plan)
{
	struct nad_rec *r = calloc(1, sizeof(*r));
	struct ctx c = {.s = s, .kind = "NetworkAttachmentDefinition"};
	struct json cj;
	jsmntok_t *tok = NULL;
	char *cfg = NULL;
	size_t clen = 0;
	int type, md;

	if (!r)
		return NULL;
	md = decode_start(&c, &r->mem, plan, json, len, true);
	if (md < 0)
		goto fail;
	r->pub.ns = mem_intern_z(s, c.m, c.ns);
	r->pub.name = mem_intern_z(s, c.m, c.name);
	r->pub.key = decode_net_key(&c, c.ns, c.name, strlen(c.name));
	if (!r->pub.ns || !r->pub.name || !r->pub.key)
		goto fail;
	cfg = decode_dup(&c.j, json_path(&c.j, 0, "spec.config"), &clen);
	if (!cfg || decode_nested(&cj, cfg, clen, &tok) < 0 || !json_is_object(&cj, 0)) {
		DLOG(s, LOG_ERROR,
		     "NetworkAttachmentDefinition %s/%s: spec.config is not a JSON object; the "
		     "network is out of scope",
		     c.ns, c.name);
		goto done;
	}
	type = get_last(&cj, 0, "type");
	if (type < 0 || json_is_null(&cj, type) || json_str_eq(&cj, type, ""))
		type = get_last(&cj, json_index(&cj, get_last(&cj, 0, "plugins"), 0), "type");
	c.ns[0] = 0;
	r->pub.plugin_type = json_str_eq(&cj, type, "") ? NULL : decode_str(&c, &cj, type);
	if (!r->pub.plugin_type)
		DLOG(s, LOG_ERROR,
		     "NetworkAttachmentDefinition %s/%s: spec.config has no plugin type; the "
		     "network is out of scope",
		     r->pub.ns, r->pub.name);
done:
	free(tok);
	free(cfg);
	return r;
fail:
	free(tok);
	free(cfg);
	mem_release(s, &r->mem);
	free(r);
	return NULL;
}

int decode_meta_name(struct store *s, const char *json, size_t len, char *ns, size_t nscap,
		     char *name, size_t namecap)
{
	struct ctx c = {.s = s, .kind = "object"};
	const struct json *j = &c.j;
	int md, rc;

	/* The deletion of an object too large to decode is still acted on (its name comes from its
	 * first tokens): the record it removes was decoded from an earlier version. */
	s->quiet = true;
	rc = parse_doc(&c, json, len);
	s->quiet = false;
	if (rc < 0) {
		decode_trim_tokens(s);
		if (rc != -2 || !c.name[0] || strlen(c.name) >= namecap || strlen(c.ns) >= nscap)
			return -1;
		strcpy(name, c.name);
		strcpy(ns, c.ns);
		return 0;
	}
	md = json_get(j, 0, "metadata");
	ns[0] = 0;
	if (json_str(j, json_get(j, md, "name"), name, namecap) <= 0 ||
	    (json_get(j, md, "namespace") >= 0 &&
	     json_str(j, json_get(j, md, "namespace"), ns, nscap) < 0)) {
		decode_trim_tokens(s);
		return -1;
	}
	decode_trim_tokens(s);
	return 0;
}

DECODE_TWICE(decode_namespace, ns_rec, decode_namespace_once)
DECODE_TWICE(decode_nad, nad_rec, decode_nad_once)
