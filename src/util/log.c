#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_verbosity;

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char tag[] = {'E', 'W', 'I'};
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, m;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%c%02d%02d %02d:%02d:%02d.%06ld ", tag[level],
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = (m < 0) ? n : (n + m > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m);
	line[n++] = '\n';
	/* One write per line so lines of concurrent writers never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
