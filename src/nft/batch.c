#include "nft/batch.h"

#include <netinet/in.h> /* before the kernel headers, which then skip their copies */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "nft/layout.h"

enum { DT_IPADDR = 7, DT_IP6ADDR = 8, DT_INET_SERVICE = 13, DT_ICMPV6_TYPE = 29 };
enum { UD_BYTEORDER_BIG_ENDIAN = 2 };
#define ELEMS_PER_MSG 256 /* keeps each element list well below netlink's 64 KiB attribute */
#define MSG_RESERVE 65536 /* room made before building any one message */

/* One interval set element as nft writes it. */
struct elem {
	uint8_t key[16];
	bool end;  /* NFT_SET_ELEM_INTERVAL_END */
	bool open; /* start of a range that runs to the end of the key space */
};

static char *batch_reserve(struct batch *b)
{
	if (b->failed)
		return NULL;
	if (b->cap - b->len < MSG_RESERVE) {
		size_t cap = b->cap ? b->cap * 2 : 4 * MSG_RESERVE;
		char *p = realloc(b->buf, cap);
		if (!p) {
			b->failed = ENOMEM;
			return NULL;
		}
		b->buf = p, b->cap = cap;
	}
	return b->buf + b->len;
}

static void batch_commit(struct batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Starts a message of the batch; its description names the object in errors. */
static struct nlmsghdr *msg_start(struct batch *b, uint16_t type, uint16_t flags, uint8_t what,
				  const char *name, uint32_t rule)
{
	char *p = batch_reserve(b);
	if (!p)
		return NULL;
	if (b->nmsgs == b->desc_cap) {
		size_t cap = b->desc_cap ? b->desc_cap * 2 : 64;
		struct msg_desc *d = realloc(b->desc, cap * sizeof *d);
		if (!d) {
			b->failed = ENOMEM;
			return NULL;
		}
		b->desc = d, b->desc_cap = cap;
	}
	b->desc[b->nmsgs] = (struct msg_desc){what, name, rule};
	b->nmsgs++;
	/* Every message asks for an ACK, so each one's outcome is confirmed, not inferred. */
	return nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags | NLM_F_ACK, b->seq0 + b->nmsgs);
}

/* A table message; flags < 0 leaves the table's flags alone (an update that changes nothing,
 * even on a table that outlived its owner). */
static void add_table_msg(struct batch *b, uint16_t type, uint16_t nlflags, int64_t flags,
			  const uint64_t *shape)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh = msg_start(b, type, nlflags, W_TABLE, NULL, 0);
	if (!t || !nlh) {
		b->failed = b->failed ? b->failed : ENOMEM;
		nftnl_table_free(t);
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
	if (flags >= 0)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, (uint32_t)flags);
	if (shape) {
		uint8_t ud[2 + NFT_UDATA_HASH_LEN] = {NFT_UDATA_HASH, NFT_UDATA_HASH_LEN};
		memcpy(ud + 2, shape, NFT_UDATA_HASH_LEN);
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, ud, sizeof ud);
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_commit(b, nlh);
}

/* The interval elements nft writes for sorted, non-adjacent ranges: a leading interval end at
 * zero unless the first range starts there, then each range's start and (unless the range
 * runs to the end of the key space) its end, the key after its last value. */
static uint32_t ranges_to_elems(uint32_t keylen, uint32_t n, const uint8_t *lo, const uint8_t *hi,
				size_t stride, struct elem *out)
{
	uint32_t k = 0;
	static const uint8_t zero[16];
	if (n > 0 && memcmp(lo, zero, keylen) != 0) {
		memset(&out[k], 0, sizeof out[k]);
		out[k++].end = true;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *l = lo + i * stride, *h = hi + i * stride;
		struct elem *s = &out[k++];
		memset(s, 0, sizeof *s);
		memcpy(s->key, l, keylen);
		struct elem *e = &out[k];
		memset(e, 0, sizeof *e);
		memcpy(e->key, h, keylen);
		int j = (int)keylen - 1;
		while (j >= 0 && e->key[j] == 0xff)
			e->key[j--] = 0;
		if (j < 0) {
			s->open = true;
			continue;
		}
		e->key[j]++;
		e->end = true;
		k++;
	}
	return k;
}

