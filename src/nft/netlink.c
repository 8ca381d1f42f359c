#include "nft/apply.h"

#include <netinet/in.h> /* before the kernel headers, which then skip their copies */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "nft/acks.h"
#include "nft/batch.h"
#include "nft/layout.h"
#include "nft/links.h"
#include "util/err.h"

#define ANSWER_BUF 32768       /* every read of a netlink answer uses this size */
#define EVENT_RCVBUF (4 << 20) /* a full table's events (one per set element) fit in it */

/* Table flags (linux/netfilter/nf_tables.h of 6.9; older headers lack PERSIST). */
enum { TABLE_F_OWNER = 0x2, TABLE_F_PERSIST = 0x4 };

/* ---- guarding the table ------------------------------------------------------------------ */

/* Apply workers share it: read and learned atomically; the environment is read once. */
static int guard = NFT_GUARD_UNKNOWN;
static pthread_once_t guard_env_once = PTHREAD_ONCE_INIT;
/* MNP_NFT_OWNERSHIP=unknown-flag (tests): ask for a flag no kernel has, as a kernel before
 * 6.9 sees PERSIST, so that the refusal and the switch to events can be tested here. */
static uint32_t extra_flag;

static void guard_read_env(void)
{
	const char *v = getenv("MNP_NFT_OWNERSHIP");
	if (v && strcmp(v, "off") == 0)
		__atomic_store_n(&guard, NFT_GUARD_EVENTS, __ATOMIC_RELEASE);
	else if (v && strcmp(v, "unknown-flag") == 0)
		extra_flag = 0x40000000;
}

enum nft_guard nft_table_guard(void)
{
	pthread_once(&guard_env_once, guard_read_env);
	return (enum nft_guard)__atomic_load_n(&guard, __ATOMIC_ACQUIRE);
}

/* What the kernel told (the first answer wins: it tells every thread the same); returns the
 * guard now in force. */
static enum nft_guard guard_learn(enum nft_guard g)
{
	int want = NFT_GUARD_UNKNOWN;
	nft_table_guard();
	__atomic_compare_exchange_n(&guard, &want, (int)g, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	return nft_table_guard();
}

/* The flags a table is created with: owned by the creating socket, kept when it closes. */
static uint32_t table_flags(void)
{
	if (nft_table_guard() == NFT_GUARD_EVENTS)
		return 0;
	return TABLE_F_OWNER | TABLE_F_PERSIST | extra_flag;
}

/* ---- hashing ---------------------------------------------------------------------------- */

/* 64-bit words mixed into the state: fast over thousands of address ranges, and stable across
 * runs (the hash is stored in the table for a restarted agent). Not cryptographic. */
static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;
	h = mix(h, n);
	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = mix(h, w);
	}
	w = 0;
	if (n)
		memcpy(&w, b, n);
	return mix(h, w);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return s ? hash_bytes(h, s, strlen(s) + 1) : hash_bytes(h, "\xff", 1);
}

static uint64_t hash_u32(uint64_t h, uint32_t v)
{
	return mix(h, v);
}

static uint64_t hash_shape(const struct pod_ruleset *rs)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = hash_u32(h, rs->nsets);
	for (uint32_t i = 0; i < rs->nsets; i++) {
		h = hash_str(h, rs->sets[i].name);
		h = hash_u32(h, rs->sets[i].family);
	}
	h = hash_u32(h, rs->nchains);
	for (uint32_t c = 0; c < rs->nchains; c++) {
		const struct ir_chain *ch = &rs->chains[c];
		h = hash_str(h, ch->name);
		h = hash_str(h, ch->ifname);
		h = hash_u32(h, ch->dir);
		h = hash_u32(h, ch->nrules);
		for (uint32_t i = 0; i < ch->nrules; i++) {
			const struct ir_rule *r = &ch->rules[i];
			h = hash_u32(h, r->kind);
			if (r->kind == IR_RULE_NDP)
				h = hash_u32(h, r->icmpv6_types);
			if (r->kind != IR_RULE_MATCH)
				continue;
			uint32_t v[] = {r->family,	r->addr_match, r->addr_is_dst,
					r->addr_set,	r->prefix_len, r->l4proto,
					r->port_is_src, r->nports,     r->verdict,
					r->counter};
			h = hash_bytes(h, v, sizeof v);
			if (r->addr_match == IR_ADDR_PREFIX)
				h = hash_bytes(h, r->prefix, sizeof r->prefix);
			h = hash_bytes(h, r->ports, r->nports * sizeof *r->ports);
			h = hash_str(h, r->comment);
		}
	}
	return h;
}

static uint64_t hash_set_contents(uint64_t h, const struct ir_addr_set *s)
{
	h = hash_u32(h, s->n);
	return hash_bytes(h, s->ranges, (size_t)s->n * sizeof *s->ranges);
}

static uint64_t hash_with_contents(uint64_t shape, const struct pod_ruleset *rs)
{
	uint64_t h = shape;
	for (uint32_t i = 0; i < rs->nsets; i++)
		h = hash_set_contents(h, &rs->sets[i]);
	/* Exempt names decide which links are children: a change asks for an apply, which
	 * rewrites the table only if the children change (none: the hash is as before). */
	for (uint32_t i = 0; i < rs->nexempt; i++)
		h = hash_str(h, rs->exempt[i]);
	/* A final avalanche (murmur3's) so that every input bit reaches every output bit. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h ? h : 1;
}

uint64_t nft_ruleset_hash(const struct pod_ruleset *rs)
{
	return hash_with_contents(hash_shape(rs), rs);
}

/* ---- the network namespace ------------------------------------------------------------- */

/* Opens a netlink socket of protocol proto that lives in the netns at path; the calling thread's
 * own netns is restored before returning, whatever happened. */
static struct mnl_socket *socket_in_netns(const char *path, struct stat *ns, int proto,
					  unsigned groups, char *err, size_t errlen)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		errf(err, errlen, "open own netns: %s", strerror(errno));
		return NULL;
	}
	int target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		errf(err, errlen, "open netns %s: %s", path, strerror(errno));
		close(self);
		return NULL;
	}
	struct mnl_socket *nl = NULL;
	if (ns && fstat(target, ns) < 0) {
		errf(err, errlen, "stat netns %s: %s", path, strerror(errno));
		goto out;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		errf(err, errlen, "setns %s: %s", path, strerror(errno));
		goto out;
	}
	nl = mnl_socket_open2(proto, SOCK_CLOEXEC);
	if (!nl)
		errf(err, errlen, "netlink socket in %s: %s", path, strerror(errno));
	else if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		errf(err, errlen, "netlink bind in %s: %s", path, strerror(errno));
		mnl_socket_close(nl);
		nl = NULL;
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Cannot happen for a namespace we were in; never go on in the wrong one. */
		errf(err, errlen, "restoring own netns: %s", strerror(errno));
		abort();
	}
out:
	close(target);
	close(self);
	if (nl) {
		int one = 1, fd = mnl_socket_get_fd(nl), rcv = EVENT_RCVBUF;
		setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
		setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
		if (groups && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	}
	return nl;
}

int nft_ack_rcvbuf_for_tests;

/* Sends the batch and reads the answers: every message must be ACKed; an error for any message
 * (or for the commit, at the batch begin) fails it; the batch end's ACK confirms the commit. */
