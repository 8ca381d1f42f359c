/* Fuzzes JSON access: parse, then walk every token with every accessor, checking what the tree
 * check promises (every container yields exactly json_size members, the root's subtree is every
 * token); on a rejected document, the salvage lookup that names it. */
#include <stdint.h>
#include <stdlib.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	jsmntok_t tok[512]; /* over JSON_MAX_DEPTH, so the depth check runs */
	struct json j;
	char buf[64];
	long long v;
	bool b;

	if (json_parse(&j, (const char *)data, size, tok, 512) < 0) {
		json_str(&j, json_salvage_path(&j, "metadata.name"), buf, sizeof(buf));
		return 0;
	}
	if (json_skip(&j, 0) != j.ntok)
		abort();
	for (int i = 0; i < j.ntok; i++) {
		int n = 0;
		json_str(&j, i, buf, sizeof(buf));
		json_str_eq(&j, i, "name");
		json_int(&j, i, &v);
		json_bool(&j, i, &b);
		json_get(&j, i, "metadata");
		json_path(&j, i, "a.b.c");
		json_index(&j, i, 2);
		for (int k = json_first(&j, i); k >= 0; k = json_next(&j, i, k)) {
			if (k >= j.ntok || ++n > json_size(&j, i))
				abort();
			if (json_is_object(&j, i) && !json_is_string(&j, k))
				abort();
		}
		if (n != json_size(&j, i))
			abort();
	}
	return 0;
}
