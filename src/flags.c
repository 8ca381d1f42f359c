/* Command-line flags, spelled as the Go agent spells them: --flag=value or --flag value, a single
 * dash works too; booleans take --flag or --flag=true|false. */
#include "flags.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/err.h"

enum ftype { F_STR, F_BOOL, F_LIST, F_DURATION, F_INT };

#define M_AGENT 1
#define M_RENDER 2
#define M_EXPLAIN 4
#define M_BOTH 7 /* every mode: the agent, render and explain compute the same rulesets */

struct fdef {
	const char *name;
	enum ftype type;
	size_t off;
	int modes;
	const char *dflt; /* as shown in --help */
	const char *help;
};

#define OFF(field) offsetof(struct flags, field)

static const struct fdef defs[] = {
    {"hostname-override", F_STR, OFF(hostname_override), M_AGENT, "",
     "node name to act for (default: $NODE_NAME, else the host name lowercased, as kubelet does)"},
    {"network-plugins", F_LIST, OFF(plugins), M_BOTH, "macvlan",
     "comma list of CNI plugin types whose networks are policed"},
    {"container-runtime-endpoint", F_STR, OFF(container_runtime_endpoint), M_AGENT, "",
     "CRI socket, e.g. unix:///run/containerd/containerd.sock (required)"},
    {"host-prefix", F_STR, OFF(host_prefix), M_AGENT, "",
     "prefix for host paths (network namespaces) when running in a container"},
    {"accept-icmp", F_BOOL, OFF(accept_icmp), M_BOTH, "false",
     "accept all ICMP on policed interfaces"},
    {"accept-icmpv6", F_BOOL, OFF(accept_icmpv6), M_BOTH, "false",
     "accept all ICMPv6 on policed interfaces"},
    {"accept-ipv6-router-advertisements", F_BOOL, OFF(accept_ipv6_router_advertisements), M_BOTH,
     "false",
     "accept IPv6 router advertisements and redirects from any host on policed interfaces"},
    {"custom-v4-ingress-rule-file", F_STR, OFF(custom_rule_file[0][0]), M_BOTH, "",
     "file of IPv4 ingress rules placed before the policy rules"},
    {"custom-v4-egress-rule-file", F_STR, OFF(custom_rule_file[0][1]), M_BOTH, "",
     "file of IPv4 egress rules placed before the policy rules"},
    {"custom-v6-ingress-rule-file", F_STR, OFF(custom_rule_file[1][0]), M_BOTH, "",
     "file of IPv6 ingress rules placed before the policy rules"},
    {"custom-v6-egress-rule-file", F_STR, OFF(custom_rule_file[1][1]), M_BOTH, "",
     "file of IPv6 egress rules placed before the policy rules"},
    {"kubeconfig", F_STR, OFF(kubeconfig), M_AGENT | M_EXPLAIN, "",
     "kubeconfig file (default: $KUBECONFIG's first file, else the in-cluster service account)"},
    {"insecure-skip-tls-verify", F_BOOL, OFF(insecure_skip_tls_verify), M_AGENT, "false",
     "do not verify the API server's certificate"},
    {"force-takeover", F_BOOL, OFF(force_takeover), M_AGENT, "false",
     "replace a pod's table inet multi_networkpolicy that this agent did not write (another "
     "agent uses the same name); without it such a pod is left alone and an error names it"},
    {"resync-period", F_DURATION, OFF(resync_period_s), M_AGENT, "5m",
     "how often every pod is recomputed and its table repaired"},
    {"apply-workers", F_INT, OFF(apply_workers), M_AGENT, "0",
     "threads programming pods' tables side by side in a full sync (start, relist, resync); 0: "
     "the online CPUs, at most 4; 1: one pod after another"},
    {"health-probe-bind-address", F_STR, OFF(health_probe_bind_address), M_AGENT, "",
     "host:port or :port of /healthz and /readyz; off when empty or 0"},
    {"debug-bind-address", F_STR, OFF(debug_bind_address), M_AGENT, "127.0.0.1:9192",
     "host:port of /debug/pods (JSON: what each local pod enforces and why policies enforce "
     "nothing); it names pods and policies, so loopback unless asked; off when empty or 0"},
    {"metrics-bind-address", F_STR, OFF(metrics_bind_address), M_AGENT, "",
     "host:port or :port of Prometheus /metrics; off when empty or 0"},
    {"cni-socket", F_STR, OFF(cni_socket), M_AGENT, "",
     "unix socket the chained CNI plugin asks at ADD; off when empty"},
    {"objects", F_STR, OFF(objects), M_RENDER | M_EXPLAIN, "",
     "Kubernetes List JSON (kubectl get ... -o json) to read (required for render; explain "
     "reads the cluster of --kubeconfig without it)"},
    {"node", F_STR, OFF(node), M_RENDER, "", "node whose pods are rendered (required)"},
    {"from", F_STR, OFF(from), M_EXPLAIN, "", "NS/POD or address the connection comes from (required)"},
    {"to", F_STR, OFF(to), M_EXPLAIN, "", "NS/POD or address the connection goes to (required)"},
    {"port", F_STR, OFF(port), M_EXPLAIN, "",
     "[tcp|udp|sctp/]PORT of the connection, tcp by default (required)"},
    {"family", F_INT, OFF(family), M_EXPLAIN, "0",
     "4 or 6; 0: the family of the addresses the endpoints have"},
    {"network", F_STR, OFF(network), M_EXPLAIN, "",
     "NS/NAD the connection uses; by default the one network the endpoints share"},
    {"v", F_INT, OFF(verbosity), M_BOTH, "0", "log verbosity"},
    {"log-format", F_STR, OFF(log_format_name), M_BOTH, "text",
     "text (klog lines) or json (one object per line: ts, level, msg, kind, namespace, name)"},
    {"version", F_BOOL, OFF(version), M_BOTH, "false", "print the version and exit"},
    {"help", F_BOOL, OFF(help), M_BOTH, "false", "print this help and exit"},
};

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "1", "t", "T", "TRUE", "True"};
	static const char *const no[] = {"false", "0", "f", "F", "FALSE", "False"};
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* A Go duration ("5m", "1h30m", "90s", "0") in whole seconds, rounded up. */
static int parse_duration(const char *v, uint32_t *out)
{
	unsigned long long ms = 0;
	const char *p = v;

	if (strcmp(v, "0") == 0)
		return *out = 0, 0;
	if (!*p)
		return -1;
	while (*p) {
		unsigned long long n = 0, mul;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (unsigned)(*p++ - '0');
			if (n > 100000000ull)
				return -1;
		}
		if (strncmp(p, "ms", 2) == 0)
			mul = 1, p += 2;
		else if (*p == 's')
			mul = 1000, p++;
		else if (*p == 'm')
			mul = 60000, p++;
		else if (*p == 'h')
			mul = 3600000, p++;
		else
			return -1;
		ms += n * mul;
		if (ms > 100000000000ull)
			return -1;
	}
	*out = (uint32_t)((ms + 999) / 1000);
	return 0;
}

