/* One nf_tables netlink batch for a pod_ruleset, built in a growing buffer the batch owns:
 * the whole table (add, delete, add; then sets, elements, chains, rules, as nft writes them) or
 * only the set element changes from what was applied before. Every message records what it
 * concerns so that a failed ACK can name the object. Internal to nft/. */
#ifndef NFT_BATCH_H
#define NFT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/layout.h"
#include "policy/ruleset.h"

/* Our userdata is one TLV (type, length, value, as libnftnl's nftnl_udata) of a type nft does
 * not define (it knows 0, the comment, and skips the others when listing), 8 bytes in host
 * byte order. The table's holds the hash of the ruleset it was written for without the address
 * sets' contents (its shape): the kernel never updates a table's userdata. The jump rule to the
 * first chain (the marker) holds nft_ruleset_hash() of the whole ruleset, and every element
 * update replaces that rule in the same batch to carry the new one. A first apply after a reset
 * reads both from a table its socket owns: the marker's hash adopts a table that already holds
 * its ruleset; the shape hash one whose sets it then reads back to send element changes only.
 * Any other table (a restarted agent's, ownerless meanwhile) is rewritten, never trusted on
 * these hashes. */
#define NFT_UDATA_HASH 0xf0
#define NFT_UDATA_HASH_LEN 8

/* A copy of an applied address set, kept in struct nft_applied. */
struct nft_applied_set {
	char *name;
	uint8_t family;
	uint32_t n;
	struct ir_addr_range *ranges;
};

/* What a message of the batch concerns, to name it in an error. */
enum what {
	W_TABLE,
	W_SET,
	W_ELEMS,
	W_DELELEMS,
	W_CHAIN,
	W_RULE,
	W_JUMP,
	W_PORTSET,
	W_NDPSET,
	W_IFGUARD,
	W_IFCHILD
};

struct msg_desc {
	uint8_t what;
	const char *name; /* set or chain name, pointing into the ruleset being applied */
	uint32_t rule;
};

struct batch {
	const char *table; /* the table every message concerns (the caller's string) */
	char *buf;
	size_t len, cap;
	uint32_t seq0, nmsgs;
	struct msg_desc *desc;
	size_t desc_cap;
	uint32_t set_id;
	int failed; /* errno of an allocation failure while building */
};

/* Starts a batch (its begin message) about table (RULESET_TABLE, or a companion: see apply.h),
 * whose messages get sequence numbers from seq + 1. */
int batch_init(struct batch *b, uint32_t seq, const char *table);
/* Ends it; -1 (with b->failed) when building ran out of memory. */
int batch_finish(struct batch *b);
void batch_free(struct batch *b);

/* Messages that replace the table by rs (or only delete it when rs has no chains); shape (rs's
 * hash without set contents) goes into the table's userdata, hash (nft_ruleset_hash(rs)) into
 * the marker's; the new table gets table_flags (NFT_TABLE_F_OWNER | _PERSIST: owned by the
 * sending socket); the base chains start with the guards that apply (layout.h), then the
 * children's jumps by index, as nft_ruleset_print_guarded() prints them. */
void batch_full(struct batch *b, const struct pod_ruleset *rs, uint64_t hash, uint64_t shape,
		uint32_t table_flags, const struct nft_ifguard *guards, uint32_t nguards);
/* Messages turning the address sets applied[i] into rs->sets[i] (same names, families), then,
 * if there were any, replacing the marker rule (kernel handle `marker`) to carry hash. */
void batch_elements(struct batch *b, const struct pod_ruleset *rs,
		    const struct nft_applied_set *applied, uint64_t hash, uint64_t marker);
/* Whether the message with this number is about the table itself. */
bool batch_is_table_msg(const struct batch *b, uint32_t seq);
/* "set NAME", "rule 3 of chain NAME", ...: what the message with this number concerns. */
void batch_describe(const struct batch *b, uint32_t seq, char *buf, size_t len);

#endif
