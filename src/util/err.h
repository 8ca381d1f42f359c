/* Error messages for the caller: functions that can fail take (char *err, size_t cap) and
 * describe the failure there; the caller prints it once, where it knows what was being done. */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include <stddef.h>

/* Formats into err (nothing when err is NULL or cap is 0). Returns -1, so a failing function can
 * end with `return errf(err, cap, "...", ...);`. */
int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
