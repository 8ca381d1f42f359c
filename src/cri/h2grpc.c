#include "cri/h2grpc.h"
#include "util/err.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define H2_WINDOW (1 << 20) /* stream and connection receive window */
#define READ_CHUNK 16384
#define CONNECT_RETRY_MS 10 /* between connects to a socket whose backlog is full */

struct h2grpc {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t max_response;
	int fd;
	nghttp2_session *sess;
	bool dead; /* peer closed, sent GOAWAY or broke the protocol: reconnect first */
	h2grpc_wait_fn wait_fn;
	void *wait_ctx;
	long long next_wait_call; /* ms: when wait_fn is due again */

	/* How the call in progress failed, besides err. */
	bool timed_out;
	bool cancelled;

	/* The call in progress. */
	int32_t stream_id;
	bool closed;
	uint32_t close_code;
	bool got_headers;
	int http_status;
	bool grpc_ctype;
	int grpc_status; /* -1 until seen */
	char grpc_message[256];
	bool too_big;
	bool unprocessed; /* GOAWAY said our stream was never processed */
	char h2err[128];  /* what nghttp2 found wrong in the peer's bytes */
	uint8_t prefix[5];
	const uint8_t *req;
	size_t req_len, req_off;
	uint8_t *body;
	size_t body_len, body_cap;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long grpc_frame_parse(const uint8_t *buf, size_t len, int *compressed, size_t *msg_len)
{
	uint32_t n;

	if (len < 1)
		return -2;
	if (buf[0] > 1)
		return -1;
	if (len < 5)
		return -2;
	n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
	if (len - 5 < n)
		return -2;
	*compressed = buf[0];
	*msg_len = n;
	return 5 + (long)n;
}

const char *grpc_status_name(int code)
{
	static const char *const names[] = {
	    "OK",
	    "CANCELLED",
	    "UNKNOWN",
	    "INVALID_ARGUMENT",
	    "DEADLINE_EXCEEDED",
	    "NOT_FOUND",
	    "ALREADY_EXISTS",
	    "PERMISSION_DENIED",
	    "RESOURCE_EXHAUSTED",
	    "FAILED_PRECONDITION",
	    "ABORTED",
	    "OUT_OF_RANGE",
	    "UNIMPLEMENTED",
	    "INTERNAL",
	    "UNAVAILABLE",
	    "DATA_LOSS",
	    "UNAUTHENTICATED",
	};
	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "UNKNOWN";
	return names[code];
}

struct h2grpc *h2grpc_new(const char *socket_path, size_t max_response)
{
	struct h2grpc *g;

