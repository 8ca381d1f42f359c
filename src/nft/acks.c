#include "nft/acks.h"

#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>

#include <libmnl/libmnl.h>

/* The extended ACK attributes from off to the end of the message: the error text. */
static void read_extack(const struct nlmsghdr *nlh, size_t off, struct nft_acks *acks)
{
	if (off >= nlh->nlmsg_len)
		return;
	const struct nlattr *attr = (const void *)((const char *)nlh + off);
	int alen = (int)(nlh->nlmsg_len - off);
	while (mnl_attr_ok(attr, alen)) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(acks->msg, sizeof acks->msg, "%s", mnl_attr_get_str(attr));
		alen -= (int)MNL_ALIGN(attr->nla_len);
		attr = mnl_attr_next(attr);
	}
}

static void read_error(const struct nlmsghdr *nlh, uint32_t pos, uint32_t nmsgs,
		       struct nft_acks *acks)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	if (e->error == 0) {
		if (pos == nmsgs + 1)
			acks->end_acked = true;
		else if (pos >= 1)
			acks->acked++;
		return;
	}
	if (acks->error)
		return;
	/* The kernel sends -errno; anything else is still an error. */
	acks->error = e->error < 0 && e->error > -4096 ? -e->error : EPROTO;
	acks->error_seq = nlh->nlmsg_seq;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Capped (NETLINK_CAP_ACK): the attributes follow the failed message's header;
	 * otherwise its whole payload comes first. */
	size_t off = NLMSG_LENGTH(sizeof *e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	}
	read_extack(nlh, off, acks);
}

long nft_acks_read(const void *buf, size_t n, uint32_t seq0, uint32_t nmsgs, struct nft_acks *acks)
{
	const char *p = buf;
	size_t left = n;
	while (left >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const void *)p;
		size_t len = nlh->nlmsg_len;
		if (len < sizeof *nlh || len > left)
			return -1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if (len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -1;
			/* Answers to an earlier batch's messages are skipped. */
			uint32_t pos = nlh->nlmsg_seq - seq0;
			if (pos <= nmsgs + 1)
				read_error(nlh, pos, nmsgs, acks);
		}
		size_t step = NLMSG_ALIGN(len) < left ? NLMSG_ALIGN(len) : left;
		p += step;
		left -= step;
	}
	return left == 0 ? (long)n : -1;
}
