/* The YAML subset parser; see yaml.h. One pass over lines, recursive by indentation; flow
 * collections are read by a cursor over the same lines. */
#include "kube/yaml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct line {
	const char *s, *e; /* content without indentation, trailing blanks or comment */
	int indent;
	int no;
};

struct yparser {
	struct line *lines;
	int nlines, cur;
	struct yaml_node *nodes;
	int nnodes, used;
	char *sb;
	size_t sbcap, sbused;
	int depth;
	int *err_line;
	char *err;
	size_t errcap;
	int rc; /* -1 or -2 once failed */
};

#define DEPTH_MAX 64

static int fail(struct yparser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct yparser *p, int line, const char *fmt, ...)
{
	if (p->rc)
		return p->rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errcap, fmt, ap);
	va_end(ap);
	*p->err_line = line;
	p->rc = -1;
	return -1;
}

static int new_node(struct yparser *p, enum yaml_type type, int line)
{
	if (p->used == p->nnodes) {
		p->rc = -2;
		return -2;
	}
	struct yaml_node *n = &p->nodes[p->used];
	n->type = type;
	n->key = NULL;
	n->value = "";
	n->first = n->next = -1;
	n->line = line;
	return p->used++;
}

static char *sb_reserve(struct yparser *p, size_t n)
{
	if (p->sbcap - p->sbused < n + 1) {
		p->rc = -2;
		return NULL;
	}
	return p->sb + p->sbused;
}

static void put_utf8(char **o, unsigned cp)
{
	char *q = *o;
	if (cp < 0x80) {
		*q++ = (char)cp;
	} else if (cp < 0x800) {
		*q++ = (char)(0xc0 | cp >> 6);
		*q++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*q++ = (char)(0xe0 | cp >> 12);
		*q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*q++ = (char)(0x80 | (cp & 0x3f));
	}
	*o = q;
}

/* Finds the end of a quoted scalar starting at s (on the quote); NULL when unterminated. */
static const char *quote_end(const char *s, const char *e)
{
	char q = *s;
	for (const char *c = s + 1; c < e; c++) {
		if (q == '"' && *c == '\\') {
			c++;
			continue;
		}
		if (*c == q) {
			if (q == '\'' && c + 1 < e && c[1] == '\'') {
				c++;
				continue;
			}
			return c;
		}
	}
	return NULL;
}

/* Copies the scalar text [s, e) into the string buffer, unquoting it. NULL on error. */
static const char *scalar(struct yparser *p, const char *s, const char *e, int line)
{
	char *out = sb_reserve(p, (size_t)(e - s)); /* unescaping never grows text */
	if (!out)
		return NULL;
	char *o = out;
	if (s < e && (*s == '"' || *s == '\'')) {
		const char *qe = quote_end(s, e);
		if (!qe) {
			fail(p, line, "unterminated quoted string");
			return NULL;
		}
		if (qe + 1 != e) {
			fail(p, line, "unexpected text after a quoted string");
			return NULL;
		}
		for (const char *c = s + 1; c < qe; c++) {
			if (*s == '\'') {
				*o++ = *c;
				if (*c == '\'')
					c++;
				continue;
			}
			if (*c != '\\') {
				*o++ = *c;
				continue;
			}
			c++;
			switch (*c) {
			case 'n':
				*o++ = '\n';
				break;
			case 't':
				*o++ = '\t';
				break;
			case 'r':
				*o++ = '\r';
				break;
			case '0':
				*o++ = '\0';
				break;
			case '"':
			case '\\':
			case '/':
			case ' ':
				*o++ = *c;
				break;
			case 'x':
			case 'u': {
				int digits = *c == 'x' ? 2 : 4;
				unsigned cp = 0;
				for (int i = 0; i < digits; i++) {
					c++;
					char h = c < qe ? *c : 0;
					int v = h >= '0' && h <= '9'   ? h - '0'
						: h >= 'a' && h <= 'f' ? h - 'a' + 10
						: h >= 'A' && h <= 'F' ? h - 'A' + 10
								       : -1;
					if (v < 0) {
						fail(p, line, "bad \\%c escape",
						     digits == 2 ? 'x' : 'u');
						return NULL;
					}
					cp = cp * 16 + (unsigned)v;
				}
				put_utf8(&o, cp);
				break;
			}
			default:
				fail(p, line, "unsupported escape \\%c", *c);
				return NULL;
			}
		}
	} else {
		if (s < e && strchr("&*!|>%@`", *s)) {
			fail(p, line,
			     "unsupported YAML construct '%c' (anchors, aliases, tags and "
			     "block scalars are not supported)",
			     *s);
			return NULL;
		}
		memcpy(o, s, (size_t)(e - s));
		o += e - s;
	}
	*o++ = '\0';
	p->sbused += (size_t)(o - out);
	return out;
}

