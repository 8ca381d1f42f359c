/* A driver that replays files through a fuzzer's LLVMFuzzerTestOneInput without libFuzzer: the
 * cross-built (arm64, armhf) fuzz targets run the seed corpus as regression inputs under qemu-user
 * (tests/t-arch). Each input is copied into a buffer of exactly its size, as libFuzzer does.
 * usage: NAME_fuzz FILE... ; prints "N inputs" and exits 0 when every input returned. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (size == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *grown = realloc(data, cap);
			if (!grown) {
				fclose(f);
				free(data);
				return -1;
			}
			data = grown;
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
	} while (n > 0);
	fclose(f);
	/* Exactly size bytes: an overread past the input leaves the allocation. */
	uint8_t *exact = malloc(size ? size : 1);
	if (!exact) {
		free(data);
		return -1;
	}
	memcpy(exact, data, size);
	free(data);
	LLVMFuzzerTestOneInput(exact, size);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (run_file(argv[i]) < 0)
			return 2;
		n++;
	}
	if (argc == 1) /* no seeds: at least the empty input */
		n += LLVMFuzzerTestOneInput((const uint8_t *)"", 0) == 0;
	printf("%d inputs\n", n);
	return 0;
}
