/* pod_ruleset -> nft text: the table exactly as `nft list table inet multi_networkpolicy`
 * (nft 1.0.6) prints it after nft_apply() programmed it. Used by the render subcommand and by
 * golden tests. Nothing is allocated; the caller owns the ruleset and the stream. */
#ifndef NFT_RENDER_H
#define NFT_RENDER_H

#include <stdio.h>

#include "nft/layout.h"
#include "policy/ruleset.h"

/* Writes the table (nothing when rs->nchains == 0). Returns 0, or -1 with errno set when the
 * ruleset is inconsistent (EINVAL: a set index out of range, a bad family) or writing failed. */
int nft_ruleset_print(const struct pod_ruleset *rs, FILE *out);

/* The same with the base chains' interface guards (layout.h) as nft_apply() writes them where
 * it found the interfaces, each listed by the name its index has now (assumed not renamed),
 * children by their own name (child).
 * nft_ruleset_print() is this with none: without a netns there are no indexes. */
int nft_ruleset_print_guarded(const struct pod_ruleset *rs, const struct nft_ifguard *guards,
			      uint32_t nguards, FILE *out);

#endif
