/* Custom rule files: the subset of nft rule syntax described in custom_rules.h. */
#include "policy/custom_rules.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/err.h"

#define MAX_TOKENS 96

struct tok {
	const char *s;
	size_t n;
};

static bool tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && memcmp(t->s, s, t->n) == 0;
}

/* Splits on blanks; '{', '}' and ',' are tokens of their own. */
static int tokenize(const char *s, size_t n, struct tok *t, int cap)
{
	int k = 0;
	size_t i = 0;

	while (i < n) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		if (k == cap)
			return -1;
		t[k].s = s + i;
		if (s[i] == '{' || s[i] == '}' || s[i] == ',') {
			t[k++].n = 1;
			i++;
			continue;
		}
		while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '{' &&
		       s[i] != '}' && s[i] != ',')
			i++;
		t[k].n = (size_t)(s + i - t[k].s);
		k++;
	}
	return k;
}

static int parse_num(const struct tok *t, size_t off, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;
	if (len == 0 || len > 5)
		return -1;
	for (size_t i = off; i < off + len; i++) {
		if (!isdigit((unsigned char)t->s[i]))
			return -1;
		v = v * 10 + (unsigned)(t->s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* "N" or "N-M", 1..65535. */
static int parse_port_range(const struct tok *t, struct ir_port_range *out)
{
	const char *dash = memchr(t->s, '-', t->n);
	unsigned lo, hi;
	size_t dl = dash ? (size_t)(dash - t->s) : t->n;

	if (parse_num(t, 0, dl, 65535, &lo) < 0)
		return -1;
	hi = lo;
	if (dash && parse_num(t, dl + 1, t->n - dl - 1, 65535, &hi) < 0)
		return -1;
	if (lo < 1 || hi < lo)
		return -1;
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
}

static int cmp_port(const void *a, const void *b)
{
	const struct ir_port_range *x = a, *y = b;
	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

static int parse_proto(const struct tok *t, uint8_t *out)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} names[] = {{"tcp", IPPROTO_TCP},	 {"udp", IPPROTO_UDP},
		     {"sctp", IPPROTO_SCTP},	 {"icmp", IPPROTO_ICMP},
		     {"icmpv6", IPPROTO_ICMPV6}, {"ipv6-icmp", IPPROTO_ICMPV6}};
	/* Only protocols the agent programs by name; numbers are not accepted. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (tok_is(t, names[i].name)) {
			*out = names[i].proto;
			return 0;
		}
	return -1;
}

static int parse_tokens(struct tok *t, int nt, uint8_t family, struct custom_rule_line *out,
			char *err, size_t errcap)
{
	struct ir_rule *r = &out->rule;
	int i = 0;

	memset(out, 0, sizeof(*out));
	r->kind = IR_RULE_MATCH;
	r->family = family;
	if (i + 2 < nt && (tok_is(&t[i], "ip") || tok_is(&t[i], "ip6"))) {
		uint8_t want = tok_is(&t[i], "ip") ? 4 : 6;
		struct store_cidr c;
		struct store_ip ip;
		if (want != family) {
			errf(err, errcap, "\"%.*s\" addresses do not belong in an IPv%u rule file",
			     (int)t[i].n, t[i].s, family);
			return -1;
		}
		if (tok_is(&t[i + 1], "saddr"))
			r->addr_is_dst = false;
		else if (tok_is(&t[i + 1], "daddr"))
			r->addr_is_dst = true;
		else {
			errf(err, errcap, "expected saddr or daddr, got \"%.*s\"", (int)t[i + 1].n,
			     t[i + 1].s);
			return -1;
		}
		if (memchr(t[i + 2].s, '/', t[i + 2].n)) {
			if (parse_cidr(t[i + 2].s, t[i + 2].n, &c) < 0 || c.family != family)
				goto bad_addr;
		} else {
			if (parse_ip(t[i + 2].s, t[i + 2].n, &ip) < 0 || ip.family != family)
				goto bad_addr;
			c.family = ip.family;
			c.len = family == 4 ? 32 : 128;
			memcpy(c.addr, ip.addr, 16);
		}
		r->addr_match = IR_ADDR_PREFIX;
		memcpy(r->prefix, c.addr, 16);
		r->prefix_len = c.len;
		i += 3;
	}
	if (i + 2 < nt && tok_is(&t[i], "meta") && tok_is(&t[i + 1], "l4proto")) {
		if (parse_proto(&t[i + 2], &r->l4proto) < 0) {
			errf(err, errcap, "unknown protocol \"%.*s\"", (int)t[i + 2].n, t[i + 2].s);
			return -1;
		}
		if ((r->l4proto == IPPROTO_ICMP && family != 4) ||
		    (r->l4proto == IPPROTO_ICMPV6 && family != 6)) {
			errf(err, errcap, "protocol \"%.*s\" does not belong in an IPv%u rule file",
			     (int)t[i + 2].n, t[i + 2].s, family);
			return -1;
		}
		i += 3;
	} else if (i + 2 < nt &&
		   (tok_is(&t[i], "tcp") || tok_is(&t[i], "udp") || tok_is(&t[i], "sctp"))) {
		parse_proto(&t[i], &r->l4proto);
		if (tok_is(&t[i + 1], "dport"))
			r->port_is_src = false;
		else if (tok_is(&t[i + 1], "sport"))
			r->port_is_src = true;
		else {
			errf(err, errcap, "expected dport or sport, got \"%.*s\"", (int)t[i + 1].n,
			     t[i + 1].s);
			return -1;
		}
		i += 2;
		if (tok_is(&t[i], "{")) {
			i++;
			for (;;) {
				if (i >= nt || out->rule.nports == CUSTOM_RULE_MAX_PORTS ||
				    parse_port_range(&t[i], &out->ports[r->nports]) < 0)
					goto bad_port;
				r->nports++;
				i++;
				if (i < nt && tok_is(&t[i], ",")) {
					i++;
					continue;
				}
				if (i < nt && tok_is(&t[i], "}")) {
					i++;
					break;
				}
				goto bad_port;
			}
		} else {
			if (parse_port_range(&t[i], &out->ports[0]) < 0)
				goto bad_port;
			r->nports = 1;
			i++;
		}
		qsort(out->ports, r->nports, sizeof(out->ports[0]), cmp_port);
		for (uint32_t k = 1; k < r->nports; k++)
			if (out->ports[k].lo <= out->ports[k - 1].hi) {
				errf(err, errcap, "overlapping ports in the port list");
				return -1;
			}
		r->ports = out->ports;
	}
	if (i + 1 != nt || !(tok_is(&t[i], "accept") || tok_is(&t[i], "drop"))) {
		if (i >= nt)
			errf(err, errcap, "missing verdict (accept or drop)");
		else
			errf(err, errcap,
			     "not understood at \"%.*s\" (supported: [ip|ip6 "
			     "saddr|daddr ADDR[/LEN]] [meta l4proto P | tcp|udp|sctp "
			     "dport|sport PORTS] accept|drop)",
			     (int)t[i].n, t[i].s);
		return -1;
	}
	r->verdict = tok_is(&t[i], "accept") ? IR_ACCEPT : IR_DROP;
	return 0;
bad_addr:
	errf(err, errcap, "bad IPv%u address \"%.*s\"", family, (int)t[i + 2].n, t[i + 2].s);
	return -1;
bad_port:
	errf(err, errcap, "bad port or port list");
	return -1;
}

int custom_rule_parse(const char *buf, size_t len, int final, uint8_t family,
		      struct custom_rule_line *out, int *has_rule, char *err, size_t errcap)
{
	const char *nl = memchr(buf, '\n', len), *hash;
	size_t ll, consumed;
	struct tok t[MAX_TOKENS];
	int nt;

	*has_rule = 0;
	if (!nl && !final)
		return -2;
	ll = nl ? (size_t)(nl - buf) : len;
	consumed = nl ? ll + 1 : len;
	if (consumed > (size_t)INT32_MAX) {
		errf(err, errcap, "line too long");
		return -1;
	}
	hash = memchr(buf, '#', ll);
	if (hash)
		ll = (size_t)(hash - buf);
	if (memchr(buf, 0, ll)) {
		errf(err, errcap, "NUL byte in line");
		return -1;
	}
	nt = tokenize(buf, ll, t, MAX_TOKENS);
	if (nt < 0) {
		errf(err, errcap, "too many words");
		return -1;
	}
	if (nt == 0)
		return (int)consumed;
	if (parse_tokens(t, nt, family, out, err, errcap) < 0)
		return -1;
	*has_rule = 1;
	return (int)consumed;
}

int custom_rules_parse_text(struct custom_rules *cr, const char *name, const char *text, size_t len,
			    uint8_t family, char *err, size_t errcap)
{
	struct custom_rule_line *line = malloc(sizeof(*line));
	unsigned lineno = 1;
	uint32_t cap = 0;
	char why[256];

	memset(cr, 0, sizeof(*cr));
	if (!line) {
		errf(err, errcap, "%s: out of memory", name);
		return -1;
	}
	while (len) {
		int has, n = custom_rule_parse(text, len, 1, family, line, &has, why, sizeof(why));
		if (n < 0) {
			errf(err, errcap, "%s:%u: %s", name, lineno, why);
			goto fail;
		}
		if (has) {
			struct ir_rule *r;
			struct ir_port_range *pr = NULL;
			if (cr->n == cap) {
				cap = cap ? cap * 2 : 8;
				r = realloc(cr->rules, cap * sizeof(*r));
				if (!r)
					goto oom;
				cr->rules = r;
			}
			if (line->rule.nports) {
				pr = malloc(line->rule.nports * sizeof(*pr));
				if (!pr)
					goto oom;
				memcpy(pr, line->ports, line->rule.nports * sizeof(*pr));
			}
			cr->rules[cr->n] = line->rule;
			cr->rules[cr->n].ports = pr;
			cr->n++;
		}
		text += n;
		len -= (size_t)n;
		lineno++;
	}
	free(line);
	return 0;
oom:
	errf(err, errcap, "%s: out of memory", name);
fail:
	free(line);
	custom_rules_free(cr);
	return -1;
}

int custom_rules_load(struct custom_rules *cr, const char *path, uint8_t family, char *err,
		      size_t errcap)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	memset(cr, 0, sizeof(*cr));
	if (!f) {
		errf(err, errcap, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;
		if (len == cap) {
			char *b;
			cap = cap ? cap * 2 : 4096;
			if (cap > (64u << 20) || !(b = realloc(buf, cap))) {
				errf(err, errcap, "%s: too large or out of memory", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		errf(err, errcap, "%s: read error", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	rc = custom_rules_parse_text(cr, path, buf ? buf : "", len, family, err, errcap);
	free(buf);
	return rc;
}

void custom_rules_free(struct custom_rules *cr)
{
	for (uint32_t i = 0; i < cr->n; i++)
		free((void *)cr->rules[i].ports);
	free(cr->rules);
	memset(cr, 0, sizeof(*cr));
}
