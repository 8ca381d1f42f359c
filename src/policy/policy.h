/* NetworkPolicy semantics: from the store to one pod's desired ruleset (policy/ruleset.h).
 * Everything the computed ruleset points to lives in the caller's arena; the store is only read.
 * Same store content and options give the same ruleset, byte for byte. */
#ifndef POLICY_POLICY_H
#define POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/custom_rules.h"
#include "policy/ruleset.h"
#include "store/store.h"
#include "util/arena.h"

struct flags;

struct policy_opts {
	uint32_t nplugins; /* NAD plugin types in scope (--network-plugins) */
	const char *const *plugins;
	bool accept_icmp, accept_icmpv6;
	/* Custom rules, [0] IPv4 [1] IPv6 by [IR_INGRESS/IR_EGRESS]; each rule has that family. */
	struct custom_rules custom[2][2];
};

/* Fills opts from the parsed flags, loading the custom rule files. Returns 0, or -1 with a
 * message naming the file and line in err. opts keeps pointers into f (plugin names). */
int policy_opts_init(struct policy_opts *opts, const struct flags *f, char *err, size_t errcap);
void policy_opts_free(struct policy_opts *opts);

/* Whether a selector matches a label set (a bad selector matches nothing). Both must come from
 * the same store: strings are compared as interned pointers. */
bool selector_matches(const struct store_selector *sel, const struct store_labels *labels);

/* The ruleset of one pod. nchains == 0 when no policy selects the pod on an interface in scope
 * (then the pod must have no table). Returns 0, or -1 when the arena ran out of memory. */
int pod_ruleset_compute(const struct store *s, const struct store_pod *pod,
			const struct policy_opts *opts, struct arena *a, struct pod_ruleset *out);

#endif
