#include "nft/links.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

/* One attribute's payload as a u32 or s32 into *v; false when it is not 4 bytes. */
static bool attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (a->nla_len != NLA_HDRLEN + sizeof *v)
		return false;
	memcpy(v, (const char *)a + NLA_HDRLEN, sizeof *v);
	return true;
}

int nft_link_parse(const struct nlmsghdr *nlh, struct nft_link *l)
{
	const size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg));
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nlh->nlmsg_len < hdr)
		return -1;
	const struct ifinfomsg *ifi = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	memset(l, 0, sizeof *l);
	l->lower_nsid = -1;
	if (ifi->ifi_index <= 0)
		return -1;
	l->ifindex = (uint32_t)ifi->ifi_index;
	size_t off = hdr;
	while (off + NLA_HDRLEN <= nlh->nlmsg_len) {
		const struct nlattr *a = (const void *)((const char *)nlh + off);
		size_t plen;
		if (a->nla_len < NLA_HDRLEN || a->nla_len > nlh->nlmsg_len - off)
			return -1;
		plen = a->nla_len - NLA_HDRLEN;
		const char *p = (const char *)a + NLA_HDRLEN;
		uint32_t v;
		switch (a->nla_type & NLA_TYPE_MASK) {
		case IFLA_IFNAME:
			if (plen == 0 || plen > sizeof l->ifname || p[plen - 1] != '\0' ||
			    strlen(p) + 1 != plen)
				return -1;
			memcpy(l->ifname, p, plen);
			break;
		case IFLA_LINK:
			if (!attr_u32(a, &l->lower))
				return -1;
			break;
		case IFLA_LINK_NETNSID:
			if (!attr_u32(a, &v))
				return -1;
			l->lower_nsid = (int32_t)v;
			break;
		case IFLA_MASTER:
			if (!attr_u32(a, &l->master))
				return -1;
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	/* A device is its own link when it stacks on nothing (the kernel then omits IFLA_LINK). */
	if (l->lower == l->ifindex && l->lower_nsid < 0)
		l->lower = 0;
	return 1;
}

/* The entry of g[0..n) with that index (a guard or a child), or NULL. */
static const struct nft_ifguard *entry_of(const struct nft_ifguard *g, uint32_t n, uint32_t ifindex)
{
	for (uint32_t i = 0; i < n; i++)
		if (g[i].ifindex == ifindex)
			return &g[i];
	return NULL;
}

static const struct nft_link *link_of(const struct nft_link *links, uint32_t n, uint32_t ifindex)
{
	for (uint32_t i = 0; i < n; i++)
		if (links[i].ifindex == ifindex)
			return &links[i];
	return NULL;
}

/* The entry (guard or child) of g that l is stacked on, bridges, or sits beside; NULL: none. */
static const struct nft_ifguard *parent_of(const struct nft_link *l, const struct nft_link *links,
					   uint32_t n, const struct nft_ifguard *g, uint32_t ng)
{
	for (uint32_t i = 0; i < ng; i++) {
		const struct nft_ifguard *e = &g[i];
		const struct nft_link *p = e->ifindex ? link_of(links, n, e->ifindex) : NULL;
		if (!p)
			continue;
		/* A veth pair links both ways; the peer of a policed veth is its network. */
		bool peer = p->lower == l->ifindex && p->lower_nsid < 0;
		if ((l->lower == p->ifindex && l->lower_nsid < 0 &&
		     (!peer || nft_ifguard_is_child(e))) ||
		    p->master == l->ifindex || (l->master == p->ifindex && nft_ifguard_is_child(e)))
			return e;
		/* The kernel stacks a macvlan (ipvlan) made on a macvlan on its lower device. */
		if (!nft_ifguard_is_child(e) && l->lower && l->lower == p->lower &&
		    l->lower_nsid == p->lower_nsid)
			return e;
	}
	return NULL;
}

static bool is_exempt(const struct nft_exempt *exempt, uint32_t nexempt, uint32_t ifindex)
{
	for (uint32_t i = 0; i < nexempt; i++)
		if (exempt[i].ifindex && exempt[i].ifindex == ifindex)
			return true;
	return false;
}

void nft_link_children(const struct nft_link *links, uint32_t n, const struct nft_exempt *exempt,
		       uint32_t nexempt, struct nft_ifguard *g, uint32_t *ng)
{
	bool found = true;
	while (found) {
		found = false;
		for (uint32_t i = 0; i < n; i++) {
			const struct nft_link *l = &links[i];
			if (entry_of(g, *ng, l->ifindex) || is_exempt(exempt, nexempt, l->ifindex))
				continue; /* guarded, a child already, or the pod's other network */
			const struct nft_ifguard *p = parent_of(l, links, n, g, *ng);
			if (!p)
				continue;
			struct nft_ifguard *c = &g[(*ng)++];
			memset(c, 0, sizeof *c);
			memcpy(c->ifname, p->ifname, sizeof c->ifname);
			c->ifindex = l->ifindex;
			snprintf(c->child, sizeof c->child, "%s", l->ifname[0] ? l->ifname : "?");
			found = true;
		}
	}
}
