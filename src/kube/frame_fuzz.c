/* libFuzzer target: the watch and list stream framers over arbitrary bytes, fed in pieces, with
 * a small object cap so skipping is exercised (every frame must be a {...} span inside the
 * buffer), and the member lookup used on watch events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/frame.h"

static void run(enum framer_mode mode, const uint8_t *data, size_t size, size_t step)
{
	struct json_framer f;
	char *buf = malloc(size ? size : 1);
	size_t have = 0, pos = 0;
	json_framer_init(&f, mode, 64);
	while (pos < size) {
		size_t take = size - pos < step ? size - pos : step;
		memcpy(buf + have, data + pos, take);
		have += take;
		pos += take;
		for (;;) {
			struct json_frame fr;
			long r = json_framer_next(&f, buf, have, &fr);
			if (r == -1) {
				free(buf);
				return;
			}
			if (r == -2)
				break;
			if (r <= 0 || (size_t)r > have)
				abort();
			if (fr.kind == FRAME_OBJECT || fr.kind == FRAME_METADATA) {
				if (fr.off + fr.len > (size_t)r || fr.len < 2 || fr.len > 64 ||
				    buf[fr.off] != '{' || buf[fr.off + fr.len - 1] != '}')
					abort();
			}
			memmove(buf, buf + r, have - (size_t)r);
			have -= (size_t)r;
		}
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
	run(FRAMER_WATCH, data, size, step);
	run(FRAMER_LIST, data, size, step);
	/* member lookup over the same bytes, as the reflector does on events */
	const char *v;
	size_t vl;
	char out[32];
	static const char *keys[] = {"type", "object", "metadata", "resourceVersion", "code"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!json_member_span((const char *)data, size, keys[k], &v, &vl)) {
			if (v < (const char *)data || v + vl > (const char *)data + size || !vl)
				abort();
			json_span_str(v, vl, out, sizeof(out));
		}
	return 0;
}
