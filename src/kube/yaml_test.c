/* Unit tests of the YAML subset parser on kubeconfig layouts (kubeadm, kind, k3s) and on what it
 * must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/yaml.h"

struct doc {
	struct yaml_node nodes[128];
	char *buf;
	int n, err_line;
	char err[128];
};

static int parse(struct doc *d, const char *text)
{
	size_t cap = yaml_buf_size(text, strlen(text), 128);
	d->buf = malloc(cap);
	d->n = yaml_parse(text, strlen(text), d->nodes, 128, d->buf, cap, &d->err_line, d->err,
			  sizeof(d->err));
	return d->n;
}

/* kind's layout: sequences at their key's indentation, quoted and empty-flow values. */
static const char kind_cfg[] = "apiVersion: v1\n"
			       "clusters:\n"
			       "- cluster:\n"
			       "    certificate-authority-data: TFMwdExTMUNSVWRKVGlCRFJWSlV=\n"
			       "    server: https://127.0.0.1:36841\n"
			       "  name: kind-kind\n"
			       "contexts:\n"
			       "- context:\n"
			       "    cluster: kind-kind\n"
			       "    user: kind-kind   # trailing comment\n"
			       "  name: kind-kind\n"
			       "current-context: \"kind-kind\"\n"
			       "kind: Config\n"
			       "preferences: {}\n"
			       "users:\n"
			       "# a comment line\n"
			       "- name: 'kind-''kind'\n"
			       "  user:\n"
			       "    token: \"a\\u00e9\\\"b#c\"\n"
			       "    client-key-data: x#y\n";

static void test_kind_layout(void **state)
{
	struct doc d;
	assert_true(parse(&d, kind_cfg) > 0);
	struct yaml_node *n = d.nodes;
	assert_int_equal(n[0].type, YAML_MAP);
	assert_string_equal(yaml_get_str(n, 0, "current-context"), "kind-kind");
	assert_string_equal(yaml_get_str(n, 0, "kind"), "Config");
	assert_int_equal(n[yaml_get(n, 0, "preferences")].type, YAML_MAP);
	int clusters = yaml_get(n, 0, "clusters");
	assert_int_equal(n[clusters].type, YAML_SEQ);
	int c0 = n[clusters].first;
	assert_true(c0 >= 0);
	assert_int_equal(n[c0].next, -1);
	assert_string_equal(yaml_get_str(n, c0, "name"), "kind-kind");
	int cl = yaml_get(n, c0, "cluster");
	assert_string_equal(yaml_get_str(n, cl, "server"), "https://127.0.0.1:36841");
	assert_string_equal(yaml_get_str(n, cl, "certificate-authority-data"),
			    "TFMwdExTMUNSVWRKVGlCRFJWSlV=");
	int ctx = yaml_get(n, n[yaml_get(n, 0, "contexts")].first, "context");
	assert_string_equal(yaml_get_str(n, ctx, "user"), "kind-kind");
	int u0 = n[yaml_get(n, 0, "users")].first;
	assert_string_equal(yaml_get_str(n, u0, "name"), "kind-'kind");
	int user = yaml_get(n, u0, "user");
	assert_string_equal(yaml_get_str(n, user, "token"), "a\xc3\xa9\"b#c");
	assert_string_equal(yaml_get_str(n, user, "client-key-data"), "x#y");
	assert_null(yaml_get_str(n, user, "missing"));
	free(d.buf);
}

/* kubeadm/k3s layout: sequences indented under their key, "---", CRLF, empty value. */
static void test_indented_sequences(void **state)
{
	const char *text = "---\r\n"
			   "apiVersion: v1\r\n"
			   "clusters:\r\n"
			   "  - name: default\r\n"
			   "    cluster:\r\n"
			   "      server: https://10.0.0.1:6443\r\n"
			   "      insecure-skip-tls-verify: true\r\n"
			   "  - name: second\r\n"
			   "    cluster: {}\r\n"
			   "empty:\r\n"
			   "list:\r\n"
			   "  - a\r\n"
			   "  - - b\r\n"
			   "    - c\r\n";
	struct doc d;
	assert_true(parse(&d, text) > 0);
	struct yaml_node *n = d.nodes;
	int clusters = yaml_get(n, 0, "clusters");
	int c0 = n[clusters].first, c1 = n[c0].next;
	assert_string_equal(yaml_get_str(n, c0, "name"), "default");
	assert_string_equal(yaml_get_str(n, yaml_get(n, c0, "cluster"), "server"),
			    "https://10.0.0.1:6443");
	assert_string_equal(yaml_get_str(n, yaml_get(n, c0, "cluster"), "insecure-skip-tls-verify"),
			    "true");
	assert_string_equal(yaml_get_str(n, c1, "name"), "second");
	assert_string_equal(yaml_get_str(n, 0, "empty"), "");
	int list = yaml_get(n, 0, "list");
	int a = n[list].first, inner = n[a].next;
	assert_string_equal(n[a].value, "a");
	assert_int_equal(n[inner].type, YAML_SEQ);
	assert_string_equal(n[n[inner].first].value, "b");
	assert_string_equal(n[n[n[inner].first].next].value, "c");
	free(d.buf);
}