/* Finds the ':' that ends a mapping key in [s, e): followed by a blank or the end of the line,
 * outside quotes. NULL when the line is not a key. */
static const char *key_colon(const char *s, const char *e)
{
	const char *c = s;
	if (c < e && (*c == '"' || *c == '\'')) {
		const char *qe = quote_end(c, e);
		if (!qe)
			return NULL;
		c = qe + 1;
		while (c < e && *c == ' ')
			c++;
		return c < e && *c == ':' && (c + 1 == e || c[1] == ' ') ? c : NULL;
	}
	for (; c < e; c++)
		if (*c == ':' && (c + 1 == e || c[1] == ' ' || c[1] == '\t'))
			return c;
	return NULL;
}

static bool is_dash(const struct line *l)
{
	return l->s < l->e && *l->s == '-' && (l->s + 1 == l->e || l->s[1] == ' ');
}

static int parse_block(struct yparser *p, int indent);

/* A value that follows "key:" with nothing after it on the line. */
static int parse_nested(struct yparser *p, int parent_indent, int line)
{
	if (p->cur < p->nlines) {
		struct line *l = &p->lines[p->cur];
		if (l->indent > parent_indent || (l->indent == parent_indent && is_dash(l)))
			return parse_block(p, l->indent);
	}
	return new_node(p, YAML_SCALAR, line); /* empty value */
}

static bool is_flow_start(const char *s, const char *e)
{
	return s < e && (*s == '{' || *s == '[');
}

static int parse_flow_at(struct yparser *p, int li, const char *s);

/* The inline value after "key: " or "- ", on line p->cur - 1. */
static int inline_value(struct yparser *p, const char *s, const char *e, int line)
{
	if (is_flow_start(s, e))
		return parse_flow_at(p, p->cur - 1, s);
	int n = new_node(p, YAML_SCALAR, line);
	if (n < 0)
		return n;
	const char *v = scalar(p, s, e, line);
	if (!v)
		return p->rc;
	p->nodes[n].value = v;
	return n;
}

static int parse_seq(struct yparser *p, int indent)
{
	int seq = new_node(p, YAML_SEQ, p->lines[p->cur].no), last = -1;
	if (seq < 0)
		return seq;
	while (p->cur < p->nlines && p->lines[p->cur].indent == indent &&
	       is_dash(&p->lines[p->cur])) {
		struct line *l = &p->lines[p->cur];
		const char *s = l->s + 1;
		while (s < l->e && *s == ' ')
			s++;
		int item;
		if (s == l->e) {
			p->cur++;
			item = parse_nested(p, indent, l->no);
		} else if (!is_flow_start(s, l->e) &&
			   (key_colon(s, l->e) || (*s == '-' && (s + 1 == l->e || s[1] == ' ')))) {
			/* "- key: v" or "- - x": the rest of the line starts a block at its column
			 */
			l->indent += (int)(s - l->s);
			l->s = s;
			item = parse_block(p, l->indent);
		} else {
			p->cur++;
			item = inline_value(p, s, l->e, l->no);
		}
		if (item < 0)
			return item;
		if (last < 0)
			p->nodes[seq].first = item;
		else
			p->nodes[last].next = item;
		last = item;
	}
	return seq;
}

