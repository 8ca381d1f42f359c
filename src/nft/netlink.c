#include "nft/apply.h"

#include <netinet/in.h> /* before the kernel headers, which then skip their copies */
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "nft/acks.h"
#include "nft/batch.h"
#include "nft/layout.h"
#include "util/err.h"

#define ANSWER_BUF 32768 /* every read of a netlink answer uses this size */

/* ---- hashing ---------------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

static uint64_t fnv_u32(uint64_t h, uint32_t v)
{
	return fnv(h, &v, sizeof v);
}

static uint64_t hash_shape(const struct pod_ruleset *rs)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv_u32(h, rs->nsets);
	for (uint32_t i = 0; i < rs->nsets; i++) {
		h = fnv_str(h, rs->sets[i].name);
		h = fnv_u32(h, rs->sets[i].family);
	}
	h = fnv_u32(h, rs->nchains);
	for (uint32_t c = 0; c < rs->nchains; c++) {
		const struct ir_chain *ch = &rs->chains[c];
		h = fnv_str(h, ch->name);
		h = fnv_str(h, ch->ifname);
		h = fnv_u32(h, ch->dir);
		h = fnv_u32(h, ch->nrules);
		for (uint32_t i = 0; i < ch->nrules; i++) {
			const struct ir_rule *r = &ch->rules[i];
			h = fnv_u32(h, r->kind);
			if (r->kind != IR_RULE_MATCH)
				continue;
			uint32_t v[] = {r->family,	r->addr_match, r->addr_is_dst,
					r->addr_set,	r->prefix_len, r->l4proto,
					r->port_is_src, r->nports,     r->verdict};
			h = fnv(h, v, sizeof v);
			if (r->addr_match == IR_ADDR_PREFIX)
				h = fnv(h, r->prefix, sizeof r->prefix);
			h = fnv(h, r->ports, r->nports * sizeof *r->ports);
			h = fnv_str(h, r->comment);
		}
	}
	return h;
}

static uint64_t hash_set_contents(uint64_t h, const struct ir_addr_set *s)
{
	h = fnv_u32(h, s->n);
	return fnv(h, s->ranges, (size_t)s->n * sizeof *s->ranges);
}

uint64_t nft_ruleset_hash(const struct pod_ruleset *rs)
{
	uint64_t h = hash_shape(rs);
	for (uint32_t i = 0; i < rs->nsets; i++)
		h = hash_set_contents(h, &rs->sets[i]);
	return h ? h : 1;
}

/* ---- the network namespace ------------------------------------------------------------- */

/* Opens a NETLINK_NETFILTER socket that lives in the netns at path; the calling thread's own
 * netns is restored before returning, whatever happened. */
static struct mnl_socket *socket_in_netns(const char *path, struct stat *ns, char *err,
					  size_t errlen)
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
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		errf(err, errlen, "netlink socket in %s: %s", path, strerror(errno));
	else if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
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
		int one = 1;
		setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
		setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	}
	return nl;
}

/* Sends the batch and checks an ACK for every message. */
static int batch_talk(struct mnl_socket *nl, struct batch *b, char *err, size_t errlen)
{
	int fd = mnl_socket_get_fd(nl);
	int sz = (int)b->len + 4096, rsz = (int)b->nmsgs * 64 + 65536;
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
	while (acks.acked < b->nmsgs && !acks.error) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* nfnetlink answers within sendmsg; waiting is only a safety net. */
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int r = poll(&p, 1, 2000);
			if (r <= 0) {
				errf(err, errlen, "batch: %u of %u ACKs arrived", acks.acked,
				     b->nmsgs);
				return -2;
			}
			continue;
		}
		if (n < 0) {
			errf(err, errlen, "reading ACKs: %s", strerror(errno));
			return -2;
		}
		if (nft_acks_read(buf, (size_t)n, b->seq0, b->nmsgs, &acks) < 0) {
			errf(err, errlen, "malformed netlink answer (%zd bytes)", n);
			return -2;
		}
	}
	if (acks.error) {
		char what[NFT_NAME_MAX + 64];
		batch_describe(b, acks.error_seq, what, sizeof what);
		errf(err, errlen, "%s: %s%s%s", what, strerror(acks.error), acks.msg[0] ? ": " : "",
		     acks.msg);
		return -1;
	}
	return 0;
}

static int run_batch(struct nft_applied *st, struct batch *b, char *err, size_t errlen)
{
	if (b->failed || batch_finish(b) < 0) {
		errf(err, errlen, "building batch: %s", strerror(b->failed ? b->failed : ENOMEM));
		return -1;
	}
	st->seq = b->seq0 + b->nmsgs + 2;
	int rc = batch_talk(st->sock, b, err, errlen);
	if (rc == -2) {
		/* The socket itself is in doubt: the next apply opens a fresh one. */
		mnl_socket_close(st->sock);
		st->sock = NULL;
	}
	return rc < 0 ? -1 : 0;
}

/* Makes st->sock a socket in the netns now at path; a different netns than before (sandbox
 * recreated) holds nothing we applied, so the state is reset. */
static int ensure_socket(struct nft_applied *st, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		errf(err, errlen, "netns %s: %s", path, strerror(errno));
		return -1;
	}
	if (st->sock && st->ns_dev == sb.st_dev && st->ns_ino == sb.st_ino)
		return 0;
	if (st->sock)
		mnl_socket_close(st->sock);
	st->sock = socket_in_netns(path, &sb, err, errlen);
	if (!st->sock)
		return -1;
	if (st->ns_ino && (st->ns_dev != sb.st_dev || st->ns_ino != sb.st_ino))
		nft_applied_reset(st);
	st->ns_dev = sb.st_dev, st->ns_ino = sb.st_ino;
	return 0;
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
	struct mnl_socket *sock = st->sock;
	uint64_t dev = st->ns_dev, ino = st->ns_ino;
	uint32_t seq = st->seq;
	free_sets(st);
	memset(st, 0, sizeof *st);
	st->sock = sock, st->ns_dev = dev, st->ns_ino = ino, st->seq = seq;
}

