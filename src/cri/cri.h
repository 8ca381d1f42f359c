/* cri: asks the container runtime (CRI runtime.v1 over gRPC/HTTP/2 on a unix socket) which
 * network namespace belongs to a local pod. The client owns its connection, its buffers and a
 * cache of pod uid -> (sandbox id, netns path); strings it hands out are copied into the
 * caller's buffers. Calls block for at most the configured deadline (connecting included), and
 * call the caller's wait callback meanwhile so its loop keeps serving; the agent calls them from
 * its loop. One pod that cannot be resolved returns an error for that pod only. A client is not
 * thread-safe: one per thread. */
#ifndef CRI_CRI_H
#define CRI_CRI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRI_ID_MAX 128	 /* sandbox id (containerd: 64 hex digits) */
#define CRI_UID_MAX 64	 /* pod uid (36 characters) */
#define CRI_NAME_MAX 256 /* pod name, namespace */
#define CRI_PATH_MAX 512 /* netns path, host prefix included */

struct cri_config {
	/* "unix:///run/containerd/containerd.sock", "unix:/path" or a plain path; required. */
	const char *endpoint;
	/* Prepended to the socket path and to every netns path ("/host"); NULL or "" for none. */
	const char *host_prefix;
	/* Deadline of one call, sent as grpc-timeout and enforced locally; 0 means 2000 ms. */
	int timeout_ms;
	/* When set, a call the runtime did not answer within its deadline makes every call fail at
	 * once (CRI_ERR, "not asking again for N ms") for a hold-off of CRI_HOLD_OFF_MIN_MS
	 * doubling to CRI_HOLD_OFF_MAX_MS, ended by the next answer: a stuck runtime then costs one
	 * deadline per hold-off, not one per pod. Cached netns lookups still answer. */
	int hold_off_after_timeout;
	/* Called at least every 20 ms while a call waits on the runtime (NULL: none); non-zero
	 * abandons the call (CRI_ERR). It must not call this client. */
	int (*on_wait)(void *ctx);
	void *wait_ctx;
};

#define CRI_HOLD_OFF_MIN_MS 2000
#define CRI_HOLD_OFF_MAX_MS 30000

struct cri_version {
	char version[64];	      /* kubelet API version the runtime speaks */
	char runtime_name[64];	      /* "containerd", "cri-o" */
	char runtime_version[64];     /* "1.6.20" */
	char runtime_api_version[64]; /* "v1" */
};

struct cri_sandbox {
	char id[CRI_ID_MAX];
	char uid[CRI_UID_MAX];
	char ns[CRI_NAME_MAX];
	char name[CRI_NAME_MAX];
	unsigned attempt;
	/* The pod had another ready sandbox before (noticed by any listing, including those
	 * cri_pod_netns makes); reported once, to the first listing with a callback. */
	bool recreated;
};

/* What the kernel knows a network namespace file by: the same path naming another identity is
 * another namespace (a recreated sandbox, a reused pid). */
struct cri_netns_id {
	uint64_t dev, ino;
};

/* Return values besides 0. */
#define CRI_ERR -1	/* transport, runtime or decoding error; err says what */
#define CRI_NOTFOUND -2 /* the runtime has no ready sandbox for this pod (yet) */

struct cri_client;

/* Copies cfg; connects lazily (the socket may appear later, the runtime may restart: every call
 * reconnects when needed). NULL on bad config (err says why) or out of memory. */
struct cri_client *cri_open(const struct cri_config *cfg, char *err, size_t errcap);
void cri_close(struct cri_client *c);

/* RuntimeService/Version. 0 or CRI_ERR. */
int cri_version(struct cri_client *c, struct cri_version *out, char *err, size_t errcap);

/* RuntimeService/ListPodSandbox with state READY: calls fn once per ready sandbox (the struct is
 * only valid during the call; fn returns 0 to go on, non-zero to stop). Also refreshes the
 * cache: a pod whose ready sandbox id changed (sandbox recreated) gets a fresh netns lookup on
 * its next cri_pod_netns; pods without a ready sandbox are dropped. fn may be NULL. A sandbox
 * whose fields exceed their caps is skipped with a warning in the log, never failing the list.
 * Returns the number of ready sandboxes, or CRI_ERR. */
