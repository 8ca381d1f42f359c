/* Loading a file of objects (kubectl get ... -o json) into the store, for render and explain. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/store.h"
#include "util/json.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int kind_of(const struct json *j, int item, enum kube_kind *k)
{
	int kind = json_get(j, item, "kind");
	if (json_str_eq(j, kind, "Pod"))
		*k = KIND_POD;
	else if (json_str_eq(j, kind, "Namespace"))
		*k = KIND_NAMESPACE;
	else if (json_str_eq(j, kind, "NetworkAttachmentDefinition"))
		*k = KIND_NAD;
	else if (json_str_eq(j, kind, "MultiNetworkPolicy"))
		*k = KIND_POLICY;
	else
		return -1;
	return 0;
}

int store_load_file(struct store *s, const char *path, char *err, size_t errcap)
{
	size_t len;
	char *text = read_file(path, &len);
	jsmntok_t *tok = NULL;
	struct json j;
	int n, items, rc = -1;

	if (!text) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno ? errno : EIO));
		return -1;
	}
	s->keep_all = true; /* offline tools name any pod (explain), and files are small */
	n = json_count_tokens(text, len);
	if (n <= 0 || !(tok = malloc((size_t)n * sizeof(*tok))) ||
	    json_parse(&j, text, len, tok, n) < 0 || !json_is_object(&j, 0)) {
		snprintf(err, errcap, "%s: not a JSON object", path);
		goto out;
	}
	items = json_get(&j, 0, "items");
	if (items < 0) {
		/* A single object. */
		enum kube_kind k;
		if (kind_of(&j, 0, &k) == 0)
			store_upsert_json(s, k, text, len);
		rc = 0;
		goto out;
	}
	for (int it = json_first(&j, items); it >= 0; it = json_next(&j, items, it)) {
		enum kube_kind k;
		if (kind_of(&j, it, &k) < 0)
			continue;
		store_upsert_json(s, k, text + tok[it].start,
				  (size_t)(tok[it].end - tok[it].start));
	}
	rc = 0;
out:
	free(tok);
	free(text);
	return rc;
}