static int batch_talk(struct mnl_socket *nl, struct batch *b, int *kerr, uint32_t *kseq, char *err,
		      size_t errlen)
{
	int fd = mnl_socket_get_fd(nl);
	/* One ACK per message, each charged its skb's true size (hundreds of bytes), not its 36. */
	int sz = (int)b->len + 4096, rsz = (int)b->nmsgs * 1024 + 65536;
	if (nft_ack_rcvbuf_for_tests > 0)
		rsz = nft_ack_rcvbuf_for_tests;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rsz, sizeof rsz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rsz, sizeof rsz);
	char buf[ANSWER_BUF] __attribute__((aligned(8)));
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		; /* drop what an earlier failed batch left unread */
	if (mnl_socket_sendto(nl, b->buf, b->len) < 0) {
		errf(err, errlen, "sending batch of %u messages: %s", b->nmsgs, strerror(errno));
		return -2;
	}
	struct nft_acks acks = {0};
	while (!acks.end_acked && !acks.error) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		/* nfnetlink answers within sendmsg, so every answer is queued by now (a lost one
		 * shows as ENOBUFS): nothing left, no error and no end ACK is a kernel that does
		 * not acknowledge batch ends, and the batch was committed. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			errf(err, errlen, "reading the batch's answers: %s", strerror(errno));
			return -2;
		}
		if (nft_acks_read(buf, (size_t)n, b->seq0, b->nmsgs, &acks) < 0) {
			errf(err, errlen, "malformed netlink answer (%zd bytes)", n);
			return -2;
		}
	}
	if (acks.error) {
		char what[NFT_NAME_MAX + 64];
		*kerr = acks.error, *kseq = acks.error_seq;
		batch_describe(b, acks.error_seq, what, sizeof what);
		errf(err, errlen, "%s: %s%s%s", what, strerror(acks.error), acks.msg[0] ? ": " : "",
		     acks.msg);
		return -1;
	}
	if (acks.acked != b->nmsgs) {
		errf(err, errlen, "batch: %u of %u messages acknowledged", acks.acked, b->nmsgs);
		return -2;
	}
	return 0;
}

/* Sends b on st's socket. *table_err gets the errno the kernel gave for a table message (0
 * for none): EOPNOTSUPP or EINVAL are flags it does not know, EPERM another socket's table. */
static int run_batch(struct nft_applied *st, struct batch *b, int *table_err, char *err,
		     size_t errlen)
{
	int kerr = 0;
	uint32_t kseq = 0;
	if (table_err)
		*table_err = 0;
	if (b->failed || batch_finish(b) < 0) {
		errf(err, errlen, "building batch: %s", strerror(b->failed ? b->failed : ENOMEM));
		return -1;
	}
	st->seq = b->seq0 + b->nmsgs + 2;
	int rc = batch_talk(st->sock, b, &kerr, &kseq, err, errlen);
	if (rc == -2) {
		/* The socket is in doubt (the next apply opens a fresh one), and so is the batch:
		 * committed or not, what was applied is unknown, so the table is rewritten. */
		mnl_socket_close(st->sock);
		st->sock = NULL;
		st->owned = false;
		nft_applied_repair(st);
	}
	if (table_err && kerr && batch_is_table_msg(b, kseq))
		*table_err = kerr;
	return rc < 0 ? -1 : 0;
}

/* A netns that is not the one the table's name was chosen in. */
static void forget_table(struct nft_applied *st)
{
	st->table[0] = '\0';
	st->held = NFT_HELD_NONE;
	free(st->ifguards);
	st->ifguards = NULL;
	st->nifguards = 0;
	free(st->exempt);
	st->exempt = NULL;
	st->nexempt = 0;
}

static void close_link_events(struct nft_applied *st)
{
	if (st->link_events)
		mnl_socket_close(st->link_events);
	st->link_events = NULL;
}

static void close_sockets(struct nft_applied *st)
{
	if (st->sock)
		mnl_socket_close(st->sock);
	if (st->events)
		mnl_socket_close(st->events);
	st->sock = st->events = NULL;
	st->owned = false;
	close_link_events(st);
}

/* Opens st's event socket (tables are not owned here) in the netns at path. */
static int ensure_events(struct nft_applied *st, const char *path, char *err, size_t errlen)
{
	if (st->events || nft_table_guard() != NFT_GUARD_EVENTS)
		return 0;
	st->events = socket_in_netns(path, NULL, NETLINK_NETFILTER, 1u << (NFNLGRP_NFTABLES - 1),
				     err, errlen);
	return st->events ? 0 : -1;
}

/* Makes st->sock a socket in the netns now at path; a different netns than before (sandbox
 * recreated) holds nothing we applied, so the state is reset. */
static int ensure_socket(struct nft_applied *st, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		int e = errno;
		if (e == ENOENT)
			close_sockets(st); /* the netns is gone: do not keep it alive */
		errf(err, errlen, "netns %s: %s", path, strerror(e));
		return -1;
	}
	if (st->sock && st->ns_dev == sb.st_dev && st->ns_ino == sb.st_ino)
		return ensure_events(st, path, err, errlen);
	bool same_ns = st->ns_dev == sb.st_dev && st->ns_ino == sb.st_ino;
	if (!same_ns)
		close_sockets(st); /* the events of another netns say nothing about this one */
	if (st->sock)
		mnl_socket_close(st->sock);
	st->owned = false;
	st->sock = socket_in_netns(path, &sb, NETLINK_NETFILTER, 0, err, errlen);
	if (!st->sock)
		return -1;
	if (st->ns_ino && !same_ns) {
		nft_applied_reset(st);
		forget_table(st);
	}
	st->ns_dev = sb.st_dev, st->ns_ino = sb.st_ino;
	return ensure_events(st, path, err, errlen);
}

/* ---- applied state ----------------------------------------------------------------------- */

static void free_sets(struct nft_applied *st)
{
	for (uint32_t i = 0; i < st->nsets; i++) {
		free(st->sets[i].name);
		free(st->sets[i].ranges);
	}
	free(st->sets);
	st->sets = NULL;
	st->nsets = 0;
}

void nft_applied_reset(struct nft_applied *st)
{
	struct mnl_socket *sock = st->sock, *events = st->events, *link_events = st->link_events;
	uint64_t dev = st->ns_dev, ino = st->ns_ino;
	uint32_t seq = st->seq;
	bool owned = st->owned, takeover = st->takeover;
	enum nft_held held = st->held;
	struct nft_ifguard *ifguards = st->ifguards;
	uint32_t nifguards = st->nifguards, nexempt = st->nexempt;
	struct nft_exempt *exempt = st->exempt;
	char table[NFT_TABLE_NAME_MAX];
	memcpy(table, st->table, sizeof table);
	free_sets(st);
	memset(st, 0, sizeof *st);
	st->sock = sock, st->ns_dev = dev, st->ns_ino = ino, st->seq = seq;
	st->events = events, st->owned = owned, st->takeover = takeover;
	st->link_events = link_events;
	st->held = held;
	st->ifguards = ifguards, st->nifguards = nifguards;
	st->exempt = exempt, st->nexempt = nexempt;
	memcpy(st->table, table, sizeof table);
}

const char *nft_applied_table(const struct nft_applied *st)
{
	return st->table[0] ? st->table : RULESET_TABLE;
}

void nft_applied_repair(struct nft_applied *st)
{
	nft_applied_reset(st);
	st->repair = true;
}

void nft_applied_free(struct nft_applied *st)
{
	close_sockets(st);
	nft_applied_reset(st);
	forget_table(st);
	st->ns_dev = st->ns_ino = 0;
}

/* What the kernel reports for a table holding rs with these interface guards. */
static struct nft_table_counts expected_counts(const struct pod_ruleset *rs,
					       const struct nft_ifguard *g, uint32_t ng)
{
	uint32_t use = 2 + rs->nchains + rs->nsets;
	uint32_t nrules = rs->nchains + nft_ifguard_rules(rs, g, ng);
	for (uint32_t c = 0; c < rs->nchains; c++) {
		nrules += rs->chains[c].nrules;
		for (uint32_t i = 0; i < rs->chains[c].nrules; i++) {
			const struct ir_rule *r = &rs->chains[c].rules[i];
			use += nft_rule_has_port_set(r); /* anonymous sets are not counted */
		}
	}
	return (struct nft_table_counts){use, nrules, false, false};
}

/* Remembers rs's sets; on allocation failure forgets everything (the next apply adopts the
 * table again or sends it in full). */