static struct elem *addr_set_elems(const struct ir_addr_range *r, uint32_t n, uint8_t family,
				   uint32_t *count)
{
	struct elem *e = malloc((2 * (size_t)n + 1) * sizeof *e);
	if (e)
		*count = ranges_to_elems(family == 4 ? 4 : 16, n, r ? r->lo : NULL,
					 r ? r->hi : NULL, sizeof *r, e);
	return e;
}

/* Element lists are written directly (as libnftnl would lay them out) instead of through one
 * allocated nftnl_set_elem per element: a full table holds thousands of them. */
static void put_elems(struct batch *b, uint16_t type, const char *set, uint32_t set_id,
		      uint32_t keylen, const struct elem *e, uint32_t n, uint8_t what,
		      const char *desc, uint32_t rule)
{
	/* NFTNL_UDATA_SET_ELEM_FLAGS = NFTNL_SET_ELEM_F_INTERVAL_OPEN, as nft writes it. */
	uint8_t open_ud[6] = {1, 4};
	uint32_t one = 1;
	memcpy(open_ud + 2, &one, sizeof one);
	for (uint32_t off = 0; off < n; off += ELEMS_PER_MSG) {
		uint32_t m = n - off < ELEMS_PER_MSG ? n - off : ELEMS_PER_MSG;
		struct nlmsghdr *nlh = msg_start(
		    b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, what, desc, rule);
		if (!nlh)
			return;
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, b->table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
		if (set_id)
			mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(set_id));
		struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		for (uint32_t i = off; i < off + m; i++) {
			struct nlattr *el = mnl_attr_nest_start(nlh, i - off + 1);
			if (e[i].end)
				mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS,
						 htonl(NFT_SET_ELEM_INTERVAL_END));
			struct nlattr *key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
			mnl_attr_put(nlh, NFTA_DATA_VALUE, keylen, e[i].key);
			mnl_attr_nest_end(nlh, key);
			if (e[i].open)
				mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, sizeof open_ud, open_ud);
			mnl_attr_nest_end(nlh, el);
		}
		mnl_attr_nest_end(nlh, list);
		batch_commit(b, nlh);
	}
}

static uint32_t add_set_msg(struct batch *b, const char *name, uint32_t flags, uint32_t key_type,
			    uint32_t key_len, const uint8_t *ud, uint32_t udlen, uint32_t size,
			    uint8_t what, const char *desc, uint32_t rule)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh =
	    msg_start(b, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, what, desc, rule);
	if (!s || !nlh) {
		b->failed = b->failed ? b->failed : ENOMEM;
		nftnl_set_free(s);
		return 0;
	}
	uint32_t id = ++b->set_id;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	if (size)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, ud, udlen);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	batch_commit(b, nlh);
	return id;
}

/* NFTNL_UDATA_SET_KEYBYTEORDER = big endian, as nft writes for addresses and ports. */
static const uint8_t ud_big_endian[6] = {0, 4, UD_BYTEORDER_BIG_ENDIAN, 0, 0, 0};

static void add_addr_set(struct batch *b, const struct ir_addr_set *s)
{
	uint32_t keylen = s->family == 4 ? 4 : 16, n = 0;
	uint32_t id =
	    add_set_msg(b, s->name, NFT_SET_INTERVAL, s->family == 4 ? DT_IPADDR : DT_IP6ADDR,
			keylen, ud_big_endian, sizeof ud_big_endian, 0, W_SET, s->name, 0);
	if (s->n == 0 || b->failed)
		return;
	struct elem *e = addr_set_elems(s->ranges, s->n, s->family, &n);
	if (!e) {
		b->failed = ENOMEM;
		return;
	}
	put_elems(b, NFT_MSG_NEWSETELEM, s->name, id, keylen, e, n, W_ELEMS, s->name, 0);
	free(e);
}

