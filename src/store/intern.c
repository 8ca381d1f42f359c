#include "store/intern.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct istr {
	struct istr *next;
	uint32_t hash, refs;
	uint32_t len;
	char s[];
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
	v[0] += v[1], v[1] = ROTL(v[1], 13), v[1] ^= v[0], v[0] = ROTL(v[0], 32);
	v[2] += v[3], v[3] = ROTL(v[3], 16), v[3] ^= v[2];
	v[0] += v[3], v[3] = ROTL(v[3], 21), v[3] ^= v[0];
	v[2] += v[1], v[1] = ROTL(v[1], 17), v[1] ^= v[2], v[2] = ROTL(v[2], 32);
}

/* SipHash-1-3 of s under the table's key (byte order is the host's: the hash never leaves it). */
static uint32_t hash_bytes(const struct intern *t, const char *s, size_t len)
{
	uint64_t v[4] = {t->key[0] ^ 0x736f6d6570736575ull, t->key[1] ^ 0x646f72616e646f6dull,
			 t->key[0] ^ 0x6c7967656e657261ull, t->key[1] ^ 0x7465646279746573ull};
	uint64_t m, last = (uint64_t)len << 56;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&m, s + i, 8);
		v[3] ^= m;
		sipround(v);
		v[0] ^= m;
	}
	for (size_t k = 0; i + k < len; k++)
		last |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
	v[3] ^= last;
	sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	m = v[0] ^ v[1] ^ v[2] ^ v[3];
	return (uint32_t)(m ^ (m >> 32));
}

static void make_key(struct intern *t)
{
	if (getrandom(t->key, sizeof(t->key), GRND_NONBLOCK) != (ssize_t)sizeof(t->key)) {
		/* No entropy yet (early boot): still differs per process and table. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t->key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
		t->key[1] = (uint64_t)(uintptr_t)t * 0xc2b2ae3d27d4eb4full ^ (uint64_t)ts.tv_sec;
	}
	t->keyed = true;
}

static struct istr *lookup(const struct intern *t, const char *s, size_t len, uint32_t h)
{
	if (!t->nb)
		return NULL;
	for (struct istr *e = t->b[h & (t->nb - 1)]; e; e = e->next)
		if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
			return e;
	return NULL;
}

static int grow(struct intern *t)
{
	uint32_t nb = t->nb ? t->nb * 2 : 256;
	struct istr **b = calloc(nb, sizeof(*b));
	if (!b)
		return -1;
	for (uint32_t i = 0; i < t->nb; i++) {
		struct istr *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	t->bytes += (size_t)(nb - t->nb) * sizeof(*b);
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

const char *intern_get(struct intern *t, const char *s, size_t len)
{
	uint32_t h;
	struct istr *e;

	if (!t->keyed)
		make_key(t);
	h = hash_bytes(t, s, len);
	e = lookup(t, s, len, h);

	if (e) {
		e->refs++;
		return e->s;
	}
	if (len > UINT32_MAX - 1 || (t->n >= t->nb && grow(t) < 0))
		return NULL;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	e->hash = h;
	e->refs = 1;
	e->len = (uint32_t)len;
	memcpy(e->s, s, len);
	e->s[len] = 0;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
	t->bytes += sizeof(*e) + len + 1;
	return e->s;
}

const char *intern_find(const struct intern *t, const char *s, size_t len)
{
	struct istr *e;

	if (!t->nb) /* nothing interned yet (and maybe no key) */
		return NULL;
	e = lookup(t, s, len, hash_bytes(t, s, len));
	return e ? e->s : NULL;
}

void intern_put(struct intern *t, const char *s)
{
	struct istr *e, **pp;

	if (!s)
		return;
	e = (struct istr *)(void *)(s - offsetof(struct istr, s));
	if (--e->refs)
		return;
	for (pp = &t->b[e->hash & (t->nb - 1)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	t->n--;
	t->bytes -= sizeof(*e) + e->len + 1;
	free(e);
}

void intern_free(struct intern *t)
{
	for (uint32_t i = 0; i < t->nb; i++) {
		struct istr *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

uint32_t intern_longest_chain(const struct intern *t)
{
	uint32_t longest = 0;

	for (uint32_t i = 0; i < t->nb; i++) {
		uint32_t n = 0;
		for (const struct istr *e = t->b[i]; e; e = e->next)
			n++;
		longest = n > longest ? n : longest;
	}
	return longest;
}