static void remember(struct nft_applied *st, const struct pod_ruleset *rs, uint64_t shape,
		     uint64_t hash)
{
	nft_applied_reset(st);
	st->hash = hash;
	st->shape_hash = shape;
	st->present = rs->nchains > 0;
	if (!st->present)
		return;
	st->expect = expected_counts(rs, st->ifguards, st->nifguards);
	st->sets = calloc(rs->nsets ? rs->nsets : 1, sizeof *st->sets);
	if (!st->sets)
		goto fail;
	st->nsets = rs->nsets;
	for (uint32_t i = 0; i < rs->nsets; i++) {
		const struct ir_addr_set *s = &rs->sets[i];
		struct nft_applied_set *o = &st->sets[i];
		o->name = strdup(s->name);
		o->family = s->family;
		o->n = s->n;
		o->ranges = malloc((s->n ? s->n : 1) * sizeof *o->ranges);
		if (!o->name || !o->ranges)
			goto fail;
		if (s->n)
			memcpy(o->ranges, s->ranges, s->n * sizeof *o->ranges);
	}
	return;
fail:
	nft_applied_reset(st);
}

/* ---- guarding the policed interfaces by index --------------------------------------------- */

/* Interface guards: the state's, or those a ruleset gets (allocated, the caller frees v). */
struct ifguards {
	uint32_t n;
	struct nft_ifguard *v;
};

/* The links of a netns (links.h), allocated. */
struct links {
	uint32_t n, cap;
	struct nft_link *v;
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct links *links = data;
	struct nft_link l;
	int rc = nft_link_parse(nlh, &l);
	if (rc < 0) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	if (rc == 0)
		return MNL_CB_OK;
	if (links->n == links->cap) {
		uint32_t cap = links->cap ? links->cap * 2 : 32;
		struct nft_link *v = realloc(links->v, cap * sizeof *v);
		if (!v)
			return MNL_CB_ERROR;
		links->v = v;
		links->cap = cap;
	}
	links->v[links->n++] = l;
	return MNL_CB_OK;
}

/* Every link of the netns at path (name, index, what it is stacked on): one RTM_GETLINK dump
 * over a NETLINK_ROUTE socket opened there. Returns 0, or -1 with err. */
static int read_links(const char *path, struct links *links, char *err, size_t errlen)
{
	char buf[ANSWER_BUF] __attribute__((aligned(8)));
	struct mnl_socket *nl = socket_in_netns(path, NULL, NETLINK_ROUTE, 0, err, errlen);
	int rc = -1;
	if (!nl)
		return -1;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
		do {
			ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
			rc = n < 0 ? -1
				   : mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl),
						link_cb, links);
		} while (rc > MNL_CB_STOP);
	}
	if (rc < 0)
		errf(err, errlen, "listing the links of netns %s: %s", path, strerror(errno));
	mnl_socket_close(nl);
	return rc < 0 ? -1 : 0;
}

static uint32_t link_index(const struct links *links, const char *name)
{
	for (uint32_t i = 0; i < links->n; i++)
		if (strcmp(links->v[i].ifname, name) == 0)
			return links->v[i].ifindex;
	return 0;
}

static bool has_guard(const struct ifguards *g, const char *name, uint32_t ifindex)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (!nft_ifguard_is_child(&g->v[i]) && g->v[i].ifindex == ifindex &&
		    strcmp(g->v[i].ifname, name) == 0)
			return true;
	return false;
}

/* Whether g holds e: the same guard, or a child of the same index and parent (its own name
 * may have changed: it is dispatched by index). */
static bool has_entry(const struct ifguards *g, const struct nft_ifguard *e)
{
	if (!nft_ifguard_is_child(e))
		return has_guard(g, e->ifname, e->ifindex);
	for (uint32_t i = 0; i < g->n; i++)
		if (nft_ifguard_is_child(&g->v[i]) && g->v[i].ifindex == e->ifindex &&
		    strcmp(g->v[i].ifname, e->ifname) == 0)
			return true;
	return false;
}

/* Whether name is policed: by a chain of rs, or (rs NULL) by one of the old guards. */
static bool policed(const struct pod_ruleset *rs, const struct ifguards *old, const char *name)
{
	if (!rs) {
		for (uint32_t i = 0; i < old->n; i++)
			if (!nft_ifguard_is_child(&old->v[i]) &&
			    strcmp(old->v[i].ifname, name) == 0)
				return true;
		return false;
	}
	for (uint32_t c = 0; c < rs->nchains; c++)
		if (strcmp(rs->chains[c].ifname, name) == 0)
			return true;
	return false;
}

static void add_guard(struct ifguards *g, const char *name, uint32_t ifindex)
{
	if (has_guard(g, name, ifindex))
		return;
	snprintf(g->v[g->n].ifname, sizeof g->v[g->n].ifname, "%s", name);
	g->v[g->n++].ifindex = ifindex;
}

/* The guards for the names rs polices (rs NULL: the old guards' names), given the links now:
 * every old index that still exists stays guarded under its name, so a renamed interface is
 * never let go, and each name's current index (0 when no link has it) joins them. Then the
 * links stacked on those (links.h), found anew every time. Returns 0, or -1 without memory. */
static int next_guards(const struct nft_applied *st, const struct ifguards *old,
		       const struct pod_ruleset *rs, const struct links *links,
		       struct ifguards *out)
{
	uint32_t nnames = rs ? rs->nchains : old->n;
	out->n = 0;
	out->v = calloc(old->n + nnames + links->n + 1, sizeof *out->v);
	if (!out->v)
		return -1;
	for (uint32_t i = 0; i < old->n; i++) {
		const struct nft_ifguard *g = &old->v[i];
		bool exists = false;
		for (uint32_t k = 0; k < links->n && !exists; k++)
			exists = links->v[k].ifindex == g->ifindex;
		if (g->ifindex && exists && !nft_ifguard_is_child(g) && policed(rs, old, g->ifname))
			add_guard(out, g->ifname, g->ifindex);
	}
	for (uint32_t i = 0; i < nnames; i++) {
		const char *name = rs ? rs->chains[i].ifname : old->v[i].ifname;
		if (rs || !nft_ifguard_is_child(&old->v[i]))
			add_guard(out, name, link_index(links, name));
	}
	return nft_link_children(links->v, links->n, st->exempt, st->nexempt, out->v, &out->n);
}

static const struct nft_exempt *pin_of(const struct nft_applied *st, const char *name)
{
	for (uint32_t i = 0; i < st->nexempt; i++)
		if (strcmp(st->exempt[i].ifname, name) == 0)
			return &st->exempt[i];
	return NULL;
}

/* The state's exempt names become rs's (rs NULL: they stay), each keeping its pinned index; a
 * name not pinned yet takes its link's index now (trusted as names are at a first apply: the
 * names may come after it, with the pod's network-status). Returns 0, or -1 without memory. */
static int update_pins(struct nft_applied *st, const struct pod_ruleset *rs,
		       const struct links *links)
{
	uint32_t n = rs ? rs->nexempt : st->nexempt;
	struct nft_exempt *v = calloc(n + 1, sizeof *v);
	if (!v)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = rs ? rs->exempt[i] : st->exempt[i].ifname;
		const struct nft_exempt *pin = pin_of(st, name);
		snprintf(v[i].ifname, sizeof v[i].ifname, "%s", name);
		v[i].ifindex = pin && pin->ifindex ? pin->ifindex : link_index(links, name);
	}
	free(st->exempt);
	st->exempt = v, st->nexempt = n;
	return 0;
}

/* Subscribes st to the link events of the netns at path (the caller then reads the links):
 * what is pending is dropped, the dump that follows tells it all. Best effort: without the
 * subscription a new link is found by the next drift check. */