static int parse_map(struct yparser *p, int indent)
{
	int map = new_node(p, YAML_MAP, p->lines[p->cur].no), last = -1;
	if (map < 0)
		return map;
	while (p->cur < p->nlines && p->lines[p->cur].indent == indent &&
	       !is_dash(&p->lines[p->cur])) {
		struct line *l = &p->lines[p->cur];
		const char *colon = key_colon(l->s, l->e);
		if (!colon)
			return fail(p, l->no, "expected \"key: value\"");
		const char *ke = colon;
		while (ke > l->s && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		const char *key = scalar(p, l->s, ke, l->no);
		if (!key)
			return p->rc;
		for (int k = p->nodes[map].first; k >= 0; k = p->nodes[k].next)
			if (!strcmp(p->nodes[k].key, key))
				return fail(p, l->no, "duplicate key \"%s\"", key);
		const char *v = colon + 1;
		while (v < l->e && (*v == ' ' || *v == '\t'))
			v++;
		p->cur++;
		int val =
		    v == l->e ? parse_nested(p, indent, l->no) : inline_value(p, v, l->e, l->no);
		if (val < 0)
			return val;
		p->nodes[val].key = key;
		if (last < 0)
			p->nodes[map].first = val;
		else
			p->nodes[last].next = val;
		last = val;
	}
	return map;
}

/* Flow collections ({...} and [...], JSON among them) may span lines: a cursor walks the line
 * table from where the collection starts. */
struct flow {
	int li;	      /* line index */
	const char *c; /* position in that line */
};

/* Skips blanks and line ends; false when the text ends first. */
static bool flow_skip(struct yparser *p, struct flow *f)
{
	for (;;) {
		const struct line *l = &p->lines[f->li];
		while (f->c < l->e && (*f->c == ' ' || *f->c == '\t'))
			f->c++;
		if (f->c < l->e)
			return true;
		if (f->li + 1 >= p->nlines)
			return false;
		f->li++;
		f->c = p->lines[f->li].s;
	}
}

static int flow_line(const struct yparser *p, const struct flow *f)
{
	return p->lines[f->li].no;
}

static bool flow_indicator(char c)
{
	return c == ',' || c == ']' || c == '}';
}

/* A scalar inside a flow collection: quoted, or plain up to ',', ']', '}', ": " or the line end
 * (key says whether a ':' ends it). */
static int flow_scalar(struct yparser *p, struct flow *f, bool key)
{
	const struct line *l = &p->lines[f->li];
	const char *s = f->c, *e;
	if (*s == '"' || *s == '\'') {
		const char *qe = quote_end(s, l->e);
		if (!qe)
			return fail(p, l->no, "unterminated quoted string (or one spanning lines)");
		e = qe + 1;
	} else {
		for (e = s; e < l->e && !flow_indicator(*e) && *e != '[' && *e != '{'; e++)
			if (*e == ':' && (e + 1 == l->e || e[1] == ' ' || flow_indicator(e[1]) ||
					  key))
				break;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == s)
			return fail(p, l->no, "expected a value in a flow collection");
	}
	int n = new_node(p, YAML_SCALAR, l->no);
	if (n < 0)
		return n;
	const char *v = scalar(p, s, e, l->no);
	if (!v)
		return p->rc;
	p->nodes[n].value = v;
	f->c = e;
	return n;
}

static int flow_node(struct yparser *p, struct flow *f);

/* The entries of a flow map or sequence, f on the opening bracket. */
static int flow_collection(struct yparser *p, struct flow *f)
{
	bool is_map = *f->c == '{';
	char close = is_map ? '}' : ']';
	int open = flow_line(p, f); /* unterminated: say where it opened */
	int coll = new_node(p, is_map ? YAML_MAP : YAML_SEQ, open), last = -1;
	if (coll < 0)
		return coll;
	f->c++;
	for (;;) {
		if (!flow_skip(p, f))
			return fail(p, open, "unterminated flow collection");
		if (*f->c == close) {
			f->c++;
			return coll;
		}
		int item;
		if (is_map) {
			int k = flow_scalar(p, f, true);
			if (k < 0)
				return k;
			const char *key = p->nodes[k].value;
			p->used--; /* the key is kept as the value node's key, not as a node */
			for (int x = p->nodes[coll].first; x >= 0; x = p->nodes[x].next)
				if (!strcmp(p->nodes[x].key, key))
					return fail(p, flow_line(p, f), "duplicate key \"%s\"", key);
			if (!flow_skip(p, f))
				return fail(p, open, "unterminated flow collection");
			if (*f->c == ':') {
				f->c++;
				if (!flow_skip(p, f))
					return fail(p, open, "unterminated flow collection");
				item = flow_indicator(*f->c)
					   ? new_node(p, YAML_SCALAR, flow_line(p, f))
					   : flow_node(p, f);
			} else {
				item = new_node(p, YAML_SCALAR, flow_line(p, f));
			}
			if (item >= 0)
				p->nodes[item].key = key;
		} else {
			item = flow_node(p, f);
		}
		if (item < 0)
			return item;
		if (last < 0)
			p->nodes[coll].first = item;
		else
			p->nodes[last].next = item;
		last = item;
		if (!flow_skip(p, f))
			return fail(p, open, "unterminated flow collection");
		if (*f->c == ',')
			f->c++;
		else if (*f->c != close)
			return fail(p, flow_line(p, f), "expected ',' or '%c' in a flow collection",
				    close);
	}
}

static int flow_node(struct yparser *p, struct flow *f)
{
	if (*f->c != '{' && *f->c != '[')
		return flow_scalar(p, f, false);
	if (++p->depth > DEPTH_MAX)
		return fail(p, flow_line(p, f), "nesting too deep");
	int r = flow_collection(p, f);
	p->depth--;
	return r;
}

/* A flow collection starting at s on line li; afterwards p->cur is the line after its end. */
static int parse_flow_at(struct yparser *p, int li, const char *s)
{
	struct flow f = {li, s};
	int r = flow_node(p, &f);
	if (r < 0)
		return r;
	const struct line *l = &p->lines[f.li];
	while (f.c < l->e && (*f.c == ' ' || *f.c == '\t'))
		f.c++;
	if (f.c < l->e)
		return fail(p, l->no, "unexpected text after a flow collection");
	p->cur = f.li + 1;
	return r;
}

