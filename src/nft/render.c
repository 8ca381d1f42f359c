#include "nft/render.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "nft/layout.h"

/* A string from objects between double quotes: nft's quoted strings have no escapes, so every
 * byte that could end the string, start a new line or confuse a terminal becomes \xNN (and a
 * backslash \\), and nothing a name holds can change the text around it. */
static void print_quoted(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			fputs("\\\\", out);
		else if (c < 0x20 || c >= 0x7f || c == '"')
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* nft's unquoted identifier: a letter, '_' or '.', then letters, digits and "/-_.". */
static bool is_plain_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '.'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("/-_.", *s)))
			return false;
	return true;
}

/* A chain or set name: bare as nft prints it when it is an identifier, else quoted. */
static void print_name(FILE *out, const char *name)
{
	if (is_plain_name(name))
		fputs(name, out);
	else
		print_quoted(out, name, strlen(name));
}

static const char *l4proto_name(uint8_t p, char buf[4])
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "ipv6-icmp";
	}
	snprintf(buf, 4, "%u", p);
	return buf;
}

/* nft's delimiter between set elements: IPv4 two per line, IPv6 one, ports five. */
static const char *element_delim(int per_line, int *count)
{
	if (++*count < per_line)
		return ", ";
	*count = 0;
	return ",\n\t\t\t     ";
}

static void print_range(FILE *out, uint8_t family, const struct ir_addr_range *r)
{
	char lo[NFT_ADDR_STRLEN], hi[NFT_ADDR_STRLEN];
	int bits = family == 4 ? 32 : 128;
	int plen = nft_range_prefix_len(family, r->lo, r->hi);
	nft_addr_format(family, r->lo, lo);
	if (plen == bits) {
		fputs(lo, out);
	} else if (plen >= 0) {
		fprintf(out, "%s/%d", lo, plen);
	} else {
		nft_addr_format(family, r->hi, hi);
		fprintf(out, "%s-%s", lo, hi);
	}
}

static void print_addr_set(FILE *out, const struct ir_addr_set *s)
{
	fputs("\tset ", out);
	print_name(out, s->name);
	fprintf(out, " {\n\t\ttype %s\n\t\tflags interval\n",
		s->family == 4 ? "ipv4_addr" : "ipv6_addr");
	if (s->n > 0) {
		int count = 0;
		fputs("\t\telements = { ", out);
		for (uint32_t i = 0; i < s->n; i++) {
			if (i > 0)
				fputs(element_delim(s->family == 4 ? 2 : 1, &count), out);
			print_range(out, s->family, &s->ranges[i]);
		}
		fputs(" }\n", out);
	}
	fputs("\t}\n", out);
}

static void print_port_range(FILE *out, const struct ir_port_range *p)
{
	if (p->lo == p->hi)
		fprintf(out, "%u", p->lo);
	else
		fprintf(out, "%u-%u", p->lo, p->hi);
}

static void print_port_set(FILE *out, const char *name, const struct ir_rule *r)
{
	int count = 0;
	fputs("\tset ", out);
	print_name(out, name);
	fputs(" {\n\t\ttype inet_service\n\t\tflags interval\n\t\telements = { ", out);
	for (uint32_t i = 0; i < r->nports; i++) {
		if (i > 0)
			fputs(element_delim(5, &count), out);
		print_port_range(out, &r->ports[i]);
	}
	fputs(" }\n\t}\n", out);
}