int cri_list_ready_sandboxes(struct cri_client *c,
			     int (*fn)(void *ctx, const struct cri_sandbox *sb), void *ctx,
			     char *err, size_t errcap);

/* The netns path (host prefix included) of the pod's ready sandbox, into path[cap].
 * Uses the sandbox list of the last cri_list_ready_sandboxes (listing again when the pod is not
 * in it), then PodSandboxStatus(verbose) once per sandbox id; the result is cached.
 * Returns 0, CRI_NOTFOUND (no ready sandbox) or CRI_ERR (err names the pod and the cause). */
int cri_pod_netns(struct cri_client *c, const char *pod_uid, char *path, size_t cap, char *err,
		  size_t errcap);

/* Drops what is cached for the pod (e.g. its netns could not be opened): the next
 * cri_pod_netns asks the runtime again. */
void cri_forget(struct cri_client *c, const char *pod_uid);

/* The runtime's event stream (RuntimeService/GetContainerEvents, on a connection of its own):
 * the client keeps it open from the first cri_events_handle on, reconnecting with backoff
 * (CRI_EVENTS_BACKOFF_MIN_MS doubling to CRI_EVENTS_BACKOFF_MAX_MS) when it breaks; a runtime
 * that answers UNIMPLEMENTED is asked again every CRI_EVENTS_RECHECK_MS. A sandbox event for a
 * pod updates the cache at once and is reported: READY when the pod has a new ready sandbox (its
 * netns must be looked up again), GONE when the pod's sandbox stopped or was removed. The
 * caller polls cri_events_fd for cri_events_poll_events and calls cri_events_handle when it is
 * ready or cri_events_timeout_ms has passed; handle never blocks longer than connecting to the
 * socket (the wait callback runs meanwhile). */
#define CRI_EVENTS_BACKOFF_MIN_MS 500
#define CRI_EVENTS_BACKOFF_MAX_MS 30000
#define CRI_EVENTS_RECHECK_MS 300000

enum cri_sandbox_change { CRI_SANDBOX_READY, CRI_SANDBOX_GONE };

struct cri_sandbox_event {
	enum cri_sandbox_change change;
	struct cri_sandbox sb; /* GONE after removal: id and uid only (from the cache) */
};

int cri_events_fd(const struct cri_client *c); /* -1 while no stream is open */
short cri_events_poll_events(const struct cri_client *c);
/* ms until cri_events_handle is due without I/O (a reconnect); -1 when only I/O makes it due. */
int cri_events_timeout_ms(const struct cri_client *c);
/* Reads what arrived, (re)opens the stream when due, calls fn per sandbox change. Returns 1 when
 * events may have been missed since the last call (the stream opened, broke or ended; the
 * caller should list sandboxes now), else 0. */
int cri_events_handle(struct cri_client *c, short revents,
		      void (*fn)(void *ctx, const struct cri_sandbox_event *ev), void *ctx);
/* The stream is open and the runtime has not refused it. */
bool cri_events_live(const struct cri_client *c);

/* Opens path and checks that it is a network namespace; fills its identity. 0, or CRI_ERR with
 * err saying what the path is instead (missing, unreadable, not a namespace, another kind of
 * namespace). */
int cri_netns_identify(const char *path, struct cri_netns_id *id, char *err, size_t errcap);

/* The netns path in PodSandboxStatus verbose info["info"] JSON, first found of:
 * runtimeSpec.linux.namespaces[type=network].path (containerd 1.6-2.1, CRI-O), else
 * sandboxMetadata.Metadata.NetNSPath (containerd 2.x) or sandboxMetadata.NetNSPath, else
 * /proc/<pid>/ns/net from "pid"; prefixed with host_prefix (may be NULL). Pure function, exposed
 * for tests and fuzzing. 0, or -1 with err saying what is missing or malformed. */
int cri_netns_from_info(const char *json, size_t len, const char *host_prefix, char *path,
			size_t cap, char *err, size_t errcap);

#endif
