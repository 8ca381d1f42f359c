/* libFuzzer target: gRPC message framing and the decoding of every runtime.v1 response the
 * client reads (Version, ListPodSandbox, PodSandboxStatus with its verbose info map, the
 * GetContainerEvents messages). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cri/h2grpc.h"
#include "cri/messages.h"

static int count(void *ctx, const struct cri_sandbox_msg *m)
{
	/* Strings handed out are always terminated within their fields. */
	if (strnlen(m->sb.id, sizeof(m->sb.id)) == sizeof(m->sb.id) ||
	    strnlen(m->sb.uid, sizeof(m->sb.uid)) == sizeof(m->sb.uid))
		__builtin_trap();
	(*(int *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cri_version v;
	struct cri_sandbox_msg st;
	struct cri_infobuf ib = {.max = 4096};
	struct cri_event_msg ev;
	bool has;
	int comp, n = 0, skipped;
	size_t len;
	long used;
	char err[256];

	used = grpc_frame_parse(data, size, &comp, &len);
	if (used >= 0 && ((size_t)used > size || (size_t)used != len + 5))
		__builtin_trap();
	if (used > 0) {
		data += 5;
		size = len;
	}
	cri_decode_version(data, size, &v, err, sizeof(err));
	cri_decode_sandboxes(data, size, count, &n, &skipped, err, sizeof(err));
	if (cri_decode_status(data, size, &st, &has, &ib, err, sizeof(err)) == 0 && ib.found &&
	    (ib.len > ib.max || ib.buf[ib.len] != 0))
		__builtin_trap();
	free(ib.buf);
	if (cri_decode_event(data, size, &ev, err, sizeof(err)) == 0 &&
	    (strnlen(ev.container_id, sizeof(ev.container_id)) == sizeof(ev.container_id) ||
	     strnlen(ev.status.sb.uid, sizeof(ev.status.sb.uid)) == sizeof(ev.status.sb.uid)))
		__builtin_trap();
	return 0;
}
