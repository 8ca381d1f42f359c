#include "cri/cri.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cri/h2grpc.h"
#include "cri/messages.h"
#include "util/log.h"
#include "util/err.h"

#define MAX_RESPONSE (4u << 20) /* gRPC's default receive limit */
#define INFO_MAX (1u << 20)	/* verbose info of one sandbox (containerd: ~10 KiB) */
#define KEEP_INFO_BUF (256u << 10)

#define SVC "/runtime.v1.RuntimeService/"
#define EVENT_MAX (1u << 20)   /* one event message (containerd: about 1 KiB per container) */
#define EVENTS_STABLE_MS 30000 /* a stream open this long worked: the backoff starts over */
#define GONE_KEEP_MS 300000

struct pod_entry {
	char uid[CRI_UID_MAX];
	char id[CRI_ID_MAX];
	int64_t created_at;
	char *netns;	/* NULL until PodSandboxStatus was asked for this sandbox id */
	bool seen;	/* in the listing being decoded */
	bool recreated; /* the sandbox id changed since a listing last reported it to a caller */
	/* No ready sandbox now: the entry only remembers the last id for GONE_KEEP_MS, so that
	 * a successor is known as a recreated sandbox (the runtime may take a while to make it). */
	bool gone;
	long long gone_at; /* ms */
};

/* The event stream and when to open it again. */
struct events {
	struct h2grpc *conn;
	enum { EV_CLOSED, EV_OPEN, EV_UNSUPPORTED } state;
	long long due;	     /* ms: (re)open at this time when not open */
	int backoff_ms;	     /* the last wait before reopening; 0 after a stream that worked */
	long long opened_at; /* ms */
	bool got_message;    /* since it opened */
	bool said_unsupported;
	bool broke;		    /* the stream broke and has not been reopened since */
	char last_gone[CRI_ID_MAX]; /* the sandbox last reported GONE */
};

struct cri_client {
	struct h2grpc *g;
	char prefix[CRI_PATH_MAX];
	int timeout_ms;
	bool hold_off;
	int hold_off_ms;       /* current hold-off; 0 while the runtime answers */
	long long quiet_until; /* ms: no calls before this */
	struct pod_entry *pods;
	size_t npods, cap;
	struct cri_infobuf info;
	struct events ev;
};

struct cri_client *cri_open(const struct cri_config *cfg, char *err, size_t errcap)
{
	struct cri_client *c;
	const char *ep = cfg->endpoint, *prefix = cfg->host_prefix ? cfg->host_prefix : "";
	char sock[CRI_PATH_MAX];
	size_t plen = strlen(prefix);

	if (!ep || !*ep) {
		errf(err, errcap, "CRI endpoint is empty");
		return NULL;
	}
	if (strncmp(ep, "unix://", 7) == 0)
		ep += 7;
	else if (strncmp(ep, "unix:", 5) == 0)
		ep += 5; /* "unix:/run/x.sock", as gRPC also accepts */
	else if (strstr(ep, "://")) {
		errf(err, errcap, "CRI endpoint %s: only unix:// sockets are supported",
		     cfg->endpoint);
		return NULL;
	}
	if (ep[0] != '/') {
		errf(err, errcap, "CRI endpoint %s: the socket path must be absolute",
		     cfg->endpoint);
		return NULL;
	}
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if ((size_t)snprintf(sock, sizeof(sock), "%.*s%s", (int)plen, prefix, ep) >= sizeof(sock)) {
		errf(err, errcap, "CRI endpoint %s: path too long", cfg->endpoint);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errf(err, errcap, "out of memory");
		return NULL;
	}
	c->g = h2grpc_new(sock, MAX_RESPONSE);
	c->ev.conn = c->g ? h2grpc_new(sock, EVENT_MAX) : NULL;
	if (!c->g || !c->ev.conn) {
		errf(err, errcap, "CRI socket path %s: too long for a unix socket", sock);
		h2grpc_free(c->g);
		free(c);
		return NULL;
	}
	snprintf(c->prefix, sizeof(c->prefix), "%.*s", (int)plen, prefix);
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
	c->hold_off = cfg->hold_off_after_timeout != 0;
	if (cfg->on_wait) {
		h2grpc_set_wait(c->g, cfg->on_wait, cfg->wait_ctx);
		h2grpc_set_wait(c->ev.conn, cfg->on_wait, cfg->wait_ctx);
	}
	c->info.max = INFO_MAX;
	return c;
}

