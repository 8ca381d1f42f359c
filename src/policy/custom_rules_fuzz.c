/* Fuzzes the custom rule parser: line by line over the input, as both families. */
#include <stddef.h>
#include <stdint.h>

#include "policy/custom_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct custom_rules cr;
	char err[256];

	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		if (custom_rules_parse_text(&cr, "fuzz", (const char *)data, size, fam, err,
					    sizeof(err)) == 0)
			custom_rules_free(&cr);
	}
	return 0;
}
