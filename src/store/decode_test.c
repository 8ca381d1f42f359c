/* The decoders against hostile JSON: shapes jsmn accepts that are not JSON, label maps that are
 * not maps of strings, and objects large enough that a quadratic walk would stall the agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/internal.h"
#include "store/store.h"
#include "util/json.h"

/* The object that overflowed the label array (ASan heap-buffer-overflow WRITE, SIGSEGV in the
 * static binary): jsmn reads "a":"b":"c" as a value with a value, so the label map's member count
 * disagreed with what a walk visited. Also a seed of the decode fuzzer. */
static const char crash_pod[] =
    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\",\"labels\":{\"a\":\"b\":"
    "\"c\",\"d\":\"e\",\"f\":{\"x\":\"1\",\"y\":\"2\",\"z\":\"3\"},\"g\":\"h\"}}}";

static int up(struct store *s, enum kube_kind k, const char *json)
{
	return store_upsert_json(s, k, json, strlen(json));
}

/* stderr (the log) goes to a file between capture_begin and capture_end. */
static int saved_fd = -1;
static FILE *capture;

static void capture_begin(void)
{
	capture = tmpfile();
	assert_non_null(capture);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

/* The captured log, NUL-terminated (caller frees). */
static char *capture_end(void)
{
	long n;
	char *buf;

	assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
	close(saved_fd);
	n = ftell(capture);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	rewind(capture);
	assert_int_equal(fread(buf, 1, (size_t)n, capture), (size_t)n);
	fclose(capture);
	fputs(buf, stderr); /* still shown in the test's output */
	return buf;
}

static void assert_logged(const char *log, const char *want)
{
	if (!strstr(log, want))
		fail_msg("log lacks \"%s\":\n%s", want, log);
}

static const char *label(const struct store_labels *l, const char *k)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return l->v[i].value;
	return NULL;
}

/* The crash input is rejected as a whole, naming the object, and what the store held for the pod
 * (an earlier valid version) stays as it was. */
static void test_malformed_labels_reject_object(void **state)
{
	struct store *s = store_new("n");
	const struct store_pod *p;
	char *log;

	(void)state;
	capture_begin();
	assert_int_equal(up(s, KIND_POD, crash_pod), -1);
	log = capture_end();
	assert_logged(log, "Pod ns/p: not valid JSON; object ignored");
	free(log);
	assert_null(store_pod_get(s, "ns", "p"));

	assert_int_equal(up(s, KIND_POD,
			    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\","
			    "\"labels\":{\"a\":\"b\",\"g\":\"h\"}},\"spec\":{\"nodeName\":\"n\"}}"),
			 0);
	assert_int_equal(up(s, KIND_POD, crash_pod), -1);
	p = store_pod_get(s, "ns", "p");
	assert_non_null(p);
	assert_int_equal(p->labels.n, 2);
	assert_string_equal(label(&p->labels, "a"), "b");
	assert_null(label(&p->labels, "x"));

	/* The same shape in a Namespace's labels and a policy's matchLabels. */
	capture_begin();
	assert_int_equal(up(s, KIND_NAMESPACE,
			    "{\"metadata\":{\"name\":\"team\",\"labels\":{\"a\":\"b\":\"c\","
			    "\"d\":\"e\"}}}"),
			 -1);
	assert_int_equal(up(s, KIND_POLICY,
			    "{\"metadata\":{\"name\":\"pol\",\"namespace\":\"ns\"},\"spec\":{"
			    "\"podSelector\":{\"matchLabels\":{\"a\":\"b\":\"c\",\"d\":\"e\",\"f\":"
			    "\"g\"}},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{"
			    "\"x\":\"1\":\"2\",\"y\":\"3\"}}}]}]}}"),
			 -1);
	log = capture_end();
	assert_logged(log, "Namespace team: not valid JSON; object ignored");
	assert_logged(log, "MultiNetworkPolicy ns/pol: not valid JSON; object ignored");
	free(log);
	assert_true(store_ns_get(s, "team") == NULL || !store_ns_get(s, "team")->exists);
	store_free(s);
}

/* A label map holds strings only: a nested object, a number or a map that is not one rejects
 * the object (a dropped label could make it match a NotIn selector). */
