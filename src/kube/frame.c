/* JSON stream framing by object; see frame.h. */
#include "kube/frame.h"

#include <string.h>

#include "util/json.h"

void json_framer_init(struct json_framer *f, enum framer_mode mode, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->max = max ? max : FRAME_OBJECT_MAX;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether an object opening at the current depth is one to hand out. */
static bool opens_frame(const struct json_framer *f)
{
	if (f->mode == FRAMER_WATCH)
		return f->depth == 0;
	if (f->depth == 2 && f->in_items)
		return true;
	return f->depth == 1 && f->key_len == 8 && !memcmp(f->key, "metadata", 8);
}

static long emit(struct json_framer *f, size_t end, enum frame_kind kind, struct json_frame *out)
{
	out->kind = kind;
	out->off = f->start;
	out->len = end - f->start;
	f->scanned = 0;
	f->start = 0;
	return (long)end;
}

long json_framer_next(struct json_framer *f, const char *buf, size_t len, struct json_frame *out)
{
	size_t i = f->scanned;

	out->kind = FRAME_NONE;
	out->off = out->len = 0;
	for (; i < len; i++) {
		if (f->in_string && !f->escape && (f->capturing || f->depth != 1)) {
			/* Plain string bytes change nothing here: pass over them at once, stopping
			 * where the size cap is crossed so the check below sees that byte. */
			size_t lim = len;
			if (f->capturing && !f->skipping && f->max < lim - f->start)
				lim = f->start + f->max;
			if (i < lim)
				i += json_plain_run(buf + i, lim - i);
			if (i >= len)
				break;
		}
		char c = buf[i];
		if (f->capturing && !f->skipping && i + 1 - f->start > f->max) {
			f->skipping = true;
			f->oversized++;
		}
		if (f->in_string) {
			if (f->escape)
				f->escape = false;
			else if (c == '\\')
				f->escape = true;
			else if (c == '"')
				f->in_string = false;
			if (f->in_string && !f->capturing && f->depth == 1 &&
			    f->str_len < sizeof(f->str))
				f->str[f->str_len++] = c;
			if (!f->in_string && !f->capturing && f->depth == 1)
				f->key_is_str = true;
		} else if (is_ws(c)) {
			continue;
		} else if (f->depth == 0 && (f->ended || c != '{')) {
			return -1; /* only objects at the top level, and one list */
		} else if (c == '"') {
			f->in_string = true;
			f->str_len = 0;
			f->key_is_str = false;
		} else if (c == ':') {
			if (f->depth == 1 && !f->capturing && f->key_is_str) {
				memcpy(f->key, f->str, f->str_len);
				f->key_len = f->str_len;
			}
			f->key_is_str = false;
		} else if (c == '{' || c == '[') {
			f->key_is_str = false;
			if (c == '{' && !f->capturing && opens_frame(f)) {
				f->capturing = true;
				f->cap_depth = f->depth;
				f->start = i;
			} else if (c == '[' && f->mode == FRAMER_LIST && f->depth == 1 &&
				   !f->capturing && f->key_len == 5 &&
				   !memcmp(f->key, "items", 5)) {
				f->in_items = true;
			}
			if (f->depth >= FRAME_DEPTH_MAX)
				return -1;
			if (c == '[')
				f->arrays[f->depth / 8] |= (unsigned char)(1u << (f->depth % 8));
			else
				f->arrays[f->depth / 8] &= (unsigned char)~(1u << (f->depth % 8));
			f->depth++;
		} else if (c == '}' || c == ']') {
			f->key_is_str = false;
			if (f->depth == 0)
				return -1;
			f->depth--;
			if (!(f->arrays[f->depth / 8] & (1u << (f->depth % 8))) != (c == '}'))
				return -1; /* mismatched bracket */
			if (f->capturing && f->depth == f->cap_depth) {
				bool skipped = f->skipping;
				f->capturing = f->skipping = false;
				if (skipped) {
					f->start = i + 1;
					return emit(f, i + 1, FRAME_NONE, out);
				}
				enum frame_kind k = f->mode == FRAMER_LIST && f->depth == 1
							? FRAME_METADATA
							: FRAME_OBJECT;
				return emit(f, i + 1, k, out);
			}
			if (f->mode == FRAMER_LIST && f->depth == 1 && c == ']')
				f->in_items = false;
			if (f->depth == 0) {
				f->ended = true;
				f->start = i + 1;
				return emit(f, i + 1, FRAME_END, out);
			}
		} else if (c == ',') {
			f->key_is_str = false;
			if (f->depth == 1 && !f->capturing)
				f->key_len = 0;
		} else {
			f->key_is_str = false;
		}
	}
	/* Consume what no frame needs: everything when not capturing or when skipping, else the
	 * bytes before the captured object. */
	size_t keep_from = f->capturing && !f->skipping ? f->start : len;
	if (keep_from == 0) {
		f->scanned = len;
		return -2;
	}
	f->scanned = len - keep_from;
	f->start = 0;
	return (long)keep_from;
}

/* Skips blanks from p; returns the new position. */
static size_t skip_ws(const char *t, size_t len, size_t p)
{
	while (p < len && is_ws(t[p]))
		p++;
	return p;
}

/* End (exclusive) of the string starting at t[p] == '"', or 0 when unterminated. */
static size_t string_end(const char *t, size_t len, size_t p)
{
	for (p++; p < len; p++) {
		p += json_plain_run(t + p, len - p);
		if (p >= len)
			break;
		if (t[p] == '\\')
			p++;
		else if (t[p] == '"')
			return p + 1;
	}
	return 0;
}

/* End (exclusive) of the value starting at t[p], or 0 when malformed. */
static size_t value_end(const char *t, size_t len, size_t p)
{
	if (p >= len)
		return 0;
	if (t[p] == '"')
		return string_end(t, len, p);
	if (t[p] == '{' || t[p] == '[') {
		int depth = 0;
		for (; p < len; p++) {
			char c = t[p];
			if (c == '"') {
				size_t e = string_end(t, len, p);
				if (!e)
					return 0;
				p = e - 1;
			} else if (c == '{' || c == '[') {
				depth++;
			} else if (c == '}' || c == ']') {
				if (--depth == 0)
					return p + 1;
			}
		}
		return 0;
	}
	size_t s = p;
	while (p < len && !is_ws(t[p]) && t[p] != ',' && t[p] != '}' && t[p] != ']')
		p++;
	return p > s ? p : 0;
}

int json_member_span(const char *text, size_t len, const char *key, const char **val, size_t *vlen)
{
	size_t klen = strlen(key), p = skip_ws(text, len, 0);
	if (p >= len || text[p] != '{')
		return -1;
	p = skip_ws(text, len, p + 1);
	if (p < len && text[p] == '}')
		return -1;
	while (p < len) {
		if (text[p] != '"')
			return -1;
		size_t ke = string_end(text, len, p);
		if (!ke)
			return -1;
		bool match = ke - p - 2 == klen && !memcmp(text + p + 1, key, klen);
		p = skip_ws(text, len, ke);
		if (p >= len || text[p] != ':')
			return -1;
		p = skip_ws(text, len, p + 1);
		size_t ve = value_end(text, len, p);
		if (!ve)
			return -1;
		if (match) {
			*val = text + p;
			*vlen = ve - p;
			return 0;
		}
		p = skip_ws(text, len, ve);
		if (p >= len || text[p] != ',')
			return -1;
		p = skip_ws(text, len, p + 1);
	}
	return -1;
}

int json_span_str(const char *val, size_t vlen, char *buf, size_t cap)
{
	if (vlen < 2 || val[0] != '"' || val[vlen - 1] != '"' || vlen - 2 >= cap ||
	    memchr(val, '\\', vlen))
		return -1;
	memcpy(buf, val + 1, vlen - 2);
	buf[vlen - 2] = '\0';
	return 0;
}
