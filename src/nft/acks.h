/* Reading the kernel's answers to an nft netlink batch: positive ACKs are counted, the first
 * error is kept with its extended ACK message. Works on a caller's buffer (one recv); keeps
 * nothing between calls but the caller's struct nft_acks. */
#ifndef NFT_ACKS_H
#define NFT_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nft_acks {
	uint32_t acked;	    /* positive ACKs for messages of this batch */
	bool end_acked;	    /* the batch end's ACK: the batch was committed */
	int error;	    /* errno of the first failed message, 0 if none */
	uint32_t error_seq; /* its sequence number */
	char msg[200];	    /* the kernel's extended ACK text for it, "" if none */
};

/* Reads the netlink messages in buf (n bytes, 4-byte aligned) answering a batch whose messages
 * carry sequence numbers seq0 + 1 .. seq0 + nmsgs, framed by its begin (seq0: the kernel
 * answers a failed commit there) and end (seq0 + nmsgs + 1, acknowledged once committed);
 * answers to other sequence numbers and other message types are skipped. Returns the bytes
 * consumed (n), or -1 when buf does not hold whole, well-formed netlink messages. */
long nft_acks_read(const void *buf, size_t n, uint32_t seq0, uint32_t nmsgs, struct nft_acks *acks);

#endif