static void watch_links(struct nft_applied *st, const char *path)
{
	char buf[ANSWER_BUF] __attribute__((aligned(8))), err[256];
	if (!st->link_events)
		st->link_events =
		    socket_in_netns(path, NULL, NETLINK_ROUTE, RTMGRP_LINK, err, sizeof err);
	while (st->link_events &&
	       recv(mnl_socket_get_fd(st->link_events), buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

/* The guards rs gets in the netns at path now, from the state's (none without chains), and
 * the subscription to its link events while rs has chains. */
static int ruleset_guards(struct nft_applied *st, const char *path, const struct pod_ruleset *rs,
			  struct ifguards *out, char *err, size_t errlen)
{
	struct links links = {0};
	struct ifguards old = {st->nifguards, st->ifguards};
	*out = (struct ifguards){0, NULL};
	if (rs->nchains == 0) {
		close_link_events(st);
		return 0;
	}
	watch_links(st, path);
	int rc = read_links(path, &links, err, errlen);
	if (rc == 0 &&
	    (update_pins(st, rs, &links) < 0 || next_guards(st, &old, rs, &links, out) < 0))
		rc = errf(err, errlen, "interface guards: %s", strerror(ENOMEM));
	free(links.v);
	return rc;
}

static uint32_t with_index(const struct ifguards *g)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < g->n; i++)
		k += g->v[i].ifindex != 0;
	return k;
}

/* Whether the table would change from guards old to now. Only entries with an index are
 * written: a name without a link (renamed away) is no change, and a rewrite would reset the
 * guards' counters. */
static bool guards_differ(const struct ifguards *old, const struct ifguards *now)
{
	bool differ = with_index(now) != with_index(old);
	for (uint32_t i = 0; i < now->n; i++)
		differ = differ || (now->v[i].ifindex && !has_entry(old, &now->v[i]));
	return differ;
}

/* Whether the guards (and children) the state holds are still all there is in the netns at
 * path: -1 with err when the links cannot be listed. */
static int guards_stale(struct nft_applied *st, const char *path, bool *stale, char *err,
			size_t errlen)
{
	struct links links = {0};
	struct ifguards old = {st->nifguards, st->ifguards}, now = {0, NULL};
	watch_links(st, path);
	int rc = read_links(path, &links, err, errlen);
	if (rc == 0 &&
	    (update_pins(st, NULL, &links) < 0 || next_guards(st, &old, NULL, &links, &now) < 0))
		rc = errf(err, errlen, "interface guards: %s", strerror(ENOMEM));
	*stale = rc == 0 && guards_differ(&old, &now);
	free(links.v);
	free(now.v);
	return rc;
}

/* Whether the state pins rs's exempt names. */
static bool same_exempt(const struct nft_applied *st, const struct pod_ruleset *rs)
{
	if (st->nexempt != rs->nexempt)
		return false;
	for (uint32_t i = 0; i < rs->nexempt; i++)
		if (strcmp(st->exempt[i].ifname, rs->exempt[i]) != 0)
			return false;
	return true;
}

/* rs's exempt names are not the state's (the pod's network-status changed): pins them, and
 * says whether that changes the children the table dispatches (true too when the links cannot
 * be read), so that it is rewritten then only. */
static bool exempt_changes_table(struct nft_applied *st, const char *path,
				 const struct pod_ruleset *rs)
{
	struct ifguards g, old = {st->nifguards, st->ifguards};
	char err[256];
	if (same_exempt(st, rs))
		return false;
	if (ruleset_guards(st, path, rs, &g, err, sizeof err) < 0)
		return true;
	bool differ = guards_differ(&old, &g);
	free(g.v);
	return differ;
}

/* The state now holds guards g (taken over). */
static void keep_guards(struct nft_applied *st, struct ifguards *g)
{
	free(st->ifguards);
	st->ifguards = g->v, st->nifguards = g->n;
	*g = (struct ifguards){0, NULL};
}

/* The shape hash a table carries: rs's, and the guards written with it (none: rs's alone),
 * so that a table whose guards hold other indexes is not adopted. A sum, so that a restarted
 * agent, which finds the same guards in another order, adopts. */
static uint64_t guarded_shape(uint64_t shape, const struct pod_ruleset *rs,
			      const struct ifguards *g)
{
	uint64_t h = shape;
	for (uint32_t i = 0; i < g->n; i++)
		for (int dir = IR_INGRESS; dir <= IR_EGRESS; dir++)
			if (nft_ifguard_applies(rs, &g->v[i], (enum ir_dir)dir))
				h += hash_u32(hash_u32(hash_str(0, g->v[i].ifname), g->v[i].ifindex),
					      (uint32_t)dir + 2u * nft_ifguard_is_child(&g->v[i]));
	return h ? h : 1;
}

struct table_info {
	struct nft_table_counts counts;
	uint32_t flags, owner; /* the table's flags, its owner's port id (0: none) */
	uint64_t shape;	       /* from the table's userdata, 0 if none */
	uint64_t marker_hash;  /* from the marker rule's userdata, 0 if none */
	uint64_t marker;       /* that rule's handle, 0 if none */
};

static int read_table(struct mnl_socket *nl, uint32_t seq, const char *table, bool want_rules,
		      bool *present, struct table_info *info);
static int read_set(struct mnl_socket *nl, uint32_t seq, const char *table, const char *name,
		    uint8_t family, struct nft_applied_set *out);
static int query(struct mnl_socket *nl, uint32_t seq, uint16_t type, uint16_t flags,
		 const char *table, const char *set, mnl_cb_t cb, void *data);
static int table_parse(const struct nlmsghdr *nlh, struct table_info *info, char *name,
		       size_t namelen);
static void seed_guards(struct nft_applied *st);

enum adoption { ADOPT_NONE, ADOPT_ABSENT, ADOPT_EXACT, ADOPT_SETS };

/* Whether a table found in the netns can be trusted on its hashes and counts: only one our
 * own socket owns, which nothing else can have changed since we wrote it (a reset in this
 * process). An ownerless table was open to any process in the pod while no agent owned it (an
 * edit can keep its counts and userdata), and in events mode edits made before our event
 * socket opened went unseen: such tables are rewritten, and the full batch takes ownership in
 * the same atomic step. One owned by another socket cannot be changed by us at all (the full
 * batch then fails with EPERM). */
static bool trusted(struct nft_applied *st, const struct table_info *info)
{
	st->owned = (info->flags & TABLE_F_OWNER) && st->sock &&
		    info->owner == mnl_socket_get_portid(st->sock);
	return st->owned;
}

/* A table this state's socket owns (written before a reset) that carries rs's shape hash
 * and the counts rs gives differs from rs at most in its address sets' elements. If its marker
 * carries rs's hash it is rs (ADOPT_EXACT); else the sets are read into *st so that element
 * changes bring it to rs (ADOPT_SETS). For an empty rs, an absent table is already right
 * (ADOPT_ABSENT). Anything else, or a failed read, needs the full table (ADOPT_NONE). *marker
 * gets the marker rule's handle. The table's shape hash covers the guards rs gets now (g). */
static enum adoption adopt_table(struct nft_applied *st, const struct pod_ruleset *rs,
				 uint64_t hash, uint64_t shape, const struct ifguards *g,
				 uint64_t *marker)
{
	struct table_info info = {0};
	bool present = false;
	uint32_t seq = st->seq;
	st->seq += 3 + rs->nsets;
	const char *table = nft_applied_table(st);
	if (read_table(st->sock, seq, table, false, &present, &info) < 0)
		return ADOPT_NONE;
	if (rs->nchains == 0)
		return present ? ADOPT_NONE : ADOPT_ABSENT;
	struct nft_table_counts want = expected_counts(rs, g->v, g->n);
	if (!present || info.shape != guarded_shape(shape, rs, g) || info.counts.use != want.use ||
	    !trusted(st, &info))
		return ADOPT_NONE;
	if (read_table(st->sock, seq + 1, table, true, &present, &info) < 0 || !present ||
	    info.counts.use != want.use || info.counts.nrules != want.nrules)
		return ADOPT_NONE;
	*marker = info.marker;
	if (info.marker && info.marker_hash == hash)
		return ADOPT_EXACT;
	nft_applied_reset(st);
	st->sets = calloc(rs->nsets ? rs->nsets : 1, sizeof *st->sets);
	if (!st->sets)
		return ADOPT_NONE;
	st->nsets = rs->nsets;
	for (uint32_t i = 0; i < rs->nsets; i++)
		if (read_set(st->sock, seq + 3 + i, table, rs->sets[i].name, rs->sets[i].family,
			     &st->sets[i]) != 0) {
			nft_applied_reset(st);
			return ADOPT_NONE;
		}
	st->present = true;
	st->shape_hash = shape;
	st->expect = want;
	return ADOPT_SETS;
}

/* adopt_table with the guards rs gets in the netns at path now, kept when it adopts. */
static enum adoption adopt(struct nft_applied *st, const char *path, const struct pod_ruleset *rs,
			   uint64_t hash, uint64_t shape, uint64_t *marker)
{
	struct ifguards g;
	char err[256];
	if (ruleset_guards(st, path, rs, &g, err, sizeof err) < 0)
		return ADOPT_NONE;
	enum adoption a = adopt_table(st, rs, hash, shape, &g, marker);
	if (a == ADOPT_EXACT || a == ADOPT_SETS)
		keep_guards(st, &g);
	free(g.v);
	return a;
}

/* The marker rule's handle, read from the kernel (a rule dump); 0 when it cannot be found. */
static uint64_t find_marker(struct nft_applied *st)
{
	struct table_info info;
	bool present = false;
	uint32_t seq = st->seq;
	st->seq += 2;
	if (read_table(st->sock, seq, nft_applied_table(st), true, &present, &info) < 0 || !present)
		return 0;
	return info.marker;
}

/* ---- choosing the table's name ---------------------------------------------------------- */

#define COMPANION_PREFIX RULESET_TABLE "_"
#define COMPANION_HEX 16
#define MAX_COMPANIONS 8

/* The inet tables of a netns that decide where the pod's ruleset goes. */
struct survey {
	uint32_t portid; /* our socket's: a table it owns is ours to change */
	bool main_present;
	struct table_info main; /* RULESET_TABLE */
	uint32_t ncompanions;	/* companions we wrote (prefix, shape hash) no other socket owns */
	char companions[MAX_COMPANIONS][NFT_TABLE_NAME_MAX];
};

static bool owned_by_other(const struct table_info *info, uint32_t portid)
{
	return (info->flags & TABLE_F_OWNER) && info->owner != portid;
}

static bool companion_name(const char *name)
{
	size_t n = strlen(COMPANION_PREFIX);
	if (strncmp(name, COMPANION_PREFIX, n) != 0 || strlen(name) != n + COMPANION_HEX)
		return false;
	return strspn(name + n, "0123456789abcdef") == COMPANION_HEX;
}

static int survey_cb(const struct nlmsghdr *nlh, void *data)
{
	struct survey *sv = data;
	struct table_info info = {{0, 0, false, false}, 0, 0, 0, 0, 0};
	char name[NFT_NAME_MAX] = "";
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWTABLE)
		return MNL_CB_OK;
	int rc = table_parse(nlh, &info, name, sizeof name);
	if (strcmp(name, RULESET_TABLE) == 0) {
		sv->main_present = true;
		sv->main = info;
	} else if (companion_name(name) && info.shape && !owned_by_other(&info, sv->portid) &&
		   sv->ncompanions < MAX_COMPANIONS) {
		memcpy(sv->companions[sv->ncompanions++], name, strlen(name) + 1); /* it fits */
	}
	return rc;
}

