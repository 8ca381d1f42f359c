#include "agent/agent.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/cniserver.h"
#include "agent/httpd.h"
#include "agent/jsonw.h"
#include "agent/metrics.h"
#include "cri/cri.h"
#include "flags.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/conn.h"
#include "kube/reflector.h"
#include "nft/apply.h"
#include "nft/layout.h"
#include "nft/pool.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/clock.h"
#include "util/log.h"

/* A burst of events within this window costs one apply per pod. */
#define COALESCE_MS 2
#define RETRY_INITIAL_MS 500
#define RETRY_MAX_MS 30000
#define SANDBOX_CHECK_MS 2000 /* how soon a recreated sandbox is noticed between resyncs */
#define SERVE_EVERY_MS 20     /* probes and signals wait at most this long for a pass */
/* The same, while the runtime's event stream is open: a backstop for lost events, still
 * within 5 s. */
#define SANDBOX_CHECK_EVENTS_MS 4000

/* What the agent knows about one local pod it has dealt with. */
struct pod_state {
	char uid[CRI_UID_MAX];
	char ns[CRI_NAME_MAX], name[CRI_NAME_MAX];
	char netns[CRI_PATH_MAX];  /* where the last apply went; "" before the first */
	struct cri_netns_id ns_id; /* the namespace that path named when it was looked up */
	struct nft_applied applied;
	bool pending;	  /* must be computed (and applied if it differs) */
	bool check_drift; /* compare the kernel's table with what was applied */
	uint32_t failures;
	int64_t retry_at; /* ms; 0 when not waiting for a retry */
	int64_t links_check_at; /* ms: the check its link events asked for last (pod_links) */
	bool in_flight;	  /* its applied state is out with an apply job */
	/* the last attempt, for /debug/pods */
	int64_t last_unix_ms; /* 0: none yet */
	int64_t last_us;      /* how long it took */
	char last_error[256]; /* "" when it succeeded */
	enum nft_held held_warned; /* why the table is a companion, as last logged */
	/* the ready sandbox the last listing (or event) showed */
	char listed_sandbox[CRI_ID_MAX];
};

struct agent {
	const struct flags *flags;
	char node[256];
	struct policy_opts opts;
	struct store *store;
	struct kube_sink store_sink;
	struct kube_client *kube;
	struct kube_reflector *refl[KIND_COUNT];
	struct cri_client *cri;
	struct pod_state *pods;
	size_t npods, cap;
	struct nft_pool *pool;	  /* the kernel work of a pass, on --apply-workers threads */
	struct apply_slot *slots; /* two per worker: the next pods are computed meanwhile */
	size_t nslots;
	int64_t pass_compute_us, pass_cri_us, pass_kernel_us; /* the pass's shares, for the log */
	struct metrics metrics;
	struct httpd health, metrics_srv, debug_srv;
	bool health_on, metrics_on, debug_on;
	uint64_t idle_version;	  /* store version the idle policies were last checked at */
	struct idle_policy *idle; /* policies enforcing nothing here, sorted by key */
	size_t nidle;
	struct cniserver cni;	  /* --cni-socket; listen_fd -1 when off */
	struct pod_fetch {	  /* GET of one pod by name for the CNI server (in use: path set) */
		struct kube_conn conn;
		char path[600];
		int64_t deadline;
	} fetch[4];
	bool synced;		  /* every reflector delivered its first list */
	bool ready;		  /* ... and the first apply pass is done */
	bool drift_pass;	  /* the next pass checks every pod's table against the kernel */
	int64_t apply_at;	  /* coalesced pass due; INT64_MAX: none */
	int64_t resync_at;	  /* next periodic resync */
	int64_t sandbox_check_at; /* next look at the runtime's sandbox ids */
	int sigfd;
	enum nft_guard guard_logged;
	struct pollfd *pfds; /* the loop's, grown with the pods' event sockets */
	size_t *pfd_pod;     /* for each of the pods' entries in pfds: the pod's index */
	size_t pfds_cap;
	int stopping; /* the signal that asked the agent to exit; 0 while running */
};

static void check_idle_policies(struct agent *a);
static int serve_while_busy(void *ctx);

int agent_node_name(const char *override, char *buf, size_t cap)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	return flags_node_name(override, getenv("NODE_NAME"), host, buf, cap);
}

static int64_t now_ms(void)
{
	return kube_now_ms();
}

static void schedule_pass(struct agent *a, int64_t delay_ms)
{
	int64_t at = now_ms() + delay_ms;
	if (at < a->apply_at)
		a->apply_at = at;
}

/* The store's sink wrapped: counts what arrives and schedules a coalesced pass. */
static int sink_object(void *ctx, enum kube_kind kind, enum kube_event ev, const char *json,
		       size_t len)
{
	struct agent *a = ctx;
	int rc = a->store_sink.object(a->store_sink.ctx, kind, ev, json, len);

	a->metrics.watch_events[kind]++;
	schedule_pass(a, COALESCE_MS);
	return rc;
}

static void sink_replace_begin(void *ctx, enum kube_kind kind)
{
	struct agent *a = ctx;

	a->metrics.relists[kind]++;
	a->store_sink.replace_begin(a->store_sink.ctx, kind);
}

static void sink_replace_end(void *ctx, enum kube_kind kind)
{
	struct agent *a = ctx;

	a->store_sink.replace_end(a->store_sink.ctx, kind);
	/* After a (re)list the cache may have missed anything: recheck every pod, level-triggered.
	 */
	store_mark_all_dirty(a->store);
	a->drift_pass = true;
	schedule_pass(a, COALESCE_MS);
}

static struct pod_state *pod_find(struct agent *a, const char *uid)
{
	for (size_t i = 0; i < a->npods; i++)
		if (strcmp(a->pods[i].uid, uid) == 0)
			return &a->pods[i];
	return NULL;
}

static struct pod_state *pod_add(struct agent *a, const char *uid, const struct store_pod *pod)
{
	struct pod_state *ps;

	if (strlen(uid) >= CRI_UID_MAX || strlen(pod->ns) >= CRI_NAME_MAX ||
	    strlen(pod->name) >= CRI_NAME_MAX) {
		log_error("pod %s/%s: uid or name too long to track", pod->ns, pod->name);
		return NULL;
	}
	if (a->npods == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct pod_state *p = realloc(a->pods, cap * sizeof(*p));
		if (!p)
			return NULL;
		a->pods = p;
		a->cap = cap;
	}
	ps = &a->pods[a->npods++];
	memset(ps, 0, sizeof(*ps));
	strcpy(ps->uid, uid);
	strcpy(ps->ns, pod->ns);
	strcpy(ps->name, pod->name);
	/* Never applied by this process: a table left from before must be checked. */
	ps->check_drift = true;
	ps->applied.takeover = a->flags->force_takeover;
	return ps;
}

static void pod_remove(struct agent *a, struct pod_state *ps)
{
	log_v(2, "pod %s/%s (%s) is gone or no longer local", ps->ns, ps->name, ps->uid);
	if (a->cri)
		cri_forget(a->cri, ps->uid);
	nft_applied_free(&ps->applied);
	*ps = a->pods[--a->npods];
}

static void on_dirty(void *ctx, const char *uid, const struct store_pod *pod)
{
	struct agent *a = ctx;
	struct pod_state *ps = pod_find(a, uid);

	if (!pod) {
		if (ps)
			pod_remove(a, ps);
		return;
	}
	if (!ps)
		ps = pod_add(a, uid, pod);
	if (ps) {
		ps->pending = true;
		ps->retry_at = 0;
		ps->failures = 0;
	}
}

