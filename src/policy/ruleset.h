/* pod_ruleset: the desired nftables content of one pod's `inet multi_networkpolicy` table.
 * policy/ computes it from the store; nft/ programs it over netlink or prints it as nft text.
 * It is plain data: every pointer points into an arena owned by whoever built it, and the
 * builder lays out every rule explicitly (nft/ adds nothing of its own but the base chains that
 * dispatch by interface name to the per-interface chains). */
#ifndef POLICY_RULESET_H
#define POLICY_RULESET_H

#include <stdbool.h>
#include <stdint.h>

#define RULESET_TABLE "multi_networkpolicy"

enum ir_dir { IR_INGRESS, IR_EGRESS };

/* An inclusive address interval; IPv4 uses bytes 0..3 (network order), the rest are zero. */
struct ir_addr_range {
	uint8_t lo[16], hi[16];
};

/* A named interval set of addresses of one family: sorted, non-overlapping, non-adjacent. */
struct ir_addr_set {
	const char *name; /* nft set name, unique in the table, e.g. "ingress-net1-0-v4" */
	uint8_t family;	  /* 4 or 6 */
	uint32_t n;
	const struct ir_addr_range *ranges;
};

struct ir_port_range {
	uint16_t lo, hi; /* inclusive, lo <= hi, lo >= 1 */
};

enum ir_rule_kind {
	IR_RULE_CT_ESTABLISHED, /* ct state established,related accept */
	IR_RULE_NDP,		/* icmpv6 type { the types in icmpv6_types } accept */
	IR_RULE_MATCH,		/* the matches below, then the verdict */
};

/* ICMPv6 types 128..159 as bits of ir_rule.icmpv6_types. */
#define IR_ICMPV6_BIT(type) (1u << ((type)-128))
/* What IPv6 address resolution needs on a policed interface, accepted before any policy:
 * ingress: MLD query (130), neighbour solicitation (135) and advertisement (136); */
#define IR_NDP_INGRESS (IR_ICMPV6_BIT(130) | IR_ICMPV6_BIT(135) | IR_ICMPV6_BIT(136))
/* egress: MLD reports and done (131, 132, 143), router solicitation (133), NS and NA. */
#define IR_NDP_EGRESS                                                                              \
	(IR_ICMPV6_BIT(131) | IR_ICMPV6_BIT(132) | IR_ICMPV6_BIT(133) | IR_ICMPV6_BIT(135) |       \
	 IR_ICMPV6_BIT(136) | IR_ICMPV6_BIT(143))
/* Router advertisements (134) and redirects (137) set routes and addresses: ingress only on
 * request (--accept-ipv6-router-advertisements). */
#define IR_NDP_ROUTER (IR_ICMPV6_BIT(134) | IR_ICMPV6_BIT(137))

enum ir_addr_match {
	IR_ADDR_NONE,	/* addresses not matched */
	IR_ADDR_SET,	/* saddr/daddr @set */
	IR_ADDR_PREFIX, /* saddr/daddr prefix/len */
};

enum ir_verdict { IR_ACCEPT, IR_DROP };

struct ir_rule {
	enum ir_rule_kind kind;
	uint32_t icmpv6_types; /* IR_RULE_NDP only: IR_ICMPV6_BIT()s, at least one */
	/* IR_RULE_MATCH only: */
	uint8_t family; /* 0: both families (no family match), 4 or 6 (meta nfproto) */
	enum ir_addr_match addr_match;
	bool addr_is_dst;  /* daddr instead of saddr */
	uint32_t addr_set; /* IR_ADDR_SET: index into pod_ruleset.sets (same family as the rule) */
	uint8_t prefix[16], prefix_len; /* IR_ADDR_PREFIX */
	uint8_t l4proto;		/* 0 any, else IPPROTO_TCP/UDP/SCTP/ICMP/ICMPV6 */
	bool port_is_src;		/* sport instead of dport */
	uint32_t nports;		/* 0: any port; else l4proto is TCP, UDP or SCTP */
	const struct ir_port_range
	    *ports; /* sorted, non-overlapping; more than one becomes a set */
	enum ir_verdict verdict;
	const char *comment; /* "namespace/policy" or NULL */
	uint32_t rule_no;    /* with a comment: the policy's ingress/egress rule, from 1 */
	bool counter;	     /* counts what it matches (each chain's final drop) */
};

/* The rules for one interface in one direction; the builder ends it with a drop rule. */
struct ir_chain {
	const char *name; /* e.g. "ingress-net1" */
	const char
	    *ifname; /* the pod's interface, matched with iifname (ingress) / oifname (egress) */
	const char *network; /* the network ("ns/nad") of that interface */
	uint32_t npolicies;  /* the policies selecting the pod here ("ns/name", by name); */
	const char *const *policies; /* not part of the table: for explain and /debug/pods */
	enum ir_dir dir;
	uint32_t nrules;
	const struct ir_rule *rules;
};

struct pod_ruleset {
	uint32_t nsets;
	const struct ir_addr_set *sets;
	uint32_t nchains; /* 0: no policy targets the pod, so it must have no table */
	const struct ir_chain *chains;
	/* The pod's interfaces CNI made that no chain polices (network-status names, sorted,
	 * unique; none without chains): never taken for links stacked on a policed interface
	 * (nft/links.h), by the index each name has when first seen. Not printed by render. */
	uint32_t nexempt;
	const char *const *exempt;
};

#endif