void cri_close(struct cri_client *c)
{
	if (!c)
		return;
	h2grpc_free(c->g);
	h2grpc_free(c->ev.conn);
	for (size_t i = 0; i < c->npods; i++)
		free(c->pods[i].netns);
	free(c->pods);
	free(c->info.buf);
	free(c);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One unary call, held off while the runtime is known not to answer (see hold_off_after_timeout).
 * 0 or -1 with err. */
static int rpc(struct cri_client *c, const char *method, const uint8_t *req, size_t req_len,
	       const uint8_t **resp, size_t *resp_len, char *err, size_t errcap)
{
	char path[96];
	long long now = now_ms();
	int rc;

	if (c->hold_off && now < c->quiet_until) {
		errf(err, errcap,
		     "%s: the runtime did not answer in time; not asking again for %lld ms", method,
		     c->quiet_until - now);
		return -1;
	}
	snprintf(path, sizeof(path), SVC "%s", method);
	rc = h2grpc_call(c->g, path, req, req_len, c->timeout_ms, resp, resp_len, err, errcap);
	if (rc == H2GRPC_DEADLINE && c->hold_off) {
		c->hold_off_ms = c->hold_off_ms ? c->hold_off_ms * 2 : CRI_HOLD_OFF_MIN_MS;
		if (c->hold_off_ms > CRI_HOLD_OFF_MAX_MS)
			c->hold_off_ms = CRI_HOLD_OFF_MAX_MS;
		c->quiet_until = now_ms() + c->hold_off_ms;
		log_warn("CRI: %s; not asking the runtime again for %d ms", err, c->hold_off_ms);
	} else if (rc == 0) {
		c->hold_off_ms = 0;
	}
	return rc == 0 ? 0 : -1;
}

int cri_version(struct cri_client *c, struct cri_version *out, char *err, size_t errcap)
{
	uint8_t req[64];
	size_t req_len;
	const uint8_t *resp;
	size_t resp_len;

	if (cri_encode_version_req(req, sizeof(req), &req_len) < 0) {
		errf(err, errcap, "cannot encode VersionRequest");
		return CRI_ERR;
	}
	if (rpc(c, "Version", req, req_len, &resp, &resp_len, err, errcap) < 0)
		return CRI_ERR;
	memset(out, 0, sizeof(*out));
	return cri_decode_version(resp, resp_len, out, err, errcap) < 0 ? CRI_ERR : 0;
}

static struct pod_entry *find_pod(struct cri_client *c, const char *uid)
{
	for (size_t i = 0; i < c->npods; i++)
		if (strcmp(c->pods[i].uid, uid) == 0)
			return &c->pods[i];
	return NULL;
}

static void drop_pod(struct cri_client *c, struct pod_entry *e)
{
	free(e->netns);
	*e = c->pods[--c->npods];
}

/* The pod has no ready sandbox: nothing to look up, but its sandbox id stays known. */
static void mark_gone(struct pod_entry *e)
{
	free(e->netns);
	e->netns = NULL;
	e->gone = true;
	e->gone_at = now_ms();
}

/* The pod's entry when it has a ready sandbox. */
static struct pod_entry *find_ready_pod(struct cri_client *c, const char *uid)
{
	struct pod_entry *e = find_pod(c, uid);
	return e && !e->gone ? e : NULL;
}

static void set_sandbox(struct pod_entry *e, const struct cri_sandbox_msg *m)
{
	if (strcmp(e->id, m->sb.id) != 0) {
		e->recreated = true;
		/* A new sandbox (recreated pod): its netns must be looked up again. */
		strcpy(e->id, m->sb.id);
		free(e->netns);
		e->netns = NULL;
	}
	e->gone = false;
	e->created_at = m->created_at;
}

/* A cache entry for a pod not cached yet; NULL when out of memory. */
static struct pod_entry *add_pod(struct cri_client *c, const struct cri_sandbox_msg *m)
{
	struct pod_entry *e;

	if (c->npods == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct pod_entry *np = realloc(c->pods, cap * sizeof(*np));
		if (!np)
			return NULL;
		c->pods = np;
		c->cap = cap;
	}
	e = &c->pods[c->npods++];
	memset(e, 0, sizeof(*e));
	strcpy(e->uid, m->sb.uid);
	strcpy(e->id, m->sb.id);
	e->created_at = m->created_at;
	return e;
}

struct list_state {
	struct cri_client *c;
	int (*fn)(void *ctx, const struct cri_sandbox *sb);
	void *ctx;
	bool stop;
	bool nomem;
	int n;
};

static int on_sandbox(void *ctx, const struct cri_sandbox_msg *m)
{
	struct list_state *ls = ctx;
	struct cri_client *c = ls->c;
	struct pod_entry *e;

	if (!m->ready || !m->sb.uid[0] || !m->sb.id[0])
		return 0;
	ls->n++;
	e = find_pod(c, m->sb.uid);
	if (e && e->seen) {
		/* Two ready sandboxes for one pod while it is being recreated: the newer wins. */
		if (m->created_at > e->created_at)
			set_sandbox(e, m);
	} else if (e) {
		set_sandbox(e, m);
		e->seen = true;
	} else {
		e = add_pod(c, m);
		if (!e) {
			ls->nomem = true;
			return 0;
		}
		e->seen = true;
	}
	if (ls->fn && !ls->stop) {
		struct cri_sandbox sb = m->sb;
		sb.recreated = e->recreated && strcmp(e->id, m->sb.id) == 0;
		if (sb.recreated)
			e->recreated = false;
		if (ls->fn(ls->ctx, &sb) != 0)
			ls->stop = true;
	}
	return 0;
}

int cri_list_ready_sandboxes(struct cri_client *c,
			     int (*fn)(void *ctx, const struct cri_sandbox *sb), void *ctx,
			     char *err, size_t errcap)
{
	uint8_t req[64];
	size_t req_len, resp_len;
	const uint8_t *resp;
	struct list_state ls = {.c = c, .fn = fn, .ctx = ctx};
	int skipped = 0, rc;

	if (cri_encode_list_ready_req(req, sizeof(req), &req_len) < 0) {
		errf(err, errcap, "cannot encode ListPodSandboxRequest");
		return CRI_ERR;
	}
	if (rpc(c, "ListPodSandbox", req, req_len, &resp, &resp_len, err, errcap) < 0)
		return CRI_ERR;
	rc = cri_decode_sandboxes(resp, resp_len, on_sandbox, &ls, &skipped, err, errcap);
	if (rc == 0 && ls.nomem) {
		errf(err, errcap, "out of memory listing sandboxes");
		rc = -1;
	}
	/* Pods without a ready sandbox are gone, but only after a complete listing. */
	for (size_t i = c->npods; i-- > 0;) {
		struct pod_entry *e = &c->pods[i];
		if (rc == 0 && !e->seen && !e->gone)
			mark_gone(e);
		else if (rc == 0 && !e->seen && now_ms() - e->gone_at > GONE_KEEP_MS)
			drop_pod(c, e);
		else
			e->seen = false;
	}
	if (rc < 0)
		return CRI_ERR;
	if (skipped > 0)
		log_warn("CRI: %d sandbox(es) in ListPodSandbox could not be decoded (a field over "
			 "its size limit); the others are used",
			 skipped);
	return ls.n;
}

void cri_forget(struct cri_client *c, const char *pod_uid)
{
	struct pod_entry *e = find_pod(c, pod_uid);

	if (e)
		drop_pod(c, e);
}

static int copy_path(const char *netns, char *path, size_t cap, const char *uid, char *err,
		     size_t errcap)
{
	if (strlen(netns) >= cap) {
		errf(err, errcap, "pod %s: netns path longer than %zu bytes", uid, cap);
		return CRI_ERR;
	}
	strcpy(path, netns);
	return 0;
}

int cri_pod_netns(struct cri_client *c, const char *pod_uid, char *path, size_t cap, char *err,
		  size_t errcap)
{
	struct pod_entry *e = find_ready_pod(c, pod_uid);
	uint8_t req[256];
	size_t req_len, resp_len;
	const uint8_t *resp;
	struct cri_sandbox_msg st;
	bool has_status = false;
	char why[256], ns[CRI_PATH_MAX];
	int rc = CRI_ERR;

	if (!e) {
		if (cri_list_ready_sandboxes(c, NULL, NULL, why, sizeof(why)) < 0) {
			errf(err, errcap, "pod %s: listing sandboxes: %s", pod_uid, why);
			return CRI_ERR;
		}
		e = find_ready_pod(c, pod_uid);
		if (!e) {
			errf(err, errcap, "pod %s: the runtime has no ready sandbox for it",
			     pod_uid);
			return CRI_NOTFOUND;
		}
	}
	if (e->netns)
		return copy_path(e->netns, path, cap, pod_uid, err, errcap);

	if (cri_encode_status_req(e->id, true, req, sizeof(req), &req_len) < 0) {
		errf(err, errcap, "pod %s: cannot encode PodSandboxStatusRequest", pod_uid);
		return CRI_ERR;
	}
	if (rpc(c, "PodSandboxStatus", req, req_len, &resp, &resp_len, why, sizeof(why)) < 0) {
		errf(err, errcap, "pod %s: sandbox %.13s: %s", pod_uid, e->id, why);
		/* Maybe the sandbox is gone: list again next time. */
		drop_pod(c, e);
		return CRI_ERR;
	}
	if (cri_decode_status(resp, resp_len, &st, &has_status, &c->info, why, sizeof(why)) < 0) {
		errf(err, errcap, "pod %s: sandbox %.13s: %s", pod_uid, e->id, why);
		goto out;
	}
	if (!has_status || strcmp(st.sb.id, e->id) != 0) {
		errf(err, errcap, "pod %s: sandbox %.13s: status names another sandbox", pod_uid,
		     e->id);
		goto out;
	}
	if (st.sb.uid[0] && strcmp(st.sb.uid, pod_uid) != 0) {
		errf(err, errcap, "pod %s: sandbox %.13s belongs to pod %s", pod_uid, e->id,
		     st.sb.uid);
		goto out;
	}
	if (!st.ready) {
		errf(err, errcap, "pod %s: sandbox %.13s is not ready", pod_uid, e->id);
		mark_gone(e);
		rc = CRI_NOTFOUND;
		goto out;
	}
	if (!c->info.found) {
		errf(err, errcap, "pod %s: sandbox %.13s: the runtime gave no verbose info",
		     pod_uid, e->id);
		goto out;
	}
	if (cri_netns_from_info(c->info.buf, c->info.len, c->prefix, ns, sizeof(ns), why,
				sizeof(why)) < 0) {
		errf(err, errcap, "pod %s: sandbox %.13s: %s", pod_uid, e->id, why);
		goto out;
	}
	e->netns = strdup(ns);
	if (!e->netns) {
		errf(err, errcap, "out of memory");
		goto out;
	}
	rc = copy_path(e->netns, path, cap, pod_uid, err, errcap);
out:
	if (c->info.cap > KEEP_INFO_BUF) {
		free(c->info.buf);
		c->info.buf = NULL;
		c->info.cap = 0;
	}
	return rc;
}

static struct pod_entry *find_pod_by_sandbox(struct cri_client *c, const char *sandbox_id)
{
	for (size_t i = 0; i < c->npods; i++)
		if (strcmp(c->pods[i].id, sandbox_id) == 0)
			return &c->pods[i];
	return NULL;
}

struct event_sink {
	struct cri_client *c;
	void (*fn)(void *ctx, const struct cri_sandbox_event *ev);
	void *ctx;
};

/* A sandbox removed from the runtime's store: its event has no status, only the id. */
static void removed_sandbox(struct event_sink *s, const struct cri_event_msg *ev)
{
	struct cri_sandbox_event out = {.change = CRI_SANDBOX_GONE};
	struct pod_entry *e = find_pod_by_sandbox(s->c, ev->container_id);

	if (!e || strcmp(s->c->ev.last_gone, e->id) == 0)
		return;
	strcpy(out.sb.id, e->id);
	strcpy(out.sb.uid, e->uid);
	strcpy(s->c->ev.last_gone, e->id);
	if (!e->gone)
		mark_gone(e);
	s->fn(s->ctx, &out);
}

/* The cache follows what a sandbox event says, and a change for the pod is reported. */
static void apply_event(struct event_sink *s, const struct cri_event_msg *ev)
{
	const struct cri_sandbox_msg *st = &ev->status;
	struct cri_sandbox_event out = {.sb = st->sb};
	bool up = (ev->type == CRI_EVENT_CREATED || ev->type == CRI_EVENT_STARTED) && st->ready;
	struct pod_entry *e;

	if (ev->has_status && strcmp(st->sb.id, ev->container_id) != 0)
		return; /* a container's event, not its sandbox's */
	if (!ev->has_status || !st->sb.uid[0]) {
		if (ev->type == CRI_EVENT_STOPPED || ev->type == CRI_EVENT_DELETED)
			removed_sandbox(s, ev);
		return;
	}
	e = find_pod(s->c, st->sb.uid);
	if (up) {
		if (e && !e->gone && strcmp(e->id, st->sb.id) == 0)
			return; /* known already (STARTED after CREATED, or a listing saw it) */
		if (e && st->created_at && e->created_at && st->created_at < e->created_at)
			return; /* an older sandbox of the pod */
		if (e)
			set_sandbox(e, st);
		else
			e = add_pod(s->c, st); /* out of memory: the next lookup lists */
		if (e)
			e->recreated = false; /* reported here, not again by a listing */
		out.change = CRI_SANDBOX_READY;
	} else {
		if (e && strcmp(e->id, st->sb.id) != 0)
			return; /* an older sandbox of the pod going away */
		if (strcmp(s->c->ev.last_gone, st->sb.id) == 0)
			return; /* reported already (STOPPED, then its removal) */
		if (e && !e->gone)
			mark_gone(e);
		strcpy(s->c->ev.last_gone, st->sb.id);
		out.change = CRI_SANDBOX_GONE;
	}
	s->fn(s->ctx, &out);
}

static void on_event_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct event_sink *s = ctx;
	struct cri_event_msg ev;
	char err[256];

	s->c->ev.got_message = true;
	if (cri_decode_event(msg, len, &ev, err, sizeof(err)) < 0) {
		log_warn("CRI event stream: %s; ignored (the periodic listing covers it)", err);
		return;
	}
	log_v(2, "CRI event: %s type %d (sandbox %.13s, pod %s, %s)", ev.container_id, ev.type,
	      ev.has_status ? ev.status.sb.id : "-", ev.has_status ? ev.status.sb.uid : "-",
	      ev.status.ready ? "ready" : "not ready");
	apply_event(s, &ev);
}