static int64_t unix_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pod_failed(struct agent *a, struct pod_state *ps, enum apply_failure why,
		       const char *what)
{
	uint64_t delay = RETRY_INITIAL_MS;

	ps->last_unix_ms = unix_ms();
	ps->last_us = 0;
	snprintf(ps->last_error, sizeof(ps->last_error), "%s", what);
	for (uint32_t i = 0; i < ps->failures && delay < RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	delay = delay / 2 + (uint64_t)rand() % (delay / 2 + 1); /* jitter */
	ps->failures++;
	ps->pending = true;
	ps->retry_at = now_ms() + (int64_t)delay;
	a->metrics.apply_failures[why]++;
	log_v(1, "pod %s/%s: retry in %llu ms (attempt %u)", ps->ns, ps->name,
	      (unsigned long long)delay, ps->failures);
}

static uint32_t ruleset_rules(const struct pod_ruleset *rs)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < rs->nchains; i++)
		n += rs->chains[i].nrules;
	return n;
}

/* Says once when the pod's table name is held against the agent, so its policy lives in a
 * companion table (processes in the pod may have made or taken the name: worth a look). */
static void warn_if_held(struct pod_state *ps, bool enforced)
{
	enum nft_held held = enforced ? ps->applied.held : NFT_HELD_NONE;
	if (held == ps->held_warned)
		return;
	if (held == NFT_HELD_NONE && enforced)
		log_info("pod %s/%s: table inet %s is free again; its policy moved back there",
			 ps->ns, ps->name, RULESET_TABLE);
	ps->held_warned = held;
	if (held == NFT_HELD_FOREIGN)
		log_warn(
		    "pod %s/%s: table inet %s exists and was not written by this agent; its "
		    "policy is enforced in table inet %s (another agent or a process in the pod "
		    "made it; --force-takeover replaces it)",
		    ps->ns, ps->name, RULESET_TABLE, nft_applied_table(&ps->applied));
	else if (held == NFT_HELD_OWNED)
		log_warn("pod %s/%s: table inet %s is owned by another process's netlink socket; "
			 "its policy is enforced in table inet %s",
			 ps->ns, ps->name, RULESET_TABLE, nft_applied_table(&ps->applied));
}

/* One pod on its way through the pool: its ruleset (in the slot's arena) and its job. */
struct apply_slot {
	struct nft_job job;
	struct arena arena;
	struct pod_ruleset rs;
	char netns[CRI_PATH_MAX];
	char uid[CRI_UID_MAX];
	int64_t start_ms, prep_us;
	bool had_table;
	bool busy;
};

/* The pod's applied state goes into the job; the pod keeps what /debug/pods and /metrics read
 * (hash, presence, table name), without what it owns (sockets, sets, interface guards, exempt
 * pins), until the job comes back. */
static void lend_applied(struct pod_state *ps, struct nft_job *j)
{
	j->applied = ps->applied;
	ps->applied.sock = ps->applied.events = ps->applied.link_events = NULL;
	ps->applied.sets = NULL;
	ps->applied.nsets = 0;
	ps->applied.ifguards = NULL;
	ps->applied.nifguards = 0;
	ps->applied.exempt = NULL;
	ps->applied.nexempt = 0;
	ps->in_flight = true;
}

/* Brings one pod's table in line with the store: computes its ruleset and finds its netns here,
 * on the loop's thread; the kernel work (drift check, apply) goes to the pool in slot s, and
 * pod_synced ends it. */
static void pod_sync(struct agent *a, struct pod_state *ps, struct apply_slot *s)
{
	const struct store_pod *pod = store_pod_get(a->store, ps->ns, ps->name);
	char netns[CRI_PATH_MAX], err[512];
	struct cri_netns_id ns_id;
	int64_t t0 = mono_us();
	uint64_t hash;
	int rc;

	if (!pod || strcmp(pod->uid, ps->uid) != 0 || !pod->local) {
		pod_remove(a, ps);
		return;
	}
	ps->pending = false;
	arena_reset(&s->arena);
	if (pod_ruleset_compute(a->store, pod, &a->opts, &s->arena, &s->rs) < 0) {
		/* Out of memory: keep whatever the pod has now and try again later. */
		log_error("pod %s/%s: out of memory computing its ruleset", ps->ns, ps->name);
		pod_failed(a, ps, APPLY_FAIL_NETLINK, "out of memory computing its ruleset");
		return;
	}
	hash = nft_ruleset_hash(&s->rs);

	struct timespec c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &c0);
	a->pass_compute_us += mono_us() - t0;
	rc = cri_pod_netns(a->cri, ps->uid, netns, sizeof(netns), err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &c1);
	a->pass_cri_us += (c1.tv_sec - c0.tv_sec) * 1000000 + (c1.tv_nsec - c0.tv_nsec) / 1000;
	histogram_observe(&a->metrics.cri_latency, (double)(c1.tv_sec - c0.tv_sec) +
						       (double)(c1.tv_nsec - c0.tv_nsec) / 1e9);
	if (rc != 0 && rc != CRI_NOTFOUND)
		a->metrics.cri_errors++;
	if (rc != 0) {
		if (rc == CRI_NOTFOUND) {
			log_v(1, "pod %s/%s: no ready sandbox yet", ps->ns, ps->name);
			/* Our sockets would keep a removed sandbox's netns alive. */
			nft_applied_free(&ps->applied);
			ps->netns[0] = '\0';
		} else
			log_error("pod %s/%s: cannot find its network namespace: %s", ps->ns,
				  ps->name, err);
		pod_failed(a, ps, APPLY_FAIL_NETNS,
			   rc == CRI_NOTFOUND ? "no ready sandbox yet" : err);
		return;
	}
	if (cri_netns_identify(netns, &ns_id, err, sizeof(err)) < 0) {
		log_error("pod %s/%s: %s", ps->ns, ps->name, err);
		cri_forget(a->cri, ps->uid);
		/* The netns vanished: our sockets in it would keep it alive. */
		nft_applied_free(&ps->applied);
		ps->netns[0] = '\0';
		pod_failed(a, ps, APPLY_FAIL_NETNS, err);
		return;
	}
	if (strcmp(netns, ps->netns) == 0 &&
	    (ns_id.dev != ps->ns_id.dev || ns_id.ino != ps->ns_id.ino)) {
		/* The path now names another namespace: never write there before the runtime
		 * says again which one is the pod's. */
		log_info("pod %s/%s: %s is no longer the namespace looked up; asking the runtime "
			 "again",
			 ps->ns, ps->name, netns);
		cri_forget(a->cri, ps->uid);
		ps->netns[0] = '\0';
		pod_failed(a, ps, APPLY_FAIL_NETNS, "the network namespace changed under its path");
		return;
	}
	if (strcmp(netns, ps->netns) != 0) {
		/* A new sandbox (or the first look): what was applied elsewhere says nothing. */
		if (ps->netns[0])
			log_info("pod %s/%s: network namespace changed to %s", ps->ns, ps->name,
				 netns);
		nft_applied_reset(&ps->applied);
		snprintf(ps->netns, sizeof(ps->netns), "%s", netns);
		ps->ns_id = ns_id;
		ps->check_drift = true;
	}
	if (!ps->check_drift && ps->applied.hash == hash) {
		ps->failures = 0;
		return;
	}
	snprintf(s->netns, sizeof(s->netns), "%s", ps->netns);
	snprintf(s->uid, sizeof(s->uid), "%s", ps->uid);
	s->start_ms = now_ms();
	s->prep_us = mono_us() - t0;
	s->had_table = ps->applied.present;
	s->busy = true;
	s->job = (struct nft_job){.netns = s->netns,
				  .rs = &s->rs,
				  .hash = hash,
				  .check_drift = ps->check_drift,
				  .tag = s};
	ps->check_drift = false;
	lend_applied(ps, &s->job);
	nft_pool_submit(a->pool, &s->job);
}

