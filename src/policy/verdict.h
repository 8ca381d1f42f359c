/* What a pod's ruleset does with the first packet of a new connection: the evaluation nftables
 * makes of the per-interface chain, done over the same pod_ruleset the agent programs (so
 * `explain` cannot disagree with the tables). Reads rs only; allocates nothing. */
#ifndef POLICY_VERDICT_H
#define POLICY_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/ruleset.h"

struct ir_packet {
	uint8_t family; /* 4 or 6 */
	uint8_t saddr[16], daddr[16];
	uint8_t l4proto; /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	uint16_t sport, dport;
};

struct ir_trace {
	const struct ir_chain *chain; /* NULL: no chain polices ifname in that direction */
	uint32_t rule;		      /* the deciding rule, an index into chain->rules */
	enum ir_verdict verdict;      /* IR_ACCEPT when chain is NULL */
};

/* The verdict on p, a new connection's first packet entering (IR_INGRESS) or leaving
 * (IR_EGRESS) the pod through its interface on network ("ns/nad"). */
void ruleset_evaluate(const struct pod_ruleset *rs, const char *network, enum ir_dir dir,
		      const struct ir_packet *p, struct ir_trace *out);

/* Whether rule r (of a chain of rs) matches p; established/related and neighbour discovery
 * rules never match a new TCP, UDP or SCTP connection. */
bool ir_rule_matches(const struct pod_ruleset *rs, const struct ir_rule *r,
		     const struct ir_packet *p);

#endif
