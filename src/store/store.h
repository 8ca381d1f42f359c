/* The store: a compact cache of the Pods, Namespaces, NetworkAttachmentDefinitions and
 * MultiNetworkPolicies the agent needs, decoded from the API server's JSON, one object at a time.
 * It owns every object and string (interned, reference counted) and frees an object's memory on
 * delete; consumers read the structs below and never keep pointers across store calls that
 * change it. It also tracks which local pods (this node, not hostNetwork, not terminated) a change
 * can affect ("dirty"), for the agent to recompute.
 *
 * What the store keeps of pods (large clusters have 50-150k pods, most of them on no secondary
 * network): a pod is kept, decoded as struct store_pod, only when it can matter here:
 *   - it is on this node (spec.nodeName): local pods get tables; this node's others (hostNetwork,
 *     like the agent's own) are few and tell the agent its node name is right;
 *   - or it is running (not Succeeded/Failed), not hostNetwork, and has a networks annotation or
 *     a network-status entry other than the cluster network's ("default": true; those entries are
 *     dropped when decoded), or either annotation cannot be parsed.
 * Any other pod costs nothing: peer sets hold pods' addresses on secondary networks and a pod
 * without any contributes to none, whatever its labels, namespace or ports, and whatever NADs or
 * policies later say. Watch events carry the whole object, so a pod that later gains a
 * network-status or moves here is decoded from that event and kept from then on; one that stops
 * mattering is dropped as on a delete (its table goes when it was local). A DELETED event for a
 * pod never kept finds nothing and changes nothing (store_version included), and a relist
 * (replace_begin/replace_end) marks and sweeps only what is kept: unkept pods are neither
 * resurrected nor leaked. A relist replaces each object in place as it arrives (the old record
 * is freed when the new one is inserted), so it never holds two copies of the store. Unkept pods
 * are decoded once (no second, sizing pass) and do not change store_version. A store loaded from
 * a file (render, explain) keeps every pod.
 * Of a kept pod (~450 bytes with 4 labels, 2 named ports, one secondary address): its record, one
 * block holding labels, named ports, networks, network-status entries (addresses, interface
 * names), its name (not interned: unique) and, for this node's pods only, its uid (tables are
 * keyed by it); namespace, node, label, port and network names are interned and shared. The
 * pod keeps no list of the strings it references: releasing it walks its fields. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/sink.h"

struct store;

struct store_label {
	const char *key, *value; /* interned */
};

/* Sorted by key (strcmp), keys unique. */
struct store_labels {
	uint32_t n;
	const struct store_label *v;
};

/* A container port, for named ports. proto: IPPROTO_TCP/UDP/SCTP. */
struct store_port {
	const char *name; /* interned, never NULL (unnamed ports are not kept) */
	uint16_t port;
	uint8_t proto;
};

/* One address a pod has on a network; IPv4 in bytes 0..3. */
struct store_ip {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
};

/* One entry of the k8s.v1.cni.cncf.io/networks annotation. */
struct store_net_ref {
	const char *network; /* interned "ns/name"; a bare name is in the pod's namespace */
	const char *ifname;  /* interned, or NULL when the annotation names none */
	bool bad;	     /* its interface name is not a valid Linux name (ifname NULL) */
};

/* One entry of the k8s.v1.cni.cncf.io/network-status annotation. */
struct store_net_status {
	const char *network; /* interned "ns/nad"; a bare name is in the pod's namespace */
	const char *ifname;  /* interned, or NULL when absent or "" */
	uint32_t nips;
	const struct store_ip *ips;
	/* Its interface name is not a valid Linux name: ifname NULL, no addresses, and the pod is
	 * isolated on this network (logged when decoded). */
	bool bad;
};