/* A job back from the pool: the pod takes its applied state back, and the outcome is logged
 * and counted as one pod's apply always was. */
static void pod_synced(struct agent *a, struct nft_job *j)
{
	struct apply_slot *s = j->tag;
	struct pod_state *ps = pod_find(a, s->uid);
	const struct pod_ruleset *rs = &s->rs;

	s->busy = false;
	a->pass_kernel_us += j->us;
	if (!ps) {
		nft_applied_free(&j->applied);
		return;
	}
	ps->applied = j->applied;
	ps->in_flight = false;
	log_object("Pod", ps->ns, ps->name);
	if (j->drifted)
		log_info("pod %s/%s: table differs from what was applied; repairing", ps->ns,
			 ps->name);
	if (!j->wrote) {
		ps->failures = 0;
		goto out;
	}
	if (j->rc < 0) {
		log_error("pod %s/%s: applying its ruleset failed: %s", ps->ns, ps->name, j->err);
		/* The netns may be gone with a recreated sandbox: ask the runtime again. */
		cri_forget(a->cri, ps->uid);
		ps->netns[0] = '\0';
		pod_failed(a, ps, APPLY_FAIL_NETLINK, j->err);
		goto out;
	}
	ps->failures = 0;
	ps->retry_at = 0;
	ps->last_unix_ms = unix_ms();
	ps->last_us = s->prep_us + j->us;
	ps->last_error[0] = '\0';
	warn_if_held(ps, rs->nchains > 0);
	a->metrics.applies++;
	histogram_observe(&a->metrics.apply_latency, (double)ps->last_us / 1e6);
	if (rs->nchains > 0)
		log_info("policy applied to pod %s/%s: %u chains, %u rules, %u sets%s (%lld ms)",
			 ps->ns, ps->name, rs->nchains, ruleset_rules(rs), rs->nsets,
			 ps->applied.last_was_elements	? ", set elements only"
			 : ps->applied.last_was_adopted ? ", table already in place"
							: "",
			 (long long)(now_ms() - s->start_ms));
	else if (s->had_table)
		log_info("pod %s/%s: no policy targets it any more; table removed", ps->ns,
			 ps->name);
	else
		log_v(2, "pod %s/%s: no policy targets it", ps->ns, ps->name);
out:
	log_object(NULL, NULL, NULL);
}

/* Takes back every job the pool has finished, waiting up to timeout_ms for one. */
static void collect_synced(struct agent *a, int timeout_ms)
{
	struct nft_job *j = nft_pool_collect(a->pool, timeout_ms);
	for (; j; j = nft_pool_collect(a->pool, 0))
		pod_synced(a, j);
}

/* A free slot, waiting for a job to come back when all are out (serving probes meanwhile). */
static struct apply_slot *free_slot(struct agent *a)
{
	for (;;) {
		for (size_t i = 0; i < a->nslots; i++)
			if (!a->slots[i].busy)
				return &a->slots[i];
		collect_synced(a, SERVE_EVERY_MS);
		serve_while_busy(a);
	}
}

/* A node name that differs from the one kubelet registered (case, FQDN) matches no pod and
 * silently enforces nothing: say so once, naming the name used. The agent's own pod runs here,
 * so a cluster with pods but none on this node points at the name. */
static void warn_if_no_pod_here(const struct agent *a)
{
	uint32_t pods = 0;
	struct store_stats st;

	for (const struct store_ns *ns = store_ns_first(a->store); ns; ns = ns->next)
		for (const struct store_pod *p = ns->pods; p; p = p->ns_next) {
			if (strcmp(p->node, a->node) == 0)
				return;
			pods++;
		}
	/* The store keeps every pod of this node but not all the others: count what was listed. */
	store_get_stats(a->store, &st);
	pods = st.pods_listed > pods ? st.pods_listed : pods;
	if (pods)
		log_warn(
		    "first full sync: none of the cluster's %u pods is on node \"%s\"; if that "
		    "is not this node's name as kubelet registered it, set "
		    "--hostname-override or NODE_NAME",
		    pods, a->node);
}

/* Says once how tables are guarded, when the first apply has told. */
static void log_guard(struct agent *a)
{
	enum nft_guard g = nft_table_guard();
	if (g == a->guard_logged)
		return;
	a->guard_logged = g;
	if (g == NFT_GUARD_OWNER)
		log_info("pod tables are owned by the agent: processes in pods cannot change them");
	else if (g == NFT_GUARD_EVENTS)
		log_warn("nftables table ownership is not available (Linux < 6.9, or "
			 "MNP_NFT_OWNERSHIP=off): watching each pod's nftables events and "
			 "repairing changes");
}

/* A pod's event socket is readable: a table changed by someone else is rewritten now. */
static void pod_events(struct agent *a, struct pod_state *ps)
{
	enum nft_tamper t = nft_applied_tampered(&ps->applied);
	if (t == NFT_TAMPER_NONE)
		return;
	if (t == NFT_TAMPER_CHANGED)
		log_warn("pod %s/%s: its table was changed by another process; repairing", ps->ns,
			 ps->name);
	else /* the counts compared by a drift check miss a changed rule or set element */
		log_warn("pod %s/%s: nftables events were lost (receive buffer full); rewriting "
			 "its table",
			 ps->ns, ps->name);
	nft_applied_repair(&ps->applied);
	ps->pending = true;
	ps->retry_at = 0;
	schedule_pass(a, 0);
}

/* A pod's link events check its table at most this often: a pod making and deleting links in a
 * loop costs one check per interval, not one per event. */
#define LINK_CHECK_MS 50

/* A pod's link event socket is readable: a link made (or changed) in its netns may be stacked
 * on a policed interface, so its table is checked now (or once LINK_CHECK_MS has passed since
 * the last such check), not at the next resync. */
static void pod_links(struct agent *a, struct pod_state *ps)
{
	if (!nft_applied_links_changed(&ps->applied))
		return;
	int64_t now = now_ms();
	if (ps->links_check_at <= now) { /* none waiting: the next, LINK_CHECK_MS after the last */
		ps->links_check_at = ps->links_check_at + LINK_CHECK_MS > now
					 ? ps->links_check_at + LINK_CHECK_MS
					 : now;
		log_v(1, "pod %s/%s: its links changed; checking its table", ps->ns, ps->name);
	}
	ps->check_drift = true;
	ps->pending = true;
	ps->retry_at = ps->links_check_at > now ? ps->links_check_at : 0;
	schedule_pass(a, ps->links_check_at - now);
}

/* Reads a pending SIGTERM/SIGINT into a->stopping. */
static void take_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (!a->stopping && read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		a->stopping = (int)si.ssi_signo;
		log_info("signal %u: exiting; enforcement stays in place", si.ssi_signo);
	}
}

/* While a CRI call waits on the runtime or a pass goes on: answer probes and take signals, so
 * neither a stuck runtime nor a long pass holds them up. Non-zero once a signal asked the agent
 * to stop (the CRI call is abandoned, the pass ends). */
