/* A minimal HTTP responder for probes (/healthz, /readyz) and metrics (/metrics), driven by the
 * agent's poll loop. Fixed connection slots and buffers inside the struct; no allocation. */
#ifndef AGENT_HTTPD_H
#define AGENT_HTTPD_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPD_MAX_CONNS 8
#define HTTPD_REQ_MAX 2048

/* Fills body (NUL-terminated, at most cap bytes) for a GET of path; returns the HTTP status. */
typedef int (*httpd_handler)(void *ctx, const char *path, char *body, size_t cap);

struct httpd_conn {
	int fd; /* -1 when the slot is free */
	size_t len;
	int64_t deadline_ms;
	char req[HTTPD_REQ_MAX];
};

struct httpd {
	int listen_fd;
	httpd_handler handler;
	void *ctx;
	struct httpd_conn conns[HTTPD_MAX_CONNS];
};

/* Listens on "host:port", "[v6]:port" or ":port" (all addresses). 0, or -1 with err filled. */
int httpd_listen(struct httpd *h, const char *addr, httpd_handler handler, void *ctx, char *err,
		 size_t errlen);
/* Adds this server's descriptors to pfds (at most max); returns how many were added. */
int httpd_pollfds(const struct httpd *h, struct pollfd *pfds, int max);
/* Serves whatever is ready among the descriptors httpd_pollfds added. */
void httpd_handle(struct httpd *h, const struct pollfd *pfds, int n, int64_t now_ms);
/* Earliest connection deadline, or INT64_MAX. */
int64_t httpd_next_deadline(const struct httpd *h);
void httpd_close(struct httpd *h);

/* Parses "GET /path HTTP/1.x" from a complete request head into path (without query);
 * returns 0, or -1 when it is not a well-formed GET. Exposed for fuzzing. */
int httpd_parse_request(const char *req, size_t len, char *path, size_t cap);

#endif
