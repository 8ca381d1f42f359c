/* One HTTP/1.1 connection over TLS, non-blocking; see conn.h. */
#include "kube/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/client_internal.h"
#include "kube/tls.h"

#ifndef VERSION
#define VERSION "dev"
#endif

#define BUF_INITIAL (16u << 10)
#define HEADER_MAX (64u << 10)	   /* status line and headers */
#define ERROR_BODY_MAX (64u << 10) /* kept of a non-200 body; the rest is not read */
#define RETRY_AFTER_MAX_S 3600u	   /* parse cap; the reflector clamps to its backoff max */

/* A host name lookup on its own thread: getaddrinfo blocks (DNS timeouts of seconds) and the
 * agent has one loop. The thread signals the pipe when done; whoever drops the last reference
 * (the thread, or the connection that abandoned it) frees it. */
struct kube_resolve {
	atomic_int refs;
	atomic_int done;
	int rfd, wfd;
	int err;
	struct addrinfo *res;
	char host[256], port[8];
};

void kube_conn_init(struct kube_conn *c, struct kube_client *client, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->client = client;
	c->fd = -1;
	c->max = max < BUF_INITIAL ? BUF_INITIAL : max;
	c->addr_timeout_ms = KUBE_CONN_ADDR_TIMEOUT_MS;
}

static void resolve_put(struct kube_resolve *r)
{
	if (atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	if (r->res)
		freeaddrinfo(r->res);
	close(r->rfd);
	close(r->wfd);
	free(r);
}

static void *resolve_thread(void *arg)
{
	struct kube_resolve *r = arg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	r->err = getaddrinfo(r->host, r->port, &hints, &r->res);
	atomic_store(&r->done, 1);
	ssize_t w = write(r->wfd, "r", 1);
	(void)w; /* the pipe is empty and ours: it cannot fail short of a bug */
	resolve_put(r);
	return NULL;
}

void kube_conn_close(struct kube_conn *c)
{
	if (c->resolve) {
		resolve_put(c->resolve);
		c->resolve = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reusable = false;
}

/* free() of the request, which carries the bearer token. */
static void free_req(struct kube_conn *c)
{
	if (c->req)
		explicit_bzero(c->req, c->req_len);
	free(c->req);
	c->req = NULL;
	c->req_len = 0;
}

void kube_conn_free(struct kube_conn *c)
{
	kube_conn_close(c);
	if (c->tls) /* its buffer held the request in clear */
		explicit_bzero(c->tls, sizeof(*c->tls));
	free(c->tls);
	free(c->buf);
	free_req(c);
	c->tls = NULL;
	c->buf = NULL;
}

unsigned kube_retry_after_parse(const char *v, size_t len, unsigned max_s)
{
	unsigned long long s = 0;
	size_t i = 0;
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i == len || v[i] < '0' || v[i] > '9')
		return 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		if ((s = s * 10 + (unsigned)(v[i] - '0')) > max_s)
			s = max_s; /* saturate: the digits may go on for ever */
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i == len ? (unsigned)s : 0;
}

const char *kube_conn_error(const struct kube_conn *c)
{
	return c->err;
}

static enum kube_conn_state fail(struct kube_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum kube_conn_state fail(struct kube_conn *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, sizeof(c->err), "%s: %s", c->client->cfg.server, msg);
	kube_conn_close(c);
	c->state = KC_FAILED;
	return c->state;
}

/* Notes why address i failed, for the message when every address has. */
static void addr_failed(struct kube_conn *c, unsigned i, const char *why)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[i];
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
			  sizeof(host));
	size_t n = strlen(c->connect_errs);
	snprintf(c->connect_errs + n, sizeof(c->connect_errs) - n, "%s%s: %s", n ? "; " : "", host,
		 why);
}

/* Opens a socket to the next address and starts connecting; moves past addresses that fail at
 * once. 0 when a connect is in flight, -1 (failed) when none is left. */
static int connect_next(struct kube_conn *c)
{
	while (c->addr_next < c->naddrs) {
		unsigned i = c->addr_next++;
		const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[i];
		if (c->fd >= 0)
			close(c->fd);
		c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			fail(c, "socket: %s", strerror(errno));
			return -1;
		}
		int one = 1, idle = 30, intvl = 10, cnt = 3;
		setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, sa, c->addr_lens[i]) == 0 || errno == EINPROGRESS) {
			c->state = KC_CONNECTING;
			c->addr_deadline = kube_now_ms() + c->addr_timeout_ms;
			return 0;
		}
		addr_failed(c, i, strerror(errno));
	}
	fail(c, "connect: %s", c->connect_errs[0] ? c->connect_errs : "no address");
	return -1;
}