	if (strlen(socket_path) >= sizeof(g->path))
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	strcpy(g->path, socket_path);
	g->max_response = max_response;
	g->fd = -1;
	return g;
}

void h2grpc_set_wait(struct h2grpc *g, h2grpc_wait_fn fn, void *ctx)
{
	g->wait_fn = fn;
	g->wait_ctx = ctx;
}

/* Waits until fd (may be -1: just sleep) is ready for events or deadline passes, calling the
 * wait callback at least every slice. 1 ready, 0 deadline passed, -1 poll failed (errno),
 * H2GRPC_CANCELLED (g->cancelled is set). */
static int wait_io(struct h2grpc *g, int fd, short events, long long deadline)
{
	for (;;) {
		long long now = now_ms(), left = deadline - now;
		struct pollfd p = {.fd = fd, .events = events};
		int slice, pr;

		if (g->wait_fn && now >= g->next_wait_call) {
			g->next_wait_call = now + H2GRPC_WAIT_SLICE_MS;
			if (g->wait_fn(g->wait_ctx) != 0) {
				g->cancelled = true;
				return H2GRPC_CANCELLED;
			}
		}
		if (left <= 0)
			return 0;
		slice =
		    g->wait_fn && left > H2GRPC_WAIT_SLICE_MS ? H2GRPC_WAIT_SLICE_MS : (int)left;
		pr = poll(&p, 1, slice);
		if (pr > 0)
			return 1;
		if (pr < 0 && errno != EINTR)
			return -1;
	}
}

void h2grpc_disconnect(struct h2grpc *g)
{
	if (g->sess)
		nghttp2_session_del(g->sess);
	g->sess = NULL;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	g->dead = false;
}

void h2grpc_free(struct h2grpc *g)
{
	if (!g)
		return;
	h2grpc_disconnect(g);
	free(g->body);
	free(g);
}

static bool name_is(const uint8_t *name, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(name, s, len) == 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* grpc-message is percent-encoded; keep printable ASCII only so it is safe to log. */
static void percent_decode(char *out, size_t cap, const uint8_t *v, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		int c = v[i];
		if (c == '%' && i + 2 < len && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = hexval(v[i + 1]) * 16 + hexval(v[i + 2]);
			i += 2;
		}
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct h2grpc *g = user;

	if (frame->hd.stream_id != g->stream_id)
		return 0;
	g->got_headers = true;
	if (name_is(name, namelen, ":status")) {
		int st = 0;
		for (size_t i = 0; i < valuelen && i < 4; i++)
			st = st * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
		g->http_status = st;
	} else if (name_is(name, namelen, "content-type")) {
		/* "application/grpc" or "application/grpc+proto" */
		g->grpc_ctype = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
				(valuelen == 16 || value[16] == '+' || value[16] == ';');
	} else if (name_is(name, namelen, "grpc-status")) {
		int st = 0;
		bool ok = valuelen > 0 && valuelen <= 3;
		for (size_t i = 0; ok && i < valuelen; i++) {
			ok = value[i] >= '0' && value[i] <= '9';
			st = st * 10 + (value[i] - '0');
		}
		g->grpc_status = ok ? st : 2 /* UNKNOWN */;
	} else if (name_is(name, namelen, "grpc-message")) {
		percent_decode(g->grpc_message, sizeof(g->grpc_message), value, valuelen);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
			 size_t len, void *user)
{
	struct h2grpc *g = user;

	if (stream_id != g->stream_id || g->too_big)
		return 0;
	if (len > g->max_response + 5 - g->body_len) {
		g->too_big = true;
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
		return 0;
	}
	if (g->body_len + len > g->body_cap) {
		size_t cap = g->body_cap ? g->body_cap : 4096;
		uint8_t *nb;
		while (cap < g->body_len + len)
			cap *= 2;
		if (cap > g->max_response + 5)
			cap = g->max_response + 5;
		nb = realloc(g->body, cap);
		if (!nb)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		g->body = nb;
		g->body_cap = cap;
	}
	memcpy(g->body + g->body_len, data, len);
	g->body_len += len;
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user)
{
	struct h2grpc *g = user;

	if (stream_id == g->stream_id) {
		g->closed = true;
		g->close_code = error_code;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct h2grpc *g = user;

	if (frame->hd.type == NGHTTP2_GOAWAY) {
		g->dead = true;
		if (g->stream_id > frame->goaway.last_stream_id)
			g->unprocessed = true;
	}
	return 0;
}

static int on_error(nghttp2_session *s, int code, const char *msg, size_t len, void *user)
{
	struct h2grpc *g = user;

	if (!g->h2err[0])
		snprintf(g->h2err, sizeof(g->h2err), "%.*s", (int)len, msg);
	return 0;
}

static ssize_t read_request(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct h2grpc *g = user;
	size_t total = 5 + g->req_len, n = 0;

	while (n < len && g->req_off < total) {
		size_t chunk;
		const uint8_t *from;
		if (g->req_off < 5) {
			from = g->prefix + g->req_off;
			chunk = 5 - g->req_off;
		} else {
			from = g->req + (g->req_off - 5);
			chunk = total - g->req_off;
		}
		if (chunk > len - n)
			chunk = len - n;
		memcpy(buf + n, from, chunk);
		n += chunk;
		g->req_off += chunk;
	}
	if (g->req_off == total)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Connects without blocking: a listener whose backlog is full makes connect() fail with EAGAIN
 * until it accepts, so retry until the deadline. 0, or -1 with err (and g->timed_out or
 * g->cancelled when that was why). */
static int connect_socket(struct h2grpc *g, int fd, long long deadline, int timeout_ms, char *err,
			  size_t errcap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	strcpy(sa.sun_path, g->path);
	for (;;) {
		long long retry_at;
		int e;

		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EINPROGRESS) {
			socklen_t el = sizeof(e);
			int w = wait_io(g, fd, POLLOUT, deadline);
			if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
				return 0;
			if (w == 0)
				e = EAGAIN;
			else if (w == H2GRPC_CANCELLED)
				break;
		}
		if (e != EAGAIN) {
			if (e == ENOENT)
				errf(err, errcap, "runtime not reachable: no socket at %s",
				     g->path);
			else
				errf(err, errcap, "runtime not reachable at %s: %s", g->path,
				     strerror(e));
			return -1;
		}
		if (now_ms() >= deadline) {
			g->timed_out = true;
			errf(err, errcap,
			     "runtime not reachable at %s: connection not accepted within %d ms "
			     "(deadline exceeded)",
			     g->path, timeout_ms);
			return -1;
		}
		retry_at = now_ms() + CONNECT_RETRY_MS;
		if (wait_io(g, -1, 0, retry_at < deadline ? retry_at : deadline) ==
		    H2GRPC_CANCELLED)
			break;
	}
	errf(err, errcap, "runtime at %s: connecting abandoned (the caller is stopping)", g->path);
	return -1;
}

static int connect_runtime(struct h2grpc *g, long long deadline, int timeout_ms, char *err,
			   size_t errcap)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
	};
	int fd, rv;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		errf(err, errcap, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect_socket(g, fd, deadline, timeout_ms, err, errcap) < 0) {
		close(fd);
		return -1;
	}

	if (nghttp2_session_callbacks_new(&cb) != 0) {
		close(fd);
		errf(err, errcap, "out of memory");
		return -1;
	}
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_error_callback2(cb, on_error);
	rv = nghttp2_session_client_new(&g->sess, cb, g);
	nghttp2_session_callbacks_del(cb);
	if (rv == 0)
		rv = nghttp2_submit_settings(g->sess, NGHTTP2_FLAG_NONE, iv,
					     sizeof(iv) / sizeof(iv[0]));
	if (rv == 0)
		rv =
		    nghttp2_session_set_local_window_size(g->sess, NGHTTP2_FLAG_NONE, 0, H2_WINDOW);
	if (rv != 0) {
		if (g->sess)
			nghttp2_session_del(g->sess);
		g->sess = NULL;
		close(fd);
		errf(err, errcap, "HTTP/2 session: %s", nghttp2_strerror(rv));
		return -1;
	}
	g->fd = fd;
	g->dead = false;
	return 0;
}

/* Writes what nghttp2 has queued. 0, or -1 (connection broken or deadline passed). */
static int flush(struct h2grpc *g, const char *method, long long deadline, char *err, size_t errcap)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(g->sess, &data);
		if (n < 0) {
			errf(err, errcap, "%s: HTTP/2: %s", method, nghttp2_strerror((int)n));
			return -1;
		}
		if (n == 0)
			return 0;
		while (n > 0) {
			ssize_t w = send(g->fd, data, (size_t)n, MSG_NOSIGNAL);
			if (w > 0) {
				data += w;
				n -= w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN) {
				int r = wait_io(g, g->fd, POLLOUT, deadline);
				if (r == H2GRPC_CANCELLED) {
					errf(err, errcap, "%s: abandoned while sending", method);
					return -1;
				}
				if (r == 0) {
					g->timed_out = true;
					errf(err, errcap, "%s: deadline exceeded while sending",
					     method);
					return -1;
				}
				continue;
			}
			errf(err, errcap, "%s: runtime closed the connection: %s", method,
			     strerror(errno));
			return -1;
		}
	}
}