static void add_port_set(struct batch *b, const char *name, const struct ir_chain *ch, uint32_t ri)
{
	uint32_t id = add_set_msg(b, name, NFT_SET_INTERVAL, DT_INET_SERVICE, 2, ud_big_endian,
				  sizeof ud_big_endian, 0, W_PORTSET, ch->name, ri);
	const struct ir_rule *r = &ch->rules[ri];
	uint8_t(*lo)[2] = malloc(r->nports * sizeof *lo * 2);
	struct elem *e = malloc((2 * (size_t)r->nports + 1) * sizeof *e);
	if (!lo || !e) {
		b->failed = ENOMEM;
		goto out;
	}
	uint8_t(*hi)[2] = lo + r->nports;
	for (uint32_t i = 0; i < r->nports; i++) {
		lo[i][0] = (uint8_t)(r->ports[i].lo >> 8), lo[i][1] = (uint8_t)r->ports[i].lo;
		hi[i][0] = (uint8_t)(r->ports[i].hi >> 8), hi[i][1] = (uint8_t)r->ports[i].hi;
	}
	uint32_t n = ranges_to_elems(2, r->nports, lo[0], hi[0], 2, e);
	put_elems(b, NFT_MSG_NEWSETELEM, name, id, 2, e, n, W_PORTSET, ch->name, ri);
out:
	free(lo);
	free(e);
}

static void add_chain(struct batch *b, const char *name, int hook)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh =
	    msg_start(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, W_CHAIN, name, 0);
	if (!ch || !nlh) {
		b->failed = b->failed ? b->failed : ENOMEM;
		nftnl_chain_free(ch);
		return;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	batch_commit(b, nlh);
}

/* ---- rule expressions ------------------------------------------------------------------ */

static void e_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_rule_add_expr(r, e);
}

static void e_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	nftnl_rule_add_expr(r, e);
}

static void e_lookup(struct nftnl_rule *r, const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (set_id)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	nftnl_rule_add_expr(r, e);
}

static void e_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	nftnl_rule_add_expr(r, e);
}

static void e_nfproto(struct nftnl_rule *r, int family)
{
	uint8_t p = family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	e_meta(r, NFT_META_NFPROTO);
	e_cmp(r, NFT_CMP_EQ, &p, 1);
}

static void e_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	e_meta(r, NFT_META_L4PROTO);
	e_cmp(r, NFT_CMP_EQ, &proto, 1);
}

/* The address match as nft linearises it: a whole-byte prefix loads only its bytes; any other
 * prefix loads the address and masks it. */
static void e_prefix(struct nftnl_rule *r, int fam, uint32_t off, const struct ir_rule *ir)
{
	uint32_t alen = fam == 4 ? 4 : 16, plen = ir->prefix_len;
	uint8_t mask[16] = {0}, val[16] = {0};
	for (uint32_t i = 0; i < plen; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	for (uint32_t i = 0; i < alen; i++)
		val[i] = ir->prefix[i] & mask[i];
	if (plen > 0 && plen % 8 == 0) {
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, plen / 8);
		e_cmp(r, NFT_CMP_EQ, val, plen / 8);
		return;
	}
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen);
	e_bitwise(r, mask, alen);
	e_cmp(r, NFT_CMP_EQ, val, alen);
}

static void rule_put_comment(struct nftnl_rule *r, const char *comment)
{
	/* NFTNL_UDATA_RULE_COMMENT: type 0, length with the NUL, the string. */
	size_t n = nft_comment_len(comment);
	uint8_t ud[2 + NFT_COMMENT_MAX + 1];
	ud[0] = 0, ud[1] = (uint8_t)(n + 1);
	memcpy(ud + 2, comment, n);
	ud[2 + n] = 0;
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, ud, (uint32_t)n + 3);
}

static int add_rule_msg(struct batch *b, struct nftnl_rule *r, uint8_t what, const char *chain,
			uint32_t ri, uint16_t flags)
{
	struct nlmsghdr *nlh = msg_start(b, NFT_MSG_NEWRULE, flags, what, chain, ri);
	if (!nlh)
		return -1;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_commit(b, nlh);
	return 0;
}

