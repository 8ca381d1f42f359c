/* A minimal HTTP responder for probes (/healthz, /readyz) and metrics (/metrics), driven by the
 * agent's poll loop. Fixed connection slots and buffers inside the struct; no allocation.
 * Idle clients cannot starve probes: a connection that sends nothing is closed after
 * HTTPD_IDLE_MS, one peer address holds at most HTTPD_MAX_PER_PEER slots, and a new connection
 * finding no free slot takes the oldest one (an idle one first). */
#ifndef AGENT_HTTPD_H
#define AGENT_HTTPD_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTPD_MAX_CONNS 8
#define HTTPD_MAX_PER_PEER 4
#define HTTPD_REQ_MAX 2048
#define HTTPD_IDLE_MS 1000    /* to send the first byte */
#define HTTPD_TIMEOUT_MS 2000 /* to send the whole request */

/* Fills body (NUL-terminated, at most cap bytes) for a GET of path; returns the HTTP status. */
typedef int (*httpd_handler)(void *ctx, const char *path, char *body, size_t cap);

struct httpd_conn {
	int fd; /* -1 when the slot is free */
	size_t len;
	int64_t accepted_ms;
	uint64_t seq; /* accept order: the lowest is the oldest */
	struct sockaddr_storage peer;
	char req[HTTPD_REQ_MAX];
};

struct httpd {
	int listen_fd;
	httpd_handler handler;
	void *ctx;
	uint64_t accepted; /* connections accepted so far */
	uint64_t evicted;  /* connections closed to make room for a newer one */
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
