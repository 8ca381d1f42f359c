/* nft_acks_read on hand-made kernel answers: positive ACKs, errors with and without extended
 * ACK text (capped or not), answers to other batches, and malformed input. */
#include <errno.h>
#include <linux/netlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nft/acks.h"

static union {
	char bytes[4096];
	uint32_t align;
} buf;
static size_t used;

/* Appends an NLMSG_ERROR answer to sequence number seq. */
static void put_ack(uint32_t seq, int error, const char *extack, bool capped)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(buf.bytes + used);
	struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t len = NLMSG_LENGTH(sizeof *e);
	memset(nlh, 0, len + 64);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	e->error = error;
	e->msg.nlmsg_len = NLMSG_HDRLEN + 8; /* the failed request had 8 bytes of payload */
	e->msg.nlmsg_seq = seq;
	if (!capped)
		len += 8;
	else
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	if (extack) {
		struct nlattr *a = (struct nlattr *)((char *)nlh + len);
		a->nla_type = NLMSGERR_ATTR_MSG;
		a->nla_len = (uint16_t)(NLA_HDRLEN + strlen(extack) + 1);
		memcpy((char *)a + NLA_HDRLEN, extack, strlen(extack) + 1);
		len += NLA_ALIGN(a->nla_len);
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
	}
	nlh->nlmsg_len = (uint32_t)len;
	used += NLMSG_ALIGN(len);
}

static void counts_acks_and_keeps_first_error(void **unused)
{
	used = 0;
	put_ack(101, 0, NULL, true);
	put_ack(102, 0, NULL, true);
	put_ack(103, -ENOENT, "No such set", true);
	put_ack(104, -EEXIST, "later error", true);
	struct nft_acks acks = {0};
	assert_int_equal(nft_acks_read(buf.bytes, used, 100, 4, &acks), (long)used);
	assert_int_equal(acks.acked, 2);
	assert_int_equal(acks.error, ENOENT);
	assert_int_equal(acks.error_seq, 103);
	assert_string_equal(acks.msg, "No such set");
}

static void uncapped_error_text_is_found(void **unused)
{
	used = 0;
	put_ack(7, -ERANGE, "Attribute failed policy validation", false);
	struct nft_acks acks = {0};
	assert_int_equal(nft_acks_read(buf.bytes, used, 6, 1, &acks), (long)used);
	assert_int_equal(acks.error, ERANGE);
	assert_string_equal(acks.msg, "Attribute failed policy validation");
}

static void other_batches_are_skipped(void **unused)
{
	used = 0;
	put_ack(5, -ENOENT, NULL, true);  /* before this batch */
	put_ack(50, -ENOENT, NULL, true); /* after it */
	put_ack(11, 0, NULL, true);
	struct nft_acks acks = {0};
	assert_int_equal(nft_acks_read(buf.bytes, used, 10, 3, &acks), (long)used);
	assert_int_equal(acks.acked, 1);
	assert_int_equal(acks.error, 0);
}

/* A failed commit is answered at the batch begin's sequence number, before any ACK. */
static void commit_failure_at_batch_begin(void **unused)
{
	used = 0;
	put_ack(20, -ENOMEM, NULL, true);
	put_ack(21, 0, NULL, true);
	put_ack(22, 0, NULL, true);
	struct nft_acks acks = {0};
	assert_int_equal(nft_acks_read(buf.bytes, used, 20, 2, &acks), (long)used);
	assert_int_equal(acks.error, ENOMEM);
	assert_int_equal(acks.error_seq, 20);
	assert_int_equal(acks.acked, 2);
	assert_false(acks.end_acked);
}

/* The batch end's ACK says the batch was committed; it is not a message's ACK. */
static void batch_end_ack(void **unused)
{
	used = 0;
	put_ack(33, 0, NULL, true);
	put_ack(34, 0, NULL, true); /* the next batch's begin: skipped */
	struct nft_acks acks = {0};
	assert_int_equal(nft_acks_read(buf.bytes, used, 30, 2, &acks), (long)used);
	assert_true(acks.end_acked);
	assert_int_equal(acks.acked, 0);
	assert_int_equal(acks.error, 0);
	used = 0;
	put_ack(33, -EINVAL, NULL, true);
	memset(&acks, 0, sizeof acks);
	assert_int_equal(nft_acks_read(buf.bytes, used, 30, 2, &acks), (long)used);
	assert_false(acks.end_acked);
	assert_int_equal(acks.error, EINVAL);
}

static void malformed_input_is_refused(void **unused)
{
	used = 0;
	put_ack(1, 0, NULL, true);
	struct nft_acks acks = {0};
	assert_int_equal(nft_acks_read(buf.bytes, used - 4, 0, 1, &acks), -1);
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf.bytes;
	nlh->nlmsg_len = 0x80000000u;
	assert_int_equal(nft_acks_read(buf.bytes, used, 0, 1, &acks), -1);
	nlh->nlmsg_len = NLMSG_HDRLEN; /* an error message too short for its nlmsgerr */
	assert_int_equal(nft_acks_read(buf.bytes, NLMSG_HDRLEN, 0, 1, &acks), -1);
	assert_int_equal(nft_acks_read(buf.bytes, 0, 0, 1, &acks), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counts_acks_and_keeps_first_error),
	    cmocka_unit_test(uncapped_error_text_is_found),
	    cmocka_unit_test(other_batches_are_skipped),
	    cmocka_unit_test(commit_failure_at_batch_begin),
	    cmocka_unit_test(batch_end_ack),
	    cmocka_unit_test(malformed_input_is_refused),
	};
	return cmocka_run_group_tests_name("nft acks", tests, NULL, NULL);
}
