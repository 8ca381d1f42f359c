/* Forgets the conntrack entries of a new interface's addresses, so that a flow opened between
 * the interface plugin's ADD and the table's commit is not accepted later as established. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "cni/cni.h"

#define MAX_FLOWS 1024
#define TUPLE_MAX 256

struct addr {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t bytes[16];
};

struct flow {
	uint8_t family;
	uint16_t len;
	uint8_t tuple[TUPLE_MAX]; /* the CTA_TUPLE_ORIG attribute's payload */
};

struct scan {
	const struct addr *addrs;
	uint32_t naddrs;
	struct flow *flows;
	uint32_t nflows;
};

static struct mnl_socket *open_in_netns(const char *path, char *err, size_t errlen)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(path, O_RDONLY | O_CLOEXEC);
	struct mnl_socket *nl = NULL;

	if (self < 0 || target < 0) {
		snprintf(err, errlen, "open netns %s: %s", path, strerror(errno));
		goto out;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "setns %s: %s", path, strerror(errno));
		goto out;
	}
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	if (!nl)
		snprintf(err, errlen, "conntrack socket in %s: %s", path, strerror(errno));
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* never go on in the pod's namespace */
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return nl;
}

/* The netns's number of conntrack entries, or -1 when unknown. A dump walks the kernel's
 * table of every netns (~10 ms), so an empty one (the usual new pod) is not dumped. */
static long ct_count_in(const char *path)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(path, O_RDONLY | O_CLOEXEC), fd = -1;
	char buf[32];
	ssize_t n = -1;

	if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
		/* /proc/sys/net is the netns of the task that opens it. */
		fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);
		if (setns(self, CLONE_NEWNET) < 0)
			abort(); /* never go on in the pod's namespace */
	}
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static bool addr_is(const struct scan *sc, uint8_t family, const void *bytes)
{
	size_t n = family == AF_INET ? 4 : 16;

	for (uint32_t i = 0; i < sc->naddrs; i++)
		if (sc->addrs[i].family == family && memcmp(sc->addrs[i].bytes, bytes, n) == 0)
			return true;
	return false;
}

/* Whether the tuple's source or destination is one of the addresses. */
static bool tuple_matches(const struct scan *sc, const struct nlattr *tuple)
{
	const struct nlattr *ip = NULL, *a;

	mnl_attr_for_each_nested(a, tuple)
	{
		if (mnl_attr_get_type(a) == CTA_TUPLE_IP)
			ip = a;
	}
	if (!ip)
		return false;
	mnl_attr_for_each_nested(a, ip)
	{
		uint16_t t = mnl_attr_get_type(a);
		if ((t == CTA_IP_V4_SRC || t == CTA_IP_V4_DST) &&
		    mnl_attr_get_payload_len(a) == 4 &&
		    addr_is(sc, AF_INET, mnl_attr_get_payload(a)))
			return true;
		if ((t == CTA_IP_V6_SRC || t == CTA_IP_V6_DST) &&
		    mnl_attr_get_payload_len(a) == 16 &&
		    addr_is(sc, AF_INET6, mnl_attr_get_payload(a)))
			return true;
	}
	return false;
}

static int on_entry(const struct nlmsghdr *nlh, void *data)
{
	struct scan *sc = data;
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*nfg))
	{
		struct flow *f;
		if (mnl_attr_get_type(a) != CTA_TUPLE_ORIG || !tuple_matches(sc, a))
			continue;
		if (sc->nflows == MAX_FLOWS || mnl_attr_get_payload_len(a) > TUPLE_MAX)
			return MNL_CB_OK;
		f = &sc->flows[sc->nflows++];
		f->family = nfg->nfgen_family;
		f->len = mnl_attr_get_payload_len(a);
		memcpy(f->tuple, mnl_attr_get_payload(a), f->len);
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_msg(char *buf, uint16_t type, uint16_t flags, uint8_t family,
			       uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

static int talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static char buf[65536];
	uint32_t port = mnl_socket_get_portid(nl);
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -1;
		rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, port, cb, data);
	} while (rc == MNL_CB_OK);
	return rc < 0 ? -1 : 0;
}

static uint32_t parse_addrs(const char (*ips)[64], uint32_t nips, struct addr *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < nips; i++) {
		char a[64];
		char *slash;
		snprintf(a, sizeof(a), "%s", ips[i]);
		slash = strchr(a, '/');
		if (slash)
			*slash = '\0';
		if (inet_pton(AF_INET, a, out[n].bytes) == 1)
			out[n++].family = AF_INET;
		else if (inet_pton(AF_INET6, a, out[n].bytes) == 1)
			out[n++].family = AF_INET6;
	}
	return n;
}

int cni_conntrack_forget(const char *netns, struct mnl_socket *sock, const char (*ips)[64],
			 uint32_t nips, char *err, size_t errlen)
{
	static struct flow flows[MAX_FLOWS];
	char buf[8192];
	struct addr addrs[CNI_MAX_IPS];
	struct scan sc = {addrs, 0, flows, 0};
	struct mnl_socket *nl;
	uint32_t seq = (uint32_t)time(NULL);
	int deleted = 0;

	sc.naddrs = parse_addrs(ips, nips < CNI_MAX_IPS ? nips : CNI_MAX_IPS, addrs);
	if (sc.naddrs == 0 || ct_count_in(netns) == 0)
		return 0;
	nl = sock ? sock : open_in_netns(netns, err, errlen);
	if (!nl)
		return -1;
	if (talk(nl, ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC, seq++), on_entry, &sc) <
	    0) {
		snprintf(err, errlen, "listing conntrack in %s: %s", netns, strerror(errno));
		deleted = -1;
		goto out;
	}
	for (uint32_t i = 0; i < sc.nflows; i++) {
		struct nlmsghdr *nlh =
		    ct_msg(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, flows[i].family, seq++);
		struct nlattr *nest = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
		memcpy(mnl_nlmsg_get_payload_tail(nlh), flows[i].tuple, flows[i].len);
		nlh->nlmsg_len += MNL_ALIGN(flows[i].len);
		mnl_attr_nest_end(nlh, nest);
		/* ENOENT: it expired meanwhile; anything else is reported. */
		if (talk(nl, nlh, NULL, NULL) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "deleting a conntrack entry in %s: %s", netns,
				 strerror(errno));
			deleted = -1;
			goto out;
		}
		deleted++;
	}
out:
	if (!sock)
		mnl_socket_close(nl);
	return deleted;
}
