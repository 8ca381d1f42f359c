#include "nft/layout.h"

#include <stdio.h>
#include <string.h>

bool nft_rule_has_port_set(const struct ir_rule *r)
{
	return r->kind == IR_RULE_MATCH && r->nports > 1;
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
