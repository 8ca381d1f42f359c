/* Exact address interval arithmetic for one family: a list of inclusive ranges that is turned
 * into sorted, merged, non-overlapping, non-adjacent form. Used for peer sets and ipBlocks.
 * The list grows with realloc; the caller frees it with addrset_free. */
#ifndef POLICY_ADDRSET_H
#define POLICY_ADDRSET_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/ruleset.h"
#include "store/store.h"

struct addrset {
	uint8_t family; /* 4 or 6 */
	uint32_t n, cap;
	struct ir_addr_range *r;
};

void addrset_init(struct addrset *s, uint8_t family);
void addrset_free(struct addrset *s);
/* Adds one address, one prefix, or one range (any order; normalise later). 0 or -1 (memory). */
int addrset_add_ip(struct addrset *s, const uint8_t addr[16]);
int addrset_add_cidr(struct addrset *s, const struct store_cidr *c);
int addrset_add_range(struct addrset *s, const struct ir_addr_range *r);
/* Gives back unused capacity. */
void addrset_shrink(struct addrset *s);
/* Sorts and merges overlapping and adjacent ranges. */
void addrset_normalise(struct addrset *s);
/* Removes every address of `minus` (normalised) from s (normalised); 0 or -1 (memory). */
int addrset_subtract(struct addrset *s, const struct addrset *minus);
/* Adds cidr minus its excepts (one ipBlock); 0 or -1. */
int addrset_add_block(struct addrset *s, const struct store_cidr *cidr,
		      const struct store_cidr *except, uint32_t nexcept);
bool addrset_equal(const struct addrset *a, const struct addrset *b);

/* The range a prefix covers. */
void cidr_range(const struct store_cidr *c, struct ir_addr_range *out);

#endif
