/* The plugin <-> agent protocol: one JSON object per line each way. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cni/cni.h"
#include "util/json.h"

#define PROTO_MAX_TOKENS (64 + 2 * CNI_MAX_IPS)

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || o->len + n >= o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void put_str(struct out *o, const char *s)
{
	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(o, esc, 2);
		} else if (ch < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			put(o, esc, 6);
		} else {
			put(o, s, 1);
		}
	}
	put(o, "\"", 1);
}

static void put_field(struct out *o, const char *key, const char *val)
{
	put(o, ",", 1);
	put_str(o, key);
	put(o, ":", 1);
	put_str(o, val);
}

static int finish(struct out *o)
{
	put(o, "}\n", 2);
	return o->overflow ? -1 : (int)o->len;
}

int cni_request_format(const struct cni_request *r, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, false};
	char num[48];

	snprintf(num, sizeof(num), "{\"version\":%u,\"timeoutMs\":%u", r->version, r->timeout_ms);
	puts_(&o, num);
	put_field(&o, "command", r->command);
	put_field(&o, "containerId", r->container_id);
	put_field(&o, "netns", r->netns);
	put_field(&o, "podNamespace", r->pod_ns);
	put_field(&o, "podName", r->pod_name);
	put_field(&o, "podUid", r->pod_uid);
	put_field(&o, "ifname", r->ifname);
	put_field(&o, "network", r->network);
	puts_(&o, ",\"ips\":[");
	for (uint32_t i = 0; i < r->nips; i++) {
		if (i)
			put(&o, ",", 1);
		put_str(&o, r->ips[i]);
	}
	put(&o, "]", 1);
	return finish(&o);
}

static const char *const status_names[] = {
    [CNI_ST_APPLIED] = "applied",	  [CNI_ST_NONE] = "none",   [CNI_ST_RELEASED] = "released",
    [CNI_ST_UNAVAILABLE] = "unavailable", [CNI_ST_ERROR] = "error",
};

int cni_reply_format(const struct cni_reply *r, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, false};
	char num[32];

	snprintf(num, sizeof(num), "{\"version\":%u", CNI_PROTO_VERSION);
	puts_(&o, num);
	put_field(&o, "status", status_names[r->status]);
	put_field(&o, "msg", r->msg);
	return finish(&o);
}

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "request: %s", what);
	return -1;
}

static int req_str(const struct json *j, const char *key, char *buf, size_t cap, char *err,
		   size_t errlen)
{
	int v = json_get(j, 0, key);

	buf[0] = '\0';
	if (v < 0)
		return 0;
	if (json_str(j, v, buf, cap) < 0) {
		snprintf(err, errlen, "request: \"%s\" must be a string of at most %zu bytes", key,
			 cap - 1);
		return -1;
	}
	return 0;
}

static int req_version(const struct json *j, uint32_t *version, char *err, size_t errlen)
{
	long long v;

	if (json_int(j, json_get(j, 0, "version"), &v) < 0 || v != CNI_PROTO_VERSION)
		return fail(err, errlen, "unsupported \"version\" (this agent speaks 1)");
	*version = (uint32_t)v;
	return 0;
}

int cni_request_parse(struct cni_request *r, const char *line, size_t len, char *err, size_t errlen)
{
	jsmntok_t tok[PROTO_MAX_TOKENS];
	struct json j;
	long long t;
	int ips, k = 0;

	memset(r, 0, sizeof(*r));
	if (json_parse(&j, line, len, tok, PROTO_MAX_TOKENS) < 0 || !json_is_object(&j, 0))
		return fail(err, errlen, "not a JSON object (or too large)");
	if (req_version(&j, &r->version, err, errlen) < 0 ||
	    req_str(&j, "command", r->command, sizeof(r->command), err, errlen) < 0 ||
	    req_str(&j, "containerId", r->container_id, sizeof(r->container_id), err, errlen) < 0 ||
	    req_str(&j, "netns", r->netns, sizeof(r->netns), err, errlen) < 0 ||
	    req_str(&j, "podNamespace", r->pod_ns, sizeof(r->pod_ns), err, errlen) < 0 ||
	    req_str(&j, "podName", r->pod_name, sizeof(r->pod_name), err, errlen) < 0 ||
	    req_str(&j, "podUid", r->pod_uid, sizeof(r->pod_uid), err, errlen) < 0 ||
	    req_str(&j, "ifname", r->ifname, sizeof(r->ifname), err, errlen) < 0 ||
	    req_str(&j, "network", r->network, sizeof(r->network), err, errlen) < 0)
		return -1;
	if (strcmp(r->command, "ADD") != 0 && strcmp(r->command, "DEL") != 0 &&
	    strcmp(r->command, "CHECK") != 0)
		return fail(err, errlen, "\"command\" must be ADD, DEL or CHECK");
	r->timeout_ms = CNI_DEFAULT_TIMEOUT_MS;
	if (json_get(&j, 0, "timeoutMs") >= 0) {
		if (json_int(&j, json_get(&j, 0, "timeoutMs"), &t) < 0 || t < 1 || t > 60000)
			return fail(err, errlen,
				    "\"timeoutMs\" must be an integer from 1 to 60000");
		r->timeout_ms = (uint32_t)t;
	}
	ips = json_get(&j, 0, "ips");
	if (ips >= 0 && !json_is_array(&j, ips))
		return fail(err, errlen, "\"ips\" must be an array");
	for (int ip = ips >= 0 ? json_first(&j, ips) : -1; ip >= 0;
	     ip = json_next(&j, ips, ip), k++) {
		if (r->nips == CNI_MAX_IPS ||
		    json_str(&j, ip, r->ips[r->nips], sizeof(r->ips[0])) < 0)
			return fail(err, errlen, "\"ips\": too many, or not short strings");
		r->nips++;
	}
	return 0;
}

int cni_reply_parse(struct cni_reply *r, const char *line, size_t len)
{
	jsmntok_t tok[16];
	struct json j;
	int st;

	memset(r, 0, sizeof(*r));
	if (json_parse(&j, line, len, tok, 16) < 0 || !json_is_object(&j, 0))
		return -1;
	st = json_get(&j, 0, "status");
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (json_str_eq(&j, st, status_names[i])) {
			r->status = (enum cni_status)i;
			if (json_str(&j, json_get(&j, 0, "msg"), r->msg, sizeof(r->msg)) < 0)
				r->msg[0] = '\0';
			return 0;
		}
	return -1;
}

int cni_error_format(const char *cni_version, int code, const char *msg, const char *details,
		     char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, false};
	char num[32];

	puts_(&o, "{\"cniVersion\":");
	put_str(&o, cni_version && *cni_version ? cni_version : "1.0.0");
	snprintf(num, sizeof(num), ",\"code\":%d", code);
	puts_(&o, num);
	put_field(&o, "msg", msg);
	put_field(&o, "details", details ? details : "");
	return finish(&o);
}