int kube_conn_connect_addrinfo(struct kube_conn *c, const struct addrinfo *ai)
{
	c->naddrs = c->addr_next = 0;
	c->connect_errs[0] = '\0';
	for (; ai && c->naddrs < KUBE_CONN_ADDRS_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->addrs[0]))
			continue;
		memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
		c->addr_lens[c->naddrs++] = ai->ai_addrlen;
	}
	return connect_next(c);
}

/* Resolves the configured host: an IP literal at once, a name on a thread (KC_RESOLVING). */
static int start_connect(struct kube_conn *c)
{
	const struct kube_config *cfg = &c->client->cfg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST},
			*ai;
	char port[8];
	snprintf(port, sizeof(port), "%u", cfg->port);
	if (getaddrinfo(cfg->host, port, &hints, &ai) == 0) {
		int r = kube_conn_connect_addrinfo(c, ai);
		freeaddrinfo(ai);
		return r;
	}
	struct kube_resolve *r = calloc(1, sizeof(*r));
	int p[2];
	if (!r || pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		free(r);
		fail(c, "resolving %s: %s", cfg->host, r ? strerror(errno) : "out of memory");
		return -1;
	}
	r->rfd = p[0];
	r->wfd = p[1];
	snprintf(r->host, sizeof(r->host), "%s", cfg->host);
	snprintf(r->port, sizeof(r->port), "%s", port);
	atomic_init(&r->refs, 2);
	atomic_init(&r->done, 0);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int e = pthread_create(&t, &attr, resolve_thread, r);
	pthread_attr_destroy(&attr);
	if (e) {
		atomic_store(&r->refs, 1);
		resolve_put(r);
		fail(c, "resolving %s: cannot start a thread: %s", cfg->host, strerror(e));
		return -1;
	}
	c->resolve = r;
	c->state = KC_RESOLVING;
	return 0;
}

/* The resolver thread is done: connect to what it found. */
static void resolved(struct kube_conn *c)
{
	struct kube_resolve *r = c->resolve;
	if (!r) {
		fail(c, "resolving: abandoned");
		return;
	}
	if (!atomic_load(&r->done))
		return;
	c->resolve = NULL;
	if (r->err) {
		fail(c, "resolving %s: %s", r->host, gai_strerror(r->err));
	} else {
		kube_conn_connect_addrinfo(c, r->res);
	}
	resolve_put(r);
}

static int start_tls(struct kube_conn *c)
{
	char err[200];
	if (!c->tls && !(c->tls = malloc(sizeof(*c->tls)))) {
		fail(c, "out of memory");
		return -1;
	}
	if (tls_conn_start(c->tls, &c->client->creds, c->fd, c->client->cfg.tls_server_name, err,
			   sizeof(err))) {
		fail(c, "%s", err);
		return -1;
	}
	c->state = KC_SENDING;
	return 0;
}