/* The anonymous constant set nft makes for `icmpv6 type { nd-..., mld-... }`. */
static uint32_t add_ndp_set(struct batch *b, const char *chain, uint32_t ri, uint32_t types)
{
	/* key byte order big endian, then the typeof description nft stores (icmpv6 type). */
	static const uint8_t ud[28] = {0, 4,  2, 0, 0,	0, 3, 20, 0, 4, 7, 0, 0, 0,
				       1, 12, 0, 4, 14, 0, 0, 0,  1, 4, 1, 0, 0, 0};
	struct elem e[32];
	uint32_t n = 0;
	memset(e, 0, sizeof e);
	for (uint32_t t = 0; t < 32; t++)
		if (types & (1u << t))
			e[n++].key[0] = (uint8_t)(128 + t);
	uint32_t id = add_set_msg(b, "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT,
				  DT_ICMPV6_TYPE, 1, ud, sizeof ud, n, W_NDPSET, chain, ri);
	put_elems(b, NFT_MSG_NEWSETELEM, "__set%d", id, 1, e, n, W_NDPSET, chain, ri);
	return id;
}

static int add_rule(struct batch *b, const struct pod_ruleset *rs, uint32_t c, uint32_t ri)
{
	const struct ir_chain *ch = &rs->chains[c];
	const struct ir_rule *ir = &ch->rules[ri];
	uint32_t ndp_id = 0;
	if (ir->kind == IR_RULE_NDP)
		ndp_id = add_ndp_set(b, ch->name, ri, ir->icmpv6_types);
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return -1;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ch->name);
	if (ir->kind == IR_RULE_CT_ESTABLISHED) {
		struct nftnl_expr *e = nftnl_expr_alloc("ct");
		uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
		uint32_t zero = 0;
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
			nftnl_rule_add_expr(r, e);
		}
		e_bitwise(r, &mask, 4);
		e_cmp(r, NFT_CMP_NEQ, &zero, 4);
		e_verdict(r, NF_ACCEPT, NULL);
	} else if (ir->kind == IR_RULE_NDP) {
		e_nfproto(r, 6);
		e_l4proto(r, IPPROTO_ICMPV6);
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		e_lookup(r, "__set%d", ndp_id);
		e_verdict(r, NF_ACCEPT, NULL);
	} else {
		int fam = nft_rule_family(rs, ir);
		if (fam != 0)
			e_nfproto(r, fam);
		if (ir->addr_match != IR_ADDR_NONE) {
			uint32_t off =
			    fam == 4 ? (ir->addr_is_dst ? 16 : 12) : (ir->addr_is_dst ? 24 : 8);
			if (ir->addr_match == IR_ADDR_SET) {
				const struct ir_addr_set *s = &rs->sets[ir->addr_set];
				e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, fam == 4 ? 4 : 16);
				e_lookup(r, s->name, 1 + ir->addr_set);
			} else {
				e_prefix(r, fam, off, ir);
			}
		}
		if (ir->l4proto)
			e_l4proto(r, ir->l4proto);
		if (ir->nports > 0) {
			uint32_t off = ir->port_is_src ? 0 : 2;
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, off, 2);
			if (ir->nports == 1) {
				uint8_t lo[2] = {(uint8_t)(ir->ports[0].lo >> 8),
						 (uint8_t)ir->ports[0].lo};
				uint8_t hi[2] = {(uint8_t)(ir->ports[0].hi >> 8),
						 (uint8_t)ir->ports[0].hi};
				if (ir->ports[0].lo == ir->ports[0].hi) {
					e_cmp(r, NFT_CMP_EQ, lo, 2);
				} else {
					e_cmp(r, NFT_CMP_GTE, lo, 2);
					e_cmp(r, NFT_CMP_LTE, hi, 2);
				}
			} else {
				char name[NFT_NAME_MAX];
				nft_port_set_name(ch->name, ri, name, sizeof name);
				e_lookup(r, name, 0);
			}
		}
		if (ir->counter) {
			struct nftnl_expr *e = nftnl_expr_alloc("counter");
			if (e)
				nftnl_rule_add_expr(r, e);
		}
		e_verdict(r, ir->verdict == IR_ACCEPT ? NF_ACCEPT : NF_DROP, NULL);
		if (ir->comment)
			rule_put_comment(r, ir->comment);
	}
	int rc = add_rule_msg(b, r, W_RULE, ch->name, ri, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_free(r);
	return rc;
}

