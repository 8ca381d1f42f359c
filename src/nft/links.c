#include "nft/links.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

unsigned long nft_link_steps;

/* A link's position under a key, sorted by key: the links with one key are a run. */
struct keyed {
	uint64_t key;
	uint32_t pos;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->pos > y->pos) - (x->pos < y->pos);
}

/* The first entry of v[0..n) with key, or n. */
static uint32_t keyed_find(const struct keyed *v, uint32_t n, uint64_t key)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		nft_link_steps++;
		if (v[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].key == key ? lo : n;
}

/* The keys children are found by: index; lower device in this netns; master; lower device in
 * any netns (with the netns id: "beside"). */
enum { BY_INDEX, BY_LOWER, BY_MASTER, BY_BESIDE, NKEYS };

struct finder {
	const struct nft_link *links;
	uint32_t n;
	struct keyed *by[NKEYS];
	uint32_t nby[NKEYS];
	int32_t *entry; /* per link position: its entry in g, -1 none, EXEMPT */
	struct nft_ifguard *g;
	uint32_t *ng;
};

static void index_links(struct finder *f)
{
	for (uint32_t i = 0; i < f->n; i++) {
		const struct nft_link *l = &f->links[i];
		uint64_t beside = (uint64_t)(uint32_t)l->lower_nsid << 32 | l->lower;
		f->by[BY_INDEX][f->nby[BY_INDEX]++] = (struct keyed){l->ifindex, i};
		if (l->lower && l->lower_nsid < 0)
			f->by[BY_LOWER][f->nby[BY_LOWER]++] = (struct keyed){l->lower, i};
		if (l->master)
			f->by[BY_MASTER][f->nby[BY_MASTER]++] = (struct keyed){l->master, i};
		if (l->lower)
			f->by[BY_BESIDE][f->nby[BY_BESIDE]++] = (struct keyed){beside, i};
	}
	for (int k = 0; k < NKEYS; k++)
		qsort(f->by[k], f->nby[k], sizeof *f->by[k], keyed_cmp);
}

/* The position of the link with that index, or n. */
static uint32_t pos_of(const struct finder *f, uint32_t ifindex)
{
	uint32_t i = keyed_find(f->by[BY_INDEX], f->nby[BY_INDEX], ifindex);
	return i < f->nby[BY_INDEX] ? f->by[BY_INDEX][i].pos : f->n;
}

/* A link that is the pod's own unpoliced interface: never claimed. */
#define EXEMPT (-2)

/* Makes the link at pos a child of entry e, unless it is an entry already or exempt. */
static void claim(struct finder *f, uint32_t pos, uint32_t e)
{
	if (pos < f->n)
		pos = pos_of(f, f->links[pos].ifindex); /* one entry per index, were it listed twice */
	if (pos >= f->n || f->entry[pos] != -1)
		return;
	const struct nft_link *l = &f->links[pos];
	struct nft_ifguard *c = &f->g[*f->ng];
	memset(c, 0, sizeof *c);
	memcpy(c->ifname, f->g[e].ifname, sizeof c->ifname);
	c->ifindex = l->ifindex;
	snprintf(c->child, sizeof c->child, "%s", l->ifname[0] ? l->ifname : "?");
	f->entry[pos] = (int32_t)(*f->ng)++;
}

/* Claims for entry e every link with key in index k (the peer of e's veth excepted where
 * skip_peer names it). */
static void claim_run(struct finder *f, int k, uint64_t key, uint32_t e, uint32_t skip_pos)
{
	for (uint32_t i = keyed_find(f->by[k], f->nby[k], key);
	     i < f->nby[k] && f->by[k][i].key == key; i++) {
		nft_link_steps++;
		if (f->by[k][i].pos != skip_pos)
			claim(f, f->by[k][i].pos, e);
	}
}

/* The links entry e (at link position p) brings in as children. */
static void children_of(struct finder *f, uint32_t e, uint32_t p)
{
	const struct nft_link *pl = &f->links[p];
	bool child = nft_ifguard_is_child(&f->g[e]);
	/* A veth pair links both ways; the peer of a policed veth is its network. */
	uint32_t peer = !child && pl->lower && pl->lower_nsid < 0 ? pos_of(f, pl->lower) : f->n;
	claim_run(f, BY_LOWER, pl->ifindex, e, peer);
	if (pl->master)
		claim(f, pos_of(f, pl->master), e);
	if (child)
		claim_run(f, BY_MASTER, pl->ifindex, e, f->n);
	/* The kernel stacks a macvlan (ipvlan) made on a macvlan on its lower device. */
	if (!child && pl->lower)
		claim_run(f, BY_BESIDE, (uint64_t)(uint32_t)pl->lower_nsid << 32 | pl->lower, e,
			  f->n);
}

/* Puts the children found (g[first...]) in the order of their links, as the kernel listed them,
 * so that the table's rules do not depend on the order they were reached in. tmp: room for n
 * keyed entries, apart from the index by ifindex. */
static void in_link_order(struct finder *f, uint32_t first, struct keyed *tmp)
{
	uint32_t nc = *f->ng - first;
	struct nft_ifguard *copy = malloc((nc ? nc : 1) * sizeof *copy);
	if (!copy)
		return; /* reached order: the same rules, listed otherwise */
	for (uint32_t i = 0; i < nc; i++)
		tmp[i] = (struct keyed){pos_of(f, f->g[first + i].ifindex), first + i};
	qsort(tmp, nc, sizeof *tmp, keyed_cmp);
	for (uint32_t i = 0; i < nc; i++)
		copy[i] = f->g[tmp[i].pos];
	memcpy(&f->g[first], copy, nc * sizeof *copy);
	free(copy);
}

int nft_link_children(const struct nft_link *links, uint32_t n, const struct nft_exempt *exempt,
		      uint32_t nexempt, struct nft_ifguard *g, uint32_t *ng)
{
	struct finder f = {.links = links, .n = n, .g = g, .ng = ng};
	uint32_t first = *ng;
	struct keyed *all = malloc((size_t)NKEYS * (n ? n : 1) * sizeof *all);
	f.entry = malloc((n ? n : 1) * sizeof *f.entry);
	if (!all || !f.entry) {
		free(all);
		free(f.entry);
		return -1;
	}
	for (int k = 0; k < NKEYS; k++)
		f.by[k] = all + (size_t)k * n;
	index_links(&f);
	for (uint32_t i = 0; i < n; i++)
		f.entry[i] = -1;
	for (uint32_t e = 0; e < *ng; e++) {
		uint32_t p = g[e].ifindex ? pos_of(&f, g[e].ifindex) : n;
		if (p < n && f.entry[p] < 0)
			f.entry[p] = (int32_t)e;
	}
	for (uint32_t i = 0; i < nexempt; i++) {
		uint32_t p = exempt[i].ifindex ? pos_of(&f, exempt[i].ifindex) : n;
		if (p < n && f.entry[p] == -1)
			f.entry[p] = EXEMPT; /* guarded stays guarded */
	}
	/* Breadth first: each entry, guards first, brings in its own children once. */
	for (uint32_t e = 0; e < *ng; e++) {
		uint32_t p = g[e].ifindex ? pos_of(&f, g[e].ifindex) : n;
		if (p < n && f.entry[p] == (int32_t)e)
			children_of(&f, e, p);
	}
	in_link_order(&f, first, f.by[BY_LOWER]); /* spent; the index by ifindex is still read */
	free(all);
	free(f.entry);
	return 0;
}