static void test_label_values_must_be_strings(void **state)
{
	static const char *const bad[] = {
	    "{\"f\":{\"x\":\"1\",\"y\":\"2\",\"z\":\"3\"},\"g\":\"h\"}",
	    "{\"a\":1}",
	    "{\"a\":[\"b\"]}",
	    "{\"a\":null}",
	    "\"a=b\"",
	    "[\"a\",\"b\"]",
	};
	struct store *s = store_new("n");
	char buf[512], *log;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"p%zu\",\"namespace\":\"ns\",\"uid\":\"u\","
			 "\"labels\":%s}}",
			 i, bad[i]);
		capture_begin();
		assert_int_equal(up(s, KIND_POD, buf), -1);
		log = capture_end();
		snprintf(buf, sizeof(buf), "Pod ns/p%zu: metadata.labels", i);
		assert_logged(log, buf);
		assert_logged(log, "object ignored");
		free(log);
		snprintf(buf, sizeof(buf), "p%zu", i);
		assert_null(store_pod_get(s, "ns", buf));
	}
	/* A key twice: which value a selector would see is arbitrary. */
	capture_begin();
	assert_int_equal(up(s, KIND_POD,
			    "{\"metadata\":{\"name\":\"dup\",\"namespace\":\"ns\",\"uid\":\"u\","
			    "\"labels\":{\"env\":\"prod\",\"app\":\"a\",\"env\":\"dev\"}}}"),
			 -1);
	log = capture_end();
	assert_logged(log, "Pod ns/dup: metadata.labels: key \"env\" appears twice; object ignored");
	free(log);
	/* null and {} are no labels. */
	assert_int_equal(up(s, KIND_POD,
			    "{\"metadata\":{\"name\":\"q\",\"namespace\":\"ns\",\"uid\":\"u\","
			    "\"labels\":null}}"),
			 0);
	assert_int_equal(store_pod_get(s, "ns", "q")->labels.n, 0);
	assert_int_equal(up(s, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"x\",\"labels\":{}}}"),
			 0);
	capture_begin();
	assert_int_equal(
	    up(s, KIND_NAMESPACE, "{\"metadata\":{\"name\":\"y\",\"labels\":{\"a\":{}}}}"), -1);
	log = capture_end();
	assert_logged(log, "Namespace y: metadata.labels");
	free(log);
	store_free(s);
}

/* A pod of n labels k<i>=v; *len gets its length. */
static char *labels_pod(const char *name, int n, size_t *len)
{
	size_t cap = (size_t)n * 24 + 256, l = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	l += (size_t)snprintf(t + l, cap - l,
			      "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\","
			      "\"uid\":\"u\",\"labels\":{",
			      name);
	for (int i = 0; i < n; i++)
		l += (size_t)snprintf(t + l, cap - l, "%s\"k%d\":\"v\"", i ? "," : "", i);
	l += (size_t)snprintf(t + l, cap - l, "}},\"spec\":{\"nodeName\":\"n\"}}");
	*len = l;
	return t;
}

/* The 120k-label pod of the report (1.37 MB, under etcd's limit; 53 s per event when the walks
 * were quadratic) is over the token cap: rejected by name, without being walked. */
static void test_token_cap(void **state)
{
	struct store *s = store_new("n");
	size_t len;
	char *big = labels_pod("big", 120000, &len), *log;
	unsigned long before = json_walk_steps;

	(void)state;
	assert_true(len > 1300000 && len < 1572864); /* etcd: 1.5 MiB */
	capture_begin();
	assert_int_equal(store_upsert_json(s, KIND_POD, big, len), -1);
	log = capture_end();
	assert_logged(log, "Pod ns/big: 240017 JSON tokens, over the limit of 131072 per object; "
			   "object ignored");
	free(log);
	/* Only the 256-token prefix that names it was walked. */
	assert_true(json_walk_steps - before < 1024);
	assert_null(store_pod_get(s, "ns", "big"));
	/* Its deletion is still understood. */
	assert_int_equal(up(s, KIND_POD,
			    "{\"metadata\":{\"name\":\"big\",\"namespace\":\"ns\",\"uid\":\"u\"}}"),
			 0);
	assert_int_equal(store_delete_json(s, KIND_POD, big, len), 0);
	assert_null(store_pod_get(s, "ns", "big"));
	free(big);
	store_free(s);
}

/* Just under the cap (60k labels, 120k tokens): decoded, and the walks (tree check, lookups,
 * label iteration, two passes) visit each token a bounded number of times. Quadratic walking
 * here would be ~10^10 steps. */