enum { CALL_OK, CALL_FAILED, CALL_STALE };

/* The connection broke while sending: what the peer sent before closing may say why (bytes that
 * are not HTTP/2 at all). Feeds what is pending to nghttp2 so on_error can record it. */
static void read_last_words(struct h2grpc *g)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0)
		nghttp2_session_mem_recv(g->sess, buf, (size_t)n);
}

/* Before a call on a connection made earlier: reads what arrived while idle (a GOAWAY, an EOF
 * from a runtime that went away), so a dead connection is replaced before it is used. */
static void drain_idle(struct h2grpc *g)
{
	uint8_t buf[READ_CHUNK];

	for (;;) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0 || nghttp2_session_mem_recv(g->sess, buf, (size_t)n) < 0) {
			g->dead = true;
			break;
		}
	}
	if (!nghttp2_session_want_read(g->sess) && !nghttp2_session_want_write(g->sess))
		g->dead = true;
}

static void method_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	snprintf(out, cap, "%s", slash ? slash + 1 : path);
}

static int finish(struct h2grpc *g, const char *method, const uint8_t **resp, size_t *resp_len,
		  char *err, size_t errcap)
{
	int compressed = 0;
	size_t msg_len = 0;
	long used;

	if (g->too_big) {
		errf(err, errcap, "%s: response larger than %zu bytes, refused", method,
		     g->max_response);
		return CALL_FAILED;
	}
	if (g->grpc_status < 0 && g->close_code != 0) {
		errf(err, errcap, "%s: stream reset by runtime (HTTP/2 error %u)", method,
		     g->close_code);
		return CALL_FAILED;
	}
	if (g->http_status != 200) {
		errf(err, errcap, "%s: HTTP status %d from runtime (not a gRPC server?)", method,
		     g->http_status);
		return CALL_FAILED;
	}
	if (g->grpc_status > 0) {
		/* The runtime gave up at our grpc-timeout: the call cost its whole deadline. */
		g->timed_out = g->grpc_status == 4;
		errf(err, errcap, "%s: grpc-status %d (%s): %s", method, g->grpc_status,
		     grpc_status_name(g->grpc_status),
		     g->grpc_message[0] ? g->grpc_message : "(no grpc-message)");
		return CALL_FAILED;
	}
	if (!g->grpc_ctype) {
		errf(err, errcap, "%s: response content-type is not application/grpc", method);
		return CALL_FAILED;
	}
	if (g->grpc_status < 0) {
		errf(err, errcap, "%s: response has no grpc-status", method);
		return CALL_FAILED;
	}
	used = grpc_frame_parse(g->body, g->body_len, &compressed, &msg_len);
	if (used == -1 || (used == -2 && g->body_len > 0)) {
		errf(err, errcap, "%s: malformed gRPC message framing (%zu bytes)", method,
		     g->body_len);
		return CALL_FAILED;
	}
	if (used == -2) {
		errf(err, errcap, "%s: response has no message", method);
		return CALL_FAILED;
	}
	if ((size_t)used != g->body_len) {
		errf(err, errcap, "%s: more than one message in a unary response", method);
		return CALL_FAILED;
	}
	if (compressed) {
		errf(err, errcap, "%s: compressed response (no compression was offered)", method);
		return CALL_FAILED;
	}
	if (msg_len > g->max_response) {
		errf(err, errcap, "%s: response larger than %zu bytes, refused", method,
		     g->max_response);
		return CALL_FAILED;
	}
	*resp = g->body + 5;
	*resp_len = msg_len;
	return CALL_OK;
}

