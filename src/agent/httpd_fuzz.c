/* Fuzzes the probe server's request-line parser. */
#include <stddef.h>
#include <stdint.h>

#include "agent/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];

	httpd_parse_request((const char *)data, size, path, sizeof(path));
	return 0;
}
