/* Test driver for tests/t-packets: applies a fixed ruleset to a server pod's net1 through
 * nft_apply. Reads one command per line on stdin and answers one line on stdout:
 *   allow I4 I6 E4 E6   ingress TCP 8080 only from I4/I6 (address sets), SCTP 9999 only
 *                       from I4, UDP 5353 from anyone; egress only to E4/E6 (prefixes
 *                       in rules); answers "ok full" or "ok elements". A sixth word
 *                       "router" accepts router advertisements and redirects too;
 *                       "exempt=IF" lists IF as the pod's unpoliced interface (its
 *                       network-status names it), no child of net1
 *   remove              no policy: the table goes; answers "ok removed"
 *   check               the agent's drift check (nft_table_present, nft_applied_intact):
 *                       answers "ok intact", or rewrites the last ruleset: "ok repaired"
 *   watch-links         from now on, like the agent, a link event in the netns runs the
 *                       drift check at once, logging "links changed: ok repaired" (or "ok
 *                       intact") and "links changed: checked in N us" (from reading the
 *                       event to the table rewritten) on stderr; answers "ok watching"
 *   drops               the table's drop counters as /metrics reads them (nft_read_counters):
 *                       answers "ok guard PACKETS policy PACKETS" (interface guards, chains)
 * A table kept as it was found is answered "ok adopted". Errors answer "error <message>". Like the
 * agent, it holds its socket between commands, and where tables are not owned it watches the
 * netns' events and rewrites the table at once when another process changed it, logging
 * "repaired in N us" (from reading the event to the table being back) on stderr.
 * Usage: t-packets-apply NETNS_PATH */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nft/apply.h"

static int64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Applies what the command line says; answers on stdout unless quiet. Returns 0 or -1. */
static int command(const char *netns, const char *line, struct nft_applied *st, bool quiet)
{
	char err[512];
	char cmd[16] = "", a4[64] = "", a6[64] = "", e4[64] = "", e6[64] = "", opt[32] = "";
	if (sscanf(line, "%15s %63s %63s %63s %63s %31s", cmd, a4, a6, e4, e6, opt) < 1)
		return -1;
	const char *exempt[] = {strncmp(opt, "exempt=", 7) == 0 ? opt + 7 : NULL};
	uint32_t nd_in = IR_NDP_INGRESS | (strcmp(opt, "router") == 0 ? IR_NDP_ROUTER : 0);
	struct ir_addr_range r4 = {0}, r6 = {0};
	static const struct ir_port_range tcp[] = {{8080, 8080}}, udp[] = {{5353, 5353}},
					  sctp[] = {{9999, 9999}};
	struct ir_addr_set sets[] = {
	    {.name = "ingress-net1-0-v4", .family = 4, .n = 1, .ranges = &r4},
	    {.name = "ingress-net1-0-v6", .family = 6, .n = 1, .ranges = &r6},
	};
	struct ir_rule in[] = {
	    {.kind = IR_RULE_CT_ESTABLISHED},
	    {.kind = IR_RULE_NDP, .icmpv6_types = nd_in},
	    {.kind = IR_RULE_MATCH,
	     .addr_match = IR_ADDR_SET,
	     .addr_set = 0,
	     .l4proto = IPPROTO_TCP,
	     .nports = 1,
	     .ports = tcp,
	     .verdict = IR_ACCEPT,
	     .comment = "default/allow-a"},
	    {.kind = IR_RULE_MATCH,
	     .addr_match = IR_ADDR_SET,
	     .addr_set = 1,
	     .l4proto = IPPROTO_TCP,
	     .nports = 1,
	     .ports = tcp,
	     .verdict = IR_ACCEPT,
	     .comment = "default/allow-a"},
	    {.kind = IR_RULE_MATCH,
	     .addr_match = IR_ADDR_SET,
	     .addr_set = 0,
	     .l4proto = IPPROTO_SCTP,
	     .nports = 1,
	     .ports = sctp,
	     .verdict = IR_ACCEPT,
	     .comment = "default/allow-a"},
	    {.kind = IR_RULE_MATCH,
	     .l4proto = IPPROTO_UDP,
	     .nports = 1,
	     .ports = udp,
	     .verdict = IR_ACCEPT,
	     .comment = "default/dns"},
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
	};
	struct ir_rule out[] = {
	    {.kind = IR_RULE_CT_ESTABLISHED},
	    {.kind = IR_RULE_NDP, .icmpv6_types = IR_NDP_EGRESS},
	    {.kind = IR_RULE_MATCH,
	     .family = 4,
	     .addr_match = IR_ADDR_PREFIX,
	     .addr_is_dst = true,
	     .prefix_len = 32,
	     .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH,
	     .family = 6,
	     .addr_match = IR_ADDR_PREFIX,
	     .addr_is_dst = true,
	     .prefix_len = 128,
	     .verdict = IR_ACCEPT},
	    {.kind = IR_RULE_MATCH, .verdict = IR_DROP},
	};
	struct ir_chain chains[] = {
	    {.name = "ingress-net1", .ifname = "net1", .dir = IR_INGRESS, .nrules = 7, .rules = in},
	    {.name = "egress-net1", .ifname = "net1", .dir = IR_EGRESS, .nrules = 5, .rules = out},
	};
	struct pod_ruleset rs = {.nsets = 2,
				 .sets = sets,
				 .nchains = 2,
				 .chains = chains,
				 .nexempt = exempt[0] != NULL,
				 .exempt = exempt};
	if (strcmp(cmd, "remove") == 0) {
		rs = (struct pod_ruleset){0};
	} else if (strcmp(cmd, "allow") != 0 ||
		   (opt[0] && strcmp(opt, "router") != 0 && !exempt[0]) ||
		   inet_pton(AF_INET, a4, r4.lo) != 1 || inet_pton(AF_INET6, a6, r6.lo) != 1 ||
		   inet_pton(AF_INET, e4, out[2].prefix) != 1 ||
		   inet_pton(AF_INET6, e6, out[3].prefix) != 1) {
		printf("error bad command: %s", line);
		return -1;
	}
	memcpy(r4.hi, r4.lo, 16);
	memcpy(r6.hi, r6.lo, 16);
	int rc = nft_apply(netns, &rs, st, err, sizeof err);
	if (rc < 0)
		fprintf(quiet ? stderr : stdout, "error %s\n", err);
	else if (!quiet)
		printf("ok %s\n", rs.nchains == 0	  ? "removed"
				  : st->last_was_adopted  ? "adopted"
				  : st->last_was_elements ? "elements"
							  : "full");
	return rc;
}