/* One dump of the netns' inet tables into *sv. Returns 0, or -1 with errno. */
static int survey_tables(struct mnl_socket *nl, uint32_t seq, struct survey *sv)
{
	memset(sv, 0, sizeof *sv);
	sv->portid = mnl_socket_get_portid(nl);
	return query(nl, seq, NFT_MSG_GETTABLE, NLM_F_DUMP, NULL, NULL, survey_cb, sv) < 0 ? -1 : 0;
}

/* Whether RULESET_TABLE, as surveyed, is held against us. Every table this agent (or its CNI
 * plugin) writes carries its shape hash. */
static enum nft_held main_held(const struct nft_applied *st, const struct survey *sv)
{
	if (!sv->main_present)
		return NFT_HELD_NONE;
	if (owned_by_other(&sv->main, sv->portid))
		return NFT_HELD_OWNED;
	return sv->main.shape == 0 && !st->takeover ? NFT_HELD_FOREIGN : NFT_HELD_NONE;
}

/* A fresh companion name: 64 random bits, so no process can create it first. */
static int new_companion(struct nft_applied *st, char *err, size_t errlen)
{
	uint8_t r[COMPANION_HEX / 2];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return errf(err, errlen, "choosing a companion table's name: %s", strerror(errno));
	int n = snprintf(st->table, sizeof st->table, "%s", COMPANION_PREFIX);
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(st->table + n + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* Where the ruleset goes, decided before a first apply: RULESET_TABLE, unless another socket
 * owns it or this agent did not write it (and takeover is off); then the companion we wrote,
 * or a new one. */
static int choose_table(struct nft_applied *st, struct survey *sv, char *err, size_t errlen)
{
	if (survey_tables(st->sock, st->seq++, sv) < 0)
		return errf(err, errlen, "listing the tables of the netns: %s", strerror(errno));
	st->held = main_held(st, sv);
	if (st->held == NFT_HELD_NONE) {
		st->table[0] = '\0';
		return 0;
	}
	for (uint32_t i = 0; i < sv->ncompanions; i++)
		if (strcmp(sv->companions[i], st->table) == 0)
			return 0; /* the one in use stays */
	if (sv->ncompanions > 0) {
		memcpy(st->table, sv->companions[0], NFT_TABLE_NAME_MAX);
		return 0;
	}
	return new_companion(st, err, errlen);
}

/* Deletes our other companions once the ruleset is in place (best effort: what cannot be
 * deleted now is found again at the next first apply). */
static void drop_companions(struct nft_applied *st, const struct survey *sv)
{
	static const struct pod_ruleset none;
	char err[256];
	for (uint32_t i = 0; i < sv->ncompanions && st->sock; i++) {
		struct batch b;
		if (strcmp(sv->companions[i], nft_applied_table(st)) == 0 ||
		    batch_init(&b, st->seq, sv->companions[i]) < 0)
			continue;
		batch_full(&b, &none, 0, 0, 0, NULL, 0);
		run_batch(st, &b, NULL, err, sizeof err);
		batch_free(&b);
	}
}

/* ---- applying ---------------------------------------------------------------------------- */

static int apply_full(struct nft_applied *st, const char *netns_path, const struct pod_ruleset *rs,
		      uint64_t hash, uint64_t shape, bool may_move, char *err, size_t errlen);

/* After EPERM on the table: the whole ruleset into a new companion. If that fails too (no
 * right to change this netns at all), the name and the first error stay as they were. */
static int move_to_companion(struct nft_applied *st, const char *netns_path,
			     const struct pod_ruleset *rs, uint64_t hash, uint64_t shape, char *err,
			     size_t errlen)
{
	char was[NFT_TABLE_NAME_MAX], first[512];
	enum nft_held was_held = st->held;
	memcpy(was, st->table, sizeof was);
	snprintf(first, sizeof first, "%s", err);
	if (!st->table[0])
		st->held = NFT_HELD_OWNED;
	if (new_companion(st, err, errlen) == 0 &&
	    apply_full(st, netns_path, rs, hash, shape, false, err, errlen) == 0)
		return 0;
	memcpy(st->table, was, sizeof was);
	st->held = was_held;
	snprintf(err, errlen, "%s", first);
	return -1;
}

/* The whole table in one batch, owned where the kernel allows; a kernel that refuses the
 * ownership flags is remembered, and the batch is sent again without them. A table another
 * socket owns (EPERM) cannot be ours: with may_move the ruleset goes into a new companion. */
static int apply_full(struct nft_applied *st, const char *netns_path, const struct pod_ruleset *rs,
		      uint64_t hash, uint64_t shape, bool may_move, char *err, size_t errlen)
{
	struct batch b;
	struct ifguards g;
	int table_err = 0;
	uint32_t flags = table_flags();
	if (!st->sock && ensure_socket(st, netns_path, err, errlen) < 0)
		return -1;
	if (ruleset_guards(st, netns_path, rs, &g, err, errlen) < 0)
		return -1;
	if (batch_init(&b, st->seq, nft_applied_table(st)) < 0) {
		free(g.v);
		return errf(err, errlen, "building batch: %s", strerror(ENOMEM));
	}
	batch_full(&b, rs, hash, guarded_shape(shape, rs, &g), flags, g.v, g.n);
	int rc = run_batch(st, &b, &table_err, err, errlen);
	batch_free(&b);
	if (rc == 0)
		keep_guards(st, &g);
	free(g.v);
	bool refused = table_err == EOPNOTSUPP || table_err == EINVAL;
	/* Another worker may have learned it first: retry whenever events are now in force. */
	if (rc < 0 && refused && flags && guard_learn(NFT_GUARD_EVENTS) == NFT_GUARD_EVENTS) {
		if (ensure_socket(st, netns_path, err, errlen) < 0)
			return -1;
		return apply_full(st, netns_path, rs, hash, shape, may_move, err, errlen);
	}
	if (rc < 0 && table_err == EPERM && may_move)
		return move_to_companion(st, netns_path, rs, hash, shape, err, errlen);
	if (rc < 0)
		return -1;
	if (flags)
		guard_learn(NFT_GUARD_OWNER);
	remember(st, rs, shape, hash); /* the marker's new handle is found when needed */
	st->owned = flags && rs->nchains > 0;
	return 0;
}

int nft_apply(const char *netns_path, const struct pod_ruleset *rs, struct nft_applied *st,
	      char *err, size_t errlen)
{
	struct batch b;
	struct survey sv;
	bool surveyed = false;
	int rc;
	enum adoption adopted = ADOPT_NONE;
	if (nft_ruleset_check(rs, err, errlen) < 0 ||
	    ensure_socket(st, netns_path, err, errlen) < 0)
		return -1;
	uint64_t shape = hash_shape(rs), hash = hash_with_contents(shape, rs), marker = st->marker;
	/* Nothing applied here yet (a restarted agent, or a repair): the name is chosen again. */
	if (st->hash == 0 && !st->present) {
		if (choose_table(st, &sv, err, errlen) < 0)
			return -1;
		surveyed = true;
		seed_guards(st);
	}
	/* Not a repair: the table may already be rs, or rs but for some addresses. */
	if (surveyed && !st->repair) {
		adopted = adopt(st, netns_path, rs, hash, shape, &marker);
		if (adopted == ADOPT_ABSENT || adopted == ADOPT_EXACT) {
			remember(st, rs, shape, hash);
			st->marker = marker;
			st->last_was_adopted = true;
			drop_companions(st, &sv);
			return 0;
		}
	}
	if (st->present && rs->nchains > 0 && exempt_changes_table(st, netns_path, rs))
		nft_applied_repair(st);
	/* Where tables are owned, a table our socket does not own (it was closed and the table
	 * left ownerless meanwhile) is not trusted to be what we applied: it is rewritten. */
	bool trusted_state = st->owned || nft_table_guard() == NFT_GUARD_EVENTS;
	if (st->present && trusted_state && rs->nchains > 0 && st->nsets == rs->nsets &&
	    st->shape_hash == shape) {
		/* Element changes must move the marker along; a table without one is rewritten. */
		if (!marker)
			marker = find_marker(st);
		if (batch_init(&b, st->seq, nft_applied_table(st)) < 0)
			return -1;
		batch_elements(&b, rs, st->sets, hash, marker);
		uint32_t sent = b.nmsgs;
		rc = sent == 0 ? 0 : marker ? run_batch(st, &b, NULL, err, errlen) : -1;
		batch_free(&b);
		if (rc == 0) {
			remember(st, rs, shape, hash); /* keeps st->owned */
			st->marker = marker; /* a replaced rule keeps its handle */
			st->last_was_adopted = adopted == ADOPT_SETS;
			st->last_was_elements = !st->last_was_adopted || sent > 0;
			if (surveyed)
				drop_companions(st, &sv);
			return 0;
		}
		/* The table is not what we left (deleted or edited by hand), or the batch's outcome
		 * is unknown (a repair now): send all of it. */
		if (adopted == ADOPT_SETS && !st->repair)
			nft_applied_reset(st);
	}
	rc = apply_full(st, netns_path, rs, hash, shape, true, err, errlen);
	if (rc == 0 && surveyed)
		drop_companions(st, &sv);
	return rc;
}

int nft_delete_table(const char *netns_path, struct nft_applied *st, char *err, size_t errlen)
{
	struct pod_ruleset none = {0};
	struct nft_applied tmp = {.takeover = true}; /* asked for by name: whoever wrote it */
	int rc = nft_apply(netns_path, &none, st ? st : &tmp, err, errlen);
	nft_applied_free(&tmp);
	return rc;
}

bool nft_applied_intact(const struct nft_applied *st, bool present,
			const struct nft_table_counts *counts)
{
	if (st->present != present || (counts && (counts->misplaced || counts->guards_stale)))
		return false;
	return !present ||
	       (counts && counts->use == st->expect.use && counts->nrules == st->expect.nrules);
}

/* ---- watching the netns' events -------------------------------------------------------- */

int nft_applied_event_fd(const struct nft_applied *st)
{
	return st->events ? mnl_socket_get_fd(st->events) : -1;
}

/* An nf_tables event about an object of table (attribute 1 is the table's name in the
 * messages of tables, chains, rules, sets, elements, objects and flowtables). */
static bool event_on_table(const struct nlmsghdr *nlh, const char *table)
{
	const struct nlattr *a;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
		return false;
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	if (g->nfgen_family != NFPROTO_INET)
		return false;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) == 1)
			return mnl_attr_get_payload_len(a) == strlen(table) + 1 &&
			       memcmp(mnl_attr_get_payload(a), table, strlen(table) + 1) == 0;
	}
	return false;
}

