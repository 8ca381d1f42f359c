/* Command-line flags of the agent and of the render subcommand, as the Go agent spells them.
 * flags_parse fills a struct the caller owns; strings point into argv or into memory freed by
 * flags_free. */
#ifndef FLAGS_H
#define FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum flags_mode { FLAGS_AGENT, FLAGS_RENDER, FLAGS_EXPLAIN };

struct flags {
	const char *hostname_override; /* NULL: the node name comes from the host */
	uint32_t nplugins;	       /* --network-plugins, default "macvlan" */
	char **plugins;
	const char *container_runtime_endpoint; /* required in agent mode */
	const char *host_prefix;		/* default "" */
	bool accept_icmp, accept_icmpv6;
	bool accept_ipv6_router_advertisements; /* RAs and redirects in from any host */
	const char *custom_rule_file[2][2];	/* [0 v4, 1 v6][0 ingress, 1 egress], NULL: none */
	const char *kubeconfig; /* NULL: in-cluster; absent: $KUBECONFIG's first file */
	bool insecure_skip_tls_verify;
	bool force_takeover; /* replace pod tables of the same name this agent did not write */
	uint32_t resync_period_s;	       /* default 300 */
	int apply_workers; /* threads programming pods in a pass; 0: online CPUs, at most 4 */
	const char *health_probe_bind_address; /* "" or "0": off (default) */
	const char *metrics_bind_address;      /* "" or "0": off (default) */
	const char *debug_bind_address;	       /* /debug/pods; default 127.0.0.1:9192 */
	const char *cni_socket;		       /* "": off (default) */
	int verbosity;			       /* -v N / --v=N, default 0 */
	const char *log_format_name;	       /* --log-format text|json */
	bool log_json;			       /* --log-format=json */
	bool version, help;
	/* render and explain */
	const char *objects; /* --objects FILE */
	const char *node;    /* --node NODE (render only) */
	/* explain only */
	const char *from, *to; /* NS/POD or an address */
	const char *port;      /* [PROTO/]PORT */
	const char *network;   /* NS/NAD, NULL: the one the endpoints share */
	int family;	       /* 4, 6, or 0: from the endpoints */
	char *owned_kubeconfig; /* the copy kubeconfig points to when it came from $KUBECONFIG */
};

/* Parses argv[0..argc) (no program or subcommand name in it). Returns 0, or -1 with a message
 * naming the flag in err. --help/--version set help/version and skip the required-flag checks. */
int flags_parse(struct flags *f, enum flags_mode mode, int argc, char **argv, char *err,
		size_t errcap);
void flags_usage(FILE *out, enum flags_mode mode);
/* The node name as kubelet registers it: override (--hostname-override), else env (NODE_NAME),
 * else host (the host name) lowercased, as kubelet lowercases it. NULL or "" counts as unset.
 * Returns 0, or -1 when none is set or the name does not fit in cap. */
int flags_node_name(const char *override, const char *env, const char *host, char *buf, size_t cap);
void flags_free(struct flags *f);

#endif
