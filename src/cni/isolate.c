/* The plugin's fallback: a deny table for one interface, committed through nft/ like the
 * agent's own, so that the agent later adopts nothing (its hash differs) and rewrites it. */
#include <stdio.h>

#include "cni/cni.h"
#include "nft/apply.h"
#include "policy/ruleset.h"

int cni_isolate(const char *netns, const char *ifname, const char (*ips)[64], uint32_t nips,
		char *err, size_t errlen)
{
	/* What the agent puts in an isolated interface's chains: replies and address resolution. */
	static const struct ir_rule in_rules[] = {
	    {.kind = IR_RULE_CT_ESTABLISHED},
	    {.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_INGRESS},
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
	};
	static const struct ir_rule out_rules[] = {
	    {.kind = IR_RULE_CT_ESTABLISHED},
	    {.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_EGRESS},
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
	};
	char in[32], out[32], ct_err[256];
	struct ir_chain chains[2];
	struct pod_ruleset rs = {.nchains = 2, .chains = chains};
	struct nft_applied state = {0};
	int rc;

	snprintf(in, sizeof(in), "ingress-%s", ifname);
	snprintf(out, sizeof(out), "egress-%s", ifname);
	chains[0] = (struct ir_chain){
	    .name = in, .ifname = ifname, .dir = IR_INGRESS, .nrules = 3, .rules = in_rules};
	chains[1] = (struct ir_chain){
	    .name = out, .ifname = ifname, .dir = IR_EGRESS, .nrules = 3, .rules = out_rules};
	/* Repair: whatever a table of that name holds, it is rewritten. */
	nft_applied_repair(&state);
	rc = nft_apply(netns, &rs, &state, err, errlen);
	if (rc == 0 &&
	    cni_conntrack_forget(netns, state.sock, ips, nips, ct_err, sizeof(ct_err)) < 0)
		fprintf(stderr, "multi-networkpolicy-cni: %s\n", ct_err);
	nft_applied_free(&state);
	return rc;
}