enum nft_tamper nft_applied_tampered(struct nft_applied *st)
{
	char buf[ANSWER_BUF] __attribute__((aligned(8)));
	enum nft_tamper t = NFT_TAMPER_NONE;
	if (!st->events)
		return t;
	/* Events carry the port id of the socket whose batch made them. */
	uint32_t ours = st->sock ? mnl_socket_get_portid(st->sock) : 0;
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(st->events), buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* ENOBUFS: events were dropped, so anything may have happened. */
			if (t == NFT_TAMPER_NONE)
				t = NFT_TAMPER_UNKNOWN;
			if (n < 0 && errno == ENOBUFS)
				continue;
			break;
		}
		int len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_pid != ours && event_on_table(nlh, nft_applied_table(st)))
				t = NFT_TAMPER_CHANGED;
	}
	return t;
}

/* ---- watching the netns' links ---------------------------------------------------------- */

int nft_applied_link_fd(const struct nft_applied *st)
{
	return st->link_events ? mnl_socket_get_fd(st->link_events) : -1;
}

bool nft_applied_links_changed(struct nft_applied *st)
{
	char buf[ANSWER_BUF] __attribute__((aligned(8)));
	bool changed = false;
	while (st->link_events) {
		ssize_t n = recv(mnl_socket_get_fd(st->link_events), buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			changed = true; /* ENOBUFS: events were lost */
			if (n < 0 && errno == ENOBUFS)
				continue;
			close_link_events(st); /* never spin on a broken socket */
			break;
		}
		int len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			changed = changed || nlh->nlmsg_type == RTM_NEWLINK ||
				  nlh->nlmsg_type == RTM_DELLINK;
	}
	return changed;
}

/* ---- reading the table back ------------------------------------------------------------ */