static int set_list(struct flags *f, const char *v)
{
	size_t n = 1;
	char *copy, *tok, *save = NULL;

	for (const char *p = v; *p; p++)
		n += *p == ',';
	for (uint32_t i = 0; i < f->nplugins; i++)
		free(f->plugins[i]);
	free(f->plugins);
	f->nplugins = 0;
	f->plugins = calloc(n, sizeof(*f->plugins));
	copy = strdup(v);
	if (!f->plugins || !copy) {
		free(copy);
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t l = strlen(tok);
		while (l && tok[l - 1] == ' ')
			tok[--l] = 0;
		if (!l)
			continue;
		if (!(f->plugins[f->nplugins] = strdup(tok))) {
			free(copy);
			return -1;
		}
		f->nplugins++;
	}
	free(copy);
	return 0;
}

/* As kubectl: without --kubeconfig, $KUBECONFIG names the file. kubectl merges a ':' list; the
 * agent reads one file, the list's first non-empty entry. */
static int kubeconfig_from_env(struct flags *f)
{
	const char *env = getenv("KUBECONFIG");
	if (!env)
		return 0;
	while (*env == ':')
		env++;
	size_t len = strcspn(env, ":");
	if (!len)
		return 0;
	if (!(f->owned_kubeconfig = strndup(env, len)))
		return -1;
	f->kubeconfig = f->owned_kubeconfig;
	return 0;
}