/* The rule jumping to ch's chain. The first chain's carries the content hash (the marker);
 * with a handle it replaces that rule in place, to carry a new hash. */
static int add_jump(struct batch *b, const struct ir_chain *ch, const uint64_t *hash,
		    uint64_t handle)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	char ifname[16] = {0};
	if (!r)
		return -1;
	strncpy(ifname, ch->ifname, sizeof ifname - 1);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ch->dir == IR_INGRESS ? "input" : "output");
	e_meta(r, ch->dir == IR_INGRESS ? NFT_META_IIFNAME : NFT_META_OIFNAME);
	e_cmp(r, NFT_CMP_EQ, ifname, 16);
	e_verdict(r, NFT_JUMP, ch->name);
	if (hash) {
		uint8_t ud[2 + NFT_UDATA_HASH_LEN] = {NFT_UDATA_HASH, NFT_UDATA_HASH_LEN};
		memcpy(ud + 2, hash, NFT_UDATA_HASH_LEN);
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, ud, sizeof ud);
	}
	if (handle)
		nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	int rc = add_rule_msg(b, r, W_JUMP, ch->name, 0,
			      handle ? NLM_F_REPLACE : NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_free(r);
	return rc;
}

/* Drops what passes through the guarded interface's index under another name (renamed):
 * `iif IDX iifname != "NAME" counter drop` (oif and oifname for egress); the counter is
 * exported as a metric. */
static int add_ifguard(struct batch *b, const struct nft_ifguard *g, enum ir_dir dir)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	char ifname[16] = {0};
	if (!r)
		return -1;
	memcpy(ifname, g->ifname, strnlen(g->ifname, sizeof ifname - 1));
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, dir == IR_INGRESS ? "input" : "output");
	e_meta(r, dir == IR_INGRESS ? NFT_META_IIF : NFT_META_OIF);
	e_cmp(r, NFT_CMP_EQ, &g->ifindex, sizeof g->ifindex);
	e_meta(r, dir == IR_INGRESS ? NFT_META_IIFNAME : NFT_META_OIFNAME);
	e_cmp(r, NFT_CMP_NEQ, ifname, sizeof ifname);
	struct nftnl_expr *counter = nftnl_expr_alloc("counter");
	if (counter)
		nftnl_rule_add_expr(r, counter);
	e_verdict(r, NF_DROP, NULL);
	int rc = add_rule_msg(b, r, W_IFGUARD, g->ifname, 0, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_free(r);
	return rc;
}

/* Sends what passes through a link stacked on a policed interface (a child) to that
 * interface's chain: `iif IDX jump CHAIN` (oif for egress). */
static int add_child_jump(struct batch *b, const struct pod_ruleset *rs,
			  const struct nft_ifguard *g, enum ir_dir dir)
{
	const struct ir_chain *ch = NULL;
	for (uint32_t c = 0; c < rs->nchains && !ch; c++)
		if (rs->chains[c].dir == dir && strcmp(rs->chains[c].ifname, g->ifname) == 0)
			ch = &rs->chains[c];
	struct nftnl_rule *r = ch ? nftnl_rule_alloc() : NULL;
	if (!r)
		return -1;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, dir == IR_INGRESS ? "input" : "output");
	e_meta(r, dir == IR_INGRESS ? NFT_META_IIF : NFT_META_OIF);
	e_cmp(r, NFT_CMP_EQ, &g->ifindex, sizeof g->ifindex);
	e_verdict(r, NFT_JUMP, ch->name);
	int rc = add_rule_msg(b, r, W_IFCHILD, ch->name, 0, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_free(r);
	return rc;
}

/* ---- whole batches --------------------------------------------------------------------- */