static void events_retry_later(struct cri_client *c, const char *why)
{
	struct events *ev = &c->ev;
	long long now = now_ms();

	if (ev->got_message || (ev->state == EV_OPEN && now - ev->opened_at >= EVENTS_STABLE_MS))
		ev->backoff_ms = 0;
	ev->backoff_ms = ev->backoff_ms ? ev->backoff_ms * 2 : CRI_EVENTS_BACKOFF_MIN_MS;
	if (ev->backoff_ms > CRI_EVENTS_BACKOFF_MAX_MS)
		ev->backoff_ms = CRI_EVENTS_BACKOFF_MAX_MS;
	/* jitter: between three quarters and all of the backoff */
	ev->due = now + ev->backoff_ms - rand() % (ev->backoff_ms / 4 + 1);
	if (ev->state == EV_OPEN) {
		ev->broke = true;
		log_warn("CRI event stream: %s; reopening in %lld ms (sandboxes are listed every "
			 "few seconds meanwhile)",
			 why, ev->due - now);
	} else
		log_v(1, "CRI event stream: %s; next try in %lld ms", why, ev->due - now);
	ev->state = EV_CLOSED;
}

static void events_ended(struct cri_client *c, int rc, int grpc_status, const char *why)
{
	struct events *ev = &c->ev;

	if (rc == H2GRPC_STREAM_ENDED && grpc_status == 12 /* UNIMPLEMENTED */) {
		if (!ev->said_unsupported)
			log_info("CRI: the runtime does not serve GetContainerEvents; a recreated "
				 "sandbox is noticed by listing sandboxes");
		ev->said_unsupported = true;
		ev->state = EV_UNSUPPORTED;
		ev->due = now_ms() + CRI_EVENTS_RECHECK_MS;
		return;
	}
	events_retry_later(c, why);
}

