/* pod_ruleset -> the pod's `inet multi_networkpolicy` table, programmed as one atomic netlink
 * batch over a NETLINK_NETFILTER socket opened inside the pod's network namespace. The caller
 * owns a struct nft_applied per pod (zeroed to start, nft_applied_free to end); it remembers
 * what was last applied so that a change of peer addresses only adds and deletes set elements.
 * Every call restores the calling thread's network namespace before it returns.
 *
 * Guarding the table: where the kernel allows (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, Linux
 * >= 6.9) each table is owned by the pod's socket, so only that socket may change it and the
 * table outlives the agent (ownerless until a restarted agent rewrites it, taking it over in
 * the same batch). Where the kernel
 * refuses the flags (the first full apply finds out), or with MNP_NFT_OWNERSHIP=off in the
 * environment, each pod also gets a socket listening to the netns' nftables events, and the
 * caller repairs when nft_applied_tampered() says so. Either socket pins the netns: free the
 * state when the sandbox goes.
 *
 * A name held against us: a process in the pod (root with NET_ADMIN) can create a table named
 * RULESET_TABLE before the agent does, or own one from its own socket, and another agent (the
 * upstream one) uses the name too. When the name is held by a table this agent did not write
 * (and takeover is off) or by one another socket owns (no batch of ours could change it), the
 * pod's ruleset goes into a companion table, RULESET_TABLE "_" and 16 random hex digits: a name
 * nobody can take first. A drop in any base chain is final, so the other table can add drops
 * but never undo ours. A restarted agent finds its companion (prefix and our shape hash) and
 * rewrites it under the same name; one of that name it did not write, or owned by another
 * socket, is passed over.
 * Once the name is free again, the next first apply moves back and deletes the companions.
 *
 * A policed interface renamed: the base chains dispatch by name, so a process in the pod with
 * NET_ADMIN could rename net1 and leave every chain behind. A full apply therefore lists the
 * netns' links (RTM_GETLINK over a NETLINK_ROUTE socket opened there) and starts each base
 * chain with a guard per policed interface: traffic through its index under another name is
 * dropped (fail closed; the index survives renames). An index once guarded stays guarded while
 * it exists in the netns (a restarted agent reads the guards of the table in place), so a new
 * interface taking the name adds a guard, never moves one; a change of indexes (an interface
 * made, or deleted and made again) is drift (nft_table_present). Dispatching by index instead
 * would leave an interface made again under the same name unpoliced until the next apply; by
 * name with a guard it never is.
 *
 * Links stacked on a policed interface: a process in the pod with NET_ADMIN can make a vlan, a
 * macvlan (which the kernel puts beside a policed macvlan, on its lower device), a bridge over
 * it, and so on, reaching the same network under a name no chain knows. The same link dump finds
 * them (nft/links.h) and the base chains send each by index to its policed interface's chains,
 * after the guards: it is policed as that interface. They count with the guards: a child made or
 * gone is drift. The pod's own unpoliced interfaces (pod_ruleset.exempt: a second macvlan on
 * the policed one's host device sits beside it just as one made on it does) are no children,
 * by the index each name had when first seen. While the table has chains the state also holds a
 * socket subscribed to the netns' link events (nft_applied_link_fd): the caller runs a drift check
 * when nft_applied_links_changed() says so, which closes the window to a few milliseconds. */
#ifndef NFT_APPLY_H
#define NFT_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/ruleset.h"

/* What the kernel reports for the table: compared with nft_applied to notice drift (and with
 * what a ruleset gives, to adopt a table this process wrote before a reset). */
struct nft_table_counts {
	uint32_t use;	   /* the table's use count: chains and named sets */
	uint32_t nrules;   /* rules in all chains of the table */
	bool misplaced;	   /* a companion while RULESET_TABLE is free again: repair moves it back */
	bool guards_stale; /* a policed name has an index no guard holds: repair adds it */
};

struct nft_applied_set;
struct nft_ifguard;
struct nft_exempt;
struct mnl_socket;

/* RULESET_TABLE "_" + 16 hex digits, and its terminator. */
#define NFT_TABLE_NAME_MAX 40

