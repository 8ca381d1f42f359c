#include "agent/cniserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nft/apply.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

#define READ_TIMEOUT_MS 2000
#define WAIT_POLL_MS 20	 /* a waiting request is retried at least this often */
#define FETCH_AFTER_MS 200 /* then the pod is asked for by name, once */

static void conn_close(struct cniserver_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->waiting = false;
}

static void make_parent(const char *path)
{
	char dir[CNI_SOCK_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700); /* one level, as /run/multi-networkpolicy-nftables */
	}
}

int cniserver_listen(struct cniserver *s, const char *path, const struct cniserver_env *env,
		     char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	for (int i = 0; i < CNISRV_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	s->env = *env;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path %s is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	make_parent(path);
	unlink(path); /* a socket left by an earlier run */
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(s->listen_fd, CNISRV_MAX_CONNS) < 0) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		s->listen_fd = -1;
		return -1;
	}
	return 0;
}

int cniserver_pollfds(const struct cniserver *s, struct pollfd *pfds, int max)
{
	int n = 0;

	if (s->listen_fd < 0)
		return 0;
	if (n < max)
		pfds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (int i = 0; i < CNISRV_MAX_CONNS && n < max; i++)
		if (s->conns[i].fd >= 0 && !s->conns[i].waiting)
			pfds[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
	return n;
}

static void send_reply(struct cniserver *s, struct cniserver_conn *c)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	char line[1024];
	int n = cni_reply_format(&c->reply, line, sizeof(line));
	const char *p = line;
	int fl = fcntl(c->fd, F_GETFL);

	/* A reply is one short line: a blocking send with a timeout keeps the loop simple. */
	fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (n > 0) {
		ssize_t w = send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		p += w;
		n -= (int)w;
	}
	log_v(1, "cni %s %s/%s %s answered in %lld ms: %s", c->req.command, c->req.pod_ns,
	      c->req.pod_name, c->req.ifname, (long long)(mono_ms() - c->accepted_ms), line);
	conn_close(c);
}

static bool reply(struct cni_reply *r, enum cni_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool reply(struct cni_reply *r, enum cni_status st, const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return true;
}

/* Whether the pod's networks annotation gives some entry the interface name ifname, as Multus
 * names it: "@ifname"/"interface", else net<N> by position. */
static bool nets_name(const struct store_pod *pod, const char *ifname)
{
	char def[16];

	for (uint32_t i = 0; i < pod->nnets; i++) {
		snprintf(def, sizeof(def), "net%u", i + 1);
		if (!pod->nets[i].bad &&
		    strcmp(pod->nets[i].ifname ? pod->nets[i].ifname : def, ifname) == 0)
			return true;
	}
	for (uint32_t i = 0; i < pod->nstatus; i++)
		if (pod->status[i].ifname && strcmp(pod->status[i].ifname, ifname) == 0)
			return true;
	return false;
}

/* The request's network (the conflist name) is one of the pod's networks. */
static bool nets_has_network(const struct store_pod *pod, const char *network)
{
	for (uint32_t i = 0; i < pod->nnets; i++) {
		const char *slash = strchr(pod->nets[i].network, '/');
		if (strcmp(slash ? slash + 1 : pod->nets[i].network, network) == 0)
			return true;
	}
	return false;
}

/* The local pod of the request, or NULL (with the reply to give if it never shows up). */
static const struct store_pod *request_pod(struct cniserver *s, const struct cni_request *q,
					   struct cni_reply *r)
{
	const struct store_pod *pod;

	if (!*s->env.synced) {
		reply(r, CNI_ST_UNAVAILABLE, "the agent has not finished its first sync");
		return NULL;
	}
	pod = store_pod_get(s->env.store, q->pod_ns, q->pod_name);
	if (!pod || (q->pod_uid[0] && strcmp(pod->uid, q->pod_uid) != 0)) {
		reply(r, CNI_ST_UNAVAILABLE, "unknown pod %s/%s (uid %s) in the agent's cache",
		      q->pod_ns, q->pod_name, q->pod_uid[0] ? q->pod_uid : "not given");
		return NULL;
	}
	return pod;
}

/* Returns true when r holds the answer, false to be retried (r holds the answer on timeout). */
static bool serve_add(struct cniserver *s, const struct cni_request *q, struct cni_reply *r,
		      bool check)
{
	const struct store_pod *pod = request_pod(s, q, r);
	char netns[CNI_PATH_MAX + 256], err[512];
	struct pod_ruleset rs;
	struct mnl_socket *sock;
	bool covered = false, present = false;

	if (!pod)
		return false;
	if (pod->host_network || pod->terminated)
		return reply(r, CNI_ST_NONE, "pod has no secondary interfaces to police");
	if (!pod->local)
		return reply(r, CNI_ST_ERROR,
			     "pod %s/%s is on node \"%s\", this agent serves \"%s\"", pod->ns,
			     pod->name, pod->node, store_node_name(s->env.store));
	arena_reset(&s->arena);
	if (pod_ruleset_compute(s->env.store, pod, s->env.opts, &s->arena, &rs) < 0)
		return reply(r, CNI_ST_ERROR, "out of memory computing the ruleset");
	if (rs.nchains == 0)
		return reply(r, CNI_ST_NONE, "no policy selects the pod");
	for (uint32_t i = 0; i < rs.nchains; i++)
		covered |= strcmp(rs.chains[i].ifname, q->ifname) == 0;
	/* Interfaces are named from the annotation until network-status exists: a name it does
	 * not give on one of its networks cannot be told apart, so the plugin isolates it. */
	if (!covered && !nets_name(pod, q->ifname) && nets_has_network(pod, q->network))
		return reply(r, CNI_ST_ERROR,
			     "interface %s is not named by the pod's networks annotation",
			     q->ifname);
	snprintf(netns, sizeof(netns), "%s%s", s->env.host_prefix, q->netns);
	if (check) {
		if (nft_table_present(netns, NULL, &present, NULL, err, sizeof(err)) < 0)
			return reply(r, CNI_ST_ERROR, "%s", err);
		return present
			   ? reply(r, CNI_ST_APPLIED, "table present")
			   : reply(r, CNI_ST_ERROR, "table inet %s (or a companion) missing in %s",
				   RULESET_TABLE, netns);
	}
	sock = s->env.apply(s->env.ctx, pod, netns, &rs, err, sizeof(err));
	if (!sock)
		return reply(r, CNI_ST_ERROR, "%s", err);
	/* On the apply's socket: a socket of its own would cost a close (~10 ms) before the reply.
	 */
	if (cni_conntrack_forget(netns, sock, q->ips, q->nips, err, sizeof(err)) < 0)
		log_warn("cni: pod %s/%s: %s", pod->ns, pod->name, err);
	log_info("cni: policy applied to pod %s/%s at %s ADD: %u chains", pod->ns, pod->name,
		 q->ifname, rs.nchains);
	return reply(r, CNI_ST_APPLIED, "%u chains committed", rs.nchains);
}

static bool serve(struct cniserver *s, struct cniserver_conn *c)
{
	const struct cni_request *q = &c->req;
	char netns[CNI_PATH_MAX + 256];

	if (strcmp(q->command, "DEL") == 0) {
		snprintf(netns, sizeof(netns), "%s%s", q->netns[0] ? s->env.host_prefix : "",
			 q->netns);
		s->env.release(s->env.ctx, q->pod_uid, netns);
		return reply(&c->reply, CNI_ST_RELEASED, "released");
	}
	return serve_add(s, q, &c->reply, strcmp(q->command, "CHECK") == 0);
}

/* A complete line is in the buffer: parse it and answer, or start waiting. */
static void conn_request(struct cniserver *s, struct cniserver_conn *c, int64_t now_ms)
{
	char err[256];
	char *nl = memchr(c->buf, '\n', c->len);

	if (cni_request_parse(&c->req, c->buf, (size_t)(nl - c->buf), err, sizeof(err)) < 0) {
		log_warn("cni socket: %s", err);
		reply(&c->reply, CNI_ST_ERROR, "%s", err);
		send_reply(s, c);
		return;
	}
	/* Answer before the plugin gives up, so that it can still apply its fallback. */
	c->deadline_ms = now_ms + (int64_t)c->req.timeout_ms * 3 / 4;
	if (serve(s, c)) {
		send_reply(s, c);
	} else {
		c->waiting = true;
		c->fetched = false;
		c->waiting_since = now_ms;
	}
}

static void conn_read(struct cniserver *s, struct cniserver_conn *c, int64_t now_ms)
{
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)r;
	if (memchr(c->buf, '\n', c->len)) {
		conn_request(s, c, now_ms);
	} else if (c->len == sizeof(c->buf)) {
		reply(&c->reply, CNI_ST_ERROR, "request longer than %zu bytes", sizeof(c->buf));
		send_reply(s, c);
	}
}

