/* Logging: one line per event on stderr, "E1127 15:32:51.123456 message" like klog, or JSON.
 * The verbosity is set once from -v; nothing here allocates. Control characters and invalid
 * UTF-8 in the message are written escaped (\n, \xNN): log text often comes from the network
 * and must not forge lines or reach a terminal raw. */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO };
/* text: klog's line; json: one object per line, {"ts","level","msg"} and, while an object is
 * set, its "kind", "namespace" and "name". */
enum log_format { LOG_TEXT, LOG_JSON };

extern int log_verbosity;
extern enum log_format log_format;

/* The object the calling thread is working on, added to its JSON lines until cleared with
 * NULLs; the strings must stay valid meanwhile. */
void log_object(const char *kind, const char *ns, const char *name);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
/* Detail shown only with -v N or more. */
#define log_v(n, ...)                                                                              \
	do {                                                                                       \
		if (log_verbosity >= (n))                                                          \
			log_msg(LOG_INFO, __VA_ARGS__);                                            \
	} while (0)

#endif
