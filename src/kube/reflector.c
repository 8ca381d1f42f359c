/* List + watch of one resource kind; see reflector.h. */
#include "kube/reflector.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kube/conn.h"
#include "kube/frame.h"
#include "util/log.h"

#define RESPONSE_TIMEOUT_MS 30000 /* connect, TLS handshake and response headers */
#define LIST_TIMEOUT_MS 120000
#define WATCH_GRACE_MS 60000 /* beyond timeoutSeconds before the watch counts as stuck (at most) */

static const struct {
	const char *path, *name;
} resources[KIND_COUNT] = {
    [KIND_POD] = {"/api/v1/pods", "pods"},
    [KIND_NAMESPACE] = {"/api/v1/namespaces", "namespaces"},
    [KIND_NAD] = {"/apis/k8s.cni.cncf.io/v1/network-attachment-definitions",
		  "network-attachment-definitions"},
    [KIND_POLICY] = {"/apis/k8s.cni.cncf.io/%s/multi-networkpolicies", "multi-networkpolicies"},
};

/* MultiNetworkPolicy is served as v1beta1, v1beta2 (same schema, upstream's newer one) or both:
 * the first is tried first (what deploy/crds stores); a 404 on the list moves to the other. */
static const char *const policy_versions[] = {"v1beta1", "v1beta2"};

enum phase { P_WAIT, P_LIST, P_WATCH };

struct kube_reflector {
	struct kube_client *client;
	enum kube_kind kind;
	struct kube_sink sink;
	struct kube_reflector_opts opts;
	char *field_selector, *label_selector; /* URL-encoded, or NULL */
	struct kube_conn conn;
	struct json_framer framer;
	enum phase phase;
	bool status_checked;
	bool relist;	 /* the next request is a fresh list */
	bool list_ended; /* the list page's closing brace was seen */
	bool synced;
	int64_t deadline;
	unsigned watch_timeout_s; /* timeoutSeconds of the watch in flight */
	uint32_t backoff_ms;
	unsigned gone_streak; /* 410s in a row with no watch event between them */
	char rv[32];	      /* last resourceVersion seen */
	char list_rv[32];     /* of the list in progress */
	char *cont;	      /* continue token of the next page, URL-encoded */
	unsigned version;     /* policies: index into policy_versions */
	unsigned not_served;  /* policies: versions answered 404 in a row */
	bool version_told;    /* policies: the version in use was logged */
	struct kube_reflector_stats st;
};

/* The resource's collection path (policies: at the version in use). */
static void resource_path(const struct kube_reflector *r, char *out, size_t cap)
{
	snprintf(out, cap, resources[r->kind].path,
		 r->kind == KIND_POLICY ? policy_versions[r->version] : "");
}

static uint32_t rand32(void)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)kube_now_ms() * 2654435761u;
	return v;
}

/* Percent-encodes s[0..n) into out (room for n * 3 + 1) keeping only unreserved characters:
 * server-chosen text (resourceVersion, continue) must not add query parameters or headers. */
static void url_encode_to(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
}

static char *url_encode(const char *s, size_t n)
{
	char *out = malloc(n * 3 + 1);
	if (out)
		url_encode_to(s, n, out);
	return out;
}

/* MNP_WATCH_TIMEOUT_SECONDS=N (tests): every watch asks timeoutSeconds=N, so that a test sees
 * a real API server end watches within seconds instead of 5 to 10 minutes. 0 when unset. */
static unsigned watch_timeout_from_env(void)
{
	const char *v = getenv("MNP_WATCH_TIMEOUT_SECONDS");
	char *end;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;
	if (!v || !*v || *end || n > 3600)
		return 0;
	return (unsigned)n;
}