static void add_drops(void *ctx, const char *chain, const struct nft_ifguard *guard,
		      uint64_t packets, uint64_t bytes)
{
	uint64_t *sum = ctx;
	sum[guard ? 0 : 1] += packets;
}

static void drops(struct nft_applied *st)
{
	char err[512];
	uint64_t sum[2] = {0, 0};
	if (nft_read_counters(st, add_drops, sum, err, sizeof err) < 0)
		printf("error %s\n", err);
	else
		printf("ok guard %llu policy %llu\n", (unsigned long long)sum[0],
		       (unsigned long long)sum[1]);
}

/* The agent's drift check; a table found drifted is rewritten with the last command. Answers
 * on out. */
static void check(const char *netns, const char *last, struct nft_applied *st, FILE *out)
{
	char err[512];
	bool present;
	struct nft_table_counts counts;
	if (nft_table_present(netns, st, &present, &counts, err, sizeof err) < 0) {
		fprintf(out, "error %s\n", err);
		return;
	}
	if (nft_applied_intact(st, present, &counts)) {
		fprintf(out, "ok intact\n");
		return;
	}
	nft_applied_repair(st);
	if (last[0] && command(netns, last, st, true) == 0)
		fprintf(out, "ok repaired\n");
	else
		fprintf(out, "error repairing\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s NETNS_PATH\n", argv[0]);
		return 2;
	}
	struct nft_applied st = {0};
	char line[256], last[256] = "";
	bool watch_links = false;
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);
	for (;;) {
		struct pollfd p[3] = {
		    {.fd = 0, .events = POLLIN},
		    {.fd = nft_applied_event_fd(&st), .events = POLLIN},
		    {.fd = watch_links ? nft_applied_link_fd(&st) : -1, .events = POLLIN}};
		if (poll(p, 3, -1) < 0)
			break;
		if (p[2].fd >= 0 && p[2].revents && nft_applied_links_changed(&st)) {
			int64_t t0 = now_us();
			fprintf(stderr, "links changed: ");
			check(argv[1], last, &st, stderr);
			fprintf(stderr, "links changed: checked in %lld us\n",
				(long long)(now_us() - t0));
		}
		if (p[1].fd >= 0 && p[1].revents) {
			int64_t t0 = now_us();
			enum nft_tamper t = nft_applied_tampered(&st);
			if (t != NFT_TAMPER_NONE && last[0]) {
				nft_applied_repair(&st);
				if (command(argv[1], last, &st, true) == 0)
					fprintf(stderr, "repaired in %lld us\n",
						(long long)(now_us() - t0));
			}
		}
		if (!p[0].revents)
			continue;
		if (!fgets(line, sizeof line, stdin))
			break;
		if (strncmp(line, "check", 5) == 0) {
			check(argv[1], last, &st, stdout);
			continue;
		}
		if (strncmp(line, "watch-links", 11) == 0) {
			watch_links = true;
			printf("ok watching\n");
			continue;
		}
		if (strncmp(line, "drops", 5) == 0) {
			drops(&st);
			continue;
		}
		if (command(argv[1], line, &st, false) == 0)
			snprintf(last, sizeof last, "%s", line);
	}
	nft_applied_free(&st);
	return 0;
}
