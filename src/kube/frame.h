/* Framing of the API server's JSON streams by object, not by chunk or line: a watch body is a
 * sequence of concatenated event objects; a list body is one object whose "items" elements (and
 * "metadata") are framed one by one so a page never has to sit in memory whole. Scanning is
 * string- and escape-aware and resumes where it stopped. The caller owns the buffer; the
 * framer holds only offsets into it. An object larger than `max` is skipped (counted in
 * `oversized`), not buffered. */
#ifndef KUBE_FRAME_H
#define KUBE_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#define FRAME_OBJECT_MAX (4u << 20) /* default cap of one object: 4 MiB */
#define FRAME_DEPTH_MAX 256	    /* nesting deeper than this is malformed */

enum framer_mode { FRAMER_WATCH, FRAMER_LIST };

enum frame_kind {
	FRAME_NONE,	/* bytes consumed, nothing complete (whitespace, list skeleton, skipping) */
	FRAME_OBJECT,	/* a watch event, or one element of a list's "items" */
	FRAME_METADATA, /* the list's top-level "metadata" object */
	FRAME_END	/* the list object closed (list mode only) */
};

struct json_frame {
	enum frame_kind kind;
	size_t off, len; /* the object is buf[off, off + len) */
};

struct json_framer {
	enum framer_mode mode;
	size_t max;
	size_t scanned;	      /* bytes of the buffer already looked at */
	size_t start;	      /* offset of the object being captured */
	int depth, cap_depth; /* cap_depth: depth outside the captured object */
	bool in_string, escape, capturing, skipping, ended;
	bool in_items;	 /* list mode: inside the top-level "items" array */
	bool key_is_str; /* list mode: the last depth-1 string may be a key */
	char key[12], str[12];
	unsigned char key_len, str_len;
	unsigned char arrays[FRAME_DEPTH_MAX / 8]; /* bit set: that level is an array */
	unsigned long oversized;		   /* objects dropped for exceeding max */
};

/* max 0 means FRAME_OBJECT_MAX. */
void json_framer_init(struct json_framer *f, enum framer_mode mode, size_t max);
/* Scans buf[0..len), which starts where the previous call's consumed bytes ended. Returns the
 * number of bytes consumed (> 0; *out says what they completed), -2 when nothing can be consumed
 * until more input arrives (keep the bytes, append more, call again), or -1 when the stream is
 * not a sequence of JSON objects (watch) or not one JSON object (list). */
long json_framer_next(struct json_framer *f, const char *buf, size_t len, struct json_frame *out);

/* The value of member `key` of the JSON object text[0..len) (top level only, raw key bytes
 * compared), as a span into text: strings include their quotes. 0, or -1 when absent or when
 * the text is not an object. Nothing is unescaped or allocated. */
int json_member_span(const char *text, size_t len, const char *key, const char **val, size_t *vlen);
/* Copies the JSON string span (with quotes, no escapes allowed) into buf; 0 or -1. */
int json_span_str(const char *val, size_t vlen, char *buf, size_t cap);

#endif
