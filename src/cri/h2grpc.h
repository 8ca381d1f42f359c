/* h2grpc: gRPC calls over HTTP/2 cleartext on a unix socket, with libnghttp2.
 * One connection, one call at a time, opened lazily and reopened after the peer went away. The
 * struct owns its socket, session and response buffer; a response is valid until the next call.
 * A connection either makes unary calls or carries one server-streaming call that the caller's
 * poll loop drives (h2grpc_stream_*), never both. */
#ifndef CRI_H2GRPC_H
#define CRI_H2GRPC_H

#include <stddef.h>
#include <stdint.h>

struct h2grpc;

/* socket_path: the unix socket (no "unix://"). max_response: largest response message accepted.
 * NULL when out of memory or the path does not fit a sockaddr_un. */
struct h2grpc *h2grpc_new(const char *socket_path, size_t max_response);
void h2grpc_free(struct h2grpc *g);

/* Called at least every H2GRPC_WAIT_SLICE_MS while a call waits on the runtime (connecting,
 * sending, reading), so the caller can serve other work meanwhile; a non-zero return abandons
 * the call (H2GRPC_CANCELLED). The callback must not use this connection. */
typedef int (*h2grpc_wait_fn)(void *ctx);
#define H2GRPC_WAIT_SLICE_MS 20
void h2grpc_set_wait(struct h2grpc *g, h2grpc_wait_fn fn, void *ctx);

/* h2grpc_call's failures. */
#define H2GRPC_FAILED -1    /* unreachable, HTTP/2 or gRPC error, bad response */
#define H2GRPC_DEADLINE -2  /* no connection or answer within timeout_ms, or DEADLINE_EXCEEDED */
#define H2GRPC_CANCELLED -3 /* the wait callback asked to stop */

/* Calls `path` ("/runtime.v1.RuntimeService/Version") with one serialized request message and
 * waits at most timeout_ms, connecting included (a unix socket whose backlog is full counts
 * against it). On success returns 0 and points *resp at the response message (without its
 * 5-byte gRPC prefix). On failure returns one of the values above and err says what happened:
 * runtime unreachable, deadline exceeded, HTTP/2 or gRPC error (grpc-status and grpc-message),
 * response too large, malformed framing. A call on a connection the peer has closed is retried
 * once on a fresh one. */
int h2grpc_call(struct h2grpc *g, const char *path, const uint8_t *req, size_t req_len,
		int timeout_ms, const uint8_t **resp, size_t *resp_len, char *err, size_t errcap);

/* Server streaming. h2grpc_stream_open connects (waiting at most timeout_ms for the socket to
 * accept) and sends the request; it does not wait for an answer, and the stream has no deadline.
 * 0, or one of h2grpc_call's failures with err. Then poll h2grpc_fd for h2grpc_stream_events
 * and call h2grpc_stream_read when it is ready: it reads what arrived without blocking and
 * calls fn once per complete message (msg valid during the call only). It returns 0 while the
 * stream is open, H2GRPC_STREAM_ENDED when the runtime ended it (*grpc_status holds its
 * grpc-status, err says it and grpc-message), or H2GRPC_FAILED when the connection broke or
 * the runtime broke the protocol (err says what); after either the connection is closed. */
#define H2GRPC_STREAM_ENDED 1
typedef void (*h2grpc_message_fn)(void *ctx, const uint8_t *msg, size_t len);
int h2grpc_stream_open(struct h2grpc *g, const char *path, const uint8_t *req, size_t req_len,
		       int timeout_ms, char *err, size_t errcap);
int h2grpc_fd(const struct h2grpc *g); /* -1 while not connected */
short h2grpc_stream_events(const struct h2grpc *g);
int h2grpc_stream_read(struct h2grpc *g, h2grpc_message_fn fn, void *ctx, int *grpc_status,
		       char *err, size_t errcap);

/* Closes the connection (the next call reconnects). */
void h2grpc_disconnect(struct h2grpc *g);

/* gRPC length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length.
 * Returns bytes consumed (5 + length) with the message at buf + 5, -2 when more input is needed,
 * -1 when malformed (flag other than 0 or 1). */
long grpc_frame_parse(const uint8_t *buf, size_t len, int *compressed, size_t *msg_len);

/* Name of a gRPC status code ("DEADLINE_EXCEEDED"), "UNKNOWN" for codes out of range. */
const char *grpc_status_name(int code);

#endif
