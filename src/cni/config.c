/* The plugin's stdin config (with prevResult) and CNI_ARGS. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cni/cni.h"
#include "util/json.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An optional string field; absent leaves buf as it is. */
static int opt_str(const struct json *j, const char *key, char *buf, size_t cap, bool required,
		   char *err, size_t errlen)
{
	int v = json_get(j, 0, key);

	if (v < 0)
		return required ? fail(err, errlen, "config: \"%s\" is missing", key) : 0;
	if (json_str(j, v, buf, cap) < 0)
		return fail(err, errlen, "config: \"%s\" must be a string of at most %zu bytes",
			    key, cap - 1);
	if (required && !buf[0])
		return fail(err, errlen, "config: \"%s\" is empty", key);
	return 0;
}

static int parse_options(struct cni_config *c, const struct json *j, char *err, size_t errlen)
{
	char mode[16] = "isolate";
	long long ms;
	int v;

	if (opt_str(j, "agentSocket", c->agent_socket, sizeof(c->agent_socket), false, err,
		    errlen) < 0 ||
	    opt_str(j, "onAgentUnavailable", mode, sizeof(mode), false, err, errlen) < 0)
		return -1;
	if (!c->agent_socket[0])
		return fail(err, errlen, "config: \"agentSocket\" is empty");
	if (strcmp(mode, "isolate") == 0)
		c->on_unavailable = CNI_ISOLATE;
	else if (strcmp(mode, "fail") == 0)
		c->on_unavailable = CNI_FAIL;
	else if (strcmp(mode, "ignore") == 0)
		c->on_unavailable = CNI_IGNORE;
	else
		return fail(
		    err, errlen,
		    "config: \"onAgentUnavailable\" must be isolate, fail or ignore, not %s", mode);
	v = json_get(j, 0, "agentTimeoutMs");
	if (v >= 0) {
		if (json_int(j, v, &ms) < 0 || ms < 1 || ms > 60000)
			return fail(
			    err, errlen,
			    "config: \"agentTimeoutMs\" must be an integer from 1 to 60000");
		c->agent_timeout_ms = (uint32_t)ms;
	}
	return 0;
}

/* Whether the address entry belongs to ifname: its "interface" index names it in interfaces. */
static bool ip_of_ifname(const struct json *j, int prev, int ip, const char *ifname)
{
	int idx = json_get(j, ip, "interface"), ifs, entry;
	long long n;

	if (!ifname || idx < 0)
		return true;
	ifs = json_get(j, prev, "interfaces");
	if (json_int(j, idx, &n) < 0 || n < 0 || n > 1024 || !json_is_array(j, ifs))
		return false;
	entry = json_index(j, ifs, (int)n);
	return entry >= 0 && json_str_eq(j, json_get(j, entry, "name"), ifname);
}

static int parse_prev_result(struct cni_config *c, const struct json *j, int prev,
			     const char *ifname, char *err, size_t errlen)
{
	int ips = json_get(j, prev, "ips"), ifs = json_get(j, prev, "interfaces"), k = 0;

	if (!json_is_object(j, prev))
		return fail(err, errlen, "config: \"prevResult\" must be an object");
	c->prev_result = j->text + j->tok[prev].start;
	c->prev_result_len = (size_t)(j->tok[prev].end - j->tok[prev].start);
	if (ifs >= 0 && !json_is_array(j, ifs))
		return fail(err, errlen, "config: \"prevResult.interfaces\" must be an array");
	if (ips < 0)
		return 0;
	if (!json_is_array(j, ips))
		return fail(err, errlen, "config: \"prevResult.ips\" must be an array");
	for (int ip = json_first(j, ips); ip >= 0; ip = json_next(j, ips, ip), k++) {
		int addr = json_get(j, ip, "address");
		if (!json_is_object(j, ip) || addr < 0)
			return fail(err, errlen,
				    "config: \"prevResult.ips[%d]\" has no \"address\"", k);
		if (!ip_of_ifname(j, prev, ip, ifname))
			continue;
		if (c->nips == CNI_MAX_IPS)
			return fail(err, errlen,
				    "config: \"prevResult.ips\": more than %d addresses on %s",
				    CNI_MAX_IPS, ifname ? ifname : "the interface");
		if (json_str(j, addr, c->ips[c->nips], sizeof(c->ips[0])) < 0)
			return fail(err, errlen,
				    "config: \"prevResult.ips[%d].address\" must be a short string",
				    k);
		c->nips++;
	}
	return 0;
}

int cni_config_parse(struct cni_config *c, const char *text, size_t len, jsmntok_t *tok, int ntok,
		     const char *ifname, char *err, size_t errlen)
{
	struct json j;
	int prev;

	memset(c, 0, sizeof(*c));
	snprintf(c->agent_socket, sizeof(c->agent_socket), "%s", CNI_DEFAULT_SOCKET);
	c->agent_timeout_ms = CNI_DEFAULT_TIMEOUT_MS;
	c->on_unavailable = CNI_ISOLATE;
	if (json_parse(&j, text, len, tok, ntok) < 0 || !json_is_object(&j, 0))
		return fail(err, errlen, "config: not a JSON object");
	if (opt_str(&j, "cniVersion", c->cni_version, sizeof(c->cni_version), true, err, errlen) <
		0 ||
	    opt_str(&j, "name", c->name, sizeof(c->name), true, err, errlen) < 0 ||
	    opt_str(&j, "type", c->type, sizeof(c->type), false, err, errlen) < 0 ||
	    parse_options(c, &j, err, errlen) < 0)
		return -1;
	prev = json_get(&j, 0, "prevResult");
	if (prev >= 0 && !json_is_null(&j, prev))
		return parse_prev_result(c, &j, prev, ifname, err, errlen);
	return 0;
}

int cni_args_parse(const char *s, size_t len, struct cni_arg *args, size_t *nargs)
{
	size_t cap = *nargs, n = 0, i = 0;

	*nargs = 0;
	while (i < len) {
		size_t start = i, eq = 0;
		bool has_eq = false;
		while (i < len && s[i] != ';') {
			if (s[i] == '=' && !has_eq) {
				has_eq = true;
				eq = i;
			}
			i++;
		}
		if (i > start) {
			if (!has_eq || eq == start || n == cap)
				return -1;
			args[n++] = (struct cni_arg){s + start, s + eq + 1, eq - start, i - eq - 1};
		}
		i++; /* the ';' */
	}
	*nargs = n;
	return (int)n;
}

int cni_args_get(const struct cni_arg *args, size_t nargs, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < nargs; i++) {
		if (args[i].name_len != nl || memcmp(args[i].name, name, nl) != 0)
			continue;
		if (args[i].value_len >= cap)
			return -1;
		memcpy(buf, args[i].value, args[i].value_len);
		buf[args[i].value_len] = '\0';
		return 0;
	}
	return -1;
}
