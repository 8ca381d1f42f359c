/* cni: the chained CNI plugin (`multi-networkpolicy-nftables cni`, or the binary named
 * multi-networkpolicy-cni) that closes a pod's interface before any container starts, and the
 * one-line protocol it speaks with the agent's CNI socket (agent/cniserver.h).
 * Parsers own no memory: the caller passes the text, the jsmn tokens and the structs below
 * (fixed-size fields); results point into the caller's text where they say so. */
#ifndef CNI_CNI_H
#define CNI_CNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

#define CNI_DEFAULT_SOCKET "/run/multi-networkpolicy-nftables/cni.sock"
#define CNI_DEFAULT_TIMEOUT_MS 2000
#define CNI_CONFIG_MAX (1u << 20) /* stdin larger than this is refused */
#define CNI_MAX_IPS 16
#define CNI_STR_MAX 256
#define CNI_PATH_MAX 1024
#define CNI_SOCK_MAX 108 /* sun_path */
#define CNI_PROTO_VERSION 1
#define CNI_LINE_MAX 8192 /* one request or reply line, newline included */

/* CNI error codes (spec: 1-99 reserved), and ours from 100. */
enum cni_code {
	CNI_ERR_INCOMPATIBLE = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_LATER = 11,
	CNI_ERR_AGENT =
	    100, /* the agent is unreachable, late, or refused (onAgentUnavailable fail) */
	CNI_ERR_ISOLATE = 101, /* the fallback table could not be committed */
	CNI_ERR_CHECK = 102,   /* CHECK: the pod's table is not there */
};

enum cni_unavailable {
	CNI_ISOLATE, /* commit a deny table ourselves (default) */
	CNI_FAIL,    /* ADD fails; the runtime retries */
	CNI_IGNORE,  /* leave the interface as the previous plugins made it */
};

/* The plugin's part of a conflist, as the runtime passes it on stdin. */
struct cni_config {
	char cni_version[16];
	char name[CNI_STR_MAX]; /* the conflist's name: the network */
	char type[64];
	char agent_socket[CNI_SOCK_MAX];
	uint32_t agent_timeout_ms;
	enum cni_unavailable on_unavailable;
	/* prevResult, raw (points into the caller's text), printed back unchanged on ADD. */
	const char *prev_result;
	size_t prev_result_len;
	uint32_t nips; /* prevResult.ips addresses ("10.1.1.2/24"), of the container's ifname */
	char ips[CNI_MAX_IPS][64];
};

/* Parses the stdin config; ifname (CNI_IFNAME, may be NULL) selects prevResult addresses when
 * they name their interface. tok holds ntok tokens (json_count_tokens gives the need).
 * Returns 0, or -1 with a line naming the field in err. */
int cni_config_parse(struct cni_config *c, const char *text, size_t len, jsmntok_t *tok, int ntok,
		     const char *ifname, char *err, size_t errlen);

/* One KEY=VALUE of CNI_ARGS, pointing into the caller's string (not NUL-terminated). */
struct cni_arg {
	const char *name, *value;
	size_t name_len, value_len;
};

/* Splits "K=V;K=V" into at most *nargs slots; *nargs is set to the count. Returns the count, or
 * -1 when a pair has no '=' or an empty key, or there are more pairs than slots. */
int cni_args_parse(const char *s, size_t len, struct cni_arg *args, size_t *nargs);
/* Copies the value of name into buf (NUL-terminated); 0, or -1 when absent or too long. */
int cni_args_get(const struct cni_arg *args, size_t nargs, const char *name, char *buf, size_t cap);

/* What the plugin asks the agent: one line of JSON. */
struct cni_request {
	uint32_t version; /* CNI_PROTO_VERSION */
	char command[8];  /* ADD, DEL, CHECK */
	char container_id[CNI_STR_MAX];
	char netns[CNI_PATH_MAX];
	char pod_ns[CNI_STR_MAX], pod_name[CNI_STR_MAX], pod_uid[128];
	char ifname[16];
	char network[CNI_STR_MAX]; /* the conflist's name */
	uint32_t timeout_ms;	   /* how long the plugin waits for the answer */
	uint32_t nips;
	char ips[CNI_MAX_IPS][64];
};

enum cni_status {
	CNI_ST_APPLIED,	    /* ADD: the pod's table is committed; CHECK: it is in place */
	CNI_ST_NONE,	    /* no policy selects the pod: no table, nothing to wait for */
	CNI_ST_RELEASED,    /* DEL done */
	CNI_ST_UNAVAILABLE, /* the agent cannot answer for this pod (not synced, unknown pod) */
	CNI_ST_ERROR,	    /* the agent tried and failed, or CHECK found no table */
};

struct cni_reply {
	enum cni_status status;
	char msg[512];
};

/* Formats one line (ending in '\n'); returns its length, or -1 when it does not fit in cap. */
int cni_request_format(const struct cni_request *r, char *buf, size_t cap);
int cni_reply_format(const struct cni_reply *r, char *buf, size_t cap);
/* Parses one line (with or without its '\n'). Return 0, or -1 with err naming the field. */
int cni_request_parse(struct cni_request *r, const char *line, size_t len, char *err,
		      size_t errlen);
int cni_reply_parse(struct cni_reply *r, const char *line, size_t len);
/* The CNI error object {"cniVersion","code","msg","details"} as one line; length or -1. */
int cni_error_format(const char *cni_version, int code, const char *msg, const char *details,
		     char *buf, size_t cap);

/* The plugin: reads stdin and CNI_* from the environment, writes the result or the error JSON
 * to stdout. Returns the exit status. argv "install DIR" copies the binary to
 * DIR/multi-networkpolicy-cni instead (for an init container of the scratch image). */
int cni_plugin_main(int argc, char **argv);

/* Commits the deny-all table for ifname in the netns at path (replies and NDP pass), then
 * forgets the conntrack entries of ips (cni_conntrack_forget): the fallback when the agent does
 * not answer. Returns 0 or -1 with err (the table failed; a conntrack failure is only printed). */
int cni_isolate(const char *netns, const char *ifname, const char (*ips)[64], uint32_t nips,
		char *err, size_t errlen);

struct mnl_socket;
/* Deletes the conntrack entries in the netns whose original source or destination is one of
 * ips ("10.1.1.2/24" or bare): a flow opened before the table was committed must not pass later
 * as established. sock: a NETLINK_NETFILTER socket already in that netns (e.g. the apply's,
 * nft_applied.sock), or NULL to open (and close) one. Returns how many were deleted, or -1 with
 * err. */
int cni_conntrack_forget(const char *netns, struct mnl_socket *sock, const char (*ips)[64],
			 uint32_t nips, char *err, size_t errlen);

#endif