int batch_init(struct batch *b, uint32_t seq, const char *table)
{
	memset(b, 0, sizeof *b);
	b->seq0 = seq;
	b->table = table;
	char *p = batch_reserve(b);
	if (!p)
		return -1;
	b->len += NLMSG_ALIGN(nftnl_batch_begin(p, b->seq0)->nlmsg_len);
	return 0;
}

int batch_finish(struct batch *b)
{
	char *p = batch_reserve(b);
	if (!p)
		return -1;
	struct nlmsghdr *end = nftnl_batch_end(p, b->seq0 + b->nmsgs + 1);
	end->nlmsg_flags |= NLM_F_ACK;
	b->len += NLMSG_ALIGN(end->nlmsg_len);
	return 0;
}

void batch_free(struct batch *b)
{
	free(b->buf);
	free(b->desc);
}

void batch_full(struct batch *b, const struct pod_ruleset *rs, uint64_t hash, uint64_t shape,
		uint32_t table_flags, const struct nft_ifguard *guards, uint32_t nguards)
{
	add_table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, -1, NULL);
	add_table_msg(b, NFT_MSG_DELTABLE, 0, -1, NULL);
	if (rs->nchains == 0)
		return;
	add_table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, table_flags, &shape);
	/* Address sets first so that set i has id i + 1, as the lookups expect. */
	for (uint32_t i = 0; i < rs->nsets; i++)
		add_addr_set(b, &rs->sets[i]);
	for (uint32_t c = 0; c < rs->nchains; c++) {
		for (uint32_t i = 0; i < rs->chains[c].nrules; i++) {
			char name[NFT_NAME_MAX];
			if (!nft_rule_has_port_set(&rs->chains[c].rules[i]))
				continue;
			nft_port_set_name(rs->chains[c].name, i, name, sizeof name);
			add_port_set(b, name, &rs->chains[c], i);
		}
	}
	add_chain(b, "input", NF_INET_LOCAL_IN);
	add_chain(b, "output", NF_INET_LOCAL_OUT);
	for (uint32_t c = 0; c < rs->nchains; c++)
		add_chain(b, rs->chains[c].name, -1);
	/* Before any jump: a renamed interface is dropped, whatever name it took. */
	for (int dir = IR_INGRESS; dir <= IR_EGRESS; dir++)
		for (uint32_t i = 0; i < nguards && !b->failed; i++)
			if (!nft_ifguard_is_child(&guards[i]) &&
			    nft_ifguard_applies(rs, &guards[i], (enum ir_dir)dir) &&
			    add_ifguard(b, &guards[i], (enum ir_dir)dir) < 0)
				b->failed = ENOMEM;
	/* Then links stacked on a policed interface, by index, to that interface's chains. */
	for (int dir = IR_INGRESS; dir <= IR_EGRESS; dir++)
		for (uint32_t i = 0; i < nguards && !b->failed; i++)
			if (nft_ifguard_is_child(&guards[i]) &&
			    nft_ifguard_applies(rs, &guards[i], (enum ir_dir)dir) &&
			    add_child_jump(b, rs, &guards[i], (enum ir_dir)dir) < 0)
				b->failed = ENOMEM;
	for (uint32_t c = 0; c < rs->nchains && !b->failed; c++)
		if (add_jump(b, &rs->chains[c], c == 0 ? &hash : NULL, 0) < 0)
			b->failed = ENOMEM;
	for (uint32_t c = 0; c < rs->nchains; c++)
		for (uint32_t i = 0; i < rs->chains[c].nrules && !b->failed; i++)
			if (add_rule(b, rs, c, i) < 0)
				b->failed = ENOMEM;
}

static bool same_elem(const struct elem *x, const struct elem *y, uint32_t keylen)
{
	return x->end == y->end && x->open == y->open && memcmp(x->key, y->key, keylen) == 0;
}

static int elem_cmp(const struct elem *x, const struct elem *y, uint32_t keylen)
{
	int c = memcmp(x->key, y->key, keylen);
	if (c)
		return c;
	if (x->end != y->end)
		return x->end ? -1 : 1;
	return (int)x->open - (int)y->open;
}

