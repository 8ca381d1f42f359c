/* Evaluating a pod_ruleset for one packet; see verdict.h. */
#include "policy/verdict.h"

#include <stdbool.h>
#include <string.h>

static size_t addr_len(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static bool in_set(const struct ir_addr_set *set, const uint8_t *a, uint8_t family)
{
	size_t n = addr_len(family);
	if (set->family != family)
		return false;
	for (uint32_t i = 0; i < set->n; i++)
		if (memcmp(a, set->ranges[i].lo, n) >= 0 && memcmp(a, set->ranges[i].hi, n) <= 0)
			return true;
	return false;
}

static bool in_prefix(const uint8_t *prefix, uint8_t len, const uint8_t *a)
{
	uint8_t full = len / 8, rest = len % 8;
	if (memcmp(prefix, a, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (prefix[full] & mask) == (a[full] & mask);
}

bool ir_rule_matches(const struct pod_ruleset *rs, const struct ir_rule *r,
		     const struct ir_packet *p)
{
	if (r->kind != IR_RULE_MATCH)
		return false;
	if (r->family && r->family != p->family)
		return false;
	const uint8_t *a = r->addr_is_dst ? p->daddr : p->saddr;
	if (r->addr_match == IR_ADDR_SET &&
	    (r->addr_set >= rs->nsets || !in_set(&rs->sets[r->addr_set], a, p->family)))
		return false;
	if (r->addr_match == IR_ADDR_PREFIX && !in_prefix(r->prefix, r->prefix_len, a))
		return false;
	if (r->l4proto && r->l4proto != p->l4proto)
		return false;
	if (r->nports) {
		uint16_t port = r->port_is_src ? p->sport : p->dport;
		bool hit = false;
		for (uint32_t i = 0; i < r->nports && !hit; i++)
			hit = port >= r->ports[i].lo && port <= r->ports[i].hi;
		if (!hit)
			return false;
	}
	return true;
}

void ruleset_evaluate(const struct pod_ruleset *rs, const char *network, enum ir_dir dir,
		      const struct ir_packet *p, struct ir_trace *out)
{
	*out = (struct ir_trace){.chain = NULL, .rule = 0, .verdict = IR_ACCEPT};
	for (uint32_t c = 0; c < rs->nchains; c++) {
		const struct ir_chain *ch = &rs->chains[c];
		if (ch->dir != dir || !ch->network || strcmp(ch->network, network))
			continue;
		out->chain = ch;
		for (uint32_t i = 0; i < ch->nrules; i++)
			if (ir_rule_matches(rs, &ch->rules[i], p)) {
				out->rule = i;
				out->verdict = ch->rules[i].verdict;
				return;
			}
		/* A chain without a final match (never built so): the base chain's accept. */
		out->rule = ch->nrules;
		return;
	}
}
