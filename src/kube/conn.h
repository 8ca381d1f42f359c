/* kube_conn: one HTTP/1.1 connection to the API server over TLS, non-blocking, one GET at a
 * time, reused while the server keeps it alive. The body is decoded (chunked or
 * Content-Length) into a buffer the connection owns; the caller takes bytes from its front with
 * kube_conn_body / kube_conn_consume as they arrive, so a watch stream never accumulates. */
#ifndef KUBE_CONN_H
#define KUBE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kube/client.h"
#include "kube/http.h"

enum kube_conn_state {
	KC_IDLE,       /* no request in flight (socket kept open when reusable) */
	KC_RESOLVING,  /* a thread resolves the host name; the fd is its notification pipe */
	KC_CONNECTING, /* TCP connect in progress (one address after the other) */
	KC_SENDING,    /* TLS handshake and request */
	KC_HEADERS,    /* waiting for the status line and headers */
	KC_BODY,       /* status known; body arriving */
	KC_DONE,       /* body complete */
	KC_FAILED      /* see kube_conn_error */
};

struct tls_conn;
struct kube_resolve;
struct addrinfo;

#define KUBE_CONN_ADDRS_MAX 8	       /* addresses of a host name tried in turn */
#define KUBE_CONN_ADDR_TIMEOUT_MS 5000 /* connect timeout of one address */

struct kube_conn {
	struct kube_client *client;
	enum kube_conn_state state;
	int fd;
	struct tls_conn *tls;
	bool reusable, reused;
	char *req;
	size_t req_len, req_off;
	char *buf;	      /* raw header bytes, then decoded body bytes */
	size_t off;	      /* consumed body bytes at the front of buf */
	size_t len, cap, max; /* len: end of the data in buf */
	uint64_t moved;	      /* bytes moved to compact buf over the connection's life */
	uint64_t received;    /* bytes read (headers and body) over the connection's life */
	bool truncated;	      /* an error body beyond the cap: the rest was not read */
	struct kube_resolve *resolve;
	struct sockaddr_storage addrs[KUBE_CONN_ADDRS_MAX];
	socklen_t addr_lens[KUBE_CONN_ADDRS_MAX];
	unsigned naddrs, addr_next;
	int64_t addr_deadline;	  /* kube_now_ms() when the current connect gives up */
	unsigned addr_timeout_ms; /* KUBE_CONN_ADDR_TIMEOUT_MS unless a test lowers it */
	char connect_errs[160];	  /* why earlier addresses failed */
	int status;
	struct http_body_info body;
	struct http_chunked chunked;
	unsigned long long body_left;
	unsigned retry_after_s; /* from a Retry-After header (seconds, capped), 0 when none */
	bool need_space;	/* the reader asked for a bigger buffer */
	char path[1024];
	char err[256];
};

/* max: largest body bytes kept unconsumed at once (the framer's cap plus slack). */
void kube_conn_init(struct kube_conn *c, struct kube_client *client, size_t max);
void kube_conn_free(struct kube_conn *c);
/* Starts GET path (path and query). 0, or -1 with kube_conn_error (state KC_FAILED). */
int kube_conn_get(struct kube_conn *c, const char *path);
/* Connects to the addresses of the list in turn (tests; kube_conn_get resolves the configured
 * host off the loop and comes here): each gets KUBE_CONN_ADDR_TIMEOUT_MS, a refused or timed
 * out one moves on to the next. 0, or -1 with kube_conn_error. */
int kube_conn_connect_addrinfo(struct kube_conn *c, const struct addrinfo *ai);
/* When kube_conn_handle must run even without readiness (a connect attempt's timeout), in
 * kube_now_ms() time; INT64_MAX when nothing is timed. */
int64_t kube_conn_deadline(const struct kube_conn *c);
/* Drives I/O after poll reported revents (0 is fine: it just tries). Returns the state. */
enum kube_conn_state kube_conn_handle(struct kube_conn *c, short revents);
int kube_conn_fd(const struct kube_conn *c);
short kube_conn_events(const struct kube_conn *c);
/* Received bytes wait inside the TLS engine: call kube_conn_handle without waiting for poll. */
bool kube_conn_pending(const struct kube_conn *c);
/* Decoded body bytes not consumed yet (KC_BODY, KC_DONE). Consuming only moves an offset; the
 * unconsumed rest moves to the front once the buffer fills up, so a stream of many small
 * objects costs one move of a partial object per read, not one per object. */
const char *kube_conn_body(const struct kube_conn *c, size_t *len);
void kube_conn_consume(struct kube_conn *c, size_t n);
/* The reader cannot consume what the body buffer holds (an object in progress fills it): let
 * the buffer grow, up to the max given at init. Otherwise a full buffer waits for consumption. */
void kube_conn_need_space(struct kube_conn *c);
/* Closes the socket (the next request reconnects); abandons a name resolution in flight. */
void kube_conn_close(struct kube_conn *c);
const char *kube_conn_error(const struct kube_conn *c);
/* A Retry-After header value in seconds, capped at max_s; 0 when it is not a number of seconds
 * (an HTTP date is not honoured: the caller's backoff applies). */
unsigned kube_retry_after_parse(const char *v, size_t len, unsigned max_s);

#endif
