#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cni/cni.h"
#include "util/json.h"

static jsmntok_t tok[8192];

static int parse_conf(struct cni_config *c, const char *text, const char *ifname, char *err)
{
	return cni_config_parse(c, text, strlen(text), tok, 8192, ifname, err, 256);
}

static void test_config_full(void **state)
{
	static struct cni_config c;
	char err[256];
	const char *prev =
	    "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"host0\"},{\"name\":"
	    "\"net1\",\"sandbox\":\"/run/netns/x\"}],\"ips\":[{\"address\":\"10.1.1."
	    "2/24\",\"interface\":1},{\"address\":\"192.0.2.9/24\",\"interface\":0},"
	    "{\"address\":\"2001:db8::2/64\"}]}";
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"macvlan-net\",\"type\":\"multi-"
		 "networkpolicy-cni\",\"agentSocket\":\"/run/a.sock\",\"agentTimeoutMs\":500,"
		 "\"onAgentUnavailable\":\"fail\",\"prevResult\":%s}",
		 prev);
	assert_int_equal(parse_conf(&c, text, "net1", err), 0);
	assert_string_equal(c.cni_version, "1.0.0");
	assert_string_equal(c.name, "macvlan-net");
	assert_string_equal(c.agent_socket, "/run/a.sock");
	assert_int_equal(c.agent_timeout_ms, 500);
	assert_int_equal(c.on_unavailable, CNI_FAIL);
	/* prevResult is kept raw, byte for byte; addresses of other interfaces are left out. */
	assert_int_equal(c.prev_result_len, strlen(prev));
	assert_memory_equal(c.prev_result, prev, strlen(prev));
	assert_int_equal(c.nips, 2);
	assert_string_equal(c.ips[0], "10.1.1.2/24");
	assert_string_equal(c.ips[1], "2001:db8::2/64");
}

static void test_config_defaults(void **state)
{
	static struct cni_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse_conf(&c, "{\"cniVersion\":\"0.4.0\",\"name\":\"n\"}", NULL, err), 0);
	assert_string_equal(c.agent_socket, CNI_DEFAULT_SOCKET);
	assert_int_equal(c.agent_timeout_ms, CNI_DEFAULT_TIMEOUT_MS);
	assert_int_equal(c.on_unavailable, CNI_ISOLATE);
	assert_null(c.prev_result);
	assert_int_equal(parse_conf(&c,
				    "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":"
				    "null}",
				    NULL, err),
			 0);
	assert_null(c.prev_result);
}

static void expect_refused(const char *text, const char *needle)
{
	static struct cni_config c;
	char err[256] = "";

	assert_int_equal(parse_conf(&c, text, "net1", err), -1);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not name \"%s\"", err, needle);
}

static void test_config_refused(void **state)
{
	(void)state;
	expect_refused("[1,2]", "not a JSON object");
	expect_refused("{\"name\":\"n\"}", "\"cniVersion\" is missing");
	expect_refused("{\"cniVersion\":\"1.0.0\"}", "\"name\" is missing");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"\"}", "\"name\" is empty");
	expect_refused("{\"cniVersion\":1,\"name\":\"n\"}", "\"cniVersion\" must be a string");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"onAgentUnavailable\":\"open\"}",
		       "onAgentUnavailable\" must be isolate, fail or ignore, not open");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"agentTimeoutMs\":0}",
		       "agentTimeoutMs");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"agentTimeoutMs\":\"2s\"}",
		       "agentTimeoutMs");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"agentSocket\":\"\"}",
		       "\"agentSocket\" is empty");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":[]}",
		       "\"prevResult\" must be an object");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":{}}}",
		       "\"prevResult.ips\" must be an array");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{}]}}",
		       "\"prevResult.ips[0]\" has no \"address\"");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{"
		       "\"address\":7}]}}",
		       "\"prevResult.ips[0].address\"");
}

static void test_config_too_many_ips(void **state)
{
	static char text[65536];
	static struct cni_config c;
	char err[256];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
			     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{\"address\":\"10.0.%d.1/24\"}", i ? "," : "", i);
	snprintf(text + n, sizeof(text) - n, "]}}");
	assert_int_equal(parse_conf(&c, text, "net1", err), -1);
	assert_non_null(strstr(err, "more than 16 addresses"));
	/* Fewer tokens than the text needs: refused, not overrun. */
	assert_int_equal(cni_config_parse(&c, text, strlen(text), tok, 16, "net1", err, 256), -1);
}