static int serve_while_busy(void *ctx)
{
	struct agent *a = ctx;
	struct pollfd pfds[1 + 3 * (HTTPD_MAX_CONNS + 1)];
	int n = 0, nhealth = 0, nmetrics = 0, ndebug = 0;
	int64_t now;

	pfds[n++] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
	if (a->health_on) {
		nhealth = httpd_pollfds(&a->health, pfds + n, HTTPD_MAX_CONNS + 1);
		n += nhealth;
	}
	if (a->metrics_on) {
		nmetrics = httpd_pollfds(&a->metrics_srv, pfds + n, HTTPD_MAX_CONNS + 1);
		n += nmetrics;
	}
	if (a->debug_on) {
		ndebug = httpd_pollfds(&a->debug_srv, pfds + n, HTTPD_MAX_CONNS + 1);
		n += ndebug;
	}
	if (poll(pfds, (nfds_t)n, 0) < 0)
		return a->stopping;
	if (pfds[0].revents)
		take_signal(a);
	now = now_ms();
	if (a->health_on)
		httpd_handle(&a->health, pfds + 1, nhealth, now);
	if (a->metrics_on)
		httpd_handle(&a->metrics_srv, pfds + 1 + nhealth, nmetrics, now);
	if (a->debug_on)
		httpd_handle(&a->debug_srv, pfds + 1 + nhealth + nmetrics, ndebug, now);
	return a->stopping;
}

static void run_pass(struct agent *a)
{
	int64_t now = now_ms(), served_at = now;
	uint64_t enforced = 0;

	a->apply_at = INT64_MAX;
	a->pass_compute_us = a->pass_cri_us = a->pass_kernel_us = 0;
	store_for_each_dirty(a->store, on_dirty, a);
	for (size_t i = 0; i < a->npods;) {
		struct pod_state *ps = &a->pods[i];
		size_t before = a->npods;
		if (a->drift_pass)
			ps->check_drift = true;
		if (now_ms() >= served_at + SERVE_EVERY_MS) {
			served_at = now_ms();
			serve_while_busy(a);
		}
		if (a->stopping)
			break;
		collect_synced(a, 0);
		if (ps->pending && ps->retry_at <= now && !ps->in_flight) {
			struct apply_slot *s = free_slot(a);
			log_object("Pod", ps->ns, ps->name);
			pod_sync(a, ps, s);
			log_object(NULL, NULL, NULL);
		}
		/* pod_sync may have removed this slot (the last one moved into it). */
		if (a->npods == before)
			i++;
	}
	while (nft_pool_out(a->pool) > 0) {
		collect_synced(a, SERVE_EVERY_MS);
		serve_while_busy(a);
	}
	for (size_t i = 1; i < a->nslots; i++)
		arena_free(&a->slots[i].arena); /* one pod's worth is kept between passes */
	a->drift_pass = false;
	a->metrics.pods_in_companion = 0;
	for (size_t i = 0; i < a->npods; i++) {
		if (a->pods[i].applied.present)
			enforced++;
		a->metrics.pods_in_companion +=
		    a->pods[i].applied.present && a->pods[i].applied.held != NFT_HELD_NONE;
		if (a->pods[i].pending && a->pods[i].retry_at && a->pods[i].retry_at < a->apply_at)
			a->apply_at = a->pods[i].retry_at;
	}
	a->metrics.pods_enforced = enforced;
	a->metrics.pods_pending = 0;
	for (size_t i = 0; i < a->npods; i++)
		a->metrics.pods_pending += a->pods[i].pending && a->pods[i].failures > 0;
	check_idle_policies(a);
	log_guard(a);
	if (!a->ready) {
		a->ready = true;
		log_info("first full sync done: %zu local pods, %llu enforced", a->npods,
			 (unsigned long long)enforced);
		log_v(1,
		      "first full sync: %lld ms computing, %lld ms asking the runtime, %lld ms "
		      "in the kernel on %u apply workers, %lld ms in all",
		      (long long)a->pass_compute_us / 1000, (long long)a->pass_cri_us / 1000,
		      (long long)a->pass_kernel_us / 1000, nft_pool_workers(a->pool),
		      (long long)(now_ms() - now));
		warn_if_no_pod_here(a);
	}
}

static void sandbox_changed(struct agent *a, struct pod_state *ps);

/* A sandbox the runtime recreated: the pod's table goes into the new one, even if the
 * pod's ruleset did not change. */
static int on_listed_sandbox(void *ctx, const struct cri_sandbox *sb)
{
	struct agent *a = ctx;
	struct pod_state *ps;

	if (!(ps = pod_find(a, sb->uid)))
		return 0;
	/* Another id than the last listing showed is a new sandbox even when a listing in
	 * between had none (the runtime's client then forgot the old one); a pod waiting out
	 * its backoff for want of a sandbox tries the first one listed at once. */
	bool other = ps->listed_sandbox[0] && strcmp(ps->listed_sandbox, sb->id) != 0;
	bool first = !ps->listed_sandbox[0] && ps->retry_at;
	snprintf(ps->listed_sandbox, sizeof(ps->listed_sandbox), "%s", sb->id);
	if (!sb->recreated && !other && !first)
		return 0;
	log_info("pod %s/%s: sandbox %s (%.13s); applying its table there", ps->ns, ps->name,
		 first ? "ready" : "recreated", sb->id);
	sandbox_changed(a, ps);
	return 0;
}

/* The runtime's event for a pod's sandbox: look its netns up again at once. */
static void on_sandbox_event(void *ctx, const struct cri_sandbox_event *ev)
{
	struct agent *a = ctx;
	struct pod_state *ps = pod_find(a, ev->sb.uid);

	if (!ps)
		return;
	log_info("pod %s/%s: runtime event: sandbox %.13s %s; looking up its network namespace",
		 ps->ns, ps->name, ev->sb.id,
		 ev->change == CRI_SANDBOX_READY ? "is ready" : "stopped or removed");
	if (ev->change == CRI_SANDBOX_READY) /* the next listing shows it: nothing new then */
		snprintf(ps->listed_sandbox, sizeof(ps->listed_sandbox), "%s", ev->sb.id);
	sandbox_changed(a, ps);
}

/* Less often while events arrive: the listing is then a backstop for events the runtime
 * dropped. */
static int64_t sandbox_check_period(const struct agent *a)
{
	return cri_events_live(a->cri) ? SANDBOX_CHECK_EVENTS_MS : SANDBOX_CHECK_MS;
}

static void sandbox_changed(struct agent *a, struct pod_state *ps)
{
	ps->netns[0] = '\0';
	ps->pending = true;
	ps->retry_at = 0;
	ps->failures = 0;
	schedule_pass(a, 0);
}

/* A cheap look at the runtime's sandbox ids between resyncs. */
static void check_sandboxes(struct agent *a)
{
	char err[256];

	a->sandbox_check_at = now_ms() + sandbox_check_period(a);
	if (cri_list_ready_sandboxes(a->cri, on_listed_sandbox, a, err, sizeof(err)) < 0)
		log_v(1, "checking for recreated sandboxes: %s", err);
}

static void resync(struct agent *a)
{
	char err[256];
	int n = cri_list_ready_sandboxes(a->cri, on_listed_sandbox, a, err, sizeof(err));

	if (n < 0)
		log_warn("periodic resync: listing sandboxes failed: %s", err);
	store_mark_all_dirty(a->store);
	a->drift_pass = true;
	a->metrics.last_full_sync = (int64_t)time(NULL);
	log_v(1, "periodic resync");
	schedule_pass(a, 0);
}