static void test_refused(void **state)
{
	static const struct {
		const char *text;
		int line;
	} bad[] = {
	    {"a: 1\nb: &x 2\n", 2}, {"a: |\n  text\n", 1},	{"a: [1, 2\n", 1},
	    {"a: {b: 1, b: 2}\n", 1}, {"a: 1\n\tb: 2\n", 2},	{"a: 1\na: 2\n", 2},
	    {"a: {b: 1} x\n", 1},   {"a: {b: 1 c: 2}\n", 1},	{"a: {[x]: 1}\n", 1},
	    {"a: [1,\n 2,\n", 1},   {"a: {b: \"x\n y\"}\n", 1}, {"a: [&x 1]\n", 1},
	    {"a: \"open\n", 1},	    {"a:\n  b: 1\n c: 2\n", 3}, {"a: 1\n  b: 2\n", 2},
	    {"a: !!str x\n", 1},    {"a: \"\\q\"\n", 1},	{"- a\nb: c\n", 2},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct doc d;
		int r = parse(&d, bad[i].text);
		if (r != -1 || d.err_line != bad[i].line || !d.err[0])
			fail_msg("case %zu (%s): r=%d line=%d err=%s", i, bad[i].text, r,
				 d.err_line, d.err);
		free(d.buf);
	}
}

/* Flow collections as people write kubeconfigs by hand, and a kubeconfig written as JSON. */
static void test_flow_collections(void **state)
{
	struct doc d;
	assert_true(parse(&d, "users: [{name: u, user: {token: x}}]\n"
			      "contexts: [ {name: c,\n  context: {cluster: k, user: u}}, ]\n"
			      "clusters: [{name: k, cluster: {server: 'https://h:6443', "
			      "insecure-skip-tls-verify: true}}]  # comment\n"
			      "empty: {}\n"
			      "- x\n") == -1);
	free(d.buf);
	assert_true(parse(&d, "users: [{name: u, user: {token: x}}]\n"
			      "contexts: [ {name: c,\n  context: {cluster: k, user: u}}, ]\n"
			      "clusters: [{name: k, cluster: {server: 'https://h:6443', "
			      "insecure-skip-tls-verify: true}}]  # comment\n"
			      "empty: {}\n"
			      "list: [a, \"b,c\", [d]]\n") > 0);
	struct yaml_node *n = d.nodes;
	int users = yaml_get(n, 0, "users");
	assert_int_equal(n[users].type, YAML_SEQ);
	int u = n[users].first;
	assert_string_equal(yaml_get_str(n, u, "name"), "u");
	assert_string_equal(yaml_get_str(n, yaml_get(n, u, "user"), "token"), "x");
	assert_int_equal(n[u].next, -1);
	int c = n[yaml_get(n, 0, "contexts")].first;
	assert_string_equal(yaml_get_str(n, yaml_get(n, c, "context"), "user"), "u");
	int k = yaml_get(n, n[yaml_get(n, 0, "clusters")].first, "cluster");
	assert_string_equal(yaml_get_str(n, k, "server"), "https://h:6443");
	assert_string_equal(yaml_get_str(n, k, "insecure-skip-tls-verify"), "true");
	assert_int_equal(n[yaml_get(n, 0, "empty")].type, YAML_MAP);
	assert_int_equal(n[yaml_get(n, 0, "empty")].first, -1);
	int l = n[yaml_get(n, 0, "list")].first;
	assert_string_equal(n[l].value, "a");
	assert_string_equal(n[n[l].next].value, "b,c");
	assert_int_equal(n[n[n[l].next].next].type, YAML_SEQ);
	free(d.buf);

	assert_true(parse(&d, "{\n  \"apiVersion\": \"v1\",\n  \"users\": [\n    {\"name\":\"u\","
			      "\"user\":{\"token\":\"t#1\"}}\n  ],\n  \"current-context\": \"c\"\n}\n") >
		    0);
	n = d.nodes;
	assert_int_equal(n[0].type, YAML_MAP);
	assert_string_equal(yaml_get_str(n, 0, "current-context"), "c");
	u = n[yaml_get(n, 0, "users")].first;
	assert_string_equal(yaml_get_str(n, yaml_get(n, u, "user"), "token"), "t#1");
	free(d.buf);

	assert_true(parse(&d, "- [a, b]\n- {x: 1}\n") > 0);
	n = d.nodes;
	assert_int_equal(n[0].type, YAML_SEQ);
	assert_int_equal(n[n[0].first].type, YAML_SEQ);
	assert_string_equal(yaml_get_str(n, n[n[0].first].next, "x"), "1");
	free(d.buf);
}

static void test_too_few_nodes(void **state)
{
	struct yaml_node nodes[2];
	const char *text = "a: 1\nb: 2\nc: 3\n";
	size_t cap = yaml_buf_size(text, strlen(text), 2);
	char *buf = malloc(cap);
	int line;
	char err[64];
	assert_int_equal(
	    yaml_parse(text, strlen(text), nodes, 2, buf, cap, &line, err, sizeof(err)), -2);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_layout),
	    cmocka_unit_test(test_indented_sequences),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_flow_collections),
	    cmocka_unit_test(test_too_few_nodes),
	};
	return cmocka_run_group_tests_name("kube/yaml", tests, NULL, NULL);
}
