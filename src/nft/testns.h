/* For nft/'s tests and benchmarks only: a throwaway network namespace held by a child process,
 * `nft -f` run inside one, and nft's listing made comparable with a render. Header-only so
 * every test driver can include it as it is built. */
#ifndef NFT_TESTNS_H
#define NFT_TESTNS_H

#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
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
