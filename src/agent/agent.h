/* agent: the node agent. One poll loop drives the four reflectors (the store is their sink),
 * the probe and metrics servers and the signal fd; every change marks the local pods it can
 * affect, and after a short coalescing delay each dirty pod's ruleset is computed, compared
 * with what was applied, and applied as one batch in its netns (found through CRI). The agent
 * owns all of it; nothing is removed from pods on exit. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stddef.h>

struct flags;

/* Runs until SIGTERM/SIGINT (exit status 0) or a fatal start-up error (non-zero, logged). */
int agent_run(const struct flags *f);

/* The node this agent serves: --hostname-override, else $NODE_NAME, else the host name
 * lowercased (flags_node_name). Returns 0, or -1 when none can be found. */
int agent_node_name(const char *override, char *buf, size_t cap);

#endif
