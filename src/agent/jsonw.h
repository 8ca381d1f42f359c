/* A JSON writer into a caller's buffer, for the /debug/pods page: appends and escapes, never
 * overruns; once the buffer is full everything further is dropped and full is set (the page
 * then says it was cut). */
#ifndef AGENT_JSONW_H
#define AGENT_JSONW_H

#include <stdbool.h>
#include <stddef.h>

struct jsonw {
	char *buf;
	size_t cap, len;
	bool full;
};

/* Raw text (punctuation, numbers), printf-style. */
void jsonw_raw(struct jsonw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string: quotes, backslashes and control characters escaped; NULL gives null. */
void jsonw_str(struct jsonw *w, const char *s);
/* "key": (with a leading comma unless first). */
void jsonw_key(struct jsonw *w, const char *key, bool first);

#endif