static int parse_block(struct yparser *p, int indent)
{
	if (++p->depth > DEPTH_MAX)
		return fail(p, p->lines[p->cur].no, "nesting too deep");
	struct line *l = &p->lines[p->cur];
	int r;
	if (is_dash(l))
		r = parse_seq(p, indent);
	else if (!is_flow_start(l->s, l->e) && key_colon(l->s, l->e))
		r = parse_map(p, indent);
	else {
		p->cur++;
		r = inline_value(p, l->s, l->e, l->no);
	}
	p->depth--;
	return r;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t count = 1;
	for (size_t i = 0; i < len; i++)
		count += text[i] == '\n';
	return count;
}

size_t yaml_buf_size(const char *text, size_t len, int nnodes)
{
	return len + (size_t)nnodes + 1 + count_lines(text, len) * sizeof(struct line) +
	       _Alignof(struct line);
}

int yaml_parse(const char *text, size_t len, struct yaml_node *nodes, int nnodes, char *strbuf,
	       size_t strcap, int *err_line, char *err, size_t errcap)
{
	struct yparser p = {.nodes = nodes,
			    .nnodes = nnodes,
			    .sb = strbuf,
			    .err_line = err_line,
			    .err = err,
			    .errcap = errcap};
	*err_line = 0;
	if (errcap)
		err[0] = '\0';
	/* count lines, then take the line array from the top of strbuf */
	/* the line array lives at the top of strbuf */
	size_t count = count_lines(text, len);
	size_t need = count * sizeof(struct line) + _Alignof(struct line);
	if (strcap < need)
		return -2;
	uintptr_t top = (uintptr_t)(strbuf + strcap - count * sizeof(struct line));
	top &= ~(uintptr_t)(_Alignof(struct line) - 1);
	p.lines = (struct line *)top;
	p.sbcap = (size_t)((char *)top - strbuf);

	const char *c = text, *end = text + len;
	for (int no = 1; c < end || no == 1; no++) {
		const char *eol = memchr(c, '\n', (size_t)(end - c));
		if (!eol)
			eol = end;
		const char *s = c;
		while (s < eol && *s == ' ')
			s++;
		if (s < eol && *s == '\t')
			return fail(&p, no, "tab in indentation");
		/* strip a comment: '#' at the start or after a blank, outside quotes */
		const char *e = s;
		char q = 0;
		for (const char *x = s; x < eol; x++) {
			if (*x == '\0')
				return fail(&p, no, "NUL byte");
			if (q) {
				if (*x == q)
					q = 0;
				else if (q == '"' && *x == '\\')
					x++;
				e = x + 1 < eol ? x + 1 : eol;
				continue;
			}
			if ((*x == '"' || *x == '\'') &&
			    (x == s || strchr(" :,[{", x[-1])))
				q = *x;
			if (*x == '#' && (x == s || x[-1] == ' ' || x[-1] == '\t'))
				break;
			e = x + 1;
		}
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		bool marker =
		    (e - s == 3 && (!memcmp(s, "---", 3) || !memcmp(s, "...", 3)) && s == c);
		if (e > s && !marker) {
			if (s == c && e - s > 3 && !memcmp(s, "--- ", 4))
				return fail(&p, no, "content after \"---\" is not supported");
			if (*s == '%')
				return fail(&p, no, "directives are not supported");
			p.lines[p.nlines++] = (struct line){s, e, (int)(s - c), no};
		}
		if (eol == end)
			break;
		c = eol + 1;
	}
	int root;
	if (p.nlines == 0) {
		root = new_node(&p, YAML_MAP, 1);
	} else {
		int first_indent = p.lines[0].indent;
		root = parse_block(&p, first_indent);
		if (root >= 0 && p.cur < p.nlines)
			return fail(&p, p.lines[p.cur].no, "unexpected indentation");
	}
	if (root < 0)
		return p.rc ? p.rc : root;
	return p.used;
}

int yaml_get(const struct yaml_node *nodes, int map, const char *key)
{
	if (map < 0 || nodes[map].type != YAML_MAP)
		return -1;
	for (int k = nodes[map].first; k >= 0; k = nodes[k].next)
		if (!strcmp(nodes[k].key, key))
			return k;
	return -1;
}

const char *yaml_get_str(const struct yaml_node *nodes, int map, const char *key)
{
	int v = yaml_get(nodes, map, key);
	return v >= 0 && nodes[v].type == YAML_SCALAR ? nodes[v].value : NULL;
}
