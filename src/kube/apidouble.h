/* For kube/'s benchmarks only: the API server double (tests/apiserver/apiserver.py) started in a
 * scratch folder, objects PUT and actions POSTed through its control port, the growing buffer
 * the generators print JSON into, and the process's own memory and CPU. Header-only, like
 * nft/testns.h, so every benchmark driver includes it as it is built. Run from the repository
 * root (the double's path is relative); needs /usr/bin/python3. */
#ifndef KUBE_APIDOUBLE_H
#define KUBE_APIDOUBLE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct apidouble {
	char dir[64]; /* scratch folder: kubeconfig, ready, control-port */
	pid_t pid;
	int port; /* control port */
};

/* A growing buffer of text; bprintf appends. */
struct buf {
	char *p;
	size_t len, cap;
};

static inline void bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void bprintf(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n;
		b->p = realloc(b->p, b->cap);
	}
}

/* One blocking HTTP/1.1 request to the control port; returns the status or -1. */
static inline int apidouble_call(int port, const char *method, const char *path, const char *body,
				 size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char hdr[256];
	int h = snprintf(hdr, sizeof(hdr),
			 "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 method, path, len);
	if (write(fd, hdr, (size_t)h) != h)
		return close(fd), -1;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, body + off, len - off);
		if (w <= 0)
			return close(fd), -1;
		off += (size_t)w;
	}
	char resp[64] = "", rest[4096];
	ssize_t r = read(fd, resp, sizeof(resp) - 1);
	while (read(fd, rest, sizeof(rest)) > 0)
		; /* drain, so the close is orderly */
	close(fd);
	int status = -1;
	if (r > 12)
		sscanf(resp, "HTTP/1.%*d %d", &status);
	return status;
}

/* PUT /objects: a JSON array of objects the double stores (and tells its watches). */
static inline int apidouble_put(const struct apidouble *d, const char *json, size_t len)
{
	return apidouble_call(d->port, "PUT", "/objects", json, len);
}

/* POST /ACTION (compact, expire-watches, ...). */
static inline int apidouble_post(const struct apidouble *d, const char *action)
{
	char path[64];
	snprintf(path, sizeof(path), "/%s", action);
	return apidouble_call(d->port, "POST", path, "", 0);
}

/* Starts the double in a new scratch folder named after the benchmark; 0, or -1 (then
 * apidouble_stop has cleaned up). */
static inline int apidouble_start(struct apidouble *d, const char *name)
{
	char ready[128], portf[128];
	FILE *f;

	d->pid = -1;
	d->port = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(d->dir))
		return -1;
	d->pid = fork();
	if (d->pid == 0) {
		setsid();
		execl("/usr/bin/python3", "python3", "tests/apiserver/apiserver.py", "--dir",
		      d->dir, "--history", "100", (char *)NULL);
		_exit(127);
	}
	snprintf(ready, sizeof(ready), "%s/ready", d->dir);
	for (int i = 0; i < 200 && access(ready, F_OK); i++)
		usleep(50000);
	snprintf(portf, sizeof(portf), "%s/control-port", d->dir);
	f = fopen(portf, "r");
	if (!f || fscanf(f, "%d", &d->port) != 1)
		d->port = -1;
	if (f)
		fclose(f);
	return d->port > 0 ? 0 : -1;
}

/* Ends the double and removes its folder. */
static inline void apidouble_stop(struct apidouble *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
		d->pid = -1;
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	if (d->dir[0] && system(cmd))
		fprintf(stderr, "could not remove %s\n", d->dir);
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 when absent. */
static inline long vm_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t fl = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl))
			v = strtol(line + fl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* CPU this process used, user and system, in ms. */
static inline long cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 +
	       ru.ru_stime.tv_usec / 1000;
}

#endif
