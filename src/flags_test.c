#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flags.h"

static int run(struct flags *f, enum flags_mode mode, char *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	return flags_parse(f, mode, argc, argv, err, 256);
}

#define CRI "--container-runtime-endpoint=unix:///run/c.sock"

static void test_defaults(void **state)
{
	struct flags f;
	char err[256];
	assert_int_equal(run(&f, FLAGS_AGENT, err, CRI, NULL), 0);
	assert_int_equal(f.nplugins, 1);
	assert_string_equal(f.plugins[0], "macvlan");
	assert_string_equal(f.container_runtime_endpoint, "unix:///run/c.sock");
	assert_string_equal(f.host_prefix, "");
	assert_int_equal(f.resync_period_s, 300);
	assert_string_equal(f.health_probe_bind_address, "");
	assert_string_equal(f.metrics_bind_address, "");
	assert_false(f.accept_icmp);
	assert_false(f.accept_icmpv6);
	assert_false(f.accept_ipv6_router_advertisements);
	assert_false(f.insecure_skip_tls_verify);
	assert_null(f.kubeconfig);
	assert_null(f.hostname_override);
	assert_null(f.custom_rule_file[0][0]);
	assert_int_equal(f.verbosity, 0);
	assert_int_equal(f.apply_workers, 0); /* the online CPUs, at most 4 */
	flags_free(&f);
}

static void test_every_flag(void **state)
{
	struct flags f;
	char err[256];
	assert_int_equal(
	    run(&f, FLAGS_AGENT, err, "--hostname-override", "node-7",
		"--network-plugins=macvlan, bridge,,sriov", "--container-runtime-endpoint",
		"/run/x.sock", "--host-prefix=/host", "--accept-icmp", "--accept-icmpv6=true",
		"--accept-ipv6-router-advertisements", "--custom-v4-ingress-rule-file=/a",
		"--custom-v4-egress-rule-file", "/b", "--custom-v6-ingress-rule-file=/c",
		"--custom-v6-egress-rule-file=/d", "--kubeconfig=/k", "--insecure-skip-tls-verify",
		"--resync-period=1h30m", "--health-probe-bind-address=:9", "--metrics-bind-address",
		"0", "-v", "4", "--apply-workers", "3", NULL),
	    0);
	assert_int_equal(f.apply_workers, 3);
	assert_string_equal(f.hostname_override, "node-7");
	assert_int_equal(f.nplugins, 3);
	assert_string_equal(f.plugins[1], "bridge");
	assert_string_equal(f.plugins[2], "sriov");
	assert_string_equal(f.container_runtime_endpoint, "/run/x.sock");
	assert_string_equal(f.host_prefix, "/host");
	assert_true(f.accept_icmp && f.accept_icmpv6 && f.insecure_skip_tls_verify);
	assert_true(f.accept_ipv6_router_advertisements);
	assert_string_equal(f.custom_rule_file[0][0], "/a");
	assert_string_equal(f.custom_rule_file[0][1], "/b");
	assert_string_equal(f.custom_rule_file[1][0], "/c");
	assert_string_equal(f.custom_rule_file[1][1], "/d");
	assert_string_equal(f.kubeconfig, "/k");
	assert_int_equal(f.resync_period_s, 5400);
	assert_string_equal(f.health_probe_bind_address, ":9");
	assert_string_equal(f.metrics_bind_address, "0");
	assert_int_equal(f.verbosity, 4);
	flags_free(&f);

	assert_int_equal(run(&f, FLAGS_AGENT, err, CRI, "--v=2", "--accept-icmp=false",
			     "--resync-period", "90s", "--zap-log-level=debug", "--zap-devel",
			     "--zap-encoder", "json", NULL),
			 0);
	assert_int_equal(f.verbosity, 2);
	assert_false(f.accept_icmp);
	assert_int_equal(f.resync_period_s, 90);
	flags_free(&f);
}

