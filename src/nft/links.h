/* The links of a pod's netns as the table's base chains need them: an RTM_NEWLINK message (a
 * dump's answer or an event) read into a struct nft_link, and which links carry a policed
 * interface's traffic under a name of their own (its children: stacked on it, its bridge, or a
 * macvlan/ipvlan beside it on the same lower device, as the kernel makes one on top of a
 * macvlan), but for the pod's own unpoliced interfaces (exempt). Children are dispatched by
 * index to the policed interface's chains. The caller owns every array. Internal to nft/. */
#ifndef NFT_LINKS_H
#define NFT_LINKS_H

#include <stdint.h>

#include <linux/netlink.h>

#include "nft/layout.h"

struct nft_link {
	char ifname[16];
	uint32_t ifindex;
	uint32_t lower; /* IFLA_LINK: the device it is stacked on (a veth's: its peer); 0 none */
	int32_t lower_nsid; /* IFLA_LINK_NETNSID: the netns of lower, -1: this one */
	uint32_t master;    /* IFLA_MASTER: the bridge or bond it is a port of; 0 none */
};

/* An interface of the pod CNI made that no chain polices (pod_ruleset.exempt), pinned to the
 * index its name had when first seen (0: not seen yet), so that a link made later under its
 * name (the real one deleted) is not exempt. */
struct nft_exempt {
	char ifname[16];
	uint32_t ifindex;
};

/* Reads one RTM_NEWLINK message of the kernel into *l. Returns 1, 0 for a message of another
 * type (RTM_DELLINK, NLMSG_DONE), -1 for a malformed one (short, no index, an attribute
 * cut short, a name without its terminator or longer than 15 bytes). */
int nft_link_parse(const struct nlmsghdr *nlh, struct nft_link *l);

/* Appends to g[*ng...] (room for n more) an entry {policed name, the link's index, child: its
 * name} for every link of links[0..n) that is a child of an interface g guards (an entry of g
 * with an index that is no child), found again from those already found: its lower device is
 * one in this netns, or it is the master (bridge, bond) of one or a port of a child bridge, or
 * (guarded interfaces only) it shares their lower device in another netns. A guarded link is
 * never a child, nor is one whose index an entry of exempt[0..nexempt) pins (the pod's own
 * unpoliced network on the same host device). Entries are visited in order, each once, so the
 * first that reaches a link names its parent. O(n log n) whatever the pod makes of its links
 * (sorted indexes, no pass per depth). Returns 0, or -1 without memory (g unchanged past the
 * children found). */
int nft_link_children(const struct nft_link *links, uint32_t n, const struct nft_exempt *exempt,
		      uint32_t nexempt, struct nft_ifguard *g, uint32_t *ng);

/* Index probes and run steps nft_link_children took since start: lets tests assert its cost
 * without timing it. */
extern unsigned long nft_link_steps;

#endif
