/* Unit tests of kubeconfig and in-cluster loading: server URLs, relative file names, token
 * files and their re-reading, and the error messages for what is missing or malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/config.h"

static char dir[] = "/tmp/config_test.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_parse_server(void **state)
{
	char host[64];
	uint16_t port;
	assert_int_equal(kube_config_parse_server("https://10.0.0.1:6443", host, 64, &port), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 6443);
	assert_int_equal(kube_config_parse_server("https://[fd00::1]:8443/", host, 64, &port), 0);
	assert_string_equal(host, "fd00::1");
	assert_int_equal(port, 8443);
	assert_int_equal(kube_config_parse_server("HTTPS://api.example.com", host, 64, &port), 0);
	assert_string_equal(host, "api.example.com");
	assert_int_equal(port, 443);
	static const char *bad[] = {"http://x",	       "https://",	 "https://h:0",
				    "https://h:99999", "https://h/path", "https://[::1",
				    "https://h:12x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kube_config_parse_server(bad[i], host, 64, &port) != -1)
			fail_msg("accepted %s", bad[i]);
}

static const char relative_cfg[] = "apiVersion: v1\n"
				   "kind: Config\n"
				   "current-context: edge\n"
				   "contexts:\n"
				   "- name: other\n"
				   "  context: {cluster: x}\n"
				   "- name: edge\n"
				   "  context:\n"
				   "    cluster: c1\n"
				   "    user: u1\n"
				   "clusters:\n"
				   "- name: c1\n"
				   "  cluster:\n"
				   "    server: https://192.0.2.10:6443\n"
				   "    certificate-authority: certs/ca.pem\n"
				   "    tls-server-name: api.internal\n"
				   "users:\n"
				   "- name: u1\n"
				   "  user:\n"
				   "    tokenFile: token\n"
				   "    client-certificate: certs/client.pem\n"
				   "    client-key-data: a2V5LWJ5dGVz\n";

static void test_relative_files_and_token(void **state)
{
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/certs", dir);
	mkdir(path, 0700);
	write_file("certs/ca.pem", "CA PEM\n");
	write_file("certs/client.pem", "CLIENT PEM\n");
	write_file("token", "tok-1\n");
	/* the whole file is parsed: a broken flow map in another context is an error naming its
	 * line */
	char broken[sizeof(relative_cfg)];
	snprintf(broken, sizeof(broken), "%s", relative_cfg);
	*(strstr(broken, "x}") + 1) = ' ';
	write_file("kc", broken);
	snprintf(path, sizeof(path), "%s/kc", dir);
	struct kube_config cfg;
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "kc:7: expected ',' or '}' in a flow collection"));
	write_file("kc", relative_cfg);
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), 0);
	assert_string_equal(cfg.host, "192.0.2.10");
	kube_config_free(&cfg);
	write_file("kc", "apiVersion: v1\nkind: Config\ncurrent-context: edge\ncontexts:\n"
			 "- name: edge\n  context:\n    cluster: c1\n    user: u1\n"
			 "clusters:\n- name: c1\n  cluster:\n    server: https://192.0.2.10:6443\n"
			 "    certificate-authority: certs/ca.pem\n"
			 "    tls-server-name: api.internal\n"
			 "users:\n- name: u1\n  user:\n    tokenFile: token\n"
			 "    client-certificate: certs/client.pem\n"
			 "    client-key-data: a2V5LWJ5dGVz\n");
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), 0);
	assert_string_equal(cfg.host, "192.0.2.10");
	assert_int_equal(cfg.port, 6443);
	assert_string_equal(cfg.tls_server_name, "api.internal");
	assert_false(cfg.insecure);
	assert_int_equal(cfg.ca_len, 7);
	assert_memory_equal(cfg.ca_pem, "CA PEM\n", 7);
	assert_memory_equal(cfg.cert_pem, "CLIENT PEM\n", 11);
	assert_int_equal(cfg.key_len, 9);
	assert_memory_equal(cfg.key_pem, "key-bytes", 9);
	assert_string_equal(cfg.token, "tok-1");
	char want[256];
	snprintf(want, sizeof(want), "%s/token", dir);
	assert_string_equal(cfg.token_file, want);

	assert_int_equal(kube_config_reload_token(&cfg, err, sizeof(err)), 0);
	write_file("token", "tok-2");
	assert_int_equal(kube_config_reload_token(&cfg, err, sizeof(err)), 1);
	assert_string_equal(cfg.token, "tok-2");
	write_file("token", "\n");
	assert_int_equal(kube_config_reload_token(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty token"));
	assert_string_equal(cfg.token, "tok-2"); /* the old one stays */
	kube_config_free(&cfg);
}

static void test_in_cluster(void **state)
{
	char err[256];
	write_file("ca.crt", "SA CA\n");
	write_file("token", "sa-token\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	struct kube_config cfg;
	assert_int_equal(kube_config_load(&cfg, NULL, dir, err, sizeof(err)), 0);
	assert_string_equal(cfg.server, "https://[fd00:10:96::1]:443");
	assert_string_equal(cfg.host, "fd00:10:96::1");
	assert_string_equal(cfg.token, "sa-token");
	assert_string_equal(cfg.source, "in-cluster");
	kube_config_free(&cfg);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_load(&cfg, NULL, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
}

/* Flow collections on one line (more nodes than lines) and a kubeconfig written as JSON. */
static void test_flow_and_json(void **state)
{
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/flow", dir);
	write_file("flow", "current-context: c\n"
			   "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
			   "clusters: [{name: k, cluster: {server: 'https://h:7443', "
			   "insecure-skip-tls-verify: true, tls-server-name: api}}]\n"
			   "users: [{name: u, user: {token: x}}, {name: v, user: {token: y}}, "
			   "{name: w, user: {token: z}}]\n");
	struct kube_config cfg;
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), 0);
	assert_int_equal(cfg.port, 7443);
	assert_true(cfg.insecure);
	assert_string_equal(cfg.token, "x");
	kube_config_free(&cfg);
	write_file("flow", "{\"apiVersion\": \"v1\", \"current-context\": \"c\",\n"
			   " \"contexts\": [{\"name\": \"c\", \"context\": {\"cluster\": \"k\", "
			   "\"user\": \"u\"}}],\n"
			   " \"clusters\": [{\"name\": \"k\", \"cluster\": {\"server\": "
			   "\"https://h:1\", \"insecure-skip-tls-verify\": true}}],\n"
			   " \"users\": [{\"name\": \"u\", \"user\": {\"token\": \"j\"}}]}\n");
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), 0);
	assert_string_equal(cfg.token, "j");
	kube_config_free(&cfg);
}

