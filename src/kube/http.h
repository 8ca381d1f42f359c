/* HTTP/1.1 response framing in the shape of picohttpparser: the caller owns every buffer and
 * the header slots; functions return bytes consumed, -2 when more input is needed, -1 when the
 * input is malformed. Nothing here allocates. */
#ifndef KUBE_HTTP_H
#define KUBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTP_HEADER_MAX 64 /* slots a caller typically passes */

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* Parses "HTTP/1.x NNN reason\r\n" and the headers up to the blank line in buf[0..len).
 * *num_headers is the number of slots on entry and the number used on return (more headers
 * than slots is malformed). Returns the length of the header block, -2 or -1. */
int http_parse_response(const char *buf, size_t len, int *minor_version, int *status,
			const char **msg, size_t *msg_len, struct http_header *headers,
			size_t *num_headers);

/* Case-insensitive lookup; NULL when absent. */
const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name);

/* How the body of a response is delimited. */
enum http_body_kind { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_CLOSE };
struct http_body_info {
	enum http_body_kind kind;
	unsigned long long length; /* HTTP_BODY_LENGTH */
	bool keep_alive;	   /* connection may carry another request afterwards */
};
/* From status, version and headers (Transfer-Encoding, Content-Length, Connection). -1 when they
 * contradict or a length is malformed. */
int http_body_info(int minor_version, int status, const struct http_header *h, size_t n,
		   struct http_body_info *out);

/* Incremental chunked transfer decoding, in place. Zero the struct before the first call. */
struct http_chunked {
	unsigned long long bytes_left; /* of the current chunk's data */
	int state;
	int hex_digits;
};
/* Decodes buf[0..*len): on return the decoded data is buf[0..*len). Returns -2 when the body
 * continues, -1 when malformed, or, once the last chunk and trailers are through, the number of
 * bytes after the body (left at buf + *len, they belong to the next response). Input may be
 * split at any byte. */
ssize_t http_decode_chunked(struct http_chunked *d, char *buf, size_t *len);

#endif
