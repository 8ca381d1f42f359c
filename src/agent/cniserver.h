/* The agent's CNI socket (--cni-socket): answers the chained plugin (cni/cni.h). ADD computes
 * the pod's ruleset from the store and commits it in the netns the runtime named, replying once
 * the batch is ACKed; a pod the store does not hold yet is waited for until the request's
 * deadline, and asked for by name after FETCH_AFTER_MS. DEL lets the agent release what pins the sandbox's netns. Driven by the agent's
 * poll loop; fixed connection slots inside the struct; reads the store, never changes it. */
#ifndef AGENT_CNISERVER_H
#define AGENT_CNISERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "cni/cni.h"
#include "util/arena.h"

#define CNISRV_MAX_CONNS 16

struct store;
struct store_pod;
struct policy_opts;
struct pod_ruleset;
struct mnl_socket;

/* What the server reads from the agent; pointers stay the agent's. */
struct cniserver_env {
	const struct store *store;
	const struct policy_opts *opts;
	const bool *synced;	 /* every watch delivered its first list */
	const char *host_prefix; /* prepended to the runtime's netns paths */
	/* ADD: commits rs in netns (with the prefix) through the agent's own state for the pod,
	 * so that the table is the agent's like any other. Returns the NETLINK_NETFILTER socket it
	 * used (open in that netns), or NULL with err. */
	struct mnl_socket *(*apply)(void *ctx, const struct store_pod *pod, const char *netns,
				    const struct pod_ruleset *rs, char *err, size_t errlen);
	/* DEL: drop anything held open in that sandbox's netns (netns has the prefix). */
	void (*release)(void *ctx, const char *pod_uid, const char *netns);
	/* ADD of a pod the store still lacks after a short wait: ask the API server for it by
	 * name (the watch may lag behind); the answer reaches the store, the request is retried. */
	void (*fetch)(void *ctx, const char *ns, const char *name);
	void *ctx;
};

struct cniserver_conn {
	int fd; /* -1 when the slot is free */
	size_t len;
	int64_t deadline_ms; /* reading, then waiting for the pod */
	int64_t accepted_ms;
	bool waiting; /* a parsed request whose pod the store lacks so far */
	bool fetched; /* the pod was asked for by name */
	int64_t waiting_since;
	struct cni_request req;
	struct cni_reply reply; /* what a waiting request gets when its deadline passes */
	char buf[CNI_LINE_MAX];
};

struct cniserver {
	int listen_fd;
	char path[CNI_SOCK_MAX];
	struct cniserver_env env;
	struct arena arena; /* one ruleset at a time */
	struct cniserver_conn conns[CNISRV_MAX_CONNS];
};

/* Listens on the unix socket path (an old socket file there is replaced; the parent directory
 * is created if missing). 0, or -1 with err filled. */
int cniserver_listen(struct cniserver *s, const char *path, const struct cniserver_env *env,
		     char *err, size_t errlen);
int cniserver_pollfds(const struct cniserver *s, struct pollfd *pfds, int max);
/* Serves what is ready, retries waiting requests (the store may have the pod now) and answers
 * those whose deadline passed. */
void cniserver_handle(struct cniserver *s, const struct pollfd *pfds, int n, int64_t now_ms);
/* When the loop must call cniserver_handle again at the latest; INT64_MAX: nothing pending. */
int64_t cniserver_next_deadline(const struct cniserver *s, int64_t now_ms);
void cniserver_close(struct cniserver *s);

#endif
