/* glibc's _FORTIFY_SOURCE entry points, for the glibc-built static archives (libnftnl.a, libmnl.a)
 * linked into the musl binary. Each one does glibc's check, aborts on overflow like glibc does,
 * and otherwise calls the plain musl function. Built into the musl binary only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn)) fortify_fail(const char *fn)
{
	static const char pre[] = "*** buffer overflow detected in ";
	static const char post[] = " ***: terminated\n";

	/* No stdio here: the stream or its buffer may be what overflowed. */
	(void)write(STDERR_FILENO, pre, sizeof(pre) - 1);
	(void)write(STDERR_FILENO, fn, strlen(fn));
	(void)write(STDERR_FILENO, post, sizeof(post) - 1);
	abort();
}

void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (dstlen < len)
		fortify_fail("memcpy");
	return memcpy(dst, src, len);
}

void *__memmove_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (dstlen < len)
		fortify_fail("memmove");
	return memmove(dst, src, len);
}

void *__memset_chk(void *dst, int c, size_t len, size_t dstlen)
{
	if (dstlen < len)
		fortify_fail("memset");
	return memset(dst, c, len);
}

int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap)
{
	if (slen < maxlen)
		fortify_fail("vsnprintf");
	return vsnprintf(s, maxlen, fmt, ap);
}

int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = __vsnprintf_chk(s, maxlen, flag, slen, fmt, ap);
	va_end(ap);
	return n;
}

int __vsprintf_chk(char *s, int flag, size_t slen, const char *fmt, va_list ap)
{
	int n;

	if (slen == 0)
		fortify_fail("vsprintf");
	n = vsnprintf(s, slen, fmt, ap);
	if (n >= 0 && (size_t)n >= slen)
		fortify_fail("vsprintf");
	return n;
}

int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = __vsprintf_chk(s, flag, slen, fmt, ap);
	va_end(ap);
	return n;
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	return vfprintf(f, fmt, ap);
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return n;
}