static int events_open(struct cri_client *c)
{
	uint8_t req[16];
	size_t req_len;
	char err[256];
	int rc;

	if (cri_encode_events_req(req, sizeof(req), &req_len) < 0)
		return -1;
	rc = h2grpc_stream_open(c->ev.conn, SVC "GetContainerEvents", req, req_len, c->timeout_ms,
				err, sizeof(err));
	if (rc != 0) {
		c->ev.state = EV_CLOSED;
		events_retry_later(c, err);
		return -1;
	}
	if (c->ev.state == EV_UNSUPPORTED)
		log_v(1, "CRI: asking the runtime for its event stream again");
	else if (c->ev.broke)
		log_info("CRI event stream: reopened");
	else
		log_v(1, "CRI: event stream requested");
	c->ev.broke = false;
	c->ev.state = EV_OPEN;
	c->ev.opened_at = now_ms();
	c->ev.got_message = false;
	return 0;
}

int cri_events_fd(const struct cri_client *c)
{
	return c->ev.state == EV_OPEN ? h2grpc_fd(c->ev.conn) : -1;
}

short cri_events_poll_events(const struct cri_client *c)
{
	return c->ev.state == EV_OPEN ? h2grpc_stream_events(c->ev.conn) : 0;
}

int cri_events_timeout_ms(const struct cri_client *c)
{
	long long left;

	if (c->ev.state == EV_OPEN)
		return -1;
	left = c->ev.due - now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

bool cri_events_live(const struct cri_client *c)
{
	return c->ev.state == EV_OPEN;
}

int cri_events_handle(struct cri_client *c, short revents,
		      void (*fn)(void *ctx, const struct cri_sandbox_event *ev), void *ctx)
{
	struct event_sink sink = {.c = c, .fn = fn, .ctx = ctx};
	int gap = 0;

	if (c->ev.state == EV_OPEN && revents) {
		char err[256];
		int status = -1;
		int rc = h2grpc_stream_read(c->ev.conn, on_event_message, &sink, &status, err,
					    sizeof(err));
		if (rc != 0) {
			events_ended(c, rc, status, err);
			gap = 1;
		}
	}
	if (c->ev.state != EV_OPEN && now_ms() >= c->ev.due && events_open(c) == 0)
		gap = 1;
	return gap;
}

int cri_netns_identify(const char *path, struct cri_netns_id *id, char *err, size_t errcap)
{
	struct stat st;
	struct statfs sf;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), type;

	if (fd < 0) {
		errf(err, errcap, "netns %s: %s", path, strerror(errno));
		return CRI_ERR;
	}
	if (fstat(fd, &st) < 0) {
		errf(err, errcap, "netns %s: %s", path, strerror(errno));
		close(fd);
		return CRI_ERR;
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	/* A namespace file on a kernel before 4.11 cannot tell its kind: setns will check it. */
	if (type < 0 && errno == ENOTTY && fstatfs(fd, &sf) == 0 && sf.f_type == NSFS_MAGIC)
		type = CLONE_NEWNET;
	close(fd);
	if (type < 0) {
		errf(err, errcap, "netns %s: not a network namespace (a %s)", path,
		     S_ISREG(st.st_mode)   ? "regular file"
		     : S_ISDIR(st.st_mode) ? "directory"
					   : "file of another kind");
		return CRI_ERR;
	}
	if (type != CLONE_NEWNET) {
		errf(err, errcap, "netns %s: a namespace, but not a network namespace", path);
		return CRI_ERR;
	}
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	return 0;
}
