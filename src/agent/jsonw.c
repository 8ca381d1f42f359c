/* See jsonw.h. */
#include "agent/jsonw.h"

#include <stdarg.h>
#include <stdio.h>

void jsonw_raw(struct jsonw *w, const char *fmt, ...)
{
	if (w->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len) {
		w->full = true;
		w->buf[w->len] = '\0';
		return;
	}
	w->len += (size_t)n;
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (!s) {
		jsonw_raw(w, "null");
		return;
	}
	jsonw_raw(w, "\"");
	for (; *s && !w->full; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			jsonw_raw(w, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			jsonw_raw(w, "\\u%04x", c);
		else
			jsonw_raw(w, "%c", c);
	}
	jsonw_raw(w, "\"");
}

void jsonw_key(struct jsonw *w, const char *key, bool first)
{
	if (!first)
		jsonw_raw(w, ",");
	jsonw_str(w, key);
	jsonw_raw(w, ":");
}