static void expect_error(const char *text, const char *want)
{
	char path[256], err[512];
	write_file("bad", text);
	snprintf(path, sizeof(path), "%s/bad", dir);
	struct kube_config cfg;
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	assert_non_null(strstr(err, path)); /* every message names the file */
}

static void test_errors(void **state)
{
	const char *head = "current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
			   "    user: u\nclusters:\n- name: k\n  cluster:\n"
			   "    server: https://h:1\n    insecure-skip-tls-verify: true\n";
	char text[1024];
	expect_error("kind: Config\n", "current-context is not set");
	expect_error("- a\n", "not a kubeconfig");
	snprintf(text, sizeof(text), "%s", head);
	expect_error(text, "no \"users\" list");
	snprintf(text, sizeof(text),
		 "%susers:\n- name: u\n  user:\n    client-certificate-data: "
		 "QQ==\n",
		 head);
	expect_error(text, "user \"u\": client-certificate is set without client-key");
	snprintf(text, sizeof(text), "%susers:\n- name: u\n  user:\n    tokenFile: nothere\n",
		 head);
	expect_error(text, "user \"u\": tokenFile:");
	snprintf(text, sizeof(text), "%susers:\n- name: u\n  user:\n    auth-provider: x\n", head);
	expect_error(text, "\"auth-provider\" is not supported");
	snprintf(text, sizeof(text), "%susers:\n- name: u\n  user:\n    exec: {command: x}\n", head);
	expect_error(text, "user \"u\": exec credential plugins are not supported");
	expect_error("current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
		     "clusters:\n- name: k\n  cluster:\n    server: https://h:1\n",
		     "neither certificate-authority nor certificate-authority-data");
	expect_error("current-context: c\ncontexts:\n- name: c\n  context:\n    user: u\n",
		     "context \"c\" names no cluster");
}

/* A token that could split the request (CR, LF, other control bytes, spaces) is refused by
 * name; a long one (service-account tokens can be) is kept whole. */
static void test_token_checks(void **state)
{
	const char *head = "current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
			   "    user: u\nclusters:\n- name: k\n  cluster:\n"
			   "    server: https://h:1\n    insecure-skip-tls-verify: true\n"
			   "users:\n- name: u\n  user:\n";
	char text[1024], path[256], err[512];
	snprintf(text, sizeof(text), "%s    token: \"abc\\r\\nX-Evil: 1\"\n", head);
	expect_error(text, "user \"u\": token holds a space or control character (byte 4)");
	snprintf(text, sizeof(text), "%s    token: \"abc\\tdef\"\n", head);
	expect_error(text, "control character");
	write_file("crlf-token", "abc\r\nX-Evil: 1\n");
	snprintf(text, sizeof(text), "%s    tokenFile: crlf-token\n", head);
	expect_error(text, "crlf-token: the token holds a space or control character");

	static char big[20000];
	memset(big, 'A', 12000);
	snprintf(big + 12000, sizeof(big) - 12000, "\n");
	write_file("long-token", big);
	snprintf(text, sizeof(text), "%s    tokenFile: long-token\n", head);
	write_file("kc-long", text);
	snprintf(path, sizeof(path), "%s/kc-long", dir);
	struct kube_config cfg;
	assert_int_equal(kube_config_load(&cfg, path, NULL, err, sizeof(err)), 0);
	assert_int_equal(strlen(cfg.token), 12000);
	kube_config_free(&cfg);

	assert_int_equal(kube_token_check("eyJhbGciOi.J9-_~+/="), -1);
	assert_int_equal(kube_token_check("a b"), 1);
	assert_int_equal(kube_token_check("ab\x7f"), 2);
	assert_int_equal(kube_token_check("\xc3\xa9"), 0);
}

/* insecure-skip-tls-verify and a CA together: refused, as kubectl does. */
static void test_insecure_with_ca(void **state)
{
	expect_error("current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
		     "clusters:\n- name: k\n  cluster:\n    server: https://h:1\n"
		     "    insecure-skip-tls-verify: true\n    certificate-authority-data: QQ==\n",
		     "cluster \"k\": insecure-skip-tls-verify is true and a certificate-authority "
		     "is set");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_server),
	    cmocka_unit_test(test_relative_files_and_token),
	    cmocka_unit_test(test_in_cluster),
	    cmocka_unit_test(test_flow_and_json),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_token_checks),
	    cmocka_unit_test(test_insecure_with_ca),
	};
	return cmocka_run_group_tests_name("kube/config", tests, setup, teardown);
}