static void test_args(void **state)
{
	const char *s = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;;K8S_POD_NAME=web-0;"
			"K8S_POD_UID=a=b";
	struct cni_arg args[8];
	size_t n = 8;
	char buf[16];

	(void)state;
	assert_int_equal(cni_args_parse(s, strlen(s), args, &n), 4);
	assert_int_equal(n, 4);
	assert_int_equal(cni_args_get(args, n, "K8S_POD_NAME", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "web-0");
	assert_int_equal(cni_args_get(args, n, "K8S_POD_UID", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "a=b");
	assert_int_equal(cni_args_get(args, n, "K8S_POD", buf, sizeof(buf)), -1);
	assert_int_equal(cni_args_get(args, n, "K8S_POD_NAMESPACE", buf, 4), -1); /* too long */
	n = 8;
	assert_int_equal(cni_args_parse("A=1;novalue", 11, args, &n), -1);
	n = 8;
	assert_int_equal(cni_args_parse("=1", 2, args, &n), -1);
	n = 1;
	assert_int_equal(cni_args_parse("A=1;B=2", 7, args, &n), -1); /* more pairs than slots */
	n = 8;
	assert_int_equal(cni_args_parse("", 0, args, &n), 0);
}

static void test_request_roundtrip(void **state)
{
	static struct cni_request r, back;
	char line[CNI_LINE_MAX], err[256];
	int n;

	(void)state;
	r.version = CNI_PROTO_VERSION;
	strcpy(r.command, "ADD");
	strcpy(r.container_id, "abc");
	strcpy(r.netns, "/run/netns/x");
	strcpy(r.pod_ns, "default");
	strcpy(r.pod_name, "we\"b\\\n0");
	strcpy(r.pod_uid, "u-1");
	strcpy(r.ifname, "net1");
	strcpy(r.network, "macvlan-net");
	r.timeout_ms = 750;
	r.nips = 2;
	strcpy(r.ips[0], "10.1.1.2/24");
	strcpy(r.ips[1], "2001:db8::2/64");
	n = cni_request_format(&r, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', (size_t)n - 1)); /* one line: the newline was escaped */
	assert_int_equal(cni_request_parse(&back, line, (size_t)n, err, sizeof(err)), 0);
	assert_string_equal(back.pod_name, r.pod_name);
	assert_string_equal(back.netns, r.netns);
	assert_int_equal(back.timeout_ms, 750);
	assert_int_equal(back.nips, 2);
	assert_string_equal(back.ips[1], "2001:db8::2/64");
	assert_int_equal(cni_request_format(&r, line, 40), -1);
}

static void test_request_refused(void **state)
{
	static struct cni_request r;
	char err[256];
	const char *v2 = "{\"version\":2,\"command\":\"ADD\"}";
	const char *cmd = "{\"version\":1,\"command\":\"FLUSH\"}";
	const char *ips = "{\"version\":1,\"command\":\"ADD\",\"ips\":[1]}";

	(void)state;
	assert_int_equal(cni_request_parse(&r, v2, strlen(v2), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version"));
	assert_int_equal(cni_request_parse(&r, cmd, strlen(cmd), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "command"));
	assert_int_equal(cni_request_parse(&r, ips, strlen(ips), err, sizeof(err)), -1);
	assert_int_equal(cni_request_parse(&r, "{", 1, err, sizeof(err)), -1);
}

static void test_reply_and_error(void **state)
{
	struct cni_reply r = {CNI_ST_UNAVAILABLE, "unknown pod \"x\""}, back;
	char line[1024];
	int n = cni_reply_format(&r, line, sizeof(line));

	(void)state;
	assert_true(n > 0);
	assert_int_equal(cni_reply_parse(&back, line, (size_t)n), 0);
	assert_int_equal(back.status, CNI_ST_UNAVAILABLE);
	assert_string_equal(back.msg, r.msg);
	assert_int_equal(cni_reply_parse(&back, "{\"status\":\"maybe\"}", 18), -1);
	n = cni_error_format("0.4.0", 7, "config: \"name\" is missing", NULL, line, sizeof(line));
	assert_string_equal(line,
			    "{\"cniVersion\":\"0.4.0\",\"code\":7,\"msg\":\"config: \\\"name\\\" "
			    "is missing\",\"details\":\"\"}\n");
}

/* Runs the plugin in a child with env and stdin; returns its exit status, stdout in out. */
static int run_plugin(const char *const *env, const char *in, size_t inlen, char *out, size_t cap)
{
	int pin[2], pout[2], status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(pin), 0);
	assert_int_equal(pipe(pout), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		close(pin[1]);
		close(pout[0]);
		freopen("/dev/null", "w", stderr);
		clearenv();
		for (; *env; env++)
			putenv((char *)*env);
		_exit(cni_plugin_main(0, NULL));
	}
	close(pin[0]);
	close(pout[1]);
	/* The child may stop reading early (too large): a short write is fine. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t off = 0; off < inlen; off += (size_t)r) {
		r = write(pin[1], in + off, inlen - off);
		if (r <= 0)
			break;
	}
	close(pin[1]);
	while (got + 1 < cap && (r = read(pout[0], out + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(pout[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *const ADD_ENV[] = {"CNI_COMMAND=ADD",
				      "CNI_CONTAINERID=c1",
				      "CNI_NETNS=/run/netns/none",
				      "CNI_IFNAME=net1",
				      "CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=web",
				      NULL};

static void expect_plugin_error(const char *const *env, const char *in, size_t inlen, int code,
				const char *needle)
{
	static char out[65536];
	static jsmntok_t t[64];
	struct json j;
	long long c = -1;
	char msg[512] = "";

	assert_int_not_equal(run_plugin(env, in, inlen, out, sizeof(out)), 0);
	if (json_parse(&j, out, strlen(out), t, 64) < 0 ||
	    json_int(&j, json_get(&j, 0, "code"), &c) ||
	    json_str(&j, json_get(&j, 0, "msg"), msg, sizeof(msg)) < 0 ||
	    json_get(&j, 0, "cniVersion") < 0 || json_get(&j, 0, "details") < 0)
		fail_msg("not a CNI error object: %s", out);
	assert_int_equal(c, code);
	if (!strstr(msg, needle))
		fail_msg("message \"%s\" does not name \"%s\"", msg, needle);
}

static void test_plugin_errors(void **state)
{
	static const char *const no_cmd[] = {NULL};
	static const char *const no_ifname[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1",
						"CNI_NETNS=/run/netns/none", NULL};
	static const char *const no_pod[] = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1",
					     "CNI_NETNS=/run/netns/none", "CNI_IFNAME=net1", NULL};
	static const char *const del[] = {"CNI_COMMAND=DEL", NULL};
	static const char *const version[] = {"CNI_COMMAND=VERSION", NULL};
	const char *ok = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{}}";
	static char out[4096];
	char *huge;

	(void)state;
	expect_plugin_error(no_cmd, "", 0, CNI_ERR_INVALID_ENV, "CNI_COMMAND is not set");
	expect_plugin_error(ADD_ENV, "{\"cniVersion\":", 14, CNI_ERR_DECODE, "JSON");
	expect_plugin_error(ADD_ENV, "not json", 8, CNI_ERR_DECODE, "JSON");
	expect_plugin_error(ADD_ENV, "{\"cniVersion\":\"1.0.0\"}", 22, CNI_ERR_INVALID_CONFIG,
			    "\"name\" is missing");
	expect_plugin_error(ADD_ENV, "{\"cniVersion\":\"0.2.0\",\"name\":\"n\"}", 33,
			    CNI_ERR_INCOMPATIBLE, "cniVersion 0.2.0 is not supported");
	expect_plugin_error(no_ifname, ok, strlen(ok), CNI_ERR_INVALID_ENV,
			    "CNI_IFNAME is not set");
	expect_plugin_error(no_pod, ok, strlen(ok), CNI_ERR_INVALID_ENV, "K8S_POD_NAMESPACE");
	expect_plugin_error(ADD_ENV, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 33,
			    CNI_ERR_INVALID_CONFIG, "prevResult\" is missing");
	/* 0.3.1, as many NADs still say, gets as far as its prevResult */
	expect_plugin_error(ADD_ENV, "{\"cniVersion\":\"0.3.1\",\"name\":\"n\"}", 33,
			    CNI_ERR_INVALID_CONFIG, "prevResult\" is missing");
	/* A prevResult of 2 MiB: refused with a clear error. */
	huge = malloc(2u << 20);
	assert_non_null(huge);
	memset(huge, ' ', 2u << 20);
	memcpy(huge, ok, strlen(ok));
	expect_plugin_error(ADD_ENV, huge, 2u << 20, CNI_ERR_IO, "larger than 1 MiB");
	free(huge);
	/* DEL never fails, whatever it gets. */
	assert_int_equal(run_plugin(del, "garbage", 7, out, sizeof(out)), 0);
	assert_int_equal(run_plugin(version, "", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\","
				 "\"0.3.1\",\"0.4.0\",\"1.0.0\"]}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_full),
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_config_refused),
	    cmocka_unit_test(test_config_too_many_ips),
	    cmocka_unit_test(test_args),
	    cmocka_unit_test(test_request_roundtrip),
	    cmocka_unit_test(test_request_refused),
	    cmocka_unit_test(test_reply_and_error),
	    cmocka_unit_test(test_plugin_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
