/* Fuzzes the plugin's input: the stdin config (with prevResult), CNI_ARGS, and the agent's
 * request and reply lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni/cni.h"
#include "util/json.h"

#define MAX_TOKENS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static jsmntok_t tok[MAX_TOKENS];
	static struct cni_config conf;
	static struct cni_request req;
	struct cni_reply reply;
	struct cni_arg args[8];
	size_t nargs = 8;
	char err[256], line[CNI_LINE_MAX], val[64];
	const char *text = (const char *)data;

	if (cni_config_parse(&conf, text, size, tok, MAX_TOKENS, "net1", err, sizeof(err)) == 0) {
		if (conf.nips > CNI_MAX_IPS || !conf.name[0] || !conf.cni_version[0])
			abort();
		if (conf.prev_result && (conf.prev_result < text ||
					 conf.prev_result + conf.prev_result_len > text + size))
			abort();
	} else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
		abort(); /* every refusal says why */
	}
	if (cni_args_parse(text, size, args, &nargs) >= 0) {
		if (nargs > 8)
			abort();
		cni_args_get(args, nargs, "K8S_POD_NAME", val, sizeof(val));
	}
	/* A request that parses formats into a line that parses and formats the same. */
	if (cni_request_parse(&req, text, size, err, sizeof(err)) == 0) {
		static struct cni_request again;
		static char line2[CNI_LINE_MAX];
		int n = cni_request_format(&req, line, sizeof(line));
		if (n > 0 && (cni_request_parse(&again, line, (size_t)n, err, sizeof(err)) < 0 ||
			      cni_request_format(&again, line2, sizeof(line2)) != n ||
			      memcmp(line, line2, (size_t)n) != 0))
			abort();
	}
	cni_reply_parse(&reply, text, size);
	return 0;
}