static void expect_err(const char *what, ...)
{
	struct flags f;
	char err[256] = "", *argv[16];
	int argc = 0;
	va_list ap;
	va_start(ap, what);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	assert_int_equal(flags_parse(&f, FLAGS_AGENT, argc, argv, err, sizeof(err)), -1);
	if (!strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
	flags_free(&f);
}

static void test_errors(void **state)
{
	expect_err("--container-runtime-endpoint is required", "--accept-icmp", NULL);
	expect_err("unknown flag --bogus", CRI, "--bogus=1", NULL);
	expect_err("unknown flag --nope", CRI, "--nope", NULL);
	expect_err("--accept-icmp: invalid boolean", CRI, "--accept-icmp=yes", NULL);
	expect_err("--resync-period: invalid duration", CRI, "--resync-period=5", NULL);
	expect_err("--resync-period: invalid duration", CRI, "--resync-period=5x", NULL);
	expect_err("--kubeconfig needs a value", CRI, "--kubeconfig", NULL);
	expect_err("--v: invalid number", CRI, "-v", "x", NULL);
	expect_err("--apply-workers: invalid number \"-1\"", CRI, "--apply-workers=-1", NULL);
	expect_err("--log-format: \"xml\" is not text or json", CRI, "--log-format=xml", NULL);
	expect_err("unexpected argument", CRI, "stray", NULL);
	expect_err("not valid for the agent", CRI, "--objects=x", NULL);
	expect_err("no plugin type", CRI, "--network-plugins=,", NULL);
}

static void test_help_version_render(void **state)
{
	struct flags f;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(run(&f, FLAGS_AGENT, err, "--help", NULL), 0);
	assert_true(f.help);
	flags_free(&f);
	assert_int_equal(run(&f, FLAGS_AGENT, err, "--version", NULL), 0);
	assert_true(f.version);
	flags_free(&f);

	assert_int_equal(run(&f, FLAGS_RENDER, err, "--objects", "o.json", "--node=n1",
			     "--network-plugins=bridge", "--accept-icmp", NULL),
			 0);
	assert_string_equal(f.objects, "o.json");
	assert_string_equal(f.node, "n1");
	assert_string_equal(f.plugins[0], "bridge");
	flags_free(&f);
	assert_int_equal(run(&f, FLAGS_RENDER, err, "--node=n1", NULL), -1);
	assert_non_null(strstr(err, "--objects is required"));
	flags_free(&f);
	assert_int_equal(run(&f, FLAGS_RENDER, err, "--objects=o", "--node=n", CRI, NULL), -1);
	assert_non_null(strstr(err, "not valid for render"));
	flags_free(&f);

	/* --help documents every flag with its default. */
	out = open_memstream(&buf, &len);
	flags_usage(out, FLAGS_AGENT);
	fclose(out);
	static const char *const names[] = {"--hostname-override",
					    "--network-plugins",
					    "--container-runtime-endpoint",
					    "--host-prefix",
					    "--accept-icmp",
					    "--accept-icmpv6",
					    "--accept-ipv6-router-advertisements",
					    "--custom-v4-ingress-rule-file",
					    "--custom-v4-egress-rule-file",
					    "--custom-v6-ingress-rule-file",
					    "--custom-v6-egress-rule-file",
					    "--kubeconfig",
					    "--insecure-skip-tls-verify",
					    "--resync-period",
					    "--health-probe-bind-address",
					    "--metrics-bind-address",
					    "--version",
					    "--help",
					    "-v N",
					    "--zap-",
					    "default \"macvlan\"",
					    "default \"5m\"",
					    "off when empty or 0"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strstr(buf, names[i]))
			fail_msg("--help lacks %s", names[i]);
	free(buf);
}

/* Without --kubeconfig, $KUBECONFIG names the file (its first entry); the flag wins. */
static void test_kubeconfig_env(void **state)
{
	struct flags f;
	char err[256];
	setenv("KUBECONFIG", "::/a/kc:/b/kc", 1);
	assert_int_equal(run(&f, FLAGS_AGENT, err, CRI, NULL), 0);
	assert_string_equal(f.kubeconfig, "/a/kc");
	flags_free(&f);
	assert_int_equal(run(&f, FLAGS_AGENT, err, CRI, "--kubeconfig", "/k", NULL), 0);
	assert_string_equal(f.kubeconfig, "/k");
	flags_free(&f);
	setenv("KUBECONFIG", ":", 1);
	assert_int_equal(run(&f, FLAGS_AGENT, err, CRI, NULL), 0);
	assert_null(f.kubeconfig);
	flags_free(&f);
	unsetenv("KUBECONFIG");
}

static void test_node_name(void **state)
{
	char buf[16];

	/* The host name is lowercased as kubelet does; the override and NODE_NAME are taken as
	 * given. */
	assert_int_equal(flags_node_name(NULL, NULL, "Worker-01", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "worker-01");
	assert_int_equal(flags_node_name("", "", "HOST", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "host");
	assert_int_equal(flags_node_name(NULL, "Env-Node", "HOST", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Env-Node");
	assert_int_equal(flags_node_name("Over", "env", "HOST", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Over");
	assert_int_equal(flags_node_name(NULL, NULL, "", buf, sizeof(buf)), -1);
	assert_int_equal(flags_node_name(NULL, NULL, NULL, buf, sizeof(buf)), -1);
	assert_int_equal(flags_node_name(NULL, NULL, "a-name-that-is-too-long", buf, sizeof(buf)),
			 -1);
}

int main(void)
{
	unsetenv("KUBECONFIG");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_kubeconfig_env),
	    cmocka_unit_test(test_every_flag),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_help_version_render),
	    cmocka_unit_test(test_node_name),
	};
	return cmocka_run_group_tests_name("flags", tests, NULL, NULL);
}
