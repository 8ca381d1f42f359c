/* cri-probe: drives the CRI client for tests. Options pick the runtime; then either one command
 * from the command line, or one command per line on stdin (one client for the whole session, so
 * caching and reconnecting can be observed). Every command prints one line:
 *   "ok ...", "notfound <error>" or "err <error>".
 *
 *   cri-probe --endpoint E [--host-prefix P] [--timeout-ms N] [--hold-off 0|1] [--v N]
 *             [COMMAND ARGS...]
 *   version                 ok name=<runtime_name> version=<runtime_version> api=<api version>
 *   list                    ok <count> <uid>:<sandbox id>:<namespace>/<name>[:recreated] ...
 *   netns UID               ok <path>
 *   forget UID              ok
 *   time UID N              ok n=N avg_us=.. min_us=.. max_us=.. cached_avg_us=..
 *                           (N uncached lookups: forget + netns; then N cached ones)
 *   info-file FILE          ok <path>: the netns path in a verbose info document saved in FILE
 *                           (cri_netns_from_info, --host-prefix applied; no runtime call)
 *   events MS               ok live=<0|1> gaps=<n> [READY|GONE:<uid>:<sandbox id>]...
 *                           (drives the event stream for MS ms: what it reported meanwhile,
 *                           gaps = times it said events may have been missed) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cri/cri.h"
#include "util/log.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct listing {
	char text[65536];
	size_t len;
};

static int add_sandbox(void *ctx, const struct cri_sandbox *sb)
{
	struct listing *l = ctx;
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, " %s:%s:%s/%s%s", sb->uid,
			 sb->id, sb->ns, sb->name, sb->recreated ? ":recreated" : "");

	if (n < 0 || (size_t)n >= sizeof(l->text) - l->len)
		return 1; /* full: stop listing */
	l->len += (size_t)n;
	return 0;
}

static void add_event(void *ctx, const struct cri_sandbox_event *ev)
{
	struct listing *l = ctx;
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, " %s:%s:%s",
			 ev->change == CRI_SANDBOX_READY ? "READY" : "GONE", ev->sb.uid, ev->sb.id);

	if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
		l->len += (size_t)n;
}

/* The loop an agent runs around the event stream, for ms milliseconds. */
static void drive_events(struct cri_client *c, int ms)
{
	static struct listing l;
	double end = now_us() + ms * 1e3;
	int gaps = 0;

	l.len = 0;
	l.text[0] = 0;
	for (double now = now_us(); now < end; now = now_us()) {
		struct pollfd p = {.fd = cri_events_fd(c), .events = cri_events_poll_events(c)};
		int wait = (int)((end - now) / 1e3), due = cri_events_timeout_ms(c);
		if (due >= 0 && due < wait)
			wait = due;
		if (poll(&p, p.fd >= 0 ? 1 : 0, wait) < 0)
			break;
		if (p.revents || cri_events_timeout_ms(c) == 0)
			gaps += cri_events_handle(c, p.revents, add_event, &l);
	}
	printf("ok live=%d gaps=%d%s\n", cri_events_live(c) ? 1 : 0, gaps, l.text);
}

static const char *host_prefix; /* --host-prefix, for info-file */

