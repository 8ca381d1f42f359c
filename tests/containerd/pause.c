/* pause: the process that holds a pod sandbox's namespaces. Sleeps until SIGINT or SIGTERM and
 * reaps any child it inherits. Built static with musl-gcc by scripts/build-pause.sh. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig)
{
	_exit(0);
}

static void reap(int sig)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	signal(SIGINT, stop);
	signal(SIGTERM, stop);
	signal(SIGCHLD, reap);
	for (;;)
		pause();
}