static int print_match(FILE *out, const struct pod_ruleset *rs, const struct ir_chain *c,
		       uint32_t idx)
{
	const struct ir_rule *r = &c->rules[idx];
	char num[4];
	int fam = nft_rule_family(rs, r);
	if (fam < 0)
		return -1;
	if (r->nports > 0 && r->l4proto != IPPROTO_TCP && r->l4proto != IPPROTO_UDP &&
	    r->l4proto != IPPROTO_SCTP)
		return -1;
	/* nft hides the family match where the address match or ICMP protocol implies it. */
	bool implied = r->addr_match != IR_ADDR_NONE ||
		       (r->nports == 0 && ((fam == 4 && r->l4proto == IPPROTO_ICMP) ||
					   (fam == 6 && r->l4proto == IPPROTO_ICMPV6)));
	const char *sep = "";
	if (fam != 0 && !implied) {
		fprintf(out, "meta nfproto %s", fam == 4 ? "ipv4" : "ipv6");
		sep = " ";
	}
	if (r->addr_match != IR_ADDR_NONE) {
		fprintf(out, "%s%s %s ", sep, fam == 4 ? "ip" : "ip6",
			r->addr_is_dst ? "daddr" : "saddr");
		if (r->addr_match == IR_ADDR_SET) {
			fputc('@', out);
			print_name(out, rs->sets[r->addr_set].name);
		} else {
			uint8_t a[16] = {0};
			char buf[NFT_ADDR_STRLEN];
			for (int i = 0; i < r->prefix_len; i++)
				if (r->prefix[i / 8] & (0x80 >> (i % 8)))
					a[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			nft_addr_format((uint8_t)fam, a, buf);
			if (r->prefix_len == (fam == 4 ? 32 : 128))
				fputs(buf, out);
			else
				fprintf(out, "%s/%u", buf, r->prefix_len);
		}
		sep = " ";
	}
	if (r->nports > 0) {
		fprintf(out, "%s%s %s ", sep, l4proto_name(r->l4proto, num),
			r->port_is_src ? "sport" : "dport");
		if (r->nports == 1) {
			print_port_range(out, &r->ports[0]);
		} else {
			char name[NFT_NAME_MAX];
			if (nft_port_set_name(c->name, idx, name, sizeof name) < 0)
				return -1;
			fputc('@', out);
			print_name(out, name);
		}
		sep = " ";
	} else if (r->l4proto != 0) {
		fprintf(out, "%smeta l4proto %s", sep, l4proto_name(r->l4proto, num));
		sep = " ";
	}
	if (r->counter) {
		fprintf(out, "%scounter packets 0 bytes 0", sep);
		sep = " ";
	}
	fprintf(out, "%s%s", sep, r->verdict == IR_ACCEPT ? "accept" : "drop");
	if (r->comment) {
		fputs(" comment ", out);
		print_quoted(out, r->comment, nft_comment_len(r->comment));
	}
	return 0;
}

/* `icmpv6 type { ... } accept` with nft's names, in type order as nft lists them. */
static void print_icmpv6_types(FILE *out, uint32_t types)
{
	static const char *const names[32] = {
	    [130 - 128] = "mld-listener-query",	 [131 - 128] = "mld-listener-report",
	    [132 - 128] = "mld-listener-done",	 [133 - 128] = "nd-router-solicit",
	    [134 - 128] = "nd-router-advert",	 [135 - 128] = "nd-neighbor-solicit",
	    [136 - 128] = "nd-neighbor-advert",	 [137 - 128] = "nd-redirect",
	    [143 - 128] = "mld2-listener-report"};
	const char *sep = "icmpv6 type { ";
	for (uint32_t t = 0; t < 32; t++) {
		if (!(types & (1u << t)))
			continue;
		fputs(sep, out);
		if (names[t])
			fputs(names[t], out);
		else
			fprintf(out, "%u", 128 + t);
		sep = ", ";
	}
	fputs(" } accept", out);
}

static int print_chain(FILE *out, const struct pod_ruleset *rs, const struct ir_chain *c)
{
	fputs("\tchain ", out);
	print_name(out, c->name);
	fputs(" {\n", out);
	for (uint32_t i = 0; i < c->nrules; i++) {
		const struct ir_rule *r = &c->rules[i];
		fputs("\t\t", out);
		switch (r->kind) {
		case IR_RULE_CT_ESTABLISHED:
			fputs("ct state established,related accept", out);
			break;
		case IR_RULE_NDP:
			print_icmpv6_types(out, r->icmpv6_types);
			break;
		case IR_RULE_MATCH:
			if (print_match(out, rs, c, i) < 0)
				return -1;
			break;
		default:
			return -1;
		}
		fputc('\n', out);
	}
	fputs("\t}\n", out);
	return 0;
}

/* Guards come before the jumps: an interface renamed to another policed name is dropped, not
 * dispatched to that name's chain. Children (by index) come before the names. */
static void print_base_chain(FILE *out, const struct pod_ruleset *rs, enum ir_dir dir,
			     const struct nft_ifguard *guards, uint32_t nguards)
{
	const char *hook = dir == IR_INGRESS ? "input" : "output";
	const char *ifkey = dir == IR_INGRESS ? "iif" : "oif";
	fprintf(out, "\tchain %s {\n\t\ttype filter hook %s priority filter; policy accept;\n",
		hook, hook);
	for (uint32_t i = 0; i < nguards; i++) {
		const struct nft_ifguard *g = &guards[i];
		size_t n = strnlen(g->ifname, sizeof g->ifname);
		if (nft_ifguard_is_child(g) || !nft_ifguard_applies(rs, g, dir))
			continue;
		fprintf(out, "\t\t%s ", ifkey);
		print_quoted(out, g->ifname, n);
		fprintf(out, " %sname != ", ifkey);
		print_quoted(out, g->ifname, n);
		fputs(" counter packets 0 bytes 0 drop\n", out);
	}
	for (uint32_t i = 0; i < nguards; i++) {
		const struct nft_ifguard *g = &guards[i];
		if (!nft_ifguard_is_child(g) || !nft_ifguard_applies(rs, g, dir))
			continue;
		for (uint32_t c = 0; c < rs->nchains; c++) {
			if (rs->chains[c].dir != dir ||
			    strcmp(rs->chains[c].ifname, g->ifname) != 0)
				continue;
			fprintf(out, "\t\t%s ", ifkey);
			print_quoted(out, g->child, strnlen(g->child, sizeof g->child));
			fputs(" jump ", out);
			print_name(out, rs->chains[c].name);
			fputc('\n', out);
			break;
		}
	}
	for (uint32_t i = 0; i < rs->nchains; i++) {
		const struct ir_chain *c = &rs->chains[i];
		if (c->dir != dir)
			continue;
		fprintf(out, "\t\t%s ", dir == IR_INGRESS ? "iifname" : "oifname");
		print_quoted(out, c->ifname, strlen(c->ifname));
		fputs(" jump ", out);
		print_name(out, c->name);
		fputc('\n', out);
	}
	fputs("\t}\n", out);
}

int nft_ruleset_print(const struct pod_ruleset *rs, FILE *out)
{
	return nft_ruleset_print_guarded(rs, NULL, 0, out);
}

int nft_ruleset_print_guarded(const struct pod_ruleset *rs, const struct nft_ifguard *guards,
			      uint32_t nguards, FILE *out)
{
	char err[8];
	if (rs->nchains == 0)
		return 0;
	if (nft_ruleset_check(rs, err, sizeof err) < 0)
		goto invalid;
	fputs("table inet " RULESET_TABLE " {\n", out);
	for (uint32_t i = 0; i < rs->nsets; i++) {
		print_addr_set(out, &rs->sets[i]);
		fputc('\n', out);
	}
	for (uint32_t c = 0; c < rs->nchains; c++) {
		const struct ir_chain *ch = &rs->chains[c];
		for (uint32_t i = 0; i < ch->nrules; i++) {
			char name[NFT_NAME_MAX];
			if (!nft_rule_has_port_set(&ch->rules[i]))
				continue;
			if (nft_port_set_name(ch->name, i, name, sizeof name) < 0)
				goto invalid;
			print_port_set(out, name, &ch->rules[i]);
			fputc('\n', out);
		}
	}
	print_base_chain(out, rs, IR_INGRESS, guards, nguards);
	fputc('\n', out);
	print_base_chain(out, rs, IR_EGRESS, guards, nguards);
	for (uint32_t c = 0; c < rs->nchains; c++) {
		fputc('\n', out);
		if (print_chain(out, rs, &rs->chains[c]) < 0)
			goto invalid;
	}
	fputs("}\n", out);
	return ferror(out) ? -1 : 0;
invalid:
	errno = EINVAL;
	return -1;
}