static void accept_conn(struct cniserver *s, int64_t now_ms)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < CNISRV_MAX_CONNS; i++) {
		struct cniserver_conn *c = &s->conns[i];
		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->len = 0;
		c->waiting = false;
		c->deadline_ms = now_ms + READ_TIMEOUT_MS;
		c->accepted_ms = mono_ms();
		return;
	}
	close(fd); /* every slot busy: the plugin falls back */
}

void cniserver_handle(struct cniserver *s, const struct pollfd *pfds, int n, int64_t now_ms)
{
	if (s->listen_fd < 0)
		return;
	for (int k = 0; k < n; k++) {
		if (!pfds[k].revents)
			continue;
		if (pfds[k].fd == s->listen_fd) {
			accept_conn(s, now_ms);
			continue;
		}
		for (int i = 0; i < CNISRV_MAX_CONNS; i++)
			if (s->conns[i].fd == pfds[k].fd && !s->conns[i].waiting) {
				conn_read(s, &s->conns[i], now_ms);
				break;
			}
	}
	for (int i = 0; i < CNISRV_MAX_CONNS; i++) {
		struct cniserver_conn *c = &s->conns[i];
		if (c->fd < 0)
			continue;
		if (c->waiting && serve(s, c)) {
			send_reply(s, c);
			continue;
		}
		if (c->waiting && !c->fetched && *s->env.synced && s->env.fetch &&
		    now_ms >= c->waiting_since + FETCH_AFTER_MS) {
			c->fetched = true;
			s->env.fetch(s->env.ctx, c->req.pod_ns, c->req.pod_name);
		}
		if (now_ms >= c->deadline_ms && c->waiting)
			send_reply(s, c); /* with the reason it is still waiting */
		else if (now_ms >= c->deadline_ms)
			conn_close(c);
	}
}

int64_t cniserver_next_deadline(const struct cniserver *s, int64_t now_ms)
{
	int64_t d = INT64_MAX;

	for (int i = 0; i < CNISRV_MAX_CONNS && s->listen_fd >= 0; i++) {
		const struct cniserver_conn *c = &s->conns[i];
		int64_t at = c->deadline_ms;
		if (c->fd < 0)
			continue;
		if (c->waiting && now_ms + WAIT_POLL_MS < at)
			at = now_ms + WAIT_POLL_MS; /* also brings the fetch moment */
		if (at < d)
			d = at;
	}
	return d;
}

void cniserver_close(struct cniserver *s)
{
	for (int i = 0; i < CNISRV_MAX_CONNS; i++)
		conn_close(&s->conns[i]);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	s->listen_fd = -1;
	arena_free(&s->arena);
}