struct kube_reflector *kube_reflector_new(struct kube_client *client, enum kube_kind kind,
					  const struct kube_sink *sink,
					  const struct kube_reflector_opts *opts)
{
	struct kube_reflector *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->client = client;
	r->kind = kind;
	r->sink = *sink;
	if (opts)
		r->opts = *opts;
	if (!r->opts.page_limit)
		r->opts.page_limit = 500;
	if (!r->opts.watch_timeout_min || !r->opts.watch_timeout_max ||
	    r->opts.watch_timeout_max < r->opts.watch_timeout_min) {
		unsigned t = watch_timeout_from_env();
		r->opts.watch_timeout_min = t ? t : 300;
		r->opts.watch_timeout_max = t ? t : 600;
	}
	if (!r->opts.backoff_initial_ms)
		r->opts.backoff_initial_ms = 800;
	if (!r->opts.backoff_max_ms)
		r->opts.backoff_max_ms = 30000;
	if (r->opts.field_selector &&
	    !(r->field_selector =
		  url_encode(r->opts.field_selector, strlen(r->opts.field_selector))))
		goto oom;
	if (r->opts.label_selector &&
	    !(r->label_selector =
		  url_encode(r->opts.label_selector, strlen(r->opts.label_selector))))
		goto oom;
	r->opts.field_selector = r->opts.label_selector = NULL; /* not owned */
	kube_conn_init(&r->conn, client, FRAME_OBJECT_MAX + (64u << 10));
	r->backoff_ms = r->opts.backoff_initial_ms;
	r->relist = true;
	r->phase = P_WAIT;
	r->deadline = 0; /* start at the first handle */
	return r;
oom:
	free(r->field_selector);
	free(r->label_selector);
	free(r);
	return NULL;
}

void kube_reflector_free(struct kube_reflector *r)
{
	if (!r)
		return;
	kube_conn_free(&r->conn);
	free(r->field_selector);
	free(r->label_selector);
	free(r->cont);
	free(r);
}

int kube_reflector_fd(const struct kube_reflector *r)
{
	return r->phase == P_WAIT ? -1 : kube_conn_fd(&r->conn);
}

short kube_reflector_events(const struct kube_reflector *r)
{
	return r->phase == P_WAIT ? 0 : kube_conn_events(&r->conn);
}

/* How long past timeoutSeconds a watch the server has not ended counts as stuck (a proxy that
 * stalls): as long as the timeout itself, at most WATCH_GRACE_MS. */
static int64_t watch_grace_ms(const struct kube_reflector *r)
{
	int64_t t = r->watch_timeout_s * 1000LL;
	return t < WATCH_GRACE_MS ? t : WATCH_GRACE_MS;
}

int64_t kube_reflector_deadline(const struct kube_reflector *r)
{
	if (r->phase == P_WAIT)
		return r->deadline;
	if (kube_conn_pending(&r->conn))
		return 0;			     /* due now: bytes wait in the TLS engine */
	int64_t conn = kube_conn_deadline(&r->conn); /* one address's connect timeout */
	return conn < r->deadline ? conn : r->deadline;
}

bool kube_reflector_synced(const struct kube_reflector *r)
{
	return r->synced;
}

void kube_reflector_get_stats(const struct kube_reflector *r, struct kube_reflector_stats *st)
{
	*st = r->st;
	st->bytes_received = r->conn.received;
	st->bytes_moved = r->conn.moved;
	snprintf(st->resource_version, sizeof(st->resource_version), "%s", r->rv);
}

static const char *name(const struct kube_reflector *r)
{
	return resources[r->kind].name;
}

