/* libFuzzer target for nft_acks_read: arbitrary bytes as the kernel's answer to a batch. The
 * first 8 bytes choose the batch's first sequence number and message count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft/acks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint32_t seq0, nmsgs;
	memcpy(&seq0, data, 4);
	memcpy(&nmsgs, data + 4, 4);
	size -= 8;
	void *buf = malloc(size ? size : 1); /* netlink messages are read aligned */
	if (!buf)
		return 0;
	memcpy(buf, data + 8, size);
	struct nft_acks acks = {0};
	long rc = nft_acks_read(buf, size, seq0, nmsgs, &acks);
	if (rc >= 0 && (size_t)rc != size)
		abort();
	if (acks.acked > size / 16 || memchr(acks.msg, 0, sizeof acks.msg) == NULL)
		abort();
	free(buf);
	return 0;
}