static int health_handler(void *ctx, const char *path, char *body, size_t cap)
{
	struct agent *a = ctx;

	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0) {
		snprintf(body, cap, "ok\n");
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		snprintf(body, cap, a->ready ? "ok\n" : "waiting for the first full sync\n");
		return a->ready ? 200 : 503;
	}
	snprintf(body, cap, "not found\n");
	return 404;
}

/* A policy that enforces nothing on this node, and why (logged once per change). */
struct idle_policy {
	char key[520]; /* "ns/name" */
	char reason[256];
};

static int idle_cmp(const void *x, const void *y)
{
	return strcmp(((const struct idle_policy *)x)->key, ((const struct idle_policy *)y)->key);
}

/* After the store changed: which policies enforce nothing here. A new or changed reason is
 * logged once; the count is a metric; /debug/pods lists them. */
static void check_idle_policies(struct agent *a)
{
	if (store_version(a->store) == a->idle_version)
		return;
	a->idle_version = store_version(a->store);
	struct idle_policy *now = NULL, cur;
	size_t n = 0, cap = 0;
	for (const struct store_ns *ns = store_ns_first(a->store); ns; ns = ns->next)
		for (const struct store_policy *p = ns->policies; p; p = p->ns_next) {
			if (!policy_idle_reason(a->store, &a->opts, p, cur.reason,
						sizeof(cur.reason)))
				continue;
			snprintf(cur.key, sizeof(cur.key), "%s/%s", p->ns, p->name);
			if (n == cap) {
				struct idle_policy *v =
				    realloc(now, (cap = cap ? 2 * cap : 16) * sizeof(*v));
				if (!v) {
					free(now);
					return;
				}
				now = v;
			}
			now[n++] = cur;
		}
	if (n)
		qsort(now, n, sizeof(*now), idle_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct idle_policy *was =
		    a->nidle ? bsearch(&now[i], a->idle, a->nidle, sizeof(*now), idle_cmp) : NULL;
		if (!was || strcmp(was->reason, now[i].reason))
			log_warn("policy %s enforces nothing on this node: %s", now[i].key,
				 now[i].reason);
	}
	free(a->idle);
	a->idle = now;
	a->nidle = n;
	a->metrics.policies_idle = n;
}

/* GET /debug/pods: per local pod, its interfaces with the policies selecting it per direction,
 * its ruleset hash, netns and last attempt; then the policies enforcing nothing here. */