/* Something failed: close, wait (exponential, jittered), then retry. */
static void backoff(struct kube_reflector *r, unsigned retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void backoff(struct kube_reflector *r, unsigned retry_after_s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint32_t delay = r->backoff_ms + rand32() % (r->backoff_ms / 4 + 1);
	/* the server's Retry-After is honoured up to the backoff maximum, never beyond */
	uint64_t ra_ms = (uint64_t)retry_after_s * 1000u;
	if (ra_ms > r->opts.backoff_max_ms)
		ra_ms = r->opts.backoff_max_ms;
	if (delay < ra_ms)
		delay = (uint32_t)ra_ms;
	log_warn("%s: %s; retrying in %u ms", name(r), msg, delay);
	r->st.errors++;
	kube_conn_close(&r->conn);
	r->phase = P_WAIT;
	r->deadline = kube_now_ms() + delay;
	r->backoff_ms =
	    r->backoff_ms * 2 > r->opts.backoff_max_ms ? r->opts.backoff_max_ms : r->backoff_ms * 2;
}

static int append_selectors(const struct kube_reflector *r, char *p, size_t cap, size_t off)
{
	if (r->field_selector)
		off += (size_t)snprintf(p + off, off < cap ? cap - off : 0, "&fieldSelector=%s",
					r->field_selector);
	if (r->label_selector)
		off += (size_t)snprintf(p + off, off < cap ? cap - off : 0, "&labelSelector=%s",
					r->label_selector);
	return off < cap ? 0 : -1;
}

static void request(struct kube_reflector *r, enum phase ph)
{
	char path[2048], base[128];
	size_t off;
	int64_t now = kube_now_ms();
	resource_path(r, base, sizeof(base));
	if (ph == P_LIST) {
		if (r->relist) {
			free(r->cont);
			r->cont = NULL;
			r->relist = false;
		}
		off = (size_t)snprintf(path, sizeof(path), "%s?limit=%u", base, r->opts.page_limit);
		if (r->cont && off < sizeof(path))
			off += (size_t)snprintf(path + off, sizeof(path) - off, "&continue=%s",
						r->cont);
		json_framer_init(&r->framer, FRAMER_LIST, 0);
		r->list_ended = false;
	} else {
		unsigned span = r->opts.watch_timeout_max - r->opts.watch_timeout_min;
		unsigned timeout = r->opts.watch_timeout_min + (span ? rand32() % (span + 1) : 0);
		char rv[sizeof(r->rv) * 3];
		url_encode_to(r->rv, strlen(r->rv), rv);
		off = (size_t)snprintf(path, sizeof(path),
				       "%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true"
				       "&timeoutSeconds=%u",
				       base, rv, timeout);
		json_framer_init(&r->framer, FRAMER_WATCH, 0);
		r->watch_timeout_s = timeout;
		r->st.watches++;
	}
	if (off >= sizeof(path) || append_selectors(r, path, sizeof(path), off)) {
		backoff(r, 0, "request path too long");
		return;
	}
	r->phase = ph;
	r->status_checked = false;
	r->deadline = now + RESPONSE_TIMEOUT_MS;
	log_v(2, "%s: GET %s", name(r), path);
	if (kube_conn_get(&r->conn, path))
		backoff(r, 0, "%s", kube_conn_error(&r->conn));
}

static void start_list(struct kube_reflector *r)
{
	r->relist = true;
	request(r, P_LIST);
}

/* The message of a Status body, for logs (util/log escapes what it holds), its JSON escapes
 * undone: the real API server quotes names (`cannot list resource \"pods\"`); \uXXXX shows as
 * '?', control escapes as spaces. A body cut at the error cap is not valid JSON: its message is
 * taken from "message": up to where it stops. */
static void status_message(const char *body, size_t len, char *out, size_t cap)
{
	const char *v;
	size_t vl;
	out[0] = '\0';
	if (!json_member_span(body, len, "message", &v, &vl) && vl >= 2) {
		v++;
		vl -= 2;
	} else {
		const char *k = memmem(body, len, "\"message\"", 9);
		if (!k)
			return;
		const char *p = k + 9, *end = body + len;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		if (p == end || *p != '"')
			return;
		v = ++p;
		while (p < end && *p != '"')
			p += *p == '\\' ? 2 : 1;
		vl = (size_t)((p < end ? p : end) - v);
	}
	size_t n = 0;
	for (size_t i = 0; i < vl && n + 1 < cap; i++) {
		char c = v[i];
		if (c == '\\' && i + 1 < vl) {
			c = v[++i];
			if (c == 'u') {
				i = i + 4 < vl ? i + 4 : vl - 1;
				c = '?';
			} else if (c != '"' && c != '\\' && c != '/') {
				c = ' ';
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
}

/* A 410: the resourceVersion (or continue token) is too old. The first one relists at once,
 * as client-go does; more in a row without a watch event between them back off, so a server
 * that answers 410 to everything is not hammered. */
static void on_gone(struct kube_reflector *r, const char *what, const char *msg)
{
	r->st.relists_410++;
	r->relist = true;
	bool first = r->gone_streak++ == 0;
	if (r->phase == P_WATCH && first) {
		log_info("%s: %s: resourceVersion expired (410 %s); relisting", name(r), what, msg);
		kube_conn_close(&r->conn);
		start_list(r);
		return;
	}
	backoff(r, 0, "%s: resourceVersion expired (410 %s); relisting", what, msg);
}

/* Non-200 answers, once the (small) body is complete or cut at the cap. */
static void on_error_status(struct kube_reflector *r)
{
	size_t len;
	const char *body = kube_conn_body(&r->conn, &len);
	char msg[256], cut[64] = "";
	int status = r->conn.status;
	status_message(body, len, msg, sizeof(msg) - 4);
	if (r->conn.truncated) {
		if (strlen(msg) == sizeof(msg) - 5)
			strcat(msg, "...");
		snprintf(cut, sizeof(cut), " (body cut after %zu bytes)", len);
	}
	if (status == 410) {
		on_gone(r, r->phase == P_LIST ? "list" : "watch", msg);
		return;
	}
	if (!msg[0])
		snprintf(msg, sizeof(msg), "(no message)");
	if (status == 404 && r->kind == KIND_POLICY) {
		if (++r->not_served < 2) {
			/* this version is not served (any more): the other one, listed at once */
			r->version = (r->version + 1) % 2;
			r->version_told = false;
			log_info("%s: k8s.cni.cncf.io/%s is not served (HTTP 404); trying %s",
				 name(r), policy_versions[(r->version + 1) % 2],
				 policy_versions[r->version]);
			kube_conn_close(&r->conn);
			start_list(r);
			return;
		}
		r->not_served = 0; /* after the backoff, both are tried again */
		r->relist = true;
		snprintf(msg, sizeof(msg), "neither k8s.cni.cncf.io/v1beta1 nor v1beta2 "
					   "multi-networkpolicies is served (is the CRD installed?)");
	}
	if (status == 401)
		kube_client_token_rejected(r->client);
	if (r->phase == P_LIST)
		r->relist = true;
	backoff(r, r->conn.retry_after_s, "%s: HTTP %d%s %s", r->phase == P_LIST ? "list" : "watch",
		status, cut, msg);
}

/* resourceVersion of the object span (its metadata), into out; 0 or -1. */
static int object_rv(const char *obj, size_t len, char *out, size_t cap)
{
	const char *md, *v;
	size_t mdl, vl;
	if (json_member_span(obj, len, "metadata", &md, &mdl) ||
	    json_member_span(md, mdl, "resourceVersion", &v, &vl))
		return -1;
	return json_span_str(v, vl, out, cap);
}

static void deliver(struct kube_reflector *r, enum kube_event ev, const char *obj, size_t len)
{
	if (r->sink.object(r->sink.ctx, r->kind, ev, obj, len) < 0)
		r->st.rejected++;
}

/* One watch event. Returns -1 when the watch must end (410, error). */
static int on_event(struct kube_reflector *r, const char *ev, size_t len)
{
	const char *t, *obj;
	size_t tl, ol;
	char type[16], rv[32];
	if (json_member_span(ev, len, "type", &t, &tl) ||
	    json_span_str(t, tl, type, sizeof(type)) ||
	    json_member_span(ev, len, "object", &obj, &ol) || obj[0] != '{') {
		backoff(r, 0, "watch: malformed event (no type or object)");
		return -1;
	}
	r->st.events++;
	r->st.last_activity_ms = kube_now_ms();
	if (!strcmp(type, "ERROR")) {
		const char *code;
		size_t cl;
		char msg[256];
		status_message(obj, ol, msg, sizeof(msg));
		if (!json_member_span(obj, ol, "code", &code, &cl) && cl == 3 &&
		    !memcmp(code, "410", 3)) {
			on_gone(r, "watch ERROR event", msg);
			return -1;
		}
		backoff(r, 0, "watch: ERROR event: %s", msg[0] ? msg : "(no message)");
		return -1;
	}
	bool has_rv = !object_rv(obj, ol, rv, sizeof(rv));
	r->gone_streak = 0;
	if (!strcmp(type, "BOOKMARK")) {
		r->st.bookmarks++;
		log_v(2, "%s: bookmark at resourceVersion %s", name(r), has_rv ? rv : "(none)");
	} else if (!strcmp(type, "ADDED")) {
		deliver(r, EV_ADDED, obj, ol);
	} else if (!strcmp(type, "MODIFIED")) {
		deliver(r, EV_MODIFIED, obj, ol);
	} else if (!strcmp(type, "DELETED")) {
		deliver(r, EV_DELETED, obj, ol);
	} else {
		log_warn("%s: watch: unknown event type \"%s\" ignored", name(r), type);
		return 0;
	}
	if (has_rv)
		memcpy(r->rv, rv, sizeof(rv));
	return 0;
}

/* One frame of a list page. */
static void on_list_frame(struct kube_reflector *r, const struct json_frame *fr, const char *buf)
{
	const char *v;
	size_t vl;
	switch (fr->kind) {
	case FRAME_METADATA:
		if (!json_member_span(buf + fr->off, fr->len, "resourceVersion", &v, &vl))
			json_span_str(v, vl, r->list_rv, sizeof(r->list_rv));
		free(r->cont);
		r->cont = NULL;
		if (!json_member_span(buf + fr->off, fr->len, "continue", &v, &vl) && vl > 2)
			r->cont = url_encode(v + 1, vl - 2);
		break;
	case FRAME_OBJECT:
		deliver(r, EV_ADDED, buf + fr->off, fr->len);
		break;
	case FRAME_END:
		r->list_ended = true;
		break;
	case FRAME_NONE:
		break;
	}
}

/* Frames and hands out what the body holds. Returns -1 when the request was abandoned. */
static int drain_body(struct kube_reflector *r)
{
	for (;;) {
		size_t len;
		const char *buf = kube_conn_body(&r->conn, &len);
		if (!len)
			return 0;
		struct json_frame fr;
		unsigned long over = r->framer.oversized;
		long n = json_framer_next(&r->framer, buf, len, &fr);
		if (r->framer.oversized != over) {
			r->st.oversized++;
			log_error("%s: an object larger than %u bytes was dropped", name(r),
				  FRAME_OBJECT_MAX);
		}
		if (n == -2) {
			if (len == r->conn.cap)
				kube_conn_need_space(&r->conn);
			return 0;
		}
		if (n < 0) {
			if (r->phase == P_LIST)
				r->relist = true;
			backoff(r, 0, "%s: malformed JSON stream",
				r->phase == P_LIST ? "list" : "watch");
			return -1;
		}
		if (r->phase == P_LIST) {
			on_list_frame(r, &fr, buf);
		} else if (fr.kind == FRAME_OBJECT && on_event(r, buf + fr.off, fr.len) < 0) {
			return -1;
		}
		kube_conn_consume(&r->conn, (size_t)n);
	}
}

static void list_page_done(struct kube_reflector *r)
{
	if (!r->list_ended || !r->list_rv[0]) {
		r->relist = true;
		backoff(r, 0, "list: incomplete response");
		return;
	}
	r->st.list_pages++;
	r->st.last_activity_ms = kube_now_ms();
	if (r->cont) {
		request(r, P_LIST);
		return;
	}
	r->sink.replace_end(r->sink.ctx, r->kind);
	r->st.lists++;
	memcpy(r->rv, r->list_rv, sizeof(r->rv));
	r->not_served = 0;
	if (r->kind == KIND_POLICY && !r->version_told) {
		r->version_told = true;
		log_info("%s: reading k8s.cni.cncf.io/%s", name(r), policy_versions[r->version]);
	}
	if (!r->synced)
		log_info("%s: synced at resourceVersion %s", name(r), r->rv);
	r->synced = true;
	if (!r->gone_streak) /* a 410 loop keeps doubling its backoff */
		r->backoff_ms = r->opts.backoff_initial_ms;
	request(r, P_WATCH);
}

/* Progress on the request in flight; returns true when called again would make progress. */
static bool step(struct kube_reflector *r, short revents)
{
	enum phase ph = r->phase;
	uint64_t before = r->conn.received;
	enum kube_conn_state st = kube_conn_handle(&r->conn, revents);
	if (st == KC_FAILED) {
		if (ph == P_LIST)
			r->relist = true;
		backoff(r, 0, "%s", kube_conn_error(&r->conn));
		return false;
	}
	if (st != KC_BODY && st != KC_DONE)
		return false;
	if (r->conn.status != 200) {
		/* error bodies are read whole, or up to the connection's cap for them */
		if (st == KC_DONE || kube_conn_events(&r->conn) == 0)
			on_error_status(r);
		return false;
	}
	if (!r->status_checked) {
		r->status_checked = true;
		r->deadline =
		    kube_now_ms() +
		    (ph == P_LIST ? LIST_TIMEOUT_MS : r->watch_timeout_s * 1000LL + watch_grace_ms(r));
		if (ph == P_LIST && !r->cont) {
			r->list_rv[0] = '\0';
			r->sink.replace_begin(r->sink.ctx, r->kind);
		}
		if (ph == P_WATCH && !r->gone_streak)
			r->backoff_ms = r->opts.backoff_initial_ms;
	}
	bool grew = r->conn.received != before;
	if (drain_body(r) < 0 || r->phase != ph)
		return false;
	if (st == KC_DONE) {
		if (ph == P_LIST) {
			list_page_done(r);
		} else {
			/* the server ended the watch (timeoutSeconds): watch again from rv */
			r->gone_streak = 0;
			request(r, P_WATCH);
		}
		return false;
	}
	return grew;
}

void kube_reflector_handle(struct kube_reflector *r, short revents)
{
	int64_t now = kube_now_ms();
	if (r->phase == P_WAIT) {
		if (now < r->deadline)
			return;
		if (r->relist || !r->rv[0])
			start_list(r);
		else
			request(r, P_WATCH);
		revents = 0;
	}
	if (r->phase != P_WAIT && now >= r->deadline) {
		if (r->phase == P_LIST)
			r->relist = true;
		backoff(r, 0, "%s: no complete answer in time",
			r->phase == P_LIST ? "list" : "watch");
		return;
	}
	/* BearSSL may hold decrypted bytes the socket no longer signals: step until no progress */
	for (int i = 0; i < 64 && r->phase != P_WAIT && step(r, revents); i++)
		revents = 0;
}

int kube_reflectors_run(struct kube_reflector **rs, int n, bool (*done)(void *ctx), void *ctx,
			int timeout_ms)
{
	int64_t end = kube_now_ms() + timeout_ms;
	struct pollfd pfd[KIND_COUNT * 4];
	if (n > (int)(sizeof(pfd) / sizeof(pfd[0])))
		return -1;
	for (;;) {
		if (done(ctx))
			return 0;
		int64_t now = kube_now_ms();
		if (now >= end)
			return -1;
		int64_t wake = end;
		for (int i = 0; i < n; i++) {
			pfd[i].fd = kube_reflector_fd(rs[i]);
			pfd[i].events = kube_reflector_events(rs[i]);
			pfd[i].revents = 0;
			if (kube_reflector_deadline(rs[i]) < wake)
				wake = kube_reflector_deadline(rs[i]);
		}
		int wait = wake > now ? (int)(wake - now) : 0;
		if (wait > 100)
			wait = 100; /* re-check done() regularly */
		if (poll(pfd, (nfds_t)n, wait) < 0)
			continue;
		now = kube_now_ms();
		for (int i = 0; i < n; i++)
			if (pfd[i].revents || kube_reflector_deadline(rs[i]) <= now)
				kube_reflector_handle(rs[i], pfd[i].revents);
	}
}