struct store_pod {
	const char *ns, *node; /* interned; node may be "" when unscheduled */
	const char *name;      /* not interned (unique) */
	const char *uid;       /* not interned (unique); "" when absent or not on this node */
	struct store_labels labels;
	bool host_network;
	bool terminated; /* phase Succeeded or Failed */
	bool deleting;	 /* metadata.deletionTimestamp set */
	bool local;	 /* on this node, not hostNetwork, not terminated */
	bool nets_bad;	 /* the networks annotation could not be parsed */
	bool status_bad; /* the network-status annotation could not be parsed */
	/* (the flags and counts side by side: 8 bytes less per pod than each beside its array) */
	uint32_t nports;
	uint32_t nnets;	  /* networks annotation */
	uint32_t nstatus; /* network-status annotation */
	const struct store_port *ports;
	const struct store_net_ref *nets;
	const struct store_net_status *status;
	/* Store bookkeeping: the next pod in the same namespace (iteration order is unspecified).
	 */
	const struct store_pod *ns_next;
};

struct store_nad {
	const char *ns, *name;
	const char *key;	 /* interned "ns/name" */
	const char *plugin_type; /* interned; NULL when the config has none or is unparseable */
};

enum selector_op { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_DOES_NOT_EXIST };

struct store_requirement {
	const char *key; /* interned */
	enum selector_op op;
	uint32_t nvalues;
	const char *const *values; /* interned, sorted by strcmp */
};

/* A label selector: matchLabels become SEL_IN requirements. An absent selector is represented by
 * the owner (a NULL pointer); an empty one (nreqs 0) matches everything; a bad one matches
 * nothing. */
struct store_selector {
	uint32_t nreqs;
	const struct store_requirement *reqs;
	bool bad;
};

/* An IPv4/IPv6 prefix; addr is masked to len. */
struct store_cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16];
};

struct store_peer {
	const struct store_selector *pod_sel; /* NULL: absent */
	const struct store_selector *ns_sel;  /* NULL: absent */
	bool is_ipblock;		      /* then both selectors are NULL */
	struct store_cidr cidr;
	uint32_t nexcept;
	const struct store_cidr *except;
	bool bad; /* matches nothing (logged when decoded) */
};

enum store_port_kind {
	PORT_ANY,    /* protocol only */
	PORT_NUMBER, /* port .. end_port (end_port == port when no endPort) */
	PORT_NAMED,  /* resolved against container ports */
};

struct store_port_spec {
	uint8_t proto; /* IPPROTO_TCP (default), IPPROTO_UDP, IPPROTO_SCTP */
	enum store_port_kind kind;
	uint16_t port, end_port;
	const char *name; /* PORT_NAMED, interned */
	bool bad;	  /* matches nothing (logged when decoded) */
};

struct store_rule {
	/* The rule, its from/to or its ports is not of the JSON type it must be: it allows nothing
	 * (it still counts as a rule for policyTypes defaulting; logged when decoded). */
	bool bad;
	/* npeers == 0: from/to absent, null or [], every source/destination. A present list whose
	 * peers are all bad matches nothing. */
	uint32_t npeers;
	const struct store_peer *peers;
	/* nports == 0: every port and protocol. */
	uint32_t nports;
	const struct store_port_spec *ports;
};

struct store_policy {
	const char *ns, *name, *resource_version;
	const char *comment; /* "ns/name" */
	uint32_t nnets;	     /* policy-for networks, interned "ns/name" */
	const char *const *nets;
	/* An invalid spec.podSelector fails closed: pod_sel is then empty (every pod of the
	 * namespace), the rule counts are 0 (no allow) and pod_sel_invalid is set. */
	struct store_selector pod_sel;
	bool pod_sel_invalid;
	/* policyTypes after defaulting; compared case-insensitively, and an unknown or ill-typed
	 * entry sets both (isolation in both directions). */
	bool ingress, egress;
	uint32_t ningress, negress;
	const struct store_rule *ingress_rules, *egress_rules;
	const struct store_policy *ns_next; /* next policy in the same namespace */
};