int flags_parse(struct flags *f, enum flags_mode mode, int argc, char **argv, char *err,
		size_t errcap)
{
	int mbit = mode == FLAGS_AGENT ? M_AGENT : mode == FLAGS_RENDER ? M_RENDER : M_EXPLAIN;

	memset(f, 0, sizeof(*f));
	f->host_prefix = "";
	f->resync_period_s = 300;
	f->health_probe_bind_address = "";
	f->metrics_bind_address = "";
	f->debug_bind_address = "127.0.0.1:9192";
	f->cni_socket = "";
	if (set_list(f, "macvlan") < 0)
		return errf(err, errcap, "out of memory");
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val = NULL;
		const struct fdef *d = NULL;
		size_t nlen;
		char *base = (char *)f;

		if (a[0] != '-' || a[1] == 0 || strcmp(a, "--") == 0)
			return errf(err, errcap, "unexpected argument \"%s\"", a);
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		if (eq)
			val = eq + 1;
		if (strncmp(name, "zap-", 4) == 0) {
			/* The Go agent's logger flags: accepted so manifests keep working. */
			if (!eq && strcmp(name, "zap-devel") != 0 && i + 1 < argc &&
			    argv[i + 1][0] != '-')
				i++;
			log_warn("flag --%.*s is accepted for compatibility and ignored", (int)nlen,
				 name);
			continue;
		}
		for (size_t k = 0; k < sizeof(defs) / sizeof(defs[0]); k++)
			if (strlen(defs[k].name) == nlen && strncmp(defs[k].name, name, nlen) == 0)
				d = &defs[k];
		if (!d)
			return errf(err, errcap, "unknown flag --%.*s", (int)nlen, name);
		if (!(d->modes & mbit))
			return errf(err, errcap, "flag --%s is not valid for %s", d->name,
				    mode == FLAGS_AGENT ? "the agent" : "render");
		if (d->type == F_BOOL) {
			bool b = true;
			if (val && parse_bool(val, &b) < 0)
				return errf(err, errcap, "flag --%s: invalid boolean \"%s\"",
					    d->name, val);
			*(bool *)(void *)(base + d->off) = b;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return errf(err, errcap, "flag --%s needs a value", d->name);
			val = argv[++i];
		}
		switch (d->type) {
		case F_STR:
			*(const char **)(void *)(base + d->off) = val;
			break;
		case F_LIST:
			if (set_list(f, val) < 0)
				return errf(err, errcap, "out of memory");
			break;
		case F_DURATION:
			if (parse_duration(val, &f->resync_period_s) < 0)
				return errf(err, errcap,
					    "flag --%s: invalid duration \"%s\" (e.g. 5m, 30s)",
					    d->name, val);
			break;
		case F_INT: {
			char *end;
			long n = strtol(val, &end, 10);
			if (!*val || *end || n < 0 || n > 10)
				return errf(err, errcap, "flag --%s: invalid number \"%s\" (0-10)",
					    d->name, val);
			*(int *)(void *)(base + d->off) = (int)n;
			break;
		}
		default:
			break;
		}
	}
	for (int fam = 0; fam < 2; fam++)
		for (int dir = 0; dir < 2; dir++)
			if (f->custom_rule_file[fam][dir] && !f->custom_rule_file[fam][dir][0])
				f->custom_rule_file[fam][dir] = NULL;
	if (f->kubeconfig && !f->kubeconfig[0])
		f->kubeconfig = NULL;
	if (mode != FLAGS_RENDER && !f->kubeconfig && kubeconfig_from_env(f) < 0)
		return errf(err, errcap, "out of memory");
	if (f->log_format_name && strcmp(f->log_format_name, "text") &&
	    strcmp(f->log_format_name, "json"))
		return errf(err, errcap, "flag --log-format: \"%s\" is not text or json",
			    f->log_format_name);
	f->log_json = f->log_format_name && !strcmp(f->log_format_name, "json");
	if (f->hostname_override && !f->hostname_override[0])
		f->hostname_override = NULL;
	if (f->help || f->version)
		return 0;
	if (mode == FLAGS_AGENT &&
	    (!f->container_runtime_endpoint || !f->container_runtime_endpoint[0]))
		return errf(err, errcap, "flag --container-runtime-endpoint is required");
	if (f->objects && !f->objects[0])
		f->objects = NULL;
	if (mode == FLAGS_RENDER && !f->objects)
		return errf(err, errcap, "flag --objects is required");
	if (mode == FLAGS_EXPLAIN && !f->objects && !f->kubeconfig)
		return errf(err, errcap, "flag --objects or --kubeconfig (or $KUBECONFIG) is required");
	if (mode == FLAGS_EXPLAIN) {
		const char *need[] = {f->from, f->to, f->port}, *names[] = {"from", "to", "port"};
		for (int k = 0; k < 3; k++)
			if (!need[k] || !need[k][0])
				return errf(err, errcap, "flag --%s is required", names[k]);
		if (f->family != 0 && f->family != 4 && f->family != 6)
			return errf(err, errcap, "flag --family: %d is not 4 or 6", f->family);
		if (f->network && !f->network[0])
			f->network = NULL;
	}
	if (mode == FLAGS_RENDER && (!f->node || !f->node[0]))
		return errf(err, errcap, "flag --node is required");
	if (f->nplugins == 0)
		return errf(err, errcap, "flag --network-plugins: no plugin type given");
	return 0;
}