/* Element additions and deletions turning the applied sets into rs's (same shape). */
void batch_elements(struct batch *b, const struct pod_ruleset *rs,
		    const struct nft_applied_set *applied, uint64_t hash, uint64_t marker)
{
	for (uint32_t i = 0; i < rs->nsets && !b->failed; i++) {
		const struct ir_addr_set *s = &rs->sets[i];
		const struct nft_applied_set *o = &applied[i];
		if (o->n == s->n &&
		    (s->n == 0 || !memcmp(o->ranges, s->ranges, s->n * sizeof *s->ranges)))
			continue;
		uint32_t keylen = s->family == 4 ? 4 : 16, no = 0, nn = 0, nd = 0, na = 0;
		struct elem *old = addr_set_elems(o->ranges, o->n, s->family, &no);
		struct elem *new = addr_set_elems(s->ranges, s->n, s->family, &nn);
		struct elem *del = malloc((no + 1) * sizeof *del);
		struct elem *add = malloc((nn + 1) * sizeof *add);
		if (!old || !new || !del || !add) {
			b->failed = ENOMEM;
		} else {
			/* Both lists are sorted: a merge finds what only one side has. */
			uint32_t x = 0, y = 0;
			while (x < no || y < nn) {
				if (x < no && y < nn && same_elem(&old[x], &new[y], keylen)) {
					x++, y++;
				} else if (y >= nn ||
					   (x < no && elem_cmp(&old[x], &new[y], keylen) < 0)) {
					del[nd++] = old[x++];
				} else {
					add[na++] = new[y++];
				}
			}
			put_elems(b, NFT_MSG_DELSETELEM, s->name, 0, keylen, del, nd, W_DELELEMS,
				  s->name, 0);
			put_elems(b, NFT_MSG_NEWSETELEM, s->name, 0, keylen, add, na, W_ELEMS,
				  s->name, 0);
		}
		free(old);
		free(new);
		free(del);
		free(add);
	}
	/* The marker follows the contents in the same batch, so it never describes others. */
	if (b->nmsgs > 0 && !b->failed && add_jump(b, &rs->chains[0], &hash, marker) < 0)
		b->failed = ENOMEM;
}

bool batch_is_table_msg(const struct batch *b, uint32_t seq)
{
	return seq > b->seq0 && seq <= b->seq0 + b->nmsgs &&
	       b->desc[seq - b->seq0 - 1].what == W_TABLE;
}

void batch_describe(const struct batch *b, uint32_t seq, char *buf, size_t len)
{
	if (seq == b->seq0) {
		snprintf(buf, len, "committing batch");
		return;
	}
	if (seq < b->seq0 || seq > b->seq0 + b->nmsgs) {
		snprintf(buf, len, "batch");
		return;
	}
	const struct msg_desc *d = &b->desc[seq - b->seq0 - 1];
	switch (d->what) {
	case W_TABLE:
		snprintf(buf, len, "table inet %s", b->table);
		break;
	case W_SET:
		snprintf(buf, len, "set %s", d->name);
		break;
	case W_ELEMS:
		snprintf(buf, len, "elements of set %s", d->name);
		break;
	case W_DELELEMS:
		snprintf(buf, len, "deleting elements of set %s", d->name);
		break;
	case W_CHAIN:
		snprintf(buf, len, "chain %s", d->name);
		break;
	case W_RULE:
		snprintf(buf, len, "rule %u of chain %s", d->rule, d->name);
		break;
	case W_JUMP:
		snprintf(buf, len, "jump to chain %s", d->name);
		break;
	case W_PORTSET:
		snprintf(buf, len, "port set of rule %u of chain %s", d->rule, d->name);
		break;
	case W_IFGUARD:
		snprintf(buf, len, "guard of interface %s", d->name);
		break;
	case W_IFCHILD:
		snprintf(buf, len, "jump to chain %s of a link stacked on its interface", d->name);
		break;
	default:
		snprintf(buf, len, "icmpv6 set of rule %u of chain %s", d->rule, d->name);
		break;
	}
}
