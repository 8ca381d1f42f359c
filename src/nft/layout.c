#include "nft/layout.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

bool nft_rule_has_port_set(const struct ir_rule *r)
{
	return r->kind == IR_RULE_MATCH && r->nports > 1;
}

bool nft_ifguard_applies(const struct pod_ruleset *rs, const struct nft_ifguard *g, enum ir_dir dir)
{
	if (g->ifindex == 0)
		return false;
	for (uint32_t c = 0; c < rs->nchains; c++)
		if (rs->chains[c].dir == dir && strcmp(rs->chains[c].ifname, g->ifname) == 0)
			return true;
	return false;
}

uint32_t nft_ifguard_rules(const struct pod_ruleset *rs, const struct nft_ifguard *g, uint32_t n)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		k += nft_ifguard_applies(rs, &g[i], IR_INGRESS) +
		     nft_ifguard_applies(rs, &g[i], IR_EGRESS);
	return k;
}

int nft_port_set_name(const char *chain, uint32_t rule, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s-%u-ports", chain, rule);
	if (n < 0 || (size_t)n >= len || n >= NFT_NAME_MAX)
		return -1;
	return n;
}

/* glibc's inet_ntop rules: the first longest run of two or more zero words becomes "::", and
 * an address whose first 96 bits are zero (or ::ffff:0:0/96) ends in dotted IPv4. */
static void format_ipv6(const uint8_t *a, char *out)
{
	uint16_t w[8];
	int best = -1, best_len = 0, cur = -1, cur_len = 0;
	for (int i = 0; i < 8; i++) {
		w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
		if (w[i] == 0) {
			if (cur < 0)
				cur = i, cur_len = 0;
			cur_len++;
			if (cur_len > best_len)
				best = cur, best_len = cur_len;
		} else {
			cur = -1;
		}
	}
	if (best_len < 2)
		best = -1;
	char *p = out;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i != 0)
			*p++ = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
			p += sprintf(p, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
			break;
		}
		p += sprintf(p, "%x", w[i]);
	}
	if (best >= 0 && best + best_len == 8)
		*p++ = ':';
	*p = '\0';
}

void nft_addr_format(uint8_t family, const uint8_t *addr, char buf[NFT_ADDR_STRLEN])
{
	if (family == 4)
		snprintf(buf, NFT_ADDR_STRLEN, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
	else
		format_ipv6(addr, buf);
}

int nft_range_prefix_len(uint8_t family, const uint8_t *lo, const uint8_t *hi)
{
	int bits = family == 4 ? 32 : 128;
	int plen = 0;
	/* The common leading bits; after them lo must be all zeros and hi all ones. */
	while (plen < bits) {
		int byte = plen / 8, bit = 7 - plen % 8;
		if (((lo[byte] >> bit) & 1) != ((hi[byte] >> bit) & 1))
			break;
		plen++;
	}
	for (int i = plen; i < bits; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((lo[byte] >> bit) & 1) != 0 || ((hi[byte] >> bit) & 1) != 1)
			return -1;
	}
	return plen;
}

int nft_rule_family(const struct pod_ruleset *rs, const struct ir_rule *r)
{
	int fam = r->family;
	if (fam != 0 && fam != 4 && fam != 6)
		return -1;
	if (r->addr_match == IR_ADDR_SET) {
		if (r->addr_set >= rs->nsets)
			return -1;
		int sfam = rs->sets[r->addr_set].family;
		if ((sfam != 4 && sfam != 6) || (fam != 0 && fam != sfam))
			return -1;
		return sfam;
	}
	if (r->addr_match == IR_ADDR_PREFIX) {
		if (fam == 0 || r->prefix_len > (fam == 4 ? 32 : 128))
			return -1;
	}
	return fam;
}

size_t nft_comment_len(const char *comment)
{
	size_t n = strlen(comment);
	return n > NFT_COMMENT_MAX ? NFT_COMMENT_MAX : n;
}

static bool name_fits(const char *name)
{
	return name && name[0] && strnlen(name, NFT_NAME_MAX) < NFT_NAME_MAX;
}

/* Checks what would otherwise be read out of bounds, overrun a batch message or be silently
 * mangled; everything else (duplicates) the kernel judges, and its error names the object. */
int nft_ruleset_check(const struct pod_ruleset *rs, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < rs->nsets; i++) {
		const struct ir_addr_set *s = &rs->sets[i];
		if (!name_fits(s->name) || (s->family != 4 && s->family != 6) || (s->n && !s->ranges)) {
			snprintf(err, errlen, "set %u (%.64s): bad name, family or ranges", i,
				 s->name ? s->name : "?");
			return -1;
		}
	}
	for (uint32_t c = 0; c < rs->nchains; c++) {
		const struct ir_chain *ch = &rs->chains[c];
		if (!name_fits(ch->name) || !ch->ifname || strnlen(ch->ifname, 16) >= 16 ||
		    (ch->nrules && !ch->rules)) {
			snprintf(err, errlen, "chain %u (%.64s): bad name or interface name", c,
				 ch->name ? ch->name : "?");
			return -1;
		}
		for (uint32_t i = 0; i < ch->nrules; i++) {
			const struct ir_rule *r = &ch->rules[i];
			char name[NFT_NAME_MAX];
			if (r->kind == IR_RULE_NDP && r->icmpv6_types == 0) {
				snprintf(err, errlen, "chain %s rule %u: no ICMPv6 types", ch->name,
					 i);
				return -1;
			}
			if (r->kind != IR_RULE_MATCH)
				continue;
			bool bad = nft_rule_family(rs, r) < 0 || (r->nports && !r->ports);
			if (r->nports > 0 && r->l4proto != IPPROTO_TCP &&
			    r->l4proto != IPPROTO_UDP && r->l4proto != IPPROTO_SCTP)
				bad = true;
			/* Other protocols would print by name from /etc/protocols. */
			if (r->l4proto != 0 && r->l4proto != IPPROTO_TCP &&
			    r->l4proto != IPPROTO_UDP && r->l4proto != IPPROTO_SCTP &&
			    r->l4proto != IPPROTO_ICMP && r->l4proto != IPPROTO_ICMPV6)
				bad = true;
			for (uint32_t p = 0; !bad && p < r->nports; p++)
				if (r->ports[p].lo == 0 || r->ports[p].lo > r->ports[p].hi ||
				    (p > 0 && r->ports[p].lo <= r->ports[p - 1].hi))
					bad = true;
			if (!bad && r->nports > 1 &&
			    nft_port_set_name(ch->name, i, name, sizeof name) < 0)
				bad = true;
			if (bad) {
				snprintf(err, errlen, "chain %s rule %u: inconsistent match",
					 ch->name, i);
				return -1;
			}
		}
	}
	for (uint32_t i = 0; i < rs->nexempt; i++)
		if (!rs->exempt || !rs->exempt[i] || !rs->exempt[i][0] ||
		    strnlen(rs->exempt[i], 16) >= 16) {
			snprintf(err, errlen, "exempt interface %u (%.64s): bad interface name", i,
				 rs->exempt && rs->exempt[i] ? rs->exempt[i] : "?");
			return -1;
		}
	return 0;
}