/* Why the pod's table is a companion. */
enum nft_held {
	NFT_HELD_NONE,	  /* it is not: the table is RULESET_TABLE */
	NFT_HELD_FOREIGN, /* RULESET_TABLE exists and this agent did not write it */
	NFT_HELD_OWNED,	  /* RULESET_TABLE is owned by another process's netlink socket */
};

struct nft_applied {
	uint64_t hash;		/* nft_ruleset_hash() of the last applied ruleset, 0: none */
	uint64_t shape_hash;	/* the same without the address sets' contents */
	bool present;		/* the table exists (nchains > 0 was applied) */
	bool last_was_elements; /* the last apply sent set elements only (or, adopting, any) */
	bool last_was_adopted;	/* the last apply kept the table it found (see nft_apply) */
	bool repair;		/* the next apply rewrites the table whatever it holds */
	struct nft_table_counts expect; /* what the table holds after the last apply */
	uint64_t marker; /* kernel handle of the rule carrying the hash, 0: unknown */
	uint32_t nsets;
	struct nft_applied_set *sets; /* copies of the applied address sets */
	/* The socket stays open between applies: closing a netfilter socket waits for the
	 * kernel (tens of ms). A different netns behind the path (sandbox recreated) resets
	 * what was applied. */
	struct mnl_socket *sock;
	uint64_t ns_dev, ns_ino;
	uint32_t seq;		   /* next batch sequence number on sock */
	bool owned;		   /* the table is owned by sock */
	bool takeover; /* replace a table this agent did not write (--force-takeover); kept */
	/* The table's name ("": RULESET_TABLE) and why it is another; kept by resets, chosen
	 * again at the next first apply (nothing applied yet), forgotten with the netns. */
	char table[NFT_TABLE_NAME_MAX];
	enum nft_held held;
	struct mnl_socket *events; /* nftables events of the netns, when tables are not owned */
	/* The interfaces the table's base chains guard by index (see above); kept by resets,
	 * forgotten with the netns. */
	uint32_t nifguards;
	struct nft_ifguard *ifguards;
	/* The pod's unpoliced interfaces (rs->exempt), each pinned to the index its name had
	 * when first seen (nft/links.h): never children. Kept by resets, forgotten with the
	 * netns; a restarted agent pins them from the names again at its first look. */
	uint32_t nexempt;
	struct nft_exempt *exempt;
	/* The netns' link events (RTNLGRP_LINK) while the table has chains: a link made, deleted
	 * or renamed asks for a drift check (nft_applied_links_changed). */
	struct mnl_socket *link_events;
};

enum nft_guard {
	NFT_GUARD_UNKNOWN, /* nothing applied yet: ownership is tried first */
	NFT_GUARD_OWNER,   /* tables are owned by the agent's sockets */
	NFT_GUARD_EVENTS,  /* the kernel refused ownership (or it was turned off): events */
};

/* How tables are guarded in this process. */
enum nft_guard nft_table_guard(void);

/* Unit tests only: a receive buffer this small (bytes, > 0) for batch acknowledgements, to make
 * them overflow (ENOBUFS); 0, the default, sizes it for each batch. */
extern int nft_ack_rcvbuf_for_tests;

/* A hash of everything the ruleset puts into the table; equal hashes mean an apply can be
 * skipped. Never returns 0. */
uint64_t nft_ruleset_hash(const struct pod_ruleset *rs);

/* Makes the table in the netns at netns_path (e.g. /var/run/netns/x, /proc/PID/ns/net) equal
 * to rs, in one batch; rs->nchains == 0 deletes it (absent is fine). If only address set
 * contents differ from *state, sends element additions and deletions only (and nothing at all
 * for an identical ruleset: drift is found with nft_table_present + nft_applied_intact and
 * repaired after nft_applied_repair). With nothing applied yet (a zeroed, reset or repaired
 * state, e.g. a restarted agent) it first chooses the table's name (above). Then, unless
 * repairing, it reads the table: one that this state's socket owns (a reset in this process),
 * written for a ruleset of rs's shape (hash in its userdata) with the use and rule counts rs
 * gives, is adopted: its address sets are read back and only element changes are sent, if any
 * (last_was_adopted). Any other table is rewritten in full: an ownerless one (a restarted
 * agent; a process in the pod could edit it meanwhile, keeping its counts and hashes) is
 * taken over by that same atomic batch, and in events mode no table found is trusted. A
 * table another socket owns (EPERM) moves the ruleset into a new companion. On failure the
 * netns is as it was and so is *state (but for the chosen name), and err holds a line naming
 * the netlink error and the object it concerned; when the batch's outcome is unknown (its
 * acknowledgements were lost) *state is set to repair instead. Returns 0 or -1. */