/* Resets the per-call state and submits the request: a unary call says its deadline
 * (grpc-timeout, timeout_ms > 0), a stream none. The stream id, or -1 with err. */
static int32_t submit_call(struct h2grpc *g, const char *path, const char *method,
			   const uint8_t *req, size_t req_len, long long timeout_ms, char *err,
			   size_t errcap)
{
	char timeout[24], ua[64];
	nghttp2_data_provider dp = {.read_callback = read_request};
	int32_t id;

	snprintf(timeout, sizeof(timeout), "%lldm", timeout_ms > 0 ? timeout_ms : 1);
	snprintf(ua, sizeof(ua), "multi-networkpolicy-nftables/%s", VERSION);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
	nghttp2_nv hdrs[] = {
	    NV(":method", "POST"),
	    NV(":scheme", "http"),
	    NV(":path", path),
	    NV(":authority", "localhost"),
	    NV("content-type", "application/grpc"),
	    NV("te", "trailers"),
	    NV("user-agent", ua),
	    NV("grpc-timeout", timeout),
	};
#undef NV
	size_t nhdrs = sizeof(hdrs) / sizeof(hdrs[0]) - (timeout_ms > 0 ? 0 : 1);

	g->stream_id = -1;
	g->closed = g->got_headers = g->grpc_ctype = g->too_big = g->unprocessed = false;
	g->h2err[0] = 0;
	g->close_code = 0;
	g->http_status = 0;
	g->grpc_status = -1;
	g->grpc_message[0] = 0;
	g->body_len = 0;
	g->req = req;
	g->req_len = req_len;
	g->req_off = 0;
	g->prefix[0] = 0;
	g->prefix[1] = (uint8_t)(req_len >> 24);
	g->prefix[2] = (uint8_t)(req_len >> 16);
	g->prefix[3] = (uint8_t)(req_len >> 8);
	g->prefix[4] = (uint8_t)req_len;

	id = nghttp2_submit_request(g->sess, NULL, hdrs, nhdrs, &dp, NULL);
	if (id < 0) {
		g->dead = true;
		errf(err, errcap, "%s: HTTP/2 request: %s", method, nghttp2_strerror(id));
		return -1;
	}
	g->stream_id = id;
	return id;
}