void flags_usage(FILE *out, enum flags_mode mode)
{
	int mbit = mode == FLAGS_AGENT ? M_AGENT : mode == FLAGS_RENDER ? M_RENDER : M_EXPLAIN;

	if (mode == FLAGS_AGENT)
		fprintf(out,
			"Usage: multi-networkpolicy-nftables [flags]\n"
			"       multi-networkpolicy-nftables render --objects FILE --node NODE "
			"[flags]\n"
			"       multi-networkpolicy-nftables explain --objects FILE --from A --to B "
			"--port [PROTO/]PORT [flags]\n"
			"       multi-networkpolicy-nftables cleanup --netns PATH... | --netns-dir "
			"DIR\n"
			"       multi-networkpolicy-nftables version | help\n\n"
			"Enforces MultiNetworkPolicies on the secondary interfaces of this "
			"node's pods with nftables.\n\nFlags:\n");
	else if (mode == FLAGS_RENDER)
		fprintf(out,
			"Usage: multi-networkpolicy-nftables render --objects FILE --node NODE "
			"[flags]\n\nPrints, for every pod of NODE a policy targets, the nftables "
			"table the agent would program.\n\nFlags:\n");
	else
		fprintf(out,
			"Usage: multi-networkpolicy-nftables explain --objects FILE --from NS/POD|ADDR "
			"--to NS/POD|ADDR --port [PROTO/]PORT [flags]\n\nSays whether a new "
			"connection is allowed or denied on a secondary network, and which policy, "
			"rule and peer decide it,\nby evaluating the rulesets the agent would "
			"program into both pods.\n\nFlags:\n");
	for (size_t k = 0; k < sizeof(defs) / sizeof(defs[0]); k++) {
		const struct fdef *d = &defs[k];
		if (!(d->modes & mbit))
			continue;
		/* Help texts that already say what happens without the flag need no "none". */
		bool says = strstr(d->help, "required") || strstr(d->help, "default") ||
			    strstr(d->help, "off when");
		fprintf(out, "  --%s%s\n        %s", d->name,
			d->type == F_BOOL   ? ""
			: d->type == F_LIST ? " LIST"
			: d->type == F_INT  ? " N"
					    : " VALUE",
			d->help);
		if (d->dflt[0])
			fprintf(out, " (default \"%s\")", d->dflt);
		else if (!says)
			fprintf(out, " (default none)");
		fputc('\n', out);
	}
	fprintf(out, "  -v N\n        same as --v=N\n"
		     "  --zap-*\n        the Go agent's logger flags: accepted and ignored, with a "
		     "warning\n");
}

void flags_free(struct flags *f)
{
	free(f->owned_kubeconfig);
	f->owned_kubeconfig = NULL;
	for (uint32_t i = 0; i < f->nplugins; i++)
		free(f->plugins[i]);
	free(f->plugins);
	f->plugins = NULL;
	f->nplugins = 0;
}

int flags_node_name(const char *override, const char *env, const char *host, char *buf, size_t cap)
{
	const char *src = override && *override ? override : env && *env ? env : host;
	size_t n = src ? strlen(src) : 0;

	if (n == 0 || n >= cap)
		return -1;
	memcpy(buf, src, n + 1);
	if (src == host)
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)tolower((unsigned char)buf[i]);
	return 0;
}
