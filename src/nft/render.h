/* pod_ruleset -> nft text: the table exactly as `nft list table inet multi_networkpolicy`
 * (nft 1.0.6) prints it after nft_apply() programmed it. Used by the render subcommand and by
 * golden tests. Nothing is allocated; the caller owns the ruleset and the stream. */
#ifndef NFT_RENDER_H
#define NFT_RENDER_H

#include <stdio.h>

#include "policy/ruleset.h"

/* Writes the table (nothing when rs->nchains == 0). Returns 0, or -1 with errno set when the
 * ruleset is inconsistent (EINVAL: a set index out of range, a bad family) or writing failed. */
int nft_ruleset_print(const struct pod_ruleset *rs, FILE *out);

#endif
