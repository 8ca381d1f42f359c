/* Custom rule files: a documented subset of nft rule bodies, one per line, turned into IR rules
 * that are placed before the policy rules of every chain of their family and direction.
 *
 * Grammar of one line (tokens separated by blanks; '#' starts a comment; blank lines ignored):
 *   rule    := [addr] [l4] verdict
 *   addr    := ("ip" | "ip6") ("saddr" | "daddr") ADDRESS["/"LEN]
 *   l4      := "meta l4proto" PROTO
 *            | ("tcp" | "udp" | "sctp") ("dport" | "sport") PORTS
 *   PROTO   := tcp | udp | sctp | icmp (IPv4 file) | icmpv6 | ipv6-icmp (IPv6 file)
 *   PORTS   := N | N-M | "{" N[-M] ("," N[-M])* "}"
 *   verdict := "accept" | "drop"
 * ICMP type matches are not supported ("meta l4proto icmp accept" accepts all ICMP), nor any
 * other nft expression (counter, log, ct, jump ...): such a line is refused with its number.
 * "ip" addresses are allowed only in the IPv4 file, "ip6" only in the IPv6 file; every rule of a
 * file matches only its file's family. The parser owns no memory beyond what it is given. */
#ifndef POLICY_CUSTOM_RULES_H
#define POLICY_CUSTOM_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "policy/ruleset.h"

#define CUSTOM_RULE_MAX_PORTS 64

/* One parsed line. */
struct custom_rule_line {
	struct ir_rule rule; /* rule.ports points into ports[] below */
	struct ir_port_range ports[CUSTOM_RULE_MAX_PORTS];
};

/* Parses the first line of buf[0..len) for family 4 or 6.
 * Returns the bytes consumed (the line and its '\n'), -2 when buf holds no '\n' yet (pass the
 * final line with final != 0 to parse it without one), or -1 when the line is not understood
 * (err then says what, at most errcap bytes). *has_rule is 1 when out holds a rule, 0 for a
 * blank or comment line. */
int custom_rule_parse(const char *buf, size_t len, int final, uint8_t family,
		      struct custom_rule_line *out, int *has_rule, char *err, size_t errcap);

/* A loaded file: rules in file order, owned by the struct (malloc). */
struct custom_rules {
	uint32_t n;
	struct ir_rule *rules;
};

/* Parses text (a whole file's content); on error err holds "NAME:LINE: what". Returns 0 or -1. */
int custom_rules_parse_text(struct custom_rules *cr, const char *name, const char *text, size_t len,
			    uint8_t family, char *err, size_t errcap);
/* Reads and parses a file. Returns 0 or -1 (err names the file and line, or the read error). */
int custom_rules_load(struct custom_rules *cr, const char *path, uint8_t family, char *err,
		      size_t errcap);
void custom_rules_free(struct custom_rules *cr);

#endif
