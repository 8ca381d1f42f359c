#include "agent/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HTTPD_TIMEOUT_MS 2000
#define HTTPD_BODY_MAX 16384

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
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (hl == 0 || strcmp(host, "0.0.0.0") == 0)
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
	if (parse_addr(addr, &ss, &sl) < 0) {
		snprintf(err, errlen, "bad listen address %s (want host:port or :port)", addr);
		return -1;
	}
	h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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

static void send_all(int fd, const char *buf, size_t len)
{
	/* Responses are small; a short blocking send with a timeout keeps the loop simple. */
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len > 0) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
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

void httpd_handle(struct httpd *h, const struct pollfd *pfds, int n, int64_t now_ms)
{
	for (int k = 0; k < n; k++) {
		if (!pfds[k].revents)
			continue;
		if (pfds[k].fd == h->listen_fd) {
			int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			int slot = -1;
			for (int i = 0; i < HTTPD_MAX_CONNS; i++)
				if (h->conns[i].fd < 0) {
					slot = i;
					break;
				}
			if (slot < 0) {
				close(fd); /* all slots busy: the client retries */
				continue;
			}
			h->conns[slot].fd = fd;
			h->conns[slot].len = 0;
			h->conns[slot].deadline_ms = now_ms + HTTPD_TIMEOUT_MS;
			continue;
		}
		for (int i = 0; i < HTTPD_MAX_CONNS; i++) {
			struct httpd_conn *c = &h->conns[i];
			if (c->fd != pfds[k].fd)
				continue;
			ssize_t r = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len, 0);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				conn_close(c);
				break;
			}
			c->len += (size_t)r;
			c->req[c->len] = '\0';
			if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n") ||
			    c->len == sizeof(c->req) - 1)
				conn_respond(h, c);
			break;
		}
	}
	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && now_ms >= h->conns[i].deadline_ms)
			conn_close(&h->conns[i]);
}

int64_t httpd_next_deadline(const struct httpd *h)
{
	int64_t d = INT64_MAX;

	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && h->conns[i].deadline_ms < d)
			d = h->conns[i].deadline_ms;
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