int kube_conn_get(struct kube_conn *c, const char *path)
{
	const struct kube_config *cfg = &c->client->cfg;
	const char *token = kube_client_token(c->client);
	free_req(c);
	if (token && kube_token_check(token) >= 0) {
		/* config refuses such tokens already; never let one split the request */
		fail(c, "the bearer token holds a space or control character; not sending it");
		return -1;
	}
	int n = asprintf(&c->req,
			 "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n%s%s%sAccept: application/json\r\n"
			 "User-Agent: multi-networkpolicy-nftables/" VERSION "\r\n\r\n",
			 path, strchr(cfg->host, ':') ? "[" : "", cfg->host,
			 strchr(cfg->host, ':') ? "]" : "", cfg->port,
			 token ? "Authorization: Bearer " : "", token ? token : "",
			 token ? "\r\n" : "");
	if (n < 0) {
		c->req = NULL;
		fail(c, "out of memory");
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->req_len = (size_t)n;
	c->req_off = 0;
	c->len = c->off = 0;
	c->truncated = false;
	c->status = 0;
	c->retry_after_s = 0;
	c->need_space = false;
	c->err[0] = '\0';
	memset(&c->chunked, 0, sizeof(c->chunked));
	if (c->cap > BUF_INITIAL) {
		/* a big object grew the buffer once; do not keep that for the connection's life */
		free(c->buf);
		c->buf = NULL;
	}
	if (!c->buf) {
		c->cap = BUF_INITIAL;
		if (!(c->buf = malloc(c->cap))) {
			fail(c, "out of memory");
			return -1;
		}
	}
	/* reuse only after a complete response: nothing of it may be left on the socket */
	c->reused = c->fd >= 0 && c->reusable && c->state == KC_DONE;
	if (c->reused) {
		c->state = KC_SENDING;
		return 0;
	}
	kube_conn_close(c);
	return start_connect(c);
}

int kube_conn_fd(const struct kube_conn *c)
{
	return c->state == KC_RESOLVING && c->resolve ? c->resolve->rfd : c->fd;
}

int64_t kube_conn_deadline(const struct kube_conn *c)
{
	return c->state == KC_CONNECTING ? c->addr_deadline : INT64_MAX;
}

short kube_conn_events(const struct kube_conn *c)
{
	switch (c->state) {
	case KC_RESOLVING:
		return POLLIN;
	case KC_CONNECTING:
		return POLLOUT;
	case KC_SENDING:
		/* the engine may only want to read (handshake) while the request is unsent */
		return tls_conn_events(c->tls) | (c->req_off < c->req_len ? POLLOUT : 0);
	case KC_HEADERS:
	case KC_BODY:
		if (c->len == c->cap && !c->off &&
		    (c->cap >= c->max || (c->status == 200 && !c->need_space)))
			return 0; /* full: the caller must consume first */
		return tls_conn_events(c->tls) | POLLIN;
	default:
		return 0;
	}
}

/* Decodes n fresh body bytes at buf + len; updates state. */
static void take_body(struct kube_conn *c, size_t n)
{
	char *p = c->buf + c->len;
	switch (c->body.kind) {
	case HTTP_BODY_CHUNKED: {
		size_t dec = n;
		ssize_t r = http_decode_chunked(&c->chunked, p, &dec);
		if (r == -1) {
			fail(c, "GET %s: malformed chunked encoding", c->path);
			return;
		}
		c->len += dec;
		if (r >= 0) {
			c->state = KC_DONE;
			if (r > 0)
				c->reusable = false; /* bytes after the body: nothing was asked */
		}
		break;
	}
	case HTTP_BODY_LENGTH:
		if (n > c->body_left) {
			n = (size_t)c->body_left;
			c->reusable = false;
		}
		c->len += n;
		c->body_left -= n;
		if (!c->body_left)
			c->state = KC_DONE;
		break;
	case HTTP_BODY_CLOSE:
		c->len += n;
		break;
	case HTTP_BODY_NONE:
		c->state = KC_DONE;
		break;
	}
}

static void parse_headers(struct kube_conn *c)
{
	int minor, status;
	const char *msg;
	size_t msg_len, nh = HTTP_HEADER_MAX;
	struct http_header h[HTTP_HEADER_MAX];
	int r = http_parse_response(c->buf, c->len, &minor, &status, &msg, &msg_len, h, &nh);
	if (r == -2) {
		if (c->len >= HEADER_MAX)
			fail(c, "GET %s: response headers larger than %u bytes", c->path,
			     HEADER_MAX);
		return;
	}
	if (r < 0 || http_body_info(minor, status, h, nh, &c->body) < 0) {
		fail(c, "GET %s: malformed HTTP response", c->path);
		return;
	}
	const struct http_header *ra = http_header_find(h, nh, "retry-after");
	if (ra)
		c->retry_after_s =
		    kube_retry_after_parse(ra->value, ra->value_len, RETRY_AFTER_MAX_S);
	c->status = status;
	c->reusable = c->body.keep_alive;
	c->body_left = c->body.length;
	size_t rest = c->len - (size_t)r;
	memmove(c->buf, c->buf + r, rest);
	c->len = c->off = 0;
	c->state = KC_BODY;
	if (c->body.kind == HTTP_BODY_NONE || (c->body.kind == HTTP_BODY_LENGTH && !c->body_left))
		c->state = KC_DONE;
	else
		take_body(c, rest);
}

static void do_read(struct kube_conn *c)
{
	for (;;) {
		if (c->len == c->cap && c->off) {
			/* consumed bytes at the front: move the rest there once, not per object */
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->moved += c->len - c->off;
			c->len -= c->off;
			c->off = 0;
		}
		if (c->len == c->cap) {
			size_t limit = c->state == KC_HEADERS ? HEADER_MAX : c->max;
			if (c->status && c->status != 200)
				limit = ERROR_BODY_MAX;
			/* a 200 body grows only when its reader cannot make progress without it */
			else if (c->state == KC_BODY && !c->need_space)
				return;
			if (c->cap >= limit) {
				if (c->state == KC_HEADERS) {
					fail(c, "GET %s: response headers too large", c->path);
				} else if (c->status != 200) {
					/* the start of an error body says enough: stop reading */
					c->truncated = true;
					c->state = KC_DONE;
					kube_conn_close(c);
				}
				return; /* backpressure */
			}
			size_t ncap = c->cap * 2 > limit ? limit : c->cap * 2;
			char *nb = realloc(c->buf, ncap);
			if (!nb) {
				fail(c, "out of memory");
				return;
			}
			c->buf = nb;
			c->cap = ncap;
			c->need_space = false;
		}
		ssize_t r = tls_conn_read(c->tls, c->buf + c->len, c->cap - c->len);
		if (r == TLS_AGAIN)
			return;
		if (r < 0) {
			fail(c, "GET %s: %s", c->path, tls_conn_error(c->tls));
			return;
		}
		if (r > 0)
			c->received += (uint64_t)r;
		if (r == 0) {
			if (c->state == KC_BODY && c->body.kind == HTTP_BODY_CLOSE) {
				c->state = KC_DONE;
				kube_conn_close(c);
				return;
			}
			fail(c, "GET %s: connection closed %s", c->path,
			     c->state == KC_HEADERS ? "before the response"
						    : "in the middle of the body");
			return;
		}
		if (c->state == KC_HEADERS) {
			c->len += (size_t)r;
			parse_headers(c);
		} else {
			take_body(c, (size_t)r);
		}
		if (c->state != KC_HEADERS && c->state != KC_BODY)
			return;
	}
}

enum kube_conn_state kube_conn_handle(struct kube_conn *c, short revents)
{
	if (c->state == KC_RESOLVING) {
		resolved(c);
		revents = 0;
	}
	if (c->state == KC_CONNECTING) {
		int e = 0;
		socklen_t l = sizeof(e);
		if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
			if (kube_now_ms() < c->addr_deadline)
				return c->state;
			addr_failed(c, c->addr_next - 1, "connect timed out");
			connect_next(c);
			return c->state;
		}
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			addr_failed(c, c->addr_next - 1, strerror(e));
			connect_next(c);
			return c->state;
		}
		if (start_tls(c))
			return c->state;
	}
	if (c->state == KC_SENDING) {
		while (c->req_off < c->req_len) {
			ssize_t w =
			    tls_conn_write(c->tls, c->req + c->req_off, c->req_len - c->req_off);
			if (w == TLS_AGAIN)
				return c->state;
			if (w < 0) {
				const char *why = tls_conn_error(c->tls);
				if (c->reused) {
					/* the server closed an idle connection: once more, fresh */
					kube_conn_close(c);
					c->reused = false;
					if (start_connect(c))
						return c->state;
					return c->state;
				}
				return fail(c, "%s", why);
			}
			c->req_off += (size_t)w;
		}
		int f = tls_conn_flush(c->tls);
		if (f < 0)
			return fail(c, "%s", tls_conn_error(c->tls));
		c->state = KC_HEADERS;
	}
	if (c->state == KC_HEADERS || c->state == KC_BODY) {
		tls_conn_flush(c->tls);
		size_t before = c->len;
		enum kube_conn_state st = c->state;
		do_read(c);
		if (c->state == KC_FAILED && c->reused && st == KC_HEADERS && before == 0) {
			/* reused connection died before any response byte: retry on a new one */
			c->reused = false;
			c->req_off = 0;
			c->len = c->off = 0;
			c->err[0] = '\0';
			start_connect(c);
		}
	}
	return c->state;
}

bool kube_conn_pending(const struct kube_conn *c)
{
	return (c->state == KC_HEADERS || c->state == KC_BODY) && c->tls && c->fd >= 0 &&
	       tls_conn_pending(c->tls) && (c->len < c->cap || c->off || c->need_space);
}

const char *kube_conn_body(const struct kube_conn *c, size_t *len)
{
	*len = c->len - c->off;
	return c->buf + c->off;
}

void kube_conn_need_space(struct kube_conn *c)
{
	c->need_space = true;
}

void kube_conn_consume(struct kube_conn *c, size_t n)
{
	if (n > c->len - c->off)
		n = c->len - c->off;
	c->off += n;
	if (c->off == c->len)
		c->off = c->len = 0; /* all consumed: nothing to move */
}
