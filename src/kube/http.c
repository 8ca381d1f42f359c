/* HTTP/1.1 response parsing and chunked decoding; see http.h. */
#include "kube/http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Finds the end of the line starting at p; the line is [p, *eol), and the return value points
 * after "\r\n" or "\n". NULL when the line is incomplete. -1 in *bad on a bare CR or a NUL. */
static const char *line_end(const char *p, const char *end, const char **eol, int *bad)
{
	for (const char *q = p; q < end; q++) {
		if (*q == '\n') {
			*eol = q > p && q[-1] == '\r' ? q - 1 : q;
			return q + 1;
		}
		if (*q == '\0' || (*q == '\r' && q + 1 < end && q[1] != '\n')) {
			*bad = 1;
			return NULL;
		}
	}
	return NULL;
}

int http_parse_response(const char *buf, size_t len, int *minor_version, int *status,
			const char **msg, size_t *msg_len, struct http_header *headers,
			size_t *num_headers)
{
	const char *p = buf, *end = buf + len, *eol;
	size_t max = *num_headers, n = 0;
	int bad = 0;

	*num_headers = 0;
	const char *next = line_end(p, end, &eol, &bad);
	if (!next) {
		/* Reject early what cannot become a status line. */
		const char prefix[] = "HTTP/1.";
		size_t m = len < sizeof(prefix) - 1 ? len : sizeof(prefix) - 1;
		return bad || memcmp(buf, prefix, m) ? -1 : -2;
	}
	/* "HTTP/1.x SSS[ reason]" */
	if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) || !isdigit((unsigned char)p[7]) ||
	    p[8] != ' ' || !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]))
		return -1;
	*minor_version = p[7] - '0';
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (eol - p == 12) {
		*msg = eol;
		*msg_len = 0;
	} else {
		if (p[12] != ' ')
			return -1;
		*msg = p + 13;
		*msg_len = (size_t)(eol - (p + 13));
	}
	p = next;
	for (;;) {
		next = line_end(p, end, &eol, &bad);
		if (!next)
			return bad ? -1 : -2;
		if (eol == p)
			break; /* blank line: end of headers */
		if (*p == ' ' || *p == '\t')
			return -1; /* obsolete line folding */
		const char *colon = p;
		while (colon < eol && *colon != ':') {
			if (!is_token_char((unsigned char)*colon))
				return -1;
			colon++;
		}
		if (colon == eol || colon == p)
			return -1;
		if (n == max)
			return -1;
		const char *v = colon + 1, *ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t')
				return -1;
		headers[n].name = p;
		headers[n].name_len = (size_t)(colon - p);
		headers[n].value = v;
		headers[n].value_len = (size_t)(ve - v);
		n++;
		p = next;
	}
	*num_headers = n;
	return (int)(next - buf);
}

const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == len && !strncasecmp(h[i].name, name, len))
			return &h[i];
	return NULL;
}

/* Whether the comma list in h contains token (case-insensitive). */
static bool list_has(const struct http_header *h, const char *token)
{
	size_t tl = strlen(token);
	const char *p = h->value, *end = h->value + h->value_len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *s = p;
		while (p < end && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == tl && !strncasecmp(s, token, tl))
			return true;
	}
	return false;
}

int http_body_info(int minor_version, int status, const struct http_header *h, size_t n,
		   struct http_body_info *out)
{
	const struct http_header *te = NULL, *cl = NULL, *conn = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct http_header *x = &h[i];
		if (x->name_len == 17 && !strncasecmp(x->name, "transfer-encoding", 17)) {
			if (te)
				return -1;
			te = x;
		} else if (x->name_len == 14 && !strncasecmp(x->name, "content-length", 14)) {
			if (cl)
				return -1;
			cl = x;
		} else if (x->name_len == 10 && !strncasecmp(x->name, "connection", 10)) {
			conn = x;
		}
	}
	out->length = 0;
	out->keep_alive = minor_version >= 1 ? !(conn && list_has(conn, "close"))
					     : (conn && list_has(conn, "keep-alive"));
	if (status / 100 == 1 || status == 204 || status == 304) {
		out->kind = HTTP_BODY_NONE;
		return 0;
	}
	if (te) {
		if (cl)
			return -1;
		/* chunked must be the last (and here the only) coding */
		if (te->value_len != 7 || strncasecmp(te->value, "chunked", 7))
			return -1;
		out->kind = HTTP_BODY_CHUNKED;
		return 0;
	}
	if (cl) {
		unsigned long long v = 0;
		if (cl->value_len == 0 || cl->value_len > 18)
			return -1;
		for (size_t i = 0; i < cl->value_len; i++) {
			if (!isdigit((unsigned char)cl->value[i]))
				return -1;
			v = v * 10 + (unsigned)(cl->value[i] - '0');
		}
		out->kind = HTTP_BODY_LENGTH;
		out->length = v;
		return 0;
	}
	out->kind = HTTP_BODY_CLOSE;
	out->keep_alive = false;
	return 0;
}

enum {
	CH_SIZE,	/* hex digits of the chunk size */
	CH_EXT,		/* chunk extension up to LF */
	CH_DATA,	/* chunk data */
	CH_DATA_CR,	/* CR after data */
	CH_DATA_LF,	/* LF after data */
	CH_TRAILER,	/* start of a trailer line (or the final blank line) */
	CH_TRAILER_LINE /* inside a trailer line */
};

ssize_t http_decode_chunked(struct http_chunked *d, char *buf, size_t *len)
{
	size_t src = 0, dst = 0, n = *len;

	while (src < n) {
		char c = buf[src];
		switch (d->state) {
		case CH_SIZE: {
			int v;
			if (c >= '0' && c <= '9')
				v = c - '0';
			else if (c >= 'a' && c <= 'f')
				v = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v = c - 'A' + 10;
			else
				v = -1;
			if (v >= 0) {
				if (d->hex_digits == 15)
					return -1; /* absurd size */
				d->bytes_left = d->bytes_left * 16 + (unsigned)v;
				d->hex_digits++;
				src++;
				break;
			}
			if (d->hex_digits == 0)
				return -1;
			if (c != ';' && c != '\r' && c != '\n' && c != ' ' && c != '\t')
				return -1;
			d->state = CH_EXT;
			break;
		}
		case CH_EXT:
			src++;
			if (c == '\n') {
				d->hex_digits = 0;
				d->state = d->bytes_left ? CH_DATA : CH_TRAILER;
			}
			break;
		case CH_DATA: {
			size_t avail = n - src;
			size_t take = d->bytes_left < avail ? (size_t)d->bytes_left : avail;
			memmove(buf + dst, buf + src, take);
			dst += take;
			src += take;
			d->bytes_left -= take;
			if (!d->bytes_left)
				d->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			src++;
			if (c == '\r')
				d->state = CH_DATA_LF;
			else if (c == '\n')
				d->state = CH_SIZE;
			else
				return -1;
			break;
		case CH_DATA_LF:
			src++;
			if (c != '\n')
				return -1;
			d->state = CH_SIZE;
			break;
		case CH_TRAILER:
			src++;
			if (c == '\n') {
				*len = dst;
				memmove(buf + dst, buf + src, n - src);
				d->state = CH_SIZE;
				return (ssize_t)(n - src);
			}
			if (c != '\r')
				d->state = CH_TRAILER_LINE;
			break;
		case CH_TRAILER_LINE:
			src++;
			if (c == '\n')
				d->state = CH_TRAILER;
			break;
		}
	}
	*len = dst;
	return -2;
}