static void debug_pods(struct agent *a, char *body, size_t cap)
{
	struct jsonw w = {.buf = body, .cap = cap};
	struct arena scratch = {0};
	char when[32];

	check_idle_policies(a);
	jsonw_raw(&w, "{");
	jsonw_field(&w, "node", a->node, true);
	jsonw_raw(&w, ",\"pods\":[");
	for (size_t i = 0; i < a->npods; i++) {
		const struct pod_state *ps = &a->pods[i];
		const struct store_pod *pod = store_pod_get(a->store, ps->ns, ps->name);
		struct pod_ruleset rs = {0};
		arena_reset(&scratch);
		if (pod && pod_ruleset_compute(a->store, pod, &a->opts, &scratch, &rs) < 0)
			memset(&rs, 0, sizeof(rs));
		jsonw_raw(&w, "%s{", i ? "," : "");
		jsonw_field(&w, "namespace", ps->ns, true);
		jsonw_field(&w, "name", ps->name, false);
		jsonw_field(&w, "uid", ps->uid, false);
		jsonw_field(&w, "netns", ps->netns[0] ? ps->netns : NULL, false);
		jsonw_raw(&w, ",\"table\":%s", ps->applied.present ? "true" : "false");
		jsonw_field(&w, "tableName",
			    ps->applied.present ? nft_applied_table(&ps->applied) : NULL, false);
		jsonw_raw(&w, ",\"rulesetHash\":\"%016llx\",\"interfaces\":[",
			  (unsigned long long)ps->applied.hash);
		for (uint32_t c = 0; c < rs.nchains; c++) {
			const struct ir_chain *ch = &rs.chains[c];
			jsonw_raw(&w, "%s{", c ? "," : "");
			jsonw_field(&w, "interface", ch->ifname, true);
			jsonw_field(&w, "network", ch->network, false);
			jsonw_field(&w, "direction", ch->dir == IR_INGRESS ? "ingress" : "egress",
				    false);
			jsonw_raw(&w, ",\"policies\":[");
			for (uint32_t k = 0; k < ch->npolicies; k++) {
				jsonw_raw(&w, "%s", k ? "," : "");
				jsonw_str(&w, ch->policies[k]);
			}
			jsonw_raw(&w, "],\"rules\":%u}", ch->nrules);
		}
		jsonw_raw(&w, "],\"lastAttempt\":");
		if (!ps->last_unix_ms) {
			jsonw_raw(&w, "null");
		} else {
			time_t t = (time_t)(ps->last_unix_ms / 1000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			jsonw_raw(&w,
				  "{\"time\":\"%s\",\"result\":\"%s\",\"durationMs\":%.3f,"
				  "\"failures\":%u,\"error\":",
				  when, ps->last_error[0] ? "failed" : "applied",
				  (double)ps->last_us / 1000.0, ps->failures);
			jsonw_str(&w, ps->last_error[0] ? ps->last_error : NULL);
			jsonw_raw(&w, "}");
		}
		jsonw_raw(&w, "}");
	}
	jsonw_raw(&w, "],\"policiesEnforcingNothing\":[");
	for (size_t i = 0; i < a->nidle; i++) {
		jsonw_raw(&w, "%s{", i ? "," : "");
		jsonw_field(&w, "policy", a->idle[i].key, true);
		jsonw_field(&w, "reason", a->idle[i].reason, false);
		jsonw_raw(&w, "}");
	}
	jsonw_raw(&w, "]}\n");
	arena_free(&scratch);
	if (w.full && cap > 64) /* still valid JSON, saying so */
		snprintf(body, cap, "{\"error\":\"the page is larger than %zu bytes\"}\n", cap);
}

static int debug_handler(void *ctx, const char *path, char *body, size_t cap)
{
	if (strcmp(path, "/debug/pods") == 0) {
		debug_pods(ctx, body, cap);
		return 200;
	}
	snprintf(body, cap, "not found; try /debug/pods\n");
	return 404;
}

/* The drop counters being written, one buffer per metric family (a family's samples stay
 * together): policy packets, policy bytes, guard packets, guard bytes; each line whole or
 * left out. */
enum { DROP_FAMILIES = 4 };
struct drop_out {
	char *buf[DROP_FAMILIES];
	size_t cap, len[DROP_FAMILIES];
	const struct pod_state *ps;
};

static void drop_append(struct drop_out *o, int fam, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void drop_append(struct drop_out *o, int fam, const char *fmt, ...)
{
	size_t room = o->cap - o->len[fam];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf[fam] + o->len[fam], room, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < room)
		o->len[fam] += (size_t)n;
	else
		o->buf[fam][o->len[fam]] = '\0';
}

static void drop_line(void *ctx, const char *chain, const struct nft_ifguard *guard,
		      uint64_t packets, uint64_t bytes)
{
	struct drop_out *o = ctx;
	const char *dash = strchr(chain, '-');
	/* chains are "<direction>-<interface>"; names are DNS labels and interface names were
	 * checked when decoded, so none holds a quote or a backslash */
	for (int k = 0; k < 2 && dash && !guard; k++)
		drop_append(o, k,
			    "mnp_%s_dropped_total{namespace=\"%s\",pod=\"%s\",interface=\"%s\","
			    "direction=\"%.*s\"} %llu\n",
			    k ? "bytes" : "packets", o->ps->ns, o->ps->name, dash + 1,
			    (int)(dash - chain), chain, (unsigned long long)(k ? bytes : packets));
	/* a guard sits in base chain "input" or "output"; its name was written by us */
	for (int k = 0; k < 2 && guard; k++)
		drop_append(
		    o, 2 + k,
		    "mnp_guard_%s_dropped_total{namespace=\"%s\",pod=\"%s\",interface=\"%s\","
		    "ifindex=\"%u\",direction=\"%s\"} %llu\n",
		    k ? "bytes" : "packets", o->ps->ns, o->ps->name, guard->ifname, guard->ifindex,
		    strcmp(chain, "input") == 0 ? "ingress" : "egress",
		    (unsigned long long)(k ? bytes : packets));
}

/* What each enforced pod's chains and interface guards dropped, read from the kernel at
 * scrape time: one rule dump per pod over its open netlink socket (no namespace switch).
 * Series go with their pod. */
static size_t format_drops(struct agent *a, char *buf, size_t cap)
{
	static const char *const head[DROP_FAMILIES] = {
	    "# HELP mnp_packets_dropped_total Packets the pod's policy dropped, per interface "
	    "and direction.\n# TYPE mnp_packets_dropped_total counter\n",
	    "# HELP mnp_bytes_dropped_total Bytes the pod's policy dropped, per interface and "
	    "direction.\n# TYPE mnp_bytes_dropped_total counter\n",
	    "# HELP mnp_guard_packets_dropped_total Packets dropped because they passed a policed "
	    "interface's index under another name (renamed in the pod).\n"
	    "# TYPE mnp_guard_packets_dropped_total counter\n",
	    "# HELP mnp_guard_bytes_dropped_total Bytes dropped because they passed a policed "
	    "interface's index under another name (renamed in the pod).\n"
	    "# TYPE mnp_guard_bytes_dropped_total counter\n"};
	struct drop_out o = {.buf = {buf}, .cap = cap};
	char err[256];
	size_t len = 0;
	for (int k = 1; k < DROP_FAMILIES; k++)
		if (!(o.buf[k] = malloc(cap)))
			goto out;
	if (cap < 1024)
		goto out;
	for (int k = 0; k < DROP_FAMILIES; k++) {
		o.len[k] = strlen(head[k]);
		memcpy(o.buf[k], head[k], o.len[k] + 1);
	}
	for (size_t i = 0; i < a->npods; i++) {
		o.ps = &a->pods[i];
		if (nft_read_counters(&a->pods[i].applied, drop_line, &o, err, sizeof(err)) < 0)
			log_v(1, "pod %s/%s: %s", o.ps->ns, o.ps->name, err);
	}
	len = o.len[0];
	for (int k = 1; k < DROP_FAMILIES && len + o.len[k] < cap; k++) {
		memcpy(buf + len, o.buf[k], o.len[k] + 1);
		len += o.len[k];
	}
out:
	for (int k = 1; k < DROP_FAMILIES; k++)
		free(o.buf[k]);
	if (len < cap)
		buf[len] = '\0';
	return len;
}

static int metrics_handler(void *ctx, const char *path, char *body, size_t cap)
{
	struct agent *a = ctx;

	if (strcmp(path, "/metrics") == 0) {
		int64_t now = kube_now_ms();
		for (int k = 0; k < KIND_COUNT; k++) {
			struct kube_reflector_stats st = {0};
			if (a->refl[k])
				kube_reflector_get_stats(a->refl[k], &st);
			a->metrics.watches[k] = st.lists + st.watches;
			a->metrics.watch_errors[k] = st.errors;
			a->metrics.rejected[k] = st.rejected;
			a->metrics.oversized[k] = st.oversized;
			a->metrics.watch_age[k] =
			    st.last_activity_ms ? (double)(now - st.last_activity_ms) / 1000.0 : -1;
		}
		size_t n = metrics_format(&a->metrics, body, cap);
		format_drops(a, body + n, cap - n);
		return 200;
	}
	return health_handler(ctx, path, body, cap);
}

/* An address flag left empty or set to "0" turns its server off. */
static bool address_set(const char *addr)
{
	return addr && *addr && strcmp(addr, "0") != 0;
}

static int start_servers(struct agent *a)
{
	const struct flags *f = a->flags;
	char err[256];

	if (address_set(f->health_probe_bind_address)) {
		if (httpd_listen(&a->health, f->health_probe_bind_address, health_handler, a, err,
				 sizeof(err)) < 0) {
			log_error("--health-probe-bind-address: %s", err);
			return -1;
		}
		a->health_on = true;
		log_info("serving /healthz and /readyz on %s", f->health_probe_bind_address);
	}
	if (address_set(f->metrics_bind_address)) {
		if (httpd_listen(&a->metrics_srv, f->metrics_bind_address, metrics_handler, a, err,
				 sizeof(err)) < 0) {
			log_error("--metrics-bind-address: %s", err);
			return -1;
		}
		a->metrics_on = true;
		log_info("serving /metrics on %s", f->metrics_bind_address);
	}
	if (address_set(f->debug_bind_address)) {
		/* a debug page that cannot listen (port taken) does not stop the agent */
		if (httpd_listen(&a->debug_srv, f->debug_bind_address, debug_handler, a, err,
				 sizeof(err)) < 0) {
			log_warn("--debug-bind-address: %s; /debug/pods is off", err);
		} else {
			a->debug_on = true;
			log_info("serving /debug/pods on %s", f->debug_bind_address);
		}
	}
	return 0;
}

/* DEL from the CNI plugin: the sandbox is going; close what holds its netns open. */
static void cni_release(void *ctx, const char *uid, const char *netns)
{
	struct agent *a = ctx;

	for (size_t i = 0; i < a->npods; i++) {
		struct pod_state *ps = &a->pods[i];
		if ((uid[0] && strcmp(ps->uid, uid) == 0) ||
		    (netns[0] && !strcmp(ps->netns, netns))) {
			nft_applied_free(&ps->applied);
			ps->netns[0] = '\0';
			cri_forget(a->cri, ps->uid);
		}
	}
}

/* ADD from the CNI plugin: the pod's table goes in through its own state, as pod_sync's would. */
static struct mnl_socket *cni_apply(void *ctx, const struct store_pod *pod, const char *netns,
				    const struct pod_ruleset *rs, char *err, size_t errlen)
{
	struct agent *a = ctx;
	struct pod_state *ps = pod_find(a, pod->uid);

	if (!ps && !(ps = pod_add(a, pod->uid, pod)))
		return snprintf(err, errlen, "out of memory"), NULL;
	if (strcmp(ps->netns, netns) != 0) {
		if (cri_netns_identify(netns, &ps->ns_id, err, errlen) < 0)
			return NULL;
		nft_applied_reset(&ps->applied);
		snprintf(ps->netns, sizeof(ps->netns), "%s", netns);
	}
	if (nft_apply(ps->netns, rs, &ps->applied, err, errlen) < 0)
		return NULL;
	warn_if_held(ps, rs->nchains > 0);
	ps->check_drift = false;
	return ps->applied.sock;
}

/* The CNI server waits for a pod the watch has not delivered yet: GET it by name (a few at
 * once; beyond that the plugin's fallback applies). */
static void cni_fetch(void *ctx, const char *ns, const char *name)
{
	struct agent *a = ctx;
	for (size_t i = 0; i < sizeof(a->fetch) / sizeof(a->fetch[0]); i++) {
		struct pod_fetch *f = &a->fetch[i];
		if (f->path[0])
			continue;
		snprintf(f->path, sizeof(f->path), "/api/v1/namespaces/%s/pods/%s", ns, name);
		kube_conn_init(&f->conn, a->kube, 4u << 20);
		f->deadline = kube_now_ms() + 2000;
		log_v(1, "cni: asking the API server for pod %s/%s", ns, name);
		if (kube_conn_get(&f->conn, f->path) < 0) {
			kube_conn_free(&f->conn);
			f->path[0] = '\0';
		}
		return;
	}
}

/* Progress on the pods asked for by name; an answer goes into the store like a watch event. */
static void fetch_handle(struct agent *a, const struct pollfd *pfds, int at, int n)
{
	for (size_t i = 0; i < sizeof(a->fetch) / sizeof(a->fetch[0]); i++) {
		struct pod_fetch *f = &a->fetch[i];
		short rev = 0;
		if (!f->path[0])
			continue;
		for (int k = at; k < n; k++)
			if (pfds[k].fd == kube_conn_fd(&f->conn))
				rev = pfds[k].revents;
		enum kube_conn_state st = kube_conn_handle(&f->conn, rev);
		while (st != KC_DONE && st != KC_FAILED && kube_conn_pending(&f->conn))
			st = kube_conn_handle(&f->conn, 0);
		if (st == KC_BODY)
			kube_conn_need_space(&f->conn);
		if (st != KC_DONE && st != KC_FAILED && kube_now_ms() < f->deadline)
			continue;
		size_t len = 0;
		const char *body = kube_conn_body(&f->conn, &len);
		if (st == KC_DONE && f->conn.status == 200 &&
		    store_upsert_json(a->store, KIND_POD, body, len) == 0) {
			log_info("cni: %s fetched from the API server ahead of the watch", f->path);
			schedule_pass(a, 0);
		} else {
			log_v(1, "cni: GET %s: %s", f->path,
			      st == KC_DONE ? "not found or not decodable" : kube_conn_error(&f->conn));
		}
		kube_conn_free(&f->conn);
		f->path[0] = '\0';
	}
}

static int start_cni_server(struct agent *a)
{
	struct cniserver_env env = {a->store,	   &a->opts,	&a->synced, a->flags->host_prefix,
				    cni_apply,	   cni_release, cni_fetch,  a};
	char err[256];

	a->cni.listen_fd = -1;
	if (!a->flags->cni_socket || !a->flags->cni_socket[0])
		return 0;
	if (cniserver_listen(&a->cni, a->flags->cni_socket, &env, err, sizeof(err)) < 0) {
		log_error("--cni-socket: %s", err);
		return -1;
	}
	log_info("answering the CNI plugin on %s", a->flags->cni_socket);
	return 0;
}

static int start_kube(struct agent *a)
{
	const struct flags *f = a->flags;
	struct kube_config cfg;
	char err[512];

	if (kube_config_load(&cfg, f->kubeconfig, NULL, err, sizeof(err)) < 0) {
		log_error("kubernetes configuration: %s", err);
		return -1;
	}
	if (f->insecure_skip_tls_verify)
		cfg.insecure = true; /* kube_client_new warns about it */
	log_info("API server %s (from %s)", cfg.server, cfg.source);
	a->kube = kube_client_new(&cfg, err, sizeof(err));
	if (!a->kube) {
		log_error("kubernetes client: %s", err);
		kube_config_free(&cfg);
		return -1;
	}
	static struct kube_sink sink;
	sink = (struct kube_sink){a, sink_object, sink_replace_begin, sink_replace_end};
	for (int k = 0; k < KIND_COUNT; k++) {
		a->refl[k] = kube_reflector_new(a->kube, (enum kube_kind)k, &sink, NULL);
		if (!a->refl[k]) {
			log_error("out of memory creating watches");
			return -1;
		}
	}
	return 0;
}

static int start_cri(struct agent *a)
{
	const struct flags *f = a->flags;
	struct cri_config cfg = {.endpoint = f->container_runtime_endpoint,
				 .host_prefix = f->host_prefix,
				 .hold_off_after_timeout = 1,
				 .on_wait = serve_while_busy,
				 .wait_ctx = a};
	struct cri_version v;
	char err[512];

	a->cri = cri_open(&cfg, err, sizeof(err));
	if (!a->cri) {
		log_error("--container-runtime-endpoint: %s", err);
		return -1;
	}
	if (cri_version(a->cri, &v, err, sizeof(err)) == 0)
		log_info("container runtime %s %s (CRI %s)", v.runtime_name, v.runtime_version,
			 v.runtime_api_version);
	else
		log_warn("container runtime not answering yet (%s); will retry per pod", err);
	return 0;
}

static int start_pool(struct agent *a)
{
	char err[256];
	unsigned n = nft_pool_size((unsigned)a->flags->apply_workers);

	a->pool = nft_pool_new(n, err, sizeof(err));
	if (!a->pool && n > 1) {
		/* Threads refused (a pids limit, say): pods are still programmed, one by one. */
		log_warn("apply workers: %s; applying one pod after another", err);
		a->pool = nft_pool_new(n = 1, err, sizeof(err));
	}
	a->nslots = 2 * (size_t)n;
	a->slots = calloc(a->nslots, sizeof(*a->slots));
	if (!a->pool || !a->slots) {
		log_error("apply workers: %s", a->pool ? "out of memory" : err);
		return -1;
	}
	log_v(1, "applying pods' tables on %u worker%s", n, n == 1 ? "" : "s");
	return 0;
}

static int open_signals(struct agent *a)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	a->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return a->sigfd < 0 ? -1 : 0;
}