static int one_call(struct h2grpc *g, const char *path, const uint8_t *req, size_t req_len,
		    int timeout_ms, long long deadline, const uint8_t **resp, size_t *resp_len,
		    char *err, size_t errcap)
{
	char method[96];
	uint8_t buf[READ_CHUNK];
	int32_t id;

	method_of(path, method, sizeof(method));
	/* What is left of the deadline (a retried call has less). */
	id = submit_call(g, path, method, req, req_len,
			 deadline - now_ms() > 0 ? deadline - now_ms() : 1, err, errcap);
	if (id < 0)
		return CALL_STALE;

	for (;;) {
		ssize_t n;
		int pr;

		if (flush(g, method, deadline, err, errcap) < 0) {
			g->dead = true;
			read_last_words(g);
			if (g->h2err[0]) {
				errf(err, errcap, "%s: bad HTTP/2 from runtime: %s", method,
				     g->h2err);
				return CALL_FAILED;
			}
			return g->got_headers ? CALL_FAILED : CALL_STALE;
		}
		if (g->closed && g->close_code == NGHTTP2_REFUSED_STREAM && !g->got_headers) {
			/* Refused before any processing: safe to send again on a new connection. */
			g->dead = true;
			errf(err, errcap, "%s: runtime refused the stream", method);
			return CALL_STALE;
		}
		if (g->closed)
			return finish(g, method, resp, resp_len, err, errcap);
		if (g->unprocessed) {
			errf(err, errcap, "%s: runtime is going away (GOAWAY)", method);
			return CALL_STALE;
		}
		if (!nghttp2_session_want_read(g->sess) && !nghttp2_session_want_write(g->sess)) {
			g->dead = true;
			if (g->h2err[0]) {
				errf(err, errcap, "%s: bad HTTP/2 from runtime: %s", method,
				     g->h2err);
				return CALL_FAILED;
			}
			errf(err, errcap, "%s: runtime ended the HTTP/2 session", method);
			return g->got_headers ? CALL_FAILED : CALL_STALE;
		}
		pr = wait_io(g, g->fd, POLLIN, deadline);
		if (pr == 0 || pr == H2GRPC_CANCELLED) {
			nghttp2_submit_rst_stream(g->sess, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
			if (flush(g, method, now_ms() + 50, NULL, 0) < 0)
				g->dead = true;
			if (pr == H2GRPC_CANCELLED) {
				errf(err, errcap, "%s: abandoned (the caller is stopping)", method);
				return CALL_FAILED;
			}
			g->timed_out = true;
			/* A runtime stuck in the middle of a frame never frees the connection. */
			g->dead = true;
			errf(err, errcap, "%s: no answer within %d ms (deadline exceeded)", method,
			     timeout_ms);
			return CALL_FAILED;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			g->dead = true;
			errf(err, errcap, "%s: poll: %s", method, strerror(errno));
			return CALL_FAILED;
		}
		n = recv(g->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0 && g->h2err[0]) {
			g->dead = true;
			errf(err, errcap, "%s: bad HTTP/2 from runtime: %s", method, g->h2err);
			return CALL_FAILED;
		}
		if (n <= 0) {
			g->dead = true;
			errf(err, errcap, "%s: runtime closed the connection%s%s", method,
			     n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return g->got_headers ? CALL_FAILED : CALL_STALE;
		}
		n = nghttp2_session_mem_recv(g->sess, buf, (size_t)n);
		if (n < 0) {
			g->dead = true;
			errf(err, errcap, "%s: bad HTTP/2 from runtime: %s", method,
			     nghttp2_strerror((int)n));
			return CALL_FAILED;
		}
	}
}

int h2grpc_call(struct h2grpc *g, const char *path, const uint8_t *req, size_t req_len,
		int timeout_ms, const uint8_t **resp, size_t *resp_len, char *err, size_t errcap)
{
	long long deadline = now_ms() + timeout_ms;

	/* A large buffer from an earlier call is not kept for the life of the process. */
	if (g->body_cap > 256 * 1024) {
		free(g->body);
		g->body = NULL;
		g->body_cap = 0;
	}
	g->timed_out = g->cancelled = false;
	if (g->sess && !g->dead)
		drain_idle(g);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = g->sess && !g->dead;
		int rc;

		if (!reused) {
			h2grpc_disconnect(g);
			if (connect_runtime(g, deadline, timeout_ms, err, errcap) < 0)
				break;
		}
		rc = one_call(g, path, req, req_len, timeout_ms, deadline, resp, resp_len, err,
			      errcap);
		if (g->dead && rc != CALL_OK)
			h2grpc_disconnect(g);
		if (rc == CALL_OK)
			return 0;
		/* The runtime restarted since the connection was made: try once more, fresh. */
		if (rc == CALL_STALE && reused && now_ms() < deadline && !g->cancelled)
			continue;
		break;
	}
	return g->cancelled ? H2GRPC_CANCELLED : g->timed_out ? H2GRPC_DEADLINE : H2GRPC_FAILED;
}

int h2grpc_stream_open(struct h2grpc *g, const char *path, const uint8_t *req, size_t req_len,
		       int timeout_ms, char *err, size_t errcap)
{
	long long deadline = now_ms() + timeout_ms;
	char method[96];

	method_of(path, method, sizeof(method));
	h2grpc_disconnect(g);
	g->timed_out = g->cancelled = false;
	if (connect_runtime(g, deadline, timeout_ms, err, errcap) < 0 ||
	    submit_call(g, path, method, req, req_len, 0, err, errcap) < 0 ||
	    flush(g, method, deadline, err, errcap) < 0) {
		h2grpc_disconnect(g);
		return g->cancelled   ? H2GRPC_CANCELLED
		       : g->timed_out ? H2GRPC_DEADLINE
				      : H2GRPC_FAILED;
	}
	return 0;
}

int h2grpc_fd(const struct h2grpc *g)
{
	return g->sess ? g->fd : -1;
}

short h2grpc_stream_events(const struct h2grpc *g)
{
	if (!g->sess)
		return 0;
	return (short)(POLLIN | (nghttp2_session_want_write(g->sess) ? POLLOUT : 0));
}

/* Hands every complete message in the body to fn and keeps the partial rest. 0 or -1 with err. */
static int deliver_messages(struct h2grpc *g, h2grpc_message_fn fn, void *ctx, char *err,
			    size_t errcap)
{
	size_t off = 0;

	for (;;) {
		int compressed = 0;
		size_t msg_len = 0;
		long used =
		    grpc_frame_parse(g->body + off, g->body_len - off, &compressed, &msg_len);
		if (used == -2)
			break;
		if (used == -1 || compressed) {
			errf(err, errcap, "%s gRPC message in the stream",
			     used == -1 ? "malformed" : "compressed");
			return -1;
		}
		fn(ctx, g->body + off + 5, msg_len);
		off += (size_t)used;
	}
	if (off > 0) {
		memmove(g->body, g->body + off, g->body_len - off);
		g->body_len -= off;
	}
	return 0;
}

/* How a stream that closed ended: H2GRPC_STREAM_ENDED with its grpc-status, or H2GRPC_FAILED. */
static int stream_end(struct h2grpc *g, int *grpc_status, char *err, size_t errcap)
{
	if (g->too_big) {
		errf(err, errcap, "a stream message larger than %zu bytes, refused",
		     g->max_response);
		return H2GRPC_FAILED;
	}
	if (g->grpc_status < 0) {
		if (g->http_status && g->http_status != 200)
			errf(err, errcap, "HTTP status %d from runtime (not a gRPC server?)",
			     g->http_status);
		else
			errf(err, errcap, "stream reset by runtime (HTTP/2 error %u)",
			     g->close_code);
		return H2GRPC_FAILED;
	}
	*grpc_status = g->grpc_status;
	errf(err, errcap, "stream ended: grpc-status %d (%s): %s", g->grpc_status,
	     grpc_status_name(g->grpc_status),
	     g->grpc_message[0] ? g->grpc_message : "(no grpc-message)");
	return H2GRPC_STREAM_ENDED;
}

int h2grpc_stream_read(struct h2grpc *g, h2grpc_message_fn fn, void *ctx, int *grpc_status,
		       char *err, size_t errcap)
{
	uint8_t buf[READ_CHUNK];
	int rc = 0;

	if (!g->sess) {
		errf(err, errcap, "no stream open");
		return H2GRPC_FAILED;
	}
	/* A bounded number of reads per call: a chatty runtime never holds the caller's loop.
	 * Trailers may come with the connection's end: stop at them to keep their status. */
	for (int i = 0; i < 16 && rc == 0 && !g->closed; i++) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0 && g->h2err[0]) {
			/* It said why before it closed: bytes that are not HTTP/2. */
			errf(err, errcap, "bad HTTP/2 from runtime: %s", g->h2err);
			rc = H2GRPC_FAILED;
		} else if (n <= 0) {
			errf(err, errcap, "runtime closed the connection%s%s", n < 0 ? ": " : "",
			     n < 0 ? strerror(errno) : "");
			rc = H2GRPC_FAILED;
		} else if ((n = nghttp2_session_mem_recv(g->sess, buf, (size_t)n)) < 0) {
			errf(err, errcap, "bad HTTP/2 from runtime: %s",
			     g->h2err[0] ? g->h2err : nghttp2_strerror((int)n));
			rc = H2GRPC_FAILED;
		} else if (deliver_messages(g, fn, ctx, err, errcap) < 0) {
			rc = H2GRPC_FAILED;
		}
	}
	if (rc == 0 && g->closed)
		rc = stream_end(g, grpc_status, err, errcap);
	/* Window updates and PING answers; the socket has room for these small frames. */
	if (rc == 0 && flush(g, "stream", now_ms() + 200, err, errcap) < 0)
		rc = H2GRPC_FAILED;
	if (rc == 0 && !nghttp2_session_want_read(g->sess)) {
		if (g->h2err[0])
			errf(err, errcap, "bad HTTP/2 from runtime: %s", g->h2err);
		else
			errf(err, errcap, "runtime ended the HTTP/2 session");
		rc = H2GRPC_FAILED;
	}
	if (rc != 0)
		h2grpc_disconnect(g);
	return rc;
}
