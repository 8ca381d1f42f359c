#include "policy/addrset.h"

#include <stdlib.h>
#include <string.h>

static unsigned width(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

void addrset_init(struct addrset *s, uint8_t family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
}

void addrset_free(struct addrset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
}

int addrset_add_range(struct addrset *s, const struct ir_addr_range *r)
{
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		struct ir_addr_range *v = realloc(s->r, cap * sizeof(*v));
		if (!v)
			return -1;
		s->r = v;
		s->cap = cap;
	}
	s->r[s->n++] = *r;
	return 0;
}

void addrset_shrink(struct addrset *s)
{
	struct ir_addr_range *v;

	if (s->n == s->cap)
		return;
	if (s->n == 0) {
		addrset_free(s);
		return;
	}
	v = realloc(s->r, s->n * sizeof(*v));
	if (v) {
		s->r = v;
		s->cap = s->n;
	}
}

int addrset_add_ip(struct addrset *s, const uint8_t addr[16])
{
	struct ir_addr_range r;
	memset(&r, 0, sizeof(r));
	memcpy(r.lo, addr, width(s->family));
	memcpy(r.hi, addr, width(s->family));
	return addrset_add_range(s, &r);
}

void cidr_range(const struct store_cidr *c, struct ir_addr_range *out)
{
	unsigned w = width(c->family);
	memset(out, 0, sizeof(*out));
	for (unsigned b = 0; b < w; b++) {
		unsigned keep = c->len >= (b + 1) * 8 ? 8 : (c->len > b * 8 ? c->len - b * 8 : 0);
		uint8_t mask = (uint8_t)(0xff00u >> keep);
		out->lo[b] = c->addr[b] & mask;
		out->hi[b] = (uint8_t)(c->addr[b] | (uint8_t)~mask);
	}
}

int addrset_add_cidr(struct addrset *s, const struct store_cidr *c)
{
	struct ir_addr_range r;
	cidr_range(c, &r);
	return addrset_add_range(s, &r);
}

static int cmp_addr(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	for (int i = 0; i < 2; i++) {
		uint64_t p = __builtin_bswap64(x[i]), q = __builtin_bswap64(y[i]);
		if (p != q)
			return p < q ? -1 : 1;
	}
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct ir_addr_range *x = a, *y = b;
	int c = cmp_addr(x->lo, y->lo);
	return c ? c : cmp_addr(x->hi, y->hi);
}

/* a + 1 within the family's width; false on overflow (a is all ones). */
static bool addr_inc(uint8_t family, const uint8_t *a, uint8_t *out)
{
	unsigned w = width(family);
	memcpy(out, a, 16);
	for (int i = (int)w - 1; i >= 0; i--)
		if (++out[i] != 0)
			return true;
	return false;
}

/* a - 1; false on underflow (a is zero). */
static bool addr_dec(uint8_t family, const uint8_t *a, uint8_t *out)
{
	unsigned w = width(family);
	memcpy(out, a, 16);
	for (int i = (int)w - 1; i >= 0; i--)
		if (out[i]-- != 0)
			return true;
	return false;
}

void addrset_normalise(struct addrset *s)
{
	uint32_t out = 0;

	if (s->n == 0)
		return;
	qsort(s->r, s->n, sizeof(*s->r), cmp_range);
	for (uint32_t i = 1; i < s->n; i++) {
		struct ir_addr_range *cur = &s->r[out];
		uint8_t next[16];
		bool has_next = addr_inc(s->family, cur->hi, next);
		/* Merge when the next range starts at or before cur->hi + 1. */
		if (!has_next || cmp_addr(s->r[i].lo, next) <= 0) {
			if (cmp_addr(s->r[i].hi, cur->hi) > 0)
				memcpy(cur->hi, s->r[i].hi, 16);
		} else {
			s->r[++out] = s->r[i];
		}
	}
	s->n = out + 1;
}

int addrset_subtract(struct addrset *s, const struct addrset *minus)
{
	struct addrset res;
	uint32_t j = 0;

	addrset_init(&res, s->family);
	for (uint32_t i = 0; i < s->n; i++) {
		struct ir_addr_range cur = s->r[i];
		bool alive = true;
		/* Skip minus ranges entirely below cur. */
		while (j < minus->n && cmp_addr(minus->r[j].hi, cur.lo) < 0)
			j++;
		for (uint32_t k = j; alive && k < minus->n && cmp_addr(minus->r[k].lo, cur.hi) <= 0;
		     k++) {
			const struct ir_addr_range *m = &minus->r[k];
			if (cmp_addr(m->lo, cur.lo) > 0) {
				struct ir_addr_range left = cur;
				addr_dec(s->family, m->lo, left.hi);
				if (addrset_add_range(&res, &left) < 0)
					goto fail;
			}
			if (cmp_addr(m->hi, cur.hi) >= 0)
				alive = false;
			else
				addr_inc(s->family, m->hi, cur.lo);
		}
		if (alive && addrset_add_range(&res, &cur) < 0)
			goto fail;
	}
	free(s->r);
	*s = res;
	return 0;
fail:
	addrset_free(&res);
	return -1;
}

int addrset_add_block(struct addrset *s, const struct store_cidr *cidr,
		      const struct store_cidr *except, uint32_t nexcept)
{
	struct addrset blk, ex;
	int rc = -1;

	addrset_init(&blk, cidr->family);
	addrset_init(&ex, cidr->family);
	if (addrset_add_cidr(&blk, cidr) < 0)
		goto out;
	for (uint32_t i = 0; i < nexcept; i++)
		if (except[i].family == cidr->family && addrset_add_cidr(&ex, &except[i]) < 0)
			goto out;
	addrset_normalise(&ex);
	if (addrset_subtract(&blk, &ex) < 0)
		goto out;
	for (uint32_t i = 0; i < blk.n; i++)
		if (addrset_add_range(s, &blk.r[i]) < 0)
			goto out;
	rc = 0;
out:
	addrset_free(&blk);
	addrset_free(&ex);
	return rc;
}

bool addrset_equal(const struct addrset *a, const struct addrset *b)
{
	return a->family == b->family && a->n == b->n &&
	       (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0);
}
