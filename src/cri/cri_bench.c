/* Side by side, against each real containerd of the pinned matrix (scripts/runtimes.sh --list,
 * or the versions given as arguments), started for the run (tests/containerd/start in a scratch
 * folder, 10 pod sandboxes run through CRI): one Version round trip, one ListPodSandbox,
 * one uncached netns lookup (ListPodSandbox + verbose PodSandboxStatus + JSON), one cached
 * lookup, and the JSON part alone on the runtime's real verbose info. Times in microseconds.
 * Runs from the repository root (as `make bench` does): it calls tests/containerd/ scripts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cri/cri.h"

enum { SANDBOXES = 10, ROUNDS = 500 };

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%-44s %5d %10.1f %10.1f %10.1f\n", what, n, t[n / 2], t[0], t[n - 1]);
}

/* Runs a command line of the project's own test scripts; its first output line into out. */
static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	char spare[64];

	if (!p)
		return -1;
	if (!out) {
		out = spare;
		cap = sizeof(spare);
	}
	if (!fgets(out, (int)cap, p))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	while (fgetc(p) != EOF)
		;
	return pclose(p);
}

static char base[64], dir[80];

static void stop_runtime(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "tests/containerd/stop %s >/dev/null 2>&1; rm -rf %s", dir,
		 base);
	if (run(cmd, NULL, 0) != 0)
		fprintf(stderr, "cri_bench: cleaning up %s failed\n", dir);
}

static int bench(const char *version)
{
	static double t[ROUNDS];
	static char info[1 << 20];
	char cmd[1024], line[512], err[512], path[CRI_PATH_MAX], sock[128], cgp[64];
	char uid[SANDBOXES][64];
	struct cri_client *c;
	struct cri_version v;
	int rc = 1;

	snprintf(base, sizeof(base), "/tmp/cri-bench-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/c", base);
	snprintf(cmd, sizeof(cmd),
		 "tests/containerd/start %s %s 2>&1 | sed -n 's/^CGROUP_PARENT=//p'", dir, version);
	if (run(cmd, cgp, sizeof(cgp)) != 0 || !cgp[0]) {
		fprintf(stderr, "cri_bench: containerd did not start (tests/containerd/start)\n");
		stop_runtime();
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/containerd.sock", dir);
	for (int i = 0; i < SANDBOXES; i++) {
		snprintf(uid[i], sizeof(uid[i]), "6a1d0e6e-0000-4000-8000-%012d", i);
		snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3 tests/containerd/cri_admin.py --socket %s run --name "
			 "bench-%d "
			 "--namespace bench --uid %s --cgroup-parent %s",
			 sock, i, uid[i], cgp);
		if (run(cmd, line, sizeof(line)) != 0) {
			fprintf(stderr, "cri_bench: RunPodSandbox failed\n");
			goto out;
		}
	}
	snprintf(line, sizeof(line), "unix://%s", sock);
	c = cri_open(&(struct cri_config){.endpoint = line}, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "cri_bench: %s\n", err);
		goto out;
	}
	if (cri_version(c, &v, err, sizeof(err)) != 0) {
		fprintf(stderr, "cri_bench: %s\n", err);
		cri_close(c);
		goto out;
	}
	printf("runtime %s %s, %d ready sandboxes\n", v.runtime_name, v.runtime_version, SANDBOXES);
	printf("%-44s %5s %10s %10s %10s\n", "us per call", "n", "median", "min", "max");

	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now_us();
		if (cri_version(c, &v, err, sizeof(err)) != 0)
			goto fail;
		t[i] = now_us() - t0;
	}
	report("Version (transport round trip)", t, ROUNDS);
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now_us();
		if (cri_list_ready_sandboxes(c, NULL, NULL, err, sizeof(err)) != SANDBOXES)
			goto fail;
		t[i] = now_us() - t0;
	}
	report("ListPodSandbox (10 ready)", t, ROUNDS);
	for (int i = 0; i < ROUNDS; i++) {
		const char *u = uid[i % SANDBOXES];
		double t0;
		cri_forget(c, u);
		t0 = now_us();
		if (cri_pod_netns(c, u, path, sizeof(path), err, sizeof(err)) != 0)
			goto fail;
		t[i] = now_us() - t0;
	}
	report("netns lookup, uncached (List + Status + JSON)", t, ROUNDS);
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now_us();
		if (cri_pod_netns(c, uid[i % SANDBOXES], path, sizeof(path), err, sizeof(err)) != 0)
			goto fail;
		t[i] = now_us() - t0;
	}
	report("netns lookup, cached", t, ROUNDS);

	/* The JSON part alone, on the runtime's own verbose info of the last sandbox. */
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c \"import sys; sys.path.insert(0, 'tests/containerd'); import "
		 "cri_admin; r = cri_admin.Runtime('%s'); "
		 "s = [x for x in r.list() if x['uid'] == '%s'][0]; print(r.info(s['id']))\"",
		 sock, uid[SANDBOXES - 1]);
	if (run(cmd, info, sizeof(info)) != 0 || !info[0]) {
		fprintf(stderr, "cri_bench: reading verbose info failed\n");
		cri_close(c);
		goto out;
	}
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now_us();
		if (cri_netns_from_info(info, strlen(info), NULL, path, sizeof(path), err,
					sizeof(err)) != 0)
			goto fail;
		t[i] = now_us() - t0;
	}
	printf("(verbose info of one containerd sandbox: %zu bytes)\n", strlen(info));
	report("netns from verbose info JSON only", t, ROUNDS);
	rc = 0;
	cri_close(c);
	goto out;
fail:
	fprintf(stderr, "cri_bench: %s\n", err);
	cri_close(c);
out:
	stop_runtime();
	return rc;
}

int main(int argc, char **argv)
{
	char list[256] = "", *save = NULL;
	int rc = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			rc |= bench(argv[i]);
		return rc;
	}
	if (run("scripts/runtimes.sh --list | tr '\\n' ' '", list, sizeof(list)) != 0 || !list[0]) {
		fprintf(stderr, "cri_bench: scripts/runtimes.sh --list failed\n");
		return 1;
	}
	for (char *v = strtok_r(list, " ", &save); v; v = strtok_r(NULL, " ", &save)) {
		rc |= bench(v);
		printf("\n");
	}
	return rc;
}