static void test_large_object_linear(void **state)
{
	enum { N = 60000 };
	struct store *s = store_new("n");
	size_t len;
	char *text = labels_pod("large", N, &len);
	int ntok = json_count_tokens(text, len);
	unsigned long before = json_walk_steps, steps;
	const struct store_pod *p;

	(void)state;
	assert_true(ntok > 2 * N && ntok <= STORE_MAX_TOKENS);
	assert_int_equal(store_upsert_json(s, KIND_POD, text, len), 0);
	steps = json_walk_steps - before;
	print_message("%d tokens, %lu walk steps\n", ntok, steps);
	assert_true(steps <= 32 * (unsigned long)ntok);
	p = store_pod_get(s, "ns", "large");
	assert_non_null(p);
	assert_int_equal(p->labels.n, N);
	assert_string_equal(label(&p->labels, "k59999"), "v");
	/* The large token array was given back. */
	assert_null(s->tok);
	free(text);
	store_free(s);
}

/* A DELETED event whose object is not valid JSON is ignored like any other undecodable event
 * (only an object too large to decode is deleted by the name in its first tokens). */
static void test_delete_malformed_ignored(void **state)
{
	struct store *s = store_new("n");

	(void)state;
	assert_int_equal(up(s, KIND_POD,
			    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\"}}"),
			 0);
	assert_int_equal(store_delete_json(s, KIND_POD, crash_pod, strlen(crash_pod)), -1);
	assert_non_null(store_pod_get(s, "ns", "p"));
	assert_int_equal(store_delete_json(s, KIND_POD, "{\"a\":\"b\":\"c\"}", 13), -1);
	store_free(s);
}

/* Nesting deeper than JSON_MAX_DEPTH: in the object, it is rejected by name; in an annotation
 * holding JSON (100k nested arrays in an ignored field of network-status: 200 kB, quadratic for
 * jsmn to close), the annotation is unparseable and the pod has no secondary addresses. */
static void test_deep_object(void **state)
{
	size_t cap = 1024, l = 0;
	char *t = malloc(cap), *log;
	struct store *s = store_new("n");

	(void)state;
	assert_non_null(t);
	l += (size_t)snprintf(t + l, cap - l,
			      "{\"metadata\":{\"name\":\"deep\",\"namespace\":\"ns\",\"uid\":\"u\"},"
			      "\"spec\":{\"x\":");
	memset(t + l, '[', 300);
	memset(t + l + 300, ']', 300);
	l += 600;
	l += (size_t)snprintf(t + l, cap - l, "}}");
	capture_begin();
	assert_int_equal(store_upsert_json(s, KIND_POD, t, l), -1);
	log = capture_end();
	assert_logged(log, "Pod ns/deep: JSON nested deeper than 256; object ignored");
	free(log);
	assert_null(store_pod_get(s, "ns", "deep"));
	free(t);
	store_free(s);
}

static void test_deep_annotation(void **state)
{
	enum { DEEP = 100000 };
	size_t cap = 2 * DEEP + 1024, l = 0;
	char *t = malloc(cap), *log;
	struct store *s = store_new("n");
	const struct store_pod *p;

	(void)state;
	assert_non_null(t);
	l += (size_t)snprintf(t + l, cap - l,
			      "{\"metadata\":{\"name\":\"st\",\"namespace\":\"ns\",\"uid\":\"u\","
			      "\"annotations\":{\"k8s.v1.cni.cncf.io/network-status\":\"[{\\\"name\\\":"
			      "\\\"m\\\",\\\"ips\\\":[\\\"10.0.0.1\\\"],\\\"x\\\":");
	memset(t + l, '[', DEEP);
	memset(t + l + DEEP, ']', DEEP);
	l += 2 * DEEP;
	l += (size_t)snprintf(t + l, cap - l, "}]\"}},\"spec\":{\"nodeName\":\"n\"}}");
	capture_begin();
	assert_int_equal(store_upsert_json(s, KIND_POD, t, l), 0);
	log = capture_end();
	assert_logged(log, "Pod ns/st: annotation k8s.v1.cni.cncf.io/network-status cannot be parsed");
	free(log);
	p = store_pod_get(s, "ns", "st");
	assert_non_null(p);
	assert_true(p->status_bad);
	assert_int_equal(p->nstatus, 0);
	free(t);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malformed_labels_reject_object),
	    cmocka_unit_test(test_label_values_must_be_strings),
	    cmocka_unit_test(test_token_cap),
	    cmocka_unit_test(test_large_object_linear),
	    cmocka_unit_test(test_delete_malformed_ignored),
	    cmocka_unit_test(test_deep_object),
	    cmocka_unit_test(test_deep_annotation),
	};
	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