static bool all_synced(const struct agent *a)
{
	for (int k = 0; k < KIND_COUNT; k++)
		if (!kube_reflector_synced(a->refl[k]))
			return false;
	return true;
}

#define MAX_POLLFDS (1 + KIND_COUNT + 3 * (HTTPD_MAX_CONNS + 1) + CNISRV_MAX_CONNS + 1 + 4 + 1)

/* Adds every pod's event sockets (nftables, links) to pfds from n, noting whose each is in
 * pfd_pod; returns the new count (-1: no memory). */
static int poll_pod_events(struct agent *a, int n)
{
	size_t need = (size_t)n + 2 * a->npods;
	if (need > a->pfds_cap) {
		struct pollfd *p = realloc(a->pfds, need * sizeof(*p));
		if (!p)
			return -1;
		a->pfds = p;
		size_t *w = realloc(a->pfd_pod, need * sizeof(*w));
		if (!w)
			return -1;
		a->pfd_pod = w;
		a->pfds_cap = need;
	}
	for (size_t i = 0; i < a->npods; i++) {
		int fd = nft_applied_event_fd(&a->pods[i].applied);
		int lfd = nft_applied_link_fd(&a->pods[i].applied);
		if (fd >= 0) {
			a->pfd_pod[n] = i;
			a->pfds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
		if (lfd >= 0) {
			a->pfd_pod[n] = i;
			a->pfds[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		}
	}
	return n;
}

/* The pods' sockets that poll found readable, each looked up through pfd_pod (one pass, not one
 * per pod). */
static void handle_pod_events(struct agent *a, const struct pollfd *pfds, int from, int n)
{
	for (int k = from; k < n; k++) {
		if (!pfds[k].revents || a->pfd_pod[k] >= a->npods)
			continue;
		struct pod_state *ps = &a->pods[a->pfd_pod[k]];
		if (pfds[k].fd == nft_applied_event_fd(&ps->applied))
			pod_events(a, ps);
		else if (pfds[k].fd == nft_applied_link_fd(&ps->applied))
			pod_links(a, ps);
	}
}

/* A server's descriptors go into the loop's pfds at *n (none when h is NULL: off), and its
 * next deadline into *deadline. Returns how many it added. */
static int poll_httpd(const struct httpd *h, struct pollfd *pfds, int *n, int64_t *deadline)
{
	if (!h)
		return 0;
	int k = httpd_pollfds(h, pfds + *n, MAX_POLLFDS - *n);
	*n += k;
	int64_t d = httpd_next_deadline(h);
	if (d < *deadline)
		*deadline = d;
	return k;
}

static int loop(struct agent *a)
{
	a->pfds_cap = MAX_POLLFDS;
	a->pfds = malloc(a->pfds_cap * sizeof(*a->pfds));
	a->pfd_pod = malloc(a->pfds_cap * sizeof(*a->pfd_pod));
	if (!a->pfds || !a->pfd_pod)
		return 1;
	for (;;) {
		struct pollfd *pfds = a->pfds;
		int n = 0, refl_at[KIND_COUNT], health_at = 0, nhealth = 0, metrics_at = 0,
		    nmetrics = 0, debug_at = 0, ndebug = 0, events_at, cni_at, ncni, fetch_at,
		    cri_at = -1, cri_wait = cri_events_timeout_ms(a->cri);
		int64_t deadline = a->resync_at, now;

		pfds[n++] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
		for (int k = 0; k < KIND_COUNT; k++) {
			int fd = kube_reflector_fd(a->refl[k]);
			int64_t d = kube_reflector_deadline(a->refl[k]);
			refl_at[k] = -1;
			if (fd >= 0) {
				refl_at[k] = n;
				pfds[n++] = (struct pollfd){
				    .fd = fd, .events = kube_reflector_events(a->refl[k])};
			}
			if (d < deadline)
				deadline = d;
		}
		health_at = n;
		nhealth = poll_httpd(a->health_on ? &a->health : NULL, pfds, &n, &deadline);
		metrics_at = n;
		nmetrics = poll_httpd(a->metrics_on ? &a->metrics_srv : NULL, pfds, &n, &deadline);
		debug_at = n;
		ndebug = poll_httpd(a->debug_on ? &a->debug_srv : NULL, pfds, &n, &deadline);
		if (a->synced && a->apply_at < deadline)
			deadline = a->apply_at;
		if (a->synced && a->sandbox_check_at < deadline)
			deadline = a->sandbox_check_at;
		cni_at = n;
		ncni = cniserver_pollfds(&a->cni, pfds + n, MAX_POLLFDS - n);
		n += ncni;
		fetch_at = n;
		for (size_t i = 0; i < sizeof(a->fetch) / sizeof(a->fetch[0]); i++) {
			struct pod_fetch *f = &a->fetch[i];
			if (!f->path[0])
				continue;
			int64_t d = kube_conn_pending(&f->conn) ? 0 : kube_conn_deadline(&f->conn);
			deadline = d < deadline ? d : deadline;
			deadline = f->deadline < deadline ? f->deadline : deadline;
			if (kube_conn_fd(&f->conn) >= 0)
				pfds[n++] = (struct pollfd){.fd = kube_conn_fd(&f->conn),
							    .events = kube_conn_events(&f->conn)};
		}
		if (cri_events_fd(a->cri) >= 0) {
			cri_at = n;
			pfds[n++] = (struct pollfd){.fd = cri_events_fd(a->cri),
						    .events = cri_events_poll_events(a->cri)};
		}
		if (cri_wait >= 0 && now_ms() + cri_wait < deadline)
			deadline = now_ms() + cri_wait;
		events_at = n;
		n = poll_pod_events(a, n);
		if (n < 0) {
			log_error("out of memory");
			return 1;
		}
		pfds = a->pfds;

		now = now_ms();
		if (cniserver_next_deadline(&a->cni, now) < deadline)
			deadline = cniserver_next_deadline(&a->cni, now);
		int timeout =
		    deadline <= now ? 0 : (deadline - now > 60000 ? 60000 : (int)(deadline - now));
		if (poll(pfds, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		if (pfds[0].revents)
			take_signal(a);
		if (a->stopping)
			return 0;
		now = now_ms();
		for (int k = 0; k < KIND_COUNT; k++) {
			short rev = refl_at[k] >= 0 ? pfds[refl_at[k]].revents : 0;
			if (rev || kube_reflector_deadline(a->refl[k]) <= now)
				kube_reflector_handle(a->refl[k], rev);
		}
		if (a->health_on)
			httpd_handle(&a->health, pfds + health_at, nhealth, now);
		if (a->metrics_on)
			httpd_handle(&a->metrics_srv, pfds + metrics_at, nmetrics, now);
		if (a->debug_on)
			httpd_handle(&a->debug_srv, pfds + debug_at, ndebug, now);
		handle_pod_events(a, pfds, events_at, n);
		if ((cri_at >= 0 && pfds[cri_at].revents) || cri_events_timeout_ms(a->cri) == 0) {
			/* Events may have been missed: list the sandboxes now. */
			if (cri_events_handle(a->cri, cri_at >= 0 ? pfds[cri_at].revents : 0,
					      on_sandbox_event, a))
				a->sandbox_check_at = now_ms();
		}

		if (!a->synced && all_synced(a)) {
			a->synced = true;
			log_info("watches synced; computing every local pod");
			a->sandbox_check_at = now_ms() + SANDBOX_CHECK_MS;
			store_mark_all_dirty(a->store);
			a->drift_pass = true;
			a->metrics.last_full_sync = (int64_t)time(NULL);
			schedule_pass(a, 0);
		}
		now = now_ms();
		if (a->synced && now >= a->resync_at) {
			a->resync_at = now + (int64_t)a->flags->resync_period_s * 1000;
			resync(a);
		}
		if (a->synced && now_ms() >= a->sandbox_check_at)
			check_sandboxes(a);
		cniserver_handle(&a->cni, pfds + cni_at, ncni, now_ms());
		fetch_handle(a, pfds, fetch_at, events_at);
		if (a->synced && now_ms() >= a->apply_at)
			run_pass(a);
		if (a->stopping)
			return 0;
	}
}

int agent_run(const struct flags *f)
{
	static struct agent a;
	char err[512];
	int rc = 1;

	a.flags = f;
	a.sigfd = -1;
	a.apply_at = INT64_MAX;
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	if (agent_node_name(f->hostname_override, a.node, sizeof(a.node)) < 0) {
		log_error("cannot tell this node's name: set --hostname-override or NODE_NAME");
		return 1;
	}
	log_info("multi-networkpolicy-nftables %s starting on node %s", VERSION, a.node);
	if (policy_opts_init(&a.opts, f, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	a.store = store_new(a.node);
	if (!a.store) {
		log_error("out of memory");
		goto out;
	}
	a.store_sink = store_sink(a.store);
	if (start_pool(&a) < 0)
		goto out;
	if (open_signals(&a) < 0) {
		log_error("signals: %s", strerror(errno));
		goto out;
	}
	if (start_servers(&a) < 0 || start_cri(&a) < 0 || start_kube(&a) < 0 ||
	    start_cni_server(&a) < 0)
		goto out;
	a.resync_at = now_ms() + (int64_t)f->resync_period_s * 1000;
	rc = a.stopping ? 0 : loop(&a);
out:
	/* Exit fast: the kernel keeps every table; memory goes with the process. */
	return rc;
}