/* Our hash in a userdata blob of TLVs (a comment set by hand may sit beside it). */
static bool udata_hash(const uint8_t *ud, uint32_t len, uint64_t *hash)
{
	for (uint32_t i = 0; ud && i + 2 <= len && i + 2 + ud[i + 1] <= len; i += 2 + ud[i + 1]) {
		if (ud[i] == NFT_UDATA_HASH && ud[i + 1] == NFT_UDATA_HASH_LEN) {
			memcpy(hash, ud + i + 2, NFT_UDATA_HASH_LEN);
			return true;
		}
	}
	return false;
}

/* A table message into *info, and its name into name (when not NULL). */
static int table_parse(const struct nlmsghdr *nlh, struct table_info *info, char *name,
		       size_t namelen)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		if (name)
			snprintf(name, namelen, "%s", nftnl_table_get_str(t, NFTNL_TABLE_NAME));
		if (nftnl_table_is_set(t, NFTNL_TABLE_USE))
			info->counts.use = nftnl_table_get_u32(t, NFTNL_TABLE_USE);
		if (nftnl_table_is_set(t, NFTNL_TABLE_FLAGS))
			info->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		if (nftnl_table_is_set(t, NFTNL_TABLE_OWNER))
			info->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
		uint32_t len = 0;
		const uint8_t *ud = nftnl_table_is_set(t, NFTNL_TABLE_USERDATA)
					? nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len)
					: NULL;
		udata_hash(ud, len, &info->shape);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	return table_parse(nlh, data, NULL, 0);
}

/* Counts the rules and finds the marker among them. */
static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_info *info = data;
	const struct nlattr *a;
	uint64_t handle = 0, hash = 0;
	bool marked = false;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return MNL_CB_OK;
	info->counts.nrules++;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) == NFTA_RULE_HANDLE && mnl_attr_get_payload_len(a) == 8)
			handle = be64toh(mnl_attr_get_u64(a));
		else if (mnl_attr_get_type(a) == NFTA_RULE_USERDATA)
			marked = udata_hash(mnl_attr_get_payload(a),
					    (uint32_t)mnl_attr_get_payload_len(a), &hash);
	}
	if (marked && handle) {
		info->marker = handle;
		info->marker_hash = hash;
	}
	return MNL_CB_OK;
}

/* One request about table (for a table request, NULL: all inet tables) and its answers;
 * returns 0, or -1 with errno (ENOENT: no such table). */
static int query(struct mnl_socket *nl, uint32_t seq, uint16_t type, uint16_t flags,
		 const char *table, const char *set, mnl_cb_t cb, void *data)
{
	/* As large as any read on this socket: the kernel sizes dump messages by them. */
	char buf[ANSWER_BUF] __attribute__((aligned(8)));
	while (recv(mnl_socket_get_fd(nl), buf, sizeof buf, MSG_DONTWAIT) > 0)
		; /* drop what an earlier failed batch left unread */
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
	if (type == NFT_MSG_GETTABLE && table) {
		struct nftnl_table *t = nftnl_table_alloc();
		if (!t)
			return -1;
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
	} else if (type == NFT_MSG_GETSETELEM) {
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	} else if (type == NFT_MSG_GETRULE) {
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (!r)
			return -1;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	uint32_t portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (n < 0)
			return -1;
		int rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rc <= MNL_CB_STOP)
			return rc;
	}
}

/* The table (use count, our hash) with sequence number seq, then with want_rules its rule
 * count (seq + 1). An absent table is not an error. Returns 0 or -1 with errno. */
static int read_table(struct mnl_socket *nl, uint32_t seq, const char *table, bool want_rules,
		      bool *present, struct table_info *info)
{
	*info = (struct table_info){{0, 0, false, false}, 0, 0, 0, 0, 0};
	int rc = query(nl, seq, NFT_MSG_GETTABLE, NLM_F_ACK, table, NULL, table_cb, info);
	*present = rc == 0;
	if (rc < 0)
		return errno == ENOENT ? 0 : -1;
	if (want_rules)
		rc = query(nl, seq + 1, NFT_MSG_GETRULE, NLM_F_DUMP, table, NULL, rule_cb, info);
	return rc < 0 ? -1 : 0;
}

/* ---- reading the interface guards back ------------------------------------------------- */

static bool expr_is(const struct nftnl_expr *e, const char *name)
{
	return strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), name) == 0;
}

/* The (interface, index) of a guard as batch.c writes it: meta iif, cmp eq index, meta iifname,
 * cmp neq name, counter (absent in tables of earlier versions), drop (or the oif forms);
 * false for any other rule. */
static bool guard_of_rule(struct nftnl_expr *const *e, uint32_t n, struct nft_ifguard *g)
{
	uint32_t len = 0, idxlen = 0;
	if (!(n == 5 || (n == 6 && expr_is(e[4], "counter"))) || !expr_is(e[0], "meta") ||
	    !expr_is(e[1], "cmp") || !expr_is(e[2], "meta") || !expr_is(e[3], "cmp") ||
	    !expr_is(e[n - 1], "immediate"))
		return false;
	uint32_t k0 = nftnl_expr_get_u32(e[0], NFTNL_EXPR_META_KEY);
	uint32_t k2 = nftnl_expr_get_u32(e[2], NFTNL_EXPR_META_KEY);
	const void *idx = nftnl_expr_get_data(e[1], NFTNL_EXPR_CMP_DATA, &idxlen);
	const char *name = nftnl_expr_get_data(e[3], NFTNL_EXPR_CMP_DATA, &len);
	if (!((k0 == NFT_META_IIF && k2 == NFT_META_IIFNAME) ||
	      (k0 == NFT_META_OIF && k2 == NFT_META_OIFNAME)) ||
	    nftnl_expr_get_u32(e[1], NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ ||
	    nftnl_expr_get_u32(e[3], NFTNL_EXPR_CMP_OP) != NFT_CMP_NEQ ||
	    nftnl_expr_get_u32(e[n - 1], NFTNL_EXPR_IMM_VERDICT) != NF_DROP || !idx ||
	    idxlen != sizeof g->ifindex || !name || len != sizeof g->ifname ||
	    strnlen(name, len) == len)
		return false;
	memcpy(&g->ifindex, idx, sizeof g->ifindex);
	memcpy(g->ifname, name, sizeof g->ifname);
	g->child[0] = '\0';
	return g->ifindex != 0;
}

/* Every rule of a dump, parsed, with its expressions in order (at most RULE_EXPRS_MAX, more
 * than any rule we write has), handed to fn: what reading guards and counters share. */
#define RULE_EXPRS_MAX 32
typedef void (*rule_fn)(void *data, const struct nftnl_rule *r, struct nftnl_expr *const *e,
			uint32_t n);
struct rule_walk {
	rule_fn fn;
	void *data;
};

static int rule_walk_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rule_walk *w = data;
	struct nftnl_expr *e[RULE_EXPRS_MAX];
	uint32_t n = 0;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return MNL_CB_OK;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return MNL_CB_ERROR;
	struct nftnl_expr_iter *it = NULL;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 && nftnl_rule_is_set(r, NFTNL_RULE_CHAIN) &&
	    (it = nftnl_expr_iter_create(r))) {
		for (struct nftnl_expr *x = nftnl_expr_iter_next(it); x && n < RULE_EXPRS_MAX;
		     x = nftnl_expr_iter_next(it))
			e[n++] = x;
		w->fn(w->data, r, e, n);
		nftnl_expr_iter_destroy(it);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* One rule dump of the state's table through fn. Returns 0, or -1 with errno. */
static int walk_rules(struct nft_applied *st, rule_fn fn, void *data)
{
	struct rule_walk w = {fn, data};
	return query(st->sock, st->seq++, NFT_MSG_GETRULE, NLM_F_DUMP, nft_applied_table(st), NULL,
		     rule_walk_cb, &w);
}

static void guard_rule(void *data, const struct nftnl_rule *r, struct nftnl_expr *const *e,
		       uint32_t n)
{
	struct ifguards *found = data;
	struct nft_ifguard g;
	if (!guard_of_rule(e, n, &g) || has_guard(found, g.ifname, g.ifindex))
		return;
	struct nft_ifguard *v = realloc(found->v, (found->n + 1) * sizeof *v);
	if (!v)
		return; /* best effort, as seeding is */
	found->v = v;
	found->v[found->n++] = g;
}

/* A first apply without known guards (a restarted agent) takes over those of the table in
 * place, so that an interface renamed while no agent ran stays guarded. Best effort. */
static void seed_guards(struct nft_applied *st)
{
	struct ifguards found = {0, NULL};
	if (st->nifguards == 0 && walk_rules(st, guard_rule, &found) == 0)
		keep_guards(st, &found);
	free(found.v);
}

/* ---- drop counters ----------------------------------------------------------------------- */

struct counter_walk {
	nft_counter_cb cb;
	void *ctx;
};

static void counter_rule(void *data, const struct nftnl_rule *r, struct nftnl_expr *const *e,
			 uint32_t n)
{
	const struct counter_walk *w = data;
	struct nft_ifguard g;
	bool is_guard = guard_of_rule(e, n, &g);
	for (uint32_t i = 0; i < n; i++)
		if (expr_is(e[i], "counter"))
			w->cb(w->ctx, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), is_guard ? &g : NULL,
			      nftnl_expr_get_u64(e[i], NFTNL_EXPR_CTR_PACKETS),
			      nftnl_expr_get_u64(e[i], NFTNL_EXPR_CTR_BYTES));
}

