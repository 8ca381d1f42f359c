#include "util/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_verbosity;
enum log_format log_format;

static _Thread_local struct {
	const char *kind, *ns, *name;
} current;

void log_object(const char *kind, const char *ns, const char *name)
{
	current.kind = kind;
	current.ns = ns;
	current.name = name;
}

/* Length of the valid, printable UTF-8 sequence at p (1..4), or 0 when it is not one (invalid,
 * or a C1 control character: terminals act on those too). */
static int utf8_printable(const unsigned char *p, const unsigned char *end)
{
	int n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (!n || p[0] > 0xf4 || end - p < n)
		return 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
		return 0;
	if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
	    (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

/* Copies msg into out escaping what could forge lines or drive a terminal (control characters,
 * invalid UTF-8): messages carry text from the network. Returns the bytes written. */
static size_t escape(char *out, size_t cap, const char *msg, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)msg, *end = p + len;
	size_t o = 0;
	while (p < end) {
		int n = *p < 0x80 ? (*p >= 0x20 && *p != 0x7f) : utf8_printable(p, end);
		if (n) {
			if (o + (size_t)n > cap)
				break;
			memcpy(out + o, p, (size_t)n);
			o += (size_t)n;
			p += n;
			continue;
		}
		if (o + 4 > cap)
			break;
		out[o++] = '\\';
		if (*p == '\n' || *p == '\r' || *p == '\t') {
			out[o++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
		} else {
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
		p++;
	}
	return o;
}

/* Appends s (already escaped: printable UTF-8 and backslash escapes) as a JSON string body. */
static size_t json_str(char *out, size_t cap, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		bool esc = s[i] == '"' || s[i] == '\\';
		if (o + 1 + esc >= cap)
			break;
		if (esc)
			out[o++] = '\\';
		out[o++] = s[i];
	}
	return o;
}

static void log_json(enum log_level level, const struct timeval *tv, const struct tm *tm,
		     const char *msg, size_t len)
{
	static const char *const names[] = {"error", "warning", "info"};
	char line[4608], esc[2048];
	size_t n = (size_t)snprintf(line, sizeof(line),
				    "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"level\":\"%s\","
				    "\"msg\":\"",
				    tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
				    tm->tm_min, tm->tm_sec, (long)tv->tv_usec, names[level]);
	size_t m = escape(esc, sizeof(esc), msg, len);
	n += json_str(line + n, sizeof(line) - n - 256, esc, m);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\"");
	const char *keys[] = {"kind", "namespace", "name"};
	const char *vals[] = {current.kind, current.ns, current.name};
	for (int k = 0; k < 3; k++) {
		if (!vals[k] || !vals[k][0] || sizeof(line) - n < 80)
			continue;
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"%s\":\"", keys[k]);
		m = escape(esc, 300, vals[k], strlen(vals[k]));
		n += json_str(line + n, sizeof(line) - n - 8, esc, m);
		line[n++] = '"';
	}
	line[n++] = '}';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char tag[] = {'E', 'W', 'I'};
	char line[2048], msg[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, m;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	if (log_format == LOG_JSON) {
		va_start(ap, fmt);
		m = vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (m > (int)sizeof(msg) - 1)
			m = (int)sizeof(msg) - 1;
		log_json(level, &tv, &tm, msg, m > 0 ? (size_t)m : 0);
		return;
	}
	n = snprintf(line, sizeof(line), "%c%02d%02d %02d:%02d:%02d.%06ld ", tag[level],
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
	va_start(ap, fmt);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m > (int)sizeof(msg) - 1)
		m = (int)sizeof(msg) - 1;
	if (m > 0)
		n += (int)escape(line + n, sizeof(line) - (size_t)n - 1, msg, (size_t)m);
	line[n++] = '\n';
	/* One write per line so lines of concurrent writers never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
