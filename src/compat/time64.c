/* glibc's 64-bit time_t entry points on 32-bit ARM, for the glibc-built libmnl.a (Debian trixie
 * builds armhf with 64-bit time_t, so it calls __recvmsg64 and friends). musl's time_t is 64-bit
 * on every architecture: its plain functions already take the same structures and options.
 * Built into the musl binary only; empty elsewhere. */
#if defined(__arm__)
#include <sys/socket.h>

ssize_t __recvmsg64(int fd, struct msghdr *msg, int flags)
{
	return recvmsg(fd, msg, flags);
}

int __setsockopt64(int fd, int level, int name, const void *val, socklen_t len)
{
	return setsockopt(fd, level, name, val, len);
}

int __getsockopt64(int fd, int level, int name, void *val, socklen_t *len)
{
	return getsockopt(fd, level, name, val, len);
}
#else
typedef int compat_time64_unused; /* ISO C: a translation unit is never empty */
#endif
