/* libFuzzer target: HTTP/1.1 response header parsing and body framing, then chunked decoding of
 * what follows, split at a position chosen by the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int minor, status;
	const char *msg;
	size_t msg_len, n = HTTP_HEADER_MAX;
	struct http_header h[HTTP_HEADER_MAX];
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);

	int r = http_parse_response(buf, size, &minor, &status, &msg, &msg_len, h, &n);
	if (r > 0) {
		struct http_body_info bi;
		if ((size_t)r > size || n > HTTP_HEADER_MAX)
			abort();
		http_body_info(minor, status, h, n, &bi);
		/* decode the rest as a chunked body in two pieces */
		size_t rest = size - (size_t)r, cut = rest ? (unsigned char)buf[r] % (rest + 1) : 0;
		struct http_chunked d = {0};
		size_t len = cut;
		ssize_t c = http_decode_chunked(&d, buf + r, &len);
		if (len > cut)
			abort();
		if (c == -2) {
			len = rest - cut;
			c = http_decode_chunked(&d, buf + r + cut, &len);
			if (len > rest - cut || (c >= 0 && (size_t)c + len > rest - cut))
				abort();
		}
	}
	free(buf);
	return 0;
}