int nft_read_counters(struct nft_applied *st, nft_counter_cb cb, void *ctx, char *err,
		      size_t errlen)
{
	if (!st->present || !st->sock)
		return 0;
	struct counter_walk w = {cb, ctx};
	if (walk_rules(st, counter_rule, &w) < 0)
		return errf(err, errlen, "reading the table's counters: %s", strerror(errno));
	return 0;
}

/* ---- reading an address set back ------------------------------------------------------- */

struct set_elems {
	uint32_t keylen, n, cap;
	bool bad; /* an element without a key of keylen bytes, or no memory */
	struct set_elem {
		uint8_t key[16];
		bool end;
	} * v;
};

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct set_elems *se = data;
	const struct nlattr *list, *el, *a, *d;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM)
		return MNL_CB_OK;
	mnl_attr_for_each(list, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, list)
		{
			struct set_elem e = {{0}, false};
			bool key = false;
			mnl_attr_for_each_nested(a, el)
			{
				if (mnl_attr_get_type(a) == NFTA_SET_ELEM_FLAGS &&
				    mnl_attr_get_payload_len(a) == 4)
					e.end =
					    ntohl(mnl_attr_get_u32(a)) & NFT_SET_ELEM_INTERVAL_END;
				if (mnl_attr_get_type(a) != NFTA_SET_ELEM_KEY)
					continue;
				mnl_attr_for_each_nested(d, a)
				{
					if (mnl_attr_get_type(d) == NFTA_DATA_VALUE &&
					    mnl_attr_get_payload_len(d) == se->keylen) {
						memcpy(e.key, mnl_attr_get_payload(d), se->keylen);
						key = true;
					}
				}
			}
			if (!key) {
				se->bad = true;
				continue;
			}
			if (se->n == se->cap) {
				uint32_t cap = se->cap ? se->cap * 2 : 256;
				struct set_elem *v = realloc(se->v, cap * sizeof *v);
				if (!v) {
					se->bad = true;
					return MNL_CB_ERROR;
				}
				se->v = v, se->cap = cap;
			}
			se->v[se->n++] = e;
		}
	}
	return MNL_CB_OK;
}

/* Key order (keys are zero-padded to 16 bytes); at one key an interval end (closing the range
 * before) comes first. */
static int elem_order(const void *x, const void *y)
{
	const struct set_elem *a = x, *b = y;
	int c = memcmp(a->key, b->key, sizeof a->key);
	return c ? c : (int)b->end - (int)a->end;
}

/* The ranges an interval set's elements stand for (the inverse of what batch.c writes): each
 * start with the next end minus one, a start with no end runs to the last address. Returns
 * the number of ranges, or -1 when the elements are not such a sequence. */
static long elems_to_ranges(struct set_elem *v, uint32_t n, uint32_t keylen,
			    struct ir_addr_range *out)
{
	static const uint8_t zero[16];
	const uint8_t *start = NULL;
	long k = 0;
	if (n > 0)
		qsort(v, n, sizeof *v, elem_order);
	for (uint32_t i = 0; i < n; i++) {
		if (!v[i].end) {
			if (start)
				return -1;
			start = v[i].key;
			continue;
		}
		if (!start) {
			if (k == 0 && i == 0 && memcmp(v[i].key, zero, keylen) == 0)
				continue; /* the leading end at address zero */
			return -1;
		}
		if (memcmp(start, v[i].key, keylen) >= 0)
			return -1;
		struct ir_addr_range *r = &out[k++];
		memset(r, 0, sizeof *r);
		memcpy(r->lo, start, keylen);
		memcpy(r->hi, v[i].key, keylen);
		for (int j = (int)keylen - 1; j >= 0 && r->hi[j]-- == 0; j--)
			; /* minus one, borrowing */
		start = NULL;
	}
	if (start) {
		struct ir_addr_range *r = &out[k++];
		memset(r, 0, sizeof *r);
		memcpy(r->lo, start, keylen);
		memset(r->hi, 0xff, keylen);
	}
	return k;
}

/* Reads address set `name` of the table back as ranges into *out (name and ranges allocated,
 * freed with the state). Returns 0, or -1 when it cannot be read or is not a valid interval
 * set of that family. */
static int read_set(struct mnl_socket *nl, uint32_t seq, const char *table, const char *name,
		    uint8_t family, struct nft_applied_set *out)
{
	struct set_elems se = {.keylen = family == 4 ? 4 : 16};
	int rc = query(nl, seq, NFT_MSG_GETSETELEM, NLM_F_DUMP, table, name, elems_cb, &se);
	long k = -1;
	if (rc == 0 && !se.bad) {
		out->ranges = malloc((se.n + 1) * sizeof *out->ranges);
		out->name = strdup(name);
		if (out->ranges && out->name)
			k = elems_to_ranges(se.v, se.n, se.keylen, out->ranges);
	}
	free(se.v);
	if (k < 0)
		return -1;
	out->family = family;
	out->n = (uint32_t)k;
	return 0;
}

int nft_table_present(const char *netns_path, struct nft_applied *st, bool *present,
		      struct nft_table_counts *counts, char *err, size_t errlen)
{
	struct table_info info;
	struct survey sv;
	struct mnl_socket *nl;
	const char *table = RULESET_TABLE;
	uint32_t seq = 1;
	int rc = 0;
	if (st) {
		if (ensure_socket(st, netns_path, err, errlen) < 0)
			return -1;
		nl = st->sock;
		seq = st->seq;
		st->seq += 2;
		table = nft_applied_table(st);
	} else {
		nl = socket_in_netns(netns_path, NULL, NETLINK_NETFILTER, 0, err, errlen);
		if (!nl)
			return -1;
		/* Without a pod's state: ours is the name, or else a companion we wrote. */
		rc = survey_tables(nl, seq++, &sv);
		if (rc == 0 && !sv.main_present && sv.ncompanions > 0)
			table = sv.companions[0];
	}
	if (rc == 0)
		rc = read_table(nl, seq, table, counts != NULL, present, &info);
	if (rc == 0 && *present && counts)
		*counts = info.counts;
	if (rc == 0 && st && st->held != NFT_HELD_NONE && counts) {
		rc = survey_tables(nl, st->seq++, &sv);
		counts->misplaced = rc == 0 && main_held(st, &sv) == NFT_HELD_NONE;
	}
	if (rc < 0)
		errf(err, errlen, "reading table inet %s in %s: %s", table, netns_path,
		     strerror(errno));
	if (!st)
		mnl_socket_close(nl);
	else if (rc == 0 && *present && counts &&
		 guards_stale(st, netns_path, &counts->guards_stale, err, errlen) < 0)
		rc = -1;
	return rc < 0 ? -1 : 0;
}
