/* libFuzzer target for nft_link_parse and nft_link_children: arbitrary bytes as a link dump's
 * messages (each message's length clamped to what is left, as the dump reader's walk assures),
 * every link parsed is kept, the first two become guarded interfaces and the third is exempt,
 * and their children are found. Checks: a parsed name is terminated, every child is a link of the
 * dump and no link is an entry twice, and the exempt link is no child. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft/links.h"

#define DUMP_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nft_link links[DUMP_MAX];
	static struct nft_ifguard g[DUMP_MAX + 2];
	uint32_t n = 0;
	void *buf = malloc(size ? size : 1); /* netlink messages are read aligned */
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (size_t off = 0; off + NLMSG_HDRLEN <= size && n < DUMP_MAX;) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)buf + off);
		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > size - off)
			nlh->nlmsg_len = (uint32_t)(size - off);
		if (nft_link_parse(nlh, &links[n]) == 1) {
			if (memchr(links[n].ifname, 0, sizeof links[n].ifname) == NULL ||
			    links[n].ifindex == 0)
				abort();
			n++;
		}
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	uint32_t ng = 0;
	for (uint32_t i = 0; i < n && i < 2; i++) {
		memset(&g[ng], 0, sizeof g[ng]);
		memcpy(g[ng].ifname, links[i].ifname, sizeof g[ng].ifname);
		g[ng++].ifindex = links[i].ifindex;
	}
	uint32_t guards = ng;
	struct nft_exempt ex = {"", n > 2 ? links[2].ifindex : 0};
	if (nft_link_children(links, n, &ex, 1, g, &ng) == 0) {
		if (ng > guards + n)
			abort();
		for (uint32_t k = guards; k < ng; k++) {
			bool known = false;
			for (uint32_t i = 0; i < n && !known; i++)
				known = links[i].ifindex == g[k].ifindex;
			if (!known || !nft_ifguard_is_child(&g[k]) ||
			    (ex.ifindex && g[k].ifindex == ex.ifindex))
				abort();
			for (uint32_t j = 0; j < k; j++)
				if (g[j].ifindex == g[k].ifindex)
					abort();
		}
	}
	free(buf);
	return 0;
}
