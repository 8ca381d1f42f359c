/* Label selectors, as Kubernetes evaluates them. */
#include "policy/policy.h"

/* Keys and values are interned by the same store, so equal text is the same pointer. */
static const char *label_value(const struct store_labels *l, const char *key)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (l->v[i].key == key)
			return l->v[i].value;
	return NULL;
}

static bool in_values(const struct store_requirement *r, const char *v)
{
	for (uint32_t i = 0; i < r->nvalues; i++)
		if (r->values[i] == v)
			return true;
	return false;
}

bool selector_matches(const struct store_selector *sel, const struct store_labels *labels)
{
	if (sel->bad)
		return false;
	for (uint32_t i = 0; i < sel->nreqs; i++) {
		const struct store_requirement *r = &sel->reqs[i];
		const char *v = label_value(labels, r->key);
		switch (r->op) {
		case SEL_IN:
			if (!v || !in_values(r, v))
				return false;
			break;
		case SEL_NOT_IN:
			if (v && in_values(r, v))
				return false;
			break;
		case SEL_EXISTS:
			if (!v)
				return false;
			break;
		case SEL_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}
