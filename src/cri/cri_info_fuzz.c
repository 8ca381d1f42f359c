/* libFuzzer target: the netns path from a sandbox's verbose info JSON. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cri/cri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[CRI_PATH_MAX], err[256];

	if (cri_netns_from_info((const char *)data, size, "/host/", path, sizeof(path), err,
				sizeof(err)) == 0) {
		/* A success is an absolute path under the prefix. */
		if (strncmp(path, "/host/", 6) != 0 || strlen(path) >= sizeof(path))
			__builtin_trap();
	}
	cri_netns_from_info((const char *)data, size, NULL, path, 16, err, sizeof(err));
	return 0;
}