struct store_ns {
	const char *name;
	struct store_labels labels;
	bool exists;		      /* a Namespace object was seen (pods may arrive before it) */
	const struct store_pod *pods; /* pods of this namespace, linked by ns_next */
	const struct store_policy *policies; /* linked by ns_next */
	uint32_t npods, npolicies;
	const struct store_ns *next;
};

struct store *store_new(const char *node_name);
void store_free(struct store *s);

/* Most JSON tokens (strings, numbers, members' keys, containers) one object may have: beyond any
 * real object (those average over 15 bytes a token; etcd stores at most 1.5 MiB each) while
 * bounding the decoder's scratch token array to 2.5 MiB, given back after such an object. */
#define STORE_MAX_TOKENS 131072

/* Decodes one object (the JSON text of one Pod, Namespace, NAD or MultiNetworkPolicy) and
 * inserts or replaces it. Returns 0, or -1 when the object was rejected as a whole (not JSON,
 * over STORE_MAX_TOKENS, no metadata.name, labels not a map of strings; logged naming the
 * object), leaving what the store held for it unchanged. Broken parts of an accepted object are
 * logged and match nothing. */
int store_upsert_json(struct store *s, enum kube_kind kind, const char *json, size_t len);
/* Removes an object; ns is "" for namespaces. Returns 0, or -1 when it was not there. */
int store_delete(struct store *s, enum kube_kind kind, const char *ns, const char *name);
/* Removes the object named by the JSON text's metadata (for DELETED watch events). */
int store_delete_json(struct store *s, enum kube_kind kind, const char *json, size_t len);

/* The store as a kube_sink: events upsert/delete; replace_begin/replace_end delete what a
 * relist did not deliver again. */
struct kube_sink store_sink(struct store *s);

/* Lookups; NULL when absent. */
const struct store_ns *store_ns_get(const struct store *s, const char *name);
const struct store_ns *store_ns_first(const struct store *s); /* then ->next */
const struct store_pod *store_pod_get(const struct store *s, const char *ns, const char *name);
const struct store_nad *store_nad_get(const struct store *s, const char *ns, const char *name);
const struct store_nad *store_nad_get_key(const struct store *s, const char *key); /* "ns/name" */
const char *store_node_name(const struct store *s);

/* Hands out and clears the dirty set: cb once per dirty pod, with the pod when it is local now,
 * or NULL when it was deleted or stopped being local (its table should go). uid stays valid only
 * during the call. Do not change the store from cb. */
typedef void (*store_dirty_cb)(void *ctx, const char *uid, const struct store_pod *pod);
void store_for_each_dirty(struct store *s, store_dirty_cb cb, void *ctx);
/* Marks every local pod dirty (periodic resync). */
void store_mark_all_dirty(struct store *s);
/* Calls cb for every local pod (no dirty change). */
void store_for_each_local(const struct store *s, store_dirty_cb cb, void *ctx);

/* A number that changes whenever the store's content changes (any upsert or delete). */
uint64_t store_version(const struct store *s);

/* One slot where a reader keeps data derived from the store (policy/ caches peer sets there);
 * the store frees it with data_free when it is freed. The owner checks store_version itself. */
struct store_derived {
	void *data;
	void (*data_free)(void *data);
};
struct store_derived *store_derived_slot(const struct store *s);

/* Loads a file holding a List of objects (kubectl get pods,namespaces,
 * network-attachment-definitions,multi-networkpolicies -A -o json) or a single object; items of
 * other kinds are skipped. Returns 0, or -1 with a message naming the file in err. A store
 * loaded from a file keeps every pod from then on (the offline tools look any pod up by name). */
int store_load_file(struct store *s, const char *path, char *err, size_t errcap);

struct store_stats {
	uint32_t pods, local_pods, namespaces, nads, policies, strings;
	uint32_t pods_listed; /* pods the last full list delivered, kept or not */
	size_t bytes;	      /* heap bytes the store holds (objects, strings, indexes) */
};
void store_get_stats(const struct store *s, struct store_stats *st);

#endif