/* info-file: the decoder alone on a document a test took from a real runtime and altered. */
static int netns_from_file(const char *file, char *path, size_t cap, char *err, size_t errcap)
{
	static char text[1 << 20];
	size_t n;
	FILE *f = fopen(file, "rb");

	if (!f) {
		snprintf(err, errcap, "cannot open %s", file);
		return CRI_ERR;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	return cri_netns_from_info(text, n, host_prefix, path, cap, err, errcap) == 0 ? 0 : CRI_ERR;
}

static void print_result(int rc, const char *ok, const char *err)
{
	if (rc == 0)
		printf("ok %s\n", ok);
	else if (rc == CRI_NOTFOUND)
		printf("notfound %s\n", err);
	else
		printf("err %s\n", err);
}

static void run(struct cri_client *c, int argc, char **argv)
{
	char err[512] = "", path[CRI_PATH_MAX];
	const char *cmd = argc > 0 ? argv[0] : "";

	if (strcmp(cmd, "version") == 0 && argc == 1) {
		struct cri_version v;
		char line[300];
		int rc = cri_version(c, &v, err, sizeof(err));
		if (rc == 0)
			snprintf(line, sizeof(line), "name=%s version=%s api=%s", v.runtime_name,
				 v.runtime_version, v.runtime_api_version);
		print_result(rc, line, err);
	} else if (strcmp(cmd, "list") == 0 && argc == 1) {
		static struct listing l;
		int n;
		l.len = 0;
		l.text[0] = 0;
		n = cri_list_ready_sandboxes(c, add_sandbox, &l, err, sizeof(err));
		if (n < 0)
			printf("err %s\n", err);
		else
			printf("ok %d%s\n", n, l.text);
	} else if (strcmp(cmd, "netns") == 0 && argc == 2) {
		int rc = cri_pod_netns(c, argv[1], path, sizeof(path), err, sizeof(err));
		print_result(rc, path, err);
	} else if (strcmp(cmd, "info-file") == 0 && argc == 2) {
		int rc = netns_from_file(argv[1], path, sizeof(path), err, sizeof(err));
		print_result(rc, path, err);
	} else if (strcmp(cmd, "events") == 0 && argc == 2) {
		drive_events(c, atoi(argv[1]));
	} else if (strcmp(cmd, "forget") == 0 && argc == 2) {
		cri_forget(c, argv[1]);
		print_result(0, "", "");
	} else if (strcmp(cmd, "time") == 0 && argc == 3) {
		int n = atoi(argv[2]), rc = 0;
		double sum = 0, min = 1e18, max = 0, csum = 0;
		char line[200];
		for (int i = 0; i < n && rc == 0; i++) {
			double t0 = now_us(), dt;
			cri_forget(c, argv[1]);
			rc = cri_pod_netns(c, argv[1], path, sizeof(path), err, sizeof(err));
			dt = now_us() - t0;
			sum += dt;
			min = dt < min ? dt : min;
			max = dt > max ? dt : max;
		}
		for (int i = 0; i < n && rc == 0; i++) {
			double t0 = now_us();
			rc = cri_pod_netns(c, argv[1], path, sizeof(path), err, sizeof(err));
			csum += now_us() - t0;
		}
		snprintf(line, sizeof(line),
			 "n=%d avg_us=%.0f min_us=%.0f max_us=%.0f cached_avg_us=%.2f", n,
			 n ? sum / n : 0, n ? min : 0, max, n ? csum / n : 0);
		print_result(n > 0 ? rc : CRI_ERR, line, n > 0 ? err : "time: N must be > 0");
	} else {
		printf("err unknown command or arguments: %s\n", cmd);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct cri_config cfg = {0};
	struct cri_client *c;
	char err[512], line[1024];
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc) {
			fprintf(stderr, "cri-probe: %s needs a value\n", argv[i]);
			return 2;
		}
		if (strcmp(argv[i], "--endpoint") == 0)
			cfg.endpoint = argv[i + 1];
		else if (strcmp(argv[i], "--host-prefix") == 0)
			cfg.host_prefix = host_prefix = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			cfg.timeout_ms = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--hold-off") == 0)
			cfg.hold_off_after_timeout = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--v") == 0)
			log_verbosity = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "cri-probe: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	c = cri_open(&cfg, err, sizeof(err));
	if (!c) {
		printf("err %s\n", err);
		return 1;
	}
	if (i < argc) {
		run(c, argc - i, argv + i);
	} else {
		while (fgets(line, sizeof(line), stdin)) {
			char *args[8];
			int n = 0;
			for (char *tok = strtok(line, " \t\r\n"); tok && n < 8;
			     tok = strtok(NULL, " \t\r\n"))
				args[n++] = tok;
			if (n > 0)
				run(c, n, args);
		}
	}
	cri_close(c);
	return 0;
}
