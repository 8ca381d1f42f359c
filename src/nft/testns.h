/* For nft/'s tests and benchmarks only: a throwaway network namespace held by a child process,
 * `nft -f` or any shell command run inside one, and nft's listing made comparable with a render.
 * Header-only so every test driver can include it as it is built. */
#ifndef NFT_TESTNS_H
#define NFT_TESTNS_H

#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Forks a child that holds a new network namespace until it is killed (or its parent dies);
 * writes its /proc path into path. Returns the child's pid, or -1. */
static inline pid_t testns_hold(char *path, size_t len)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c = 'n';
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y')
		pid = -1;
	close(p[0]);
	close(p[1]);
	if (pid > 0)
		snprintf(path, len, "/proc/%d/ns/net", (int)pid);
	return pid;
}

/* Runs `nft -f file` inside the netns at netns (through nsenter). 0, or -1 when it failed. */
static inline int testns_nft_file(const char *netns, const char *file)
{
	char nsarg[300];
	snprintf(nsarg, sizeof nsarg, "--net=%s", netns);
	char *argv[] = {"nsenter", nsarg, "nft", "-f", (char *)file, NULL};
	pid_t pid;
	int st;
	if (posix_spawnp(&pid, "nsenter", NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* Runs a shell command made printf-style and returns what it printed on stdout (malloc'd, the
 * caller frees). A command too long or that cannot be started aborts the test. */
static inline char *testns_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *testns_run(const char *fmt, ...)
{
	char cmd[1024], buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int made = vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	FILE *p = made >= 0 && (size_t)made < sizeof cmd ? popen(cmd, "r") : NULL;
	char *out = NULL;
	size_t len = 0, n;
	FILE *m = p ? open_memstream(&out, &len) : NULL;
	if (!m) {
		fprintf(stderr, "testns_run: cannot run: %s\n", cmd);
		abort();
	}
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		fwrite(buf, 1, n, m);
	pclose(p);
	fclose(m);
	return out;
}

/* nft's listing without what ownership adds: " # progname NAME" after the table's brace and
 * a "flags owner..." line with the blank line after it. */
static inline char *testns_without_owner(char *text)
{
	char *p = strstr(text, " # progname ");
	if (p) {
		char *eol = strchr(p, '\n');
		memmove(p, eol, strlen(eol) + 1);
	}
	p = strstr(text, "{\n\tflags ");
	if (p) {
		char *from = p + 2, *eol = strchr(from, '\n') + 1;
		if (*eol == '\n')
			eol++;
		memmove(from, eol, strlen(eol) + 1);
	}
	return text;
}

#endif
