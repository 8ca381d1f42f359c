/* One HTTP/1.1 connection over TLS, non-blocking; see conn.h. */
#include "kube/conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
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
#define HEADER_MAX (64u << 10) /* status line and headers */
#define ERROR_BODY_MAX (64u << 10)

void kube_conn_init(struct kube_conn *c, struct kube_client *client, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->client = client;
	c->fd = -1;
	c->max = max < BUF_INITIAL ? BUF_INITIAL : max;
}

void kube_conn_close(struct kube_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reusable = false;
}

void kube_conn_free(struct kube_conn *c)
{
	kube_conn_close(c);
	free(c->tls);
	free(c->buf);
	free(c->req);
	c->tls = NULL;
	c->buf = c->req = NULL;
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

static int start_connect(struct kube_conn *c)
{
	const struct kube_config *cfg = &c->client->cfg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	char port[8];
	snprintf(port, sizeof(port), "%u", cfg->port);
	int r = getaddrinfo(cfg->host, port, &hints, &ai);
	if (r) {
		fail(c, "resolving: %s", gai_strerror(r));
		return -1;
	}
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		freeaddrinfo(ai);
		fail(c, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno != EINPROGRESS) {
		fail(c, "connect: %s", strerror(errno));
		return -1;
	}
	c->state = KC_CONNECTING;
	return 0;
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
	char auth[8192];
	if (token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
	else
		auth[0] = '\0';
	free(c->req);
	c->req_len = 0;
	int n = asprintf(&c->req,
			 "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n%sAccept: application/json\r\n"
			 "User-Agent: multi-networkpolicy-nftables/" VERSION "\r\n\r\n",
			 path, strchr(cfg->host, ':') ? "[" : "", cfg->host,
			 strchr(cfg->host, ':') ? "]" : "", cfg->port, auth);
	explicit_bzero(auth, sizeof(auth));
	if (n < 0) {
		c->req = NULL;
		fail(c, "out of memory");
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->req_len = (size_t)n;
	c->req_off = 0;
	c->len = 0;
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
	return c->fd;
}

short kube_conn_events(const struct kube_conn *c)
{
	switch (c->state) {
	case KC_CONNECTING:
		return POLLOUT;
	case KC_SENDING:
		/* the engine may only want to read (handshake) while the request is unsent */
		return tls_conn_events(c->tls) | (c->req_off < c->req_len ? POLLOUT : 0);
	case KC_HEADERS:
	case KC_BODY:
		if (c->len == c->cap && (c->cap >= c->max || (c->status == 200 && !c->need_space)))
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
	if (ra) {
		char tmp[16];
		size_t l = ra->value_len < sizeof(tmp) - 1 ? ra->value_len : sizeof(tmp) - 1;
		memcpy(tmp, ra->value, l);
		tmp[l] = '\0';
		c->retry_after_s = (unsigned)strtoul(tmp, NULL, 10);
	}
	c->status = status;
	c->reusable = c->body.keep_alive;
	c->body_left = c->body.length;
	size_t rest = c->len - (size_t)r;
	memmove(c->buf, c->buf + r, rest);
	c->len = 0;
	c->state = KC_BODY;
	if (c->body.kind == HTTP_BODY_NONE || (c->body.kind == HTTP_BODY_LENGTH && !c->body_left))
		c->state = KC_DONE;
	else
		take_body(c, rest);
}

static void do_read(struct kube_conn *c)
{
	for (;;) {
		if (c->len == c->cap) {
			size_t limit = c->state == KC_HEADERS ? HEADER_MAX : c->max;
			if (c->status && c->status != 200)
				limit = ERROR_BODY_MAX;
			/* a 200 body grows only when its reader cannot make progress without it */
			else if (c->state == KC_BODY && !c->need_space)
				return;
			if (c->cap >= limit) {
				if (c->state == KC_HEADERS)
					fail(c, "GET %s: response headers too large", c->path);
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
	if (c->state == KC_CONNECTING) {
		int e = 0;
		socklen_t l = sizeof(e);
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return c->state;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e)
			return fail(c, "connect: %s", strerror(e));
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
			c->len = 0;
			c->err[0] = '\0';
			start_connect(c);
		}
	}
	return c->state;
}

bool kube_conn_pending(const struct kube_conn *c)
{
	return (c->state == KC_HEADERS || c->state == KC_BODY) && c->tls && c->fd >= 0 &&
	       tls_conn_pending(c->tls) && (c->len < c->cap || c->need_space);
}

const char *kube_conn_body(const struct kube_conn *c, size_t *len)
{
	*len = c->len;
	return c->buf;
}

void kube_conn_need_space(struct kube_conn *c)
{
	c->need_space = true;
}

void kube_conn_consume(struct kube_conn *c, size_t n)
{
	if (n > c->len)
		n = c->len;
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}
