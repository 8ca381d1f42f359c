#include "agent/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTPD_BODY_MAX (256 * 1024) /* /metrics: policy and guard drop counters of ~200 pods */
#define ACCEPTS_PER_CALL 32 /* the listen backlog and then some */

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;

	if (!colon)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	size_t hl = (size_t)(colon - addr);
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		*len = sizeof(*s6);
		return 0;
	}
	if (hl == 0) { /* ":PORT": every address of both families (IPv4 as mapped addresses) */
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_any;
		*len = sizeof(*s6);
		return 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (strcmp(host, "0.0.0.0") == 0)
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcmp(host, "localhost") == 0)
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	*len = sizeof(*s4);
	return 0;
}

int httpd_listen(struct httpd *h, const char *addr, httpd_handler handler, void *ctx, char *err,
		 size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	memset(h, 0, sizeof(*h));
	h->listen_fd = -1;
	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		h->conns[i].fd = -1;
	h->handler = handler;
	h->ctx = ctx;
	int dual = parse_addr(addr, &ss, &sl);
	if (dual < 0) {
		snprintf(err, errlen, "bad listen address %s (want host:port or :port)", addr);
		return -1;
	}
	h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->listen_fd < 0 && dual && errno == EAFNOSUPPORT) {
		/* a kernel without IPv6: ":PORT" is every IPv4 address */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;
		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		sl = sizeof(*s4);
		dual = 0;
		h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (h->listen_fd >= 0 && dual) {
		int zero = 0;
		setsockopt(h->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (h->listen_fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->listen_fd, (struct sockaddr *)&ss, sl) < 0 || listen(h->listen_fd, 16) < 0) {
		snprintf(err, errlen, "listen on %s: %s", addr, strerror(errno));
		close(h->listen_fd);
		h->listen_fd = -1;
		return -1;
	}
	return 0;
}

int httpd_pollfds(const struct httpd *h, struct pollfd *pfds, int max)
{
	int n = 0;

	if (h->listen_fd < 0)
		return 0;
	if (n < max)
		pfds[n++] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
	for (int i = 0; i < HTTPD_MAX_CONNS && n < max; i++)
		if (h->conns[i].fd >= 0)
			pfds[n++] = (struct pollfd){.fd = h->conns[i].fd, .events = POLLIN};
	return n;
}

int httpd_parse_request(const char *req, size_t len, char *path, size_t cap)
{
	const char *p = req, *end = req + len, *start;
	size_t n;

	if (len < 4 || memcmp(p, "GET ", 4) != 0)
		return -1;
	p += 4;
	start = p;
	while (p < end && *p != ' ' && *p != '?' && *p != '\r' && *p != '\n')
		p++;
	n = (size_t)(p - start);
	if (n == 0 || n >= cap || start[0] != '/')
		return -1;
	while (p < end && *p != ' ' && *p != '\r' && *p != '\n')
		p++; /* skip the query */
	if (end - p < 9 || memcmp(p, " HTTP/1.", 8) != 0)
		return -1;
	memcpy(path, start, n);
	path[n] = '\0';
	return 0;
}

static void conn_close(struct httpd_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Sends without waiting: the send buffer holds a whole response, so a client that does not read
 * costs nothing, and one whose answer does not fit gets it cut short. */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

static void conn_respond(struct httpd *h, struct httpd_conn *c)
{
	static char body[HTTPD_BODY_MAX];
	char head[256], path[256];
	const char *reason = "OK";
	int status;

	if (httpd_parse_request(c->req, c->len, path, sizeof(path)) < 0) {
		status = 400;
		snprintf(body, sizeof(body), "bad request\n");
	} else {
		body[0] = '\0';
		status = h->handler(h->ctx, path, body, sizeof(body));
	}
	if (status == 404)
		reason = "Not Found";
	else if (status == 400)
		reason = "Bad Request";
	else if (status == 503)
		reason = "Service Unavailable";
	else if (status != 200)
		reason = "Error";
	size_t blen = strlen(body);
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, blen);
	send_all(c->fd, head, (size_t)hl);
	send_all(c->fd, body, blen);
	conn_close(c);
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return true;
}

static bool older(const struct httpd_conn *a, const struct httpd_conn *b)
{
	/* A connection that has sent nothing yet goes before one that is mid-request. */
	if ((a->len == 0) != (b->len == 0))
		return a->len == 0;
	return a->seq < b->seq;
}

/* The slot a new connection from peer goes to: a free one, else the oldest of that peer when it
 * holds its share, else the oldest of all. Closes what was there. */
static struct httpd_conn *slot_for(struct httpd *h, const struct sockaddr_storage *peer)
{
	struct httpd_conn *free_slot = NULL, *oldest = NULL, *oldest_of_peer = NULL;
	int of_peer = 0;

	for (int i = 0; i < HTTPD_MAX_CONNS; i++) {
		struct httpd_conn *c = &h->conns[i];
		if (c->fd < 0) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		if (!oldest || older(c, oldest))
			oldest = c;
		if (same_address(&c->peer, peer)) {
			of_peer++;
			if (!oldest_of_peer || older(c, oldest_of_peer))
				oldest_of_peer = c;
		}
	}
	struct httpd_conn *victim = of_peer >= HTTPD_MAX_PER_PEER ? oldest_of_peer
				    : free_slot			  ? NULL
								  : oldest;
	if (!victim)
		return free_slot;
	conn_close(victim);
	h->evicted++;
	return victim;
}

/* Reads what the client sent; answers once the request head is complete. */
static void conn_read(struct httpd *h, struct httpd_conn *c)
{
	ssize_t r = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len, 0);

	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c);
		return;
	}
	c->len += (size_t)r;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n") || c->len == sizeof(c->req) - 1)
		conn_respond(h, c);
}

static void accept_all(struct httpd *h, int64_t now_ms)
{
	for (int k = 0; k < ACCEPTS_PER_CALL; k++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = accept4(h->listen_fd, (struct sockaddr *)&peer, &pl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct httpd_conn *c = slot_for(h, &peer);
		int sndbuf = 2 * HTTPD_BODY_MAX;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		c->fd = fd;
		c->len = 0;
		c->accepted_ms = now_ms;
		c->seq = h->accepted++;
		c->peer = peer;
		/* A probe sends its request with the handshake: answer before a later one evicts
		 * it. */
		conn_read(h, c);
	}
}

static int64_t conn_deadline(const struct httpd_conn *c)
{
	return c->accepted_ms + (c->len == 0 ? HTTPD_IDLE_MS : HTTPD_TIMEOUT_MS);
}

void httpd_handle(struct httpd *h, const struct pollfd *pfds, int n, int64_t now_ms)
{
	bool listen_ready = false;

	for (int k = 0; k < n; k++) {
		if (!pfds[k].revents)
			continue;
		if (pfds[k].fd == h->listen_fd) {
			listen_ready = true;
			continue;
		}
		for (int i = 0; i < HTTPD_MAX_CONNS; i++)
			if (h->conns[i].fd == pfds[k].fd) {
				conn_read(h, &h->conns[i]);
				break;
			}
	}
	if (listen_ready)
		accept_all(h, now_ms);
	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && now_ms >= conn_deadline(&h->conns[i]))
			conn_close(&h->conns[i]);
}

int64_t httpd_next_deadline(const struct httpd *h)
{
	int64_t d = INT64_MAX;

	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && conn_deadline(&h->conns[i]) < d)
			d = conn_deadline(&h->conns[i]);
	return d;
}

void httpd_close(struct httpd *h)
{
	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0)
			conn_close(&h->conns[i]);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	h->listen_fd = -1;
}