int nft_apply(const char *netns_path, const struct pod_ruleset *rs, struct nft_applied *state,
	      char *err, size_t errlen);

/* The name of the pod's table: RULESET_TABLE or its companion. */
const char *nft_applied_table(const struct nft_applied *state);

/* Deletes the table if present and forgets *state (state may be NULL: then whoever wrote the
 * table, as `cleanup` asks, and every companion of this agent's too). Returns 0 or -1. */
int nft_delete_table(const char *netns_path, struct nft_applied *state, char *err, size_t errlen);

/* Whether the table exists, and (when present and counts is not NULL) its counts. With the
 * pod's state (may be NULL) its socket is reused; if the netns behind the path changed, the
 * state is reset first (hash 0, so the caller's next comparison asks for a full apply).
 * Without a state: RULESET_TABLE, or else a companion written by this agent. With a state
 * whose table is a companion, counts also say whether RULESET_TABLE is free again (its holder
 * ended: an agent of ours during a rollout, the CNI plugin's fallback, a process in the pod),
 * and whether a policed interface now has an index the guards lack (guards_stale). */
int nft_table_present(const char *netns_path, struct nft_applied *state, bool *present,
		      struct nft_table_counts *counts, char *err, size_t errlen);

/* True when the table as found matches what *state last applied (presence and counts): false
 * means drift (flushed, deleted or edited by hand, a companion no longer needed, or stale
 * interface guards) and the next apply must be full (nft_applied_repair). */
bool nft_applied_intact(const struct nft_applied *state, bool present,
			const struct nft_table_counts *counts);

/* Forgets what was applied (keeps the socket): the next nft_apply adopts the table if the
 * socket owns it and it already holds the ruleset, else sends it in full. */
void nft_applied_reset(struct nft_applied *state);
/* The same, but the next nft_apply sends the full table whatever the netns holds: for a table
 * found drifted (edited by hand), which must be rewritten, not adopted. */
void nft_applied_repair(struct nft_applied *state);
/* Forgets everything and closes the sockets (the pod or its sandbox is gone). */
void nft_applied_free(struct nft_applied *state);

/* The event socket's descriptor to poll for reading, -1 when there is none. */
int nft_applied_event_fd(const struct nft_applied *state);

/* The link event socket's descriptor to poll for reading, -1 when there is none. */
int nft_applied_link_fd(const struct nft_applied *state);

/* Reads every pending link event (never blocks): true when a link was made, changed or
 * deleted (or events were lost), so the caller runs a drift check (nft_table_present), which
 * finds the children and guards that changed and asks for a rewrite. */
bool nft_applied_links_changed(struct nft_applied *state);

enum nft_tamper {
	NFT_TAMPER_NONE,    /* only our own changes, or other tables */
	NFT_TAMPER_CHANGED, /* another socket changed our table: rewrite it (nft_applied_repair) */
	NFT_TAMPER_UNKNOWN, /* events were lost (ENOBUFS): anything may have changed, rewrite */
};

/* Reads every pending event on the event socket (never blocks) and says whether a socket
 * other than ours changed the table. */
enum nft_tamper nft_applied_tampered(struct nft_applied *state);

/* Calls cb for every counter in the applied table, with its chain's name, over the pod's open
 * socket (no namespace switch): one rule dump. The counters are each per-interface chain's
 * final drop (guard NULL) and each interface guard's drop (guard set, chain "input" or
 * "output"). Nothing when no table was applied. Returns 0, or -1 with err. */
typedef void (*nft_counter_cb)(void *ctx, const char *chain, const struct nft_ifguard *guard,
			       uint64_t packets, uint64_t bytes);
int nft_read_counters(struct nft_applied *state, nft_counter_cb cb, void *ctx, char *err,
		      size_t errlen);

#endif
