/* What nft/ derives from a pod_ruleset on its own, shared by the text printer and the netlink
 * writer so both describe the same table: names of port sets, address formatting as nft prints
 * it, and prefix detection for intervals. No allocation; callers pass the buffers. */
#ifndef NFT_LAYOUT_H
#define NFT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/ruleset.h"

#define NFT_ADDR_STRLEN 48  /* longest IPv6 text (with IPv4 tail) plus a prefix length */
#define NFT_NAME_MAX 256    /* kernel limit for table, chain and set names, NUL included */
#define NFT_COMMENT_MAX 128 /* longest rule comment nft accepts in its input */

/* A policed interface by index, which a rename does not change: the base chains drop traffic
 * whose interface has that index but not the name (renamed by a process in the pod), ahead of
 * dispatching by name. Index 0: the name is policed but no interface has it.
 * With child set, a link stacked on that interface by a process in the pod (links.h): the base
 * chains send traffic through its index to ifname's chains, after the guards. */
struct nft_ifguard {
	char ifname[16];
	uint32_t ifindex;
	char child[16]; /* "": a guard; else the child's name as last seen (listings only) */
};

/* True when g is a child (a dispatch by index), false for a guard. */
static inline bool nft_ifguard_is_child(const struct nft_ifguard *g)
{
	return g->child[0] != '\0';
}

/* True when guard (or child) g is written into dir's base chain: it has an index and rs
 * polices its name in that direction (one rule each). */
bool nft_ifguard_applies(const struct pod_ruleset *rs, const struct nft_ifguard *g,
			 enum ir_dir dir);

/* The number of guard and child rules the n entries give in both base chains. */
uint32_t nft_ifguard_rules(const struct pod_ruleset *rs, const struct nft_ifguard *g, uint32_t n);

/* True when the rule needs a named port set (more than one port range). */
bool nft_rule_has_port_set(const struct ir_rule *r);

/* Name of the port set of rule `rule` in chain `chain`: "<chain>-<rule>-ports". Returns the
 * length written, or -1 when it does not fit in `len` or in NFT_NAME_MAX. */
int nft_port_set_name(const char *chain, uint32_t rule, char *buf, size_t len);

/* One address as nft prints it (IPv6 as glibc's inet_ntop). family is 4 or 6. */
void nft_addr_format(uint8_t family, const uint8_t *addr, char buf[NFT_ADDR_STRLEN]);

/* The prefix length when [lo, hi] is exactly one CIDR block, else -1. */
int nft_range_prefix_len(uint8_t family, const uint8_t *lo, const uint8_t *hi);

/* The rule's address family: its own, or (0) the one its address match implies. -1 when the
 * rule is inconsistent with the ruleset (set index out of range, families differ). */
int nft_rule_family(const struct pod_ruleset *rs, const struct ir_rule *r);

/* Length of the comment as stored (and listed): at most NFT_COMMENT_MAX bytes. */
size_t nft_comment_len(const char *comment);

/* Refuses what would be read out of bounds or silently mangled: set indexes and families,
 * interface names longer than 15 bytes (exempt ones: or empty), set and chain names empty or longer than the kernel's
 * 255 bytes (so every batch message fits its reserve), protocols other than TCP, UDP, SCTP,
 * ICMP and ICMPv6, ports on protocols without ports, unsorted port ranges, ICMPv6 rules without
 * types, missing names. Names the set, chain or rule in err. Returns 0 or -1. Duplicates are
 * left to the kernel, whose error names the object too. Comments are cut to NFT_COMMENT_MAX where
 * they are written. */
int nft_ruleset_check(const struct pod_ruleset *rs, char *err, size_t errlen);

#endif
