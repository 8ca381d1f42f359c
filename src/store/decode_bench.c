/* Decode time against object size, side by side: Pods of 1k to 120k labels (the largest is
 * 1.4 MB, under etcd's 1.5 MiB limit). Linear walking shows as a flat time per token across the
 * rows (the ratio column); the quadratic walk this replaced took 53 s for the last row.
 *  1. JSON only: parse (with the tree check) and walk every label, no token cap;
 *  2. the store's decode (two passes, interning); the 120k-label row is over STORE_MAX_TOKENS
 *     and shows the cost of rejecting it. Its time per token grows slowly with size: sorting the
 *     labels (n log n) and interning that many distinct strings (cache misses), no quadratic
 *     term (perf shows jsmn_parse, strcmp, the intern table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/json.h"

static const int sizes[] = {1000, 10000, 30000, 60000, 120000};
#define NSIZES (int)(sizeof(sizes) / sizeof(sizes[0]))

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char *labels_pod(int n, size_t *len)
{
	size_t cap = (size_t)n * 24 + 256, l = 0;
	char *t = malloc(cap);

	if (!t)
		exit(1);
	l += (size_t)snprintf(t + l, cap - l,
			      "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"big\",\"namespace\":\"ns\","
			      "\"uid\":\"u\",\"labels\":{");
	for (int i = 0; i < n; i++)
		l += (size_t)snprintf(t + l, cap - l, "%s\"k%d\":\"v\"", i ? "," : "", i);
	l += (size_t)snprintf(t + l, cap - l, "}},\"spec\":{\"nodeName\":\"n\"}}");
	*len = l;
	return t;
}

/* Best of a few rounds, in microseconds; fewer rounds for the large objects. */
static int rounds_for(int n)
{
	return n >= 30000 ? 3 : n >= 10000 ? 10 : 50;
}

static double bench_json(const char *text, size_t len, int *ntok_out)
{
	int ntok = json_count_tokens(text, len), rounds = rounds_for(ntok / 2);
	jsmntok_t *tok = malloc((size_t)ntok * sizeof(*tok));
	double best = 1e18;
	struct json j;

	if (!tok)
		exit(1);
	for (int r = 0; r < rounds; r++) {
		double t0 = now_us();
		int n = 0, labels;
		if (json_count_tokens(text, len) != ntok ||
		    json_parse(&j, text, len, tok, ntok) < 0) {
			fprintf(stderr, "bench: parse failed\n");
			exit(1);
		}
		labels = json_path(&j, 0, "metadata.labels");
		for (int k = json_first(&j, labels); k >= 0; k = json_next(&j, labels, k))
			n += json_str_eq(&j, k + 1, "v");
		if (n != json_size(&j, labels) || json_path(&j, 0, "spec.nodeName") < 0) {
			fprintf(stderr, "bench: walk failed\n");
			exit(1);
		}
		double t = now_us() - t0;
		best = t < best ? t : best;
	}
	free(tok);
	*ntok_out = ntok;
	return best;
}

static double bench_store(const char *text, size_t len, int n, bool *accepted)
{
	double best = 1e18;

	for (int r = 0; r < rounds_for(n); r++) {
		struct store *s = store_new("n");
		double t0 = now_us();
		int rc = store_upsert_json(s, KIND_POD, text, len);
		double t = now_us() - t0;
		*accepted = rc == 0;
		best = t < best ? t : best;
		store_free(s);
	}
	return best;
}

int main(void)
{
	double base_json = 0, base_store = 0;
	int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);

	printf("%8s %9s %8s | %11s %7s %6s | %11s %7s %6s %s\n", "labels", "bytes", "tokens",
	       "json us", "ns/tok", "ratio", "store us", "ns/tok", "ratio", "");
	for (int i = 0; i < NSIZES; i++) {
		size_t len;
		char *text = labels_pod(sizes[i], &len);
		int ntok;
		bool ok = false;
		double tj = bench_json(text, len, &ntok), ts;
		double pj = tj * 1e3 / ntok, ps;

		/* The rejection's log line is not part of the figures. */
		dup2(devnull, STDERR_FILENO);
		ts = bench_store(text, len, sizes[i], &ok);
		dup2(saved, STDERR_FILENO);
		ps = ts * 1e3 / ntok;
		if (i == 0) {
			base_json = pj;
			base_store = ps;
		}
		printf("%8d %9zu %8d | %11.0f %7.1f %6.2f | %11.0f %7.1f %6.2f %s\n", sizes[i], len,
		       ntok, tj, pj, pj / base_json, ts, ps, ok ? ps / base_store : 0,
		       ok ? "decoded" : "rejected: over STORE_MAX_TOKENS");
		free(text);
	}
	printf("ratio: time per token against the first row (1.00 = linear)\n");
	return 0;
}
