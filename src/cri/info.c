/* The netns path in a sandbox's verbose info (containerd and CRI-O put a JSON document under
 * info["info"]). */
#include "cri/cri.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/err.h"

#define INFO_TOKENS_MAX 65536

/* The string at i into buf; -1 when not a string, too long, or holding a NUL. */
static int path_str(const struct json *j, int i, char *buf, size_t cap)
{
	int n = json_str(j, i, buf, cap);

	if (n < 0 || (size_t)n != strlen(buf)) {
		buf[0] = 0;
		return -1;
	}
	return n;
}

/* 1: found a path (or a netns without a path, ns left empty), 0: no namespace list,
 * -1: error (host network, bad path). */
static int spec_netns(const struct json *j, int spec, char *ns, size_t cap, char *err,
		      size_t errcap)
{
	int list = json_path(j, spec, "linux.namespaces");

	if (!json_is_array(j, list))
		return 0;
	for (int k = json_first(j, list); k >= 0; k = json_next(j, list, k)) {
		int path;
		if (!json_is_object(j, k) || !json_str_eq(j, json_get(j, k, "type"), "network"))
			continue;
		path = json_get(j, k, "path");
		if (path < 0 || json_is_null(j, path))
			return 1; /* a fresh netns made for the sandbox process: found through pid
				   */
		if (path_str(j, path, ns, cap) < 0) {
			errf(err, errcap,
			     "runtimeSpec.linux.namespaces[network].path is not a string, too "
			     "long, or holds a NUL");
			return -1;
		}
		return 1;
	}
	/* The runtime would have listed a network namespace unless the pod uses the host's. */
	errf(err, errcap, "sandbox uses the host network namespace (runtimeSpec lists none)");
	return -1;
}

/* sandboxMetadata's NetNSPath: containerd 2.x wraps the metadata in a versioned envelope
 * ({"Version":"v1","Metadata":{...}}), older documents hold it flat. 0 (ns set or left empty)
 * or -1. */
static int meta_netns(const struct json *j, int root, char *ns, size_t cap, char *err,
		      size_t errcap)
{
	static const char *const where[] = {"sandboxMetadata.Metadata.NetNSPath",
					    "sandboxMetadata.NetNSPath"};

	for (size_t k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
		int v = json_path(j, root, where[k]);
		if (!json_is_string(j, v))
			continue;
		if (path_str(j, v, ns, cap) < 0) {
			errf(err, errcap, "%s is too long or holds a NUL", where[k]);
			return -1;
		}
		if (ns[0])
			return 0;
	}
	return 0;
}

int cri_netns_from_info(const char *text, size_t len, const char *host_prefix, char *path,
			size_t cap, char *err, size_t errcap)
{
	struct json j;
	jsmntok_t *tok;
	char ns[CRI_PATH_MAX] = "";
	int n, root, v, rc = -1;
	size_t plen = host_prefix ? strlen(host_prefix) : 0;
	bool closed = false;

	n = json_count_tokens(text, len);
	if (n <= 0) {
		errf(err, errcap, "verbose info is not valid JSON");
		return -1;
	}
	if (n > INFO_TOKENS_MAX) {
		errf(err, errcap, "verbose info has over %d JSON tokens", INFO_TOKENS_MAX);
		return -1;
	}
	tok = malloc((size_t)n * sizeof(*tok));
	if (!tok) {
		errf(err, errcap, "out of memory");
		return -1;
	}
	if (json_parse(&j, text, len, tok, n) < 0) {
		errf(err, errcap, "verbose info is not valid JSON");
		goto out;
	}
	root = 0;
	if (!json_is_object(&j, root)) {
		errf(err, errcap, "verbose info is not a JSON object");
		goto out;
	}
	v = json_get(&j, root, "netNamespaceClosed");
	if (v >= 0 && json_bool(&j, v, &closed) == 0 && closed) {
		errf(err, errcap, "the sandbox's network namespace is closed");
		goto out;
	}

	v = json_get(&j, root, "runtimeSpec");
	if (json_is_object(&j, v) && spec_netns(&j, v, ns, sizeof(ns), err, errcap) < 0)
		goto out;
	if (!ns[0] && meta_netns(&j, root, ns, sizeof(ns), err, errcap) < 0)
		goto out;
	if (!ns[0]) {
		long long pid = 0;
		v = json_get(&j, root, "pid");
		if (v >= 0 && json_int(&j, v, &pid) == 0 && pid > 0 && pid <= INT_MAX)
			snprintf(ns, sizeof(ns), "/proc/%lld/ns/net", pid);
	}
	if (!ns[0]) {
		errf(err, errcap,
		     "verbose info has no netns path (no runtimeSpec network namespace path, no "
		     "sandboxMetadata.NetNSPath, no pid)");
		goto out;
	}
	if (ns[0] != '/') {
		errf(err, errcap, "netns path \"%.100s\" is not absolute", ns);
		goto out;
	}
	while (plen > 0 && host_prefix[plen - 1] == '/')
		plen--;
	if (plen + strlen(ns) + 1 > cap) {
		errf(err, errcap, "netns path \"%.100s\" with the host prefix is too long", ns);
		goto out;
	}
	if (plen)
		memcpy(path, host_prefix, plen);
	strcpy(path + plen, ns);
	rc = 0;
out:
	free(tok);
	return rc;
}
