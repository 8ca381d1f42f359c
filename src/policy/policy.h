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
	bool accept_ipv6_router_advertisements; /* RAs and redirects in, before any policy */
	/* Custom rules, [0] IPv4 [1] IPv6 by [IR_INGRESS/IR_EGRESS]; each rule has that family. */
	struct custom_rules custom[2][2];
};

/* Fills opts from the parsed flags, loading the custom rule files. Returns 0, or -1 with a
 * message naming the file and line in err. opts keeps pointers into f (plugin names). */
int policy_opts_init(struct policy_opts *opts, const struct flags *f, char *err, size_t errcap);
void policy_opts_free(struct policy_opts *opts);

/* Whether a NAD plugin type is one of --network-plugins (NULL: no type, never). */
bool policy_plugin_in_scope(const struct policy_opts *opts, const char *type);

/* Why a policy enforces nothing on this node (store's node), written into buf: no policy-for
 * annotation, no direction, none of its networks exists or has a plugin type in scope, no
 * local pod matches its podSelector, or the pods it selects here are not on its networks.
 * Returns buf, or NULL when it selects some local pod on one of its policed networks. */
const char *policy_idle_reason(const struct store *s, const struct policy_opts *opts,
			       const struct store_policy *p, char *buf, size_t cap);

/* Whether a selector matches a label set (a bad selector matches nothing). Both must come from
 * the same store: strings are compared as interned pointers. */
bool selector_matches(const struct store_selector *sel, const struct store_labels *labels);

/* The ruleset of one pod. Returns 0, or -1 when memory ran out (keep what is applied).
 * Peer address sets are cached in the store (at most 4 MiB) while its content does not change;
 * pass the same opts, unchanged, for one store (a changed opts must be a new struct).
 *
 * Choices where NetworkPolicy leaves room, made so that a user gets what the policy says on
 * the networks it names, and nothing else changes:
 * - nchains == 0 (no table) when no policy selects the pod, when the pod is not local, or when
 *   no selected policy names a network of the pod whose NAD plugin type is in
 *   --network-plugins: an interface out of scope is left exactly as without the agent.
 * - A policy without the policy-for annotation applies to no network. An unknown NAD, or one
 *   whose config has no plugin type, is out of scope.
 * - Interfaces come from network-status (an empty "interface" counts as absent); a network
 *   only in the networks annotation gets its requested interface name or Multus' default
 *   "net<N>" (N = its position, from 1). Only interfaces on policed networks (in scope, named
 *   by a selected policy) count, at most 32 per pod.
 * - Fail closed, never skip: an interface whose entry is malformed (an invalid interface name)
 *   is isolated (both directions: replies and NDP only, no ICMP/custom/policy accepts); when
 *   such an interface cannot be named, or the pod has more than 32 policed interfaces, all its
 *   policed interfaces are isolated (logged). An invalid spec.podSelector selects every pod
 *   of its namespace and allows nothing (store.h).
 * - Peer addresses are the peers' network-status addresses on the policy's policy-for
 *   networks that are in scope. Terminated and hostNetwork pods are no peers.
 * - Chains: per interface (sorted by name), ingress then egress, only for directions some
 *   selected policy lists. Each: established/related, the ICMPv6 that address resolution needs
 *   (IR_NDP_INGRESS or IR_NDP_EGRESS; IR_NDP_ROUTER too on ingress with
 *   --accept-ipv6-router-advertisements), --accept-icmp(v6), custom rules
 *   (IPv4 then IPv6 file), policy rules (policies by name, rules in order), drop.
 * - A rule whose peers all fail to match or resolve emits no accept; an empty "from"/"to"
 *   means every address, a wrong-typed one (or rule) none. Broken entries match nothing; a
 *   rule whose port entries are all broken matches nothing (never "all ports").
 * - Named ports: ingress against the pod's own container ports; egress per peer pod, peers
 *   grouped by what the name resolves to (one set per group); ipBlock addresses never match a
 *   named port. A protocol-only entry covers the numbered ones of that protocol.
 * - Sets are per (rule, family, named-port group), named "<chain>-<n>-v4|v6", and shared when
 *   two would hold the same addresses. */
int pod_ruleset_compute(const struct store *s, const struct store_pod *pod,
			const struct policy_opts *opts, struct arena *a, struct pod_ruleset *out);

#endif
