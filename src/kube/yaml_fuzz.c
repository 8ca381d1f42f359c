/* libFuzzer target: the kubeconfig YAML subset parser on arbitrary text; every node it returns
 * must be well linked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yaml_node nodes[64];
	int line;
	char err[128];
	size_t cap = yaml_buf_size((const char *)data, size, 64);
	char *buf = malloc(cap);
	int n = yaml_parse((const char *)data, size, nodes, 64, buf, cap, &line, err, sizeof(err));
	for (int i = 0; i < n; i++) {
		if (nodes[i].first >= n || nodes[i].next >= n || !nodes[i].value)
			abort();
		if (nodes[i].key)
			(void)strlen(nodes[i].key);
		(void)strlen(nodes[i].value);
	}
	free(buf);
	return 0;
}