void nft_applied_free(struct nft_applied *st)
{
	if (st->sock)
		mnl_socket_close(st->sock);
	st->sock = NULL;
	nft_applied_reset(st);
	st->ns_dev = st->ns_ino = 0;
}

/* Remembers rs's sets; on allocation failure forgets everything (the next apply is full). */
static void remember(struct nft_applied *st, const struct pod_ruleset *rs)
{
	nft_applied_reset(st);
	st->hash = nft_ruleset_hash(rs);
	st->shape_hash = hash_shape(rs);
	st->present = rs->nchains > 0;
	if (!st->present)
		return;
	uint32_t use = 2 + rs->nchains + rs->nsets, nrules = rs->nchains;
	for (uint32_t c = 0; c < rs->nchains; c++) {
		nrules += rs->chains[c].nrules;
		for (uint32_t i = 0; i < rs->chains[c].nrules; i++) {
			const struct ir_rule *r = &rs->chains[c].rules[i];
			use += nft_rule_has_port_set(r); /* anonymous sets are not counted */
		}
	}
	st->expect = (struct nft_table_counts){use, nrules};
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

int nft_apply(const char *netns_path, const struct pod_ruleset *rs, struct nft_applied *st,
	      char *err, size_t errlen)
{
	struct batch b;
	int rc;
	if (nft_ruleset_check(rs, err, errlen) < 0 ||
	    ensure_socket(st, netns_path, err, errlen) < 0)
		return -1;
	if (st->present && rs->nchains > 0 && st->nsets == rs->nsets &&
	    st->shape_hash == hash_shape(rs)) {
		if (batch_init(&b, st->seq) < 0)
			return -1;
		batch_elements(&b, rs, st->sets);
		rc = b.nmsgs == 0 ? 0 : run_batch(st, &b, err, errlen);
		batch_free(&b);
		if (rc == 0) {
			remember(st, rs);
			st->last_was_elements = true;
			return 0;
		}
		/* The table is not what we left (deleted or edited by hand): send all of it. */
	}
	if (!st->sock && ensure_socket(st, netns_path, err, errlen) < 0)
		return -1;
	if (batch_init(&b, st->seq) < 0) {
		errf(err, errlen, "building batch: %s", strerror(ENOMEM));
		return -1;
	}
	batch_full(&b, rs);
	rc = run_batch(st, &b, err, errlen);
	batch_free(&b);
	if (rc == 0)
		remember(st, rs);
	return rc;
}

int nft_delete_table(const char *netns_path, struct nft_applied *st, char *err, size_t errlen)
{
	struct pod_ruleset none = {0};
	struct nft_applied tmp = {0};
	int rc = nft_apply(netns_path, &none, st ? st : &tmp, err, errlen);
	nft_applied_free(&tmp);
	return rc;
}

bool nft_applied_intact(const struct nft_applied *st, bool present,
			const struct nft_table_counts *counts)
{
	if (st->present != present)
		return false;
	return !present ||
	       (counts && counts->use == st->expect.use && counts->nrules == st->expect.nrules);
}

/* ---- reading the table back ------------------------------------------------------------ */

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_table_counts *c = data;
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 && nftnl_table_is_set(t, NFTNL_TABLE_USE))
		c->use = nftnl_table_get_u32(t, NFTNL_TABLE_USE);
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWRULE)
		((struct nft_table_counts *)data)->nrules++;
	return MNL_CB_OK;
}

/* One request and its answers; returns 0, or -1 with errno (ENOENT: no such table). */
static int query(struct mnl_socket *nl, uint32_t seq, uint16_t type, uint16_t flags, mnl_cb_t cb,
		 void *data)
{
	/* As large as any read on this socket: the kernel sizes dump messages by them. */
	char buf[ANSWER_BUF] __attribute__((aligned(8)));
	while (recv(mnl_socket_get_fd(nl), buf, sizeof buf, MSG_DONTWAIT) > 0)
		; /* drop what an earlier failed batch left unread */
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
	if (type == NFT_MSG_GETTABLE) {
		struct nftnl_table *t = nftnl_table_alloc();
		if (!t)
			return -1;
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULESET_TABLE);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
	} else {
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (!r)
			return -1;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULESET_TABLE);
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

int nft_table_present(const char *netns_path, struct nft_applied *st, bool *present,
		      struct nft_table_counts *counts, char *err, size_t errlen)
{
	struct nft_table_counts c = {0};
	struct mnl_socket *nl;
	uint32_t seq = 1;
	if (st) {
		if (ensure_socket(st, netns_path, err, errlen) < 0)
			return -1;
		nl = st->sock;
		seq = st->seq;
		st->seq += 2;
	} else {
		nl = socket_in_netns(netns_path, NULL, err, errlen);
		if (!nl)
			return -1;
	}
	int rc = query(nl, seq, NFT_MSG_GETTABLE, NLM_F_ACK, table_cb, &c);
	*present = rc == 0;
	if (rc < 0 && errno == ENOENT) {
		rc = 0;
	} else if (rc == 0 && counts) {
		rc = query(nl, seq + 1, NFT_MSG_GETRULE, NLM_F_DUMP, rule_cb, &c);
		*counts = c;
	}
	if (rc < 0)
		errf(err, errlen, "reading table inet %s in %s: %s", RULESET_TABLE, netns_path,
		     strerror(errno));
	if (!st)
		mnl_socket_close(nl);
	return rc < 0 ? -1 : 0;
}
