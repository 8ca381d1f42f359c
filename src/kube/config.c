/* Kubeconfig and in-cluster configuration; see config.h. */
#include "kube/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/yaml.h"
#include "util/err.h"

#define FILE_MAX (4u << 20) /* kubeconfig, token, PEM: larger is certainly a mistake */

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
static char *read_file(const char *path, size_t *len, char *err, size_t errcap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		errf(err, errcap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n + 1 >= cap) {
			if (cap >= FILE_MAX) {
				errf(err, errcap, "%s: larger than %u bytes", path, FILE_MAX);
				free(buf);
				buf = NULL;
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				errf(err, errcap, "%s: %s", path, strerror(errno));
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	fclose(f);
	if (!buf) {
		if (!err[0])
			errf(err, errcap, "%s: out of memory", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional, blanks ignored). */
static char *b64decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s);
	char *out = malloc(n / 4 * 3 + 4);
	if (!out)
		return NULL;
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;
	bool pad = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

int kube_config_parse_server(const char *url, char *host, size_t hostcap, uint16_t *port)
{
	const char *p;
	if (!strncasecmp(url, "https://", 8))
		p = url + 8;
	else
		return -1;
	const char *hs, *he, *rest;
	if (*p == '[') {
		hs = p + 1;
		he = strchr(hs, ']');
		if (!he)
			return -1;
		rest = he + 1;
	} else {
		hs = p;
		he = hs + strcspn(hs, ":/");
		rest = he;
	}
	if (he == hs || (size_t)(he - hs) >= hostcap)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = 443;
	if (*rest == ':') {
		char *end;
		errno = 0;
		unsigned long v = strtoul(rest + 1, &end, 10);
		if (end == rest + 1 || v == 0 || v > 65535 || errno)
			return -1;
		*port = (uint16_t)v;
		rest = end;
	}
	if (*rest && strcmp(rest, "/"))
		return -1; /* a path prefix is not supported */
	return 0;
}

static int set_server(struct kube_config *cfg, const char *url, const char *what, char *err,
		      size_t errcap)
{
	char host[256];
	if (kube_config_parse_server(url, host, sizeof(host), &cfg->port))
		return errf(err, errcap, "%s: server \"%s\" is not an https://host[:port] URL",
			    what, url);
	cfg->server = strdup(url);
	cfg->host = strdup(host);
	if (!cfg->server || !cfg->host)
		return errf(err, errcap, "out of memory");
	return 0;
}

/* free() of a buffer that held a secret: wiped first so it does not linger in freed memory. */
static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

int kube_token_check(const char *token)
{
	for (const unsigned char *p = (const unsigned char *)token; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return (int)(p - (const unsigned char *)token);
	return -1;
}

void kube_config_free(struct kube_config *cfg)
{
	free(cfg->server);
	free(cfg->host);
	free(cfg->tls_server_name);
	free(cfg->ca_pem);
	free(cfg->cert_pem);
	if (cfg->key_pem)
		explicit_bzero(cfg->key_pem, cfg->key_len);
	free(cfg->key_pem);
	free_secret(cfg->token);
	free(cfg->token_file);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

/* Trims trailing whitespace (token files end with a newline). */
static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

int kube_config_reload_token(struct kube_config *cfg, char *err, size_t errcap)
{
	if (!cfg->token_file)
		return 0;
	size_t len;
	err[0] = '\0';
	char *t = read_file(cfg->token_file, &len, err, errcap);
	if (!t)
		return -1;
	chomp(t);
	cfg->token_read_at = time(NULL);
	if (!t[0]) {
		free(t);
		return errf(err, errcap, "%s: empty token", cfg->token_file);
	}
	int bad = kube_token_check(t);
	if (bad >= 0) {
		free_secret(t);
		return errf(err, errcap,
			    "%s: the token holds a space or control character (byte %d); "
			    "refusing to send it in an HTTP header",
			    cfg->token_file, bad + 1);
	}
	if (cfg->token && !strcmp(cfg->token, t)) {
		free_secret(t);
		return 0;
	}
	free_secret(cfg->token);
	cfg->token = t;
	return 1;
}

static int load_in_cluster(struct kube_config *cfg, const char *sa_dir, char *err, size_t errcap)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return errf(err, errcap,
			    "in-cluster: KUBERNETES_SERVICE_HOST and "
			    "KUBERNETES_SERVICE_PORT must be set (or use --kubeconfig)");
	char url[320];
	snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		 port);
	if (set_server(cfg, url, "in-cluster", err, errcap))
		return -1;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	if (!(cfg->ca_pem = read_file(path, &cfg->ca_len, err, errcap)))
		return -1;
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	if (!(cfg->token_file = strdup(path)))
		return errf(err, errcap, "out of memory");
	return kube_config_reload_token(cfg, err, errcap) < 0 ? -1 : 0;
}

/* The entry of `seq` (a list of {name: ..., <field>: {...}}) named `name`; its <field> map. */
static int find_named(const struct yaml_node *n, const char *list, const char *field,
		      const char *name, const char *src, char *err, size_t errcap)
{
	int seq = yaml_get(n, 0, list);
	if (seq < 0 || n[seq].type != YAML_SEQ)
		return errf(err, errcap, "%s: no \"%s\" list", src, list);
	for (int e = n[seq].first; e >= 0; e = n[e].next) {
		const char *nm = yaml_get_str(n, e, "name");
		if (nm && !strcmp(nm, name)) {
			int v = yaml_get(n, e, field);
			bool empty = v >= 0 && n[v].type == YAML_SCALAR && !n[v].value[0];
			if (v < 0 || (n[v].type != YAML_MAP && !empty))
				return errf(err, errcap, "%s: %s entry \"%s\" has no \"%s\" map",
					    src, list, name, field);
			return v;
		}
	}
	return errf(err, errcap, "%s: %s has no entry named \"%s\"", src, list, name);
}

/* Resolves a file name from the kubeconfig against its folder. */
static void resolve(char *out, size_t cap, const char *dir, const char *file)
{
	if (file[0] == '/' || !dir[0])
		snprintf(out, cap, "%s", file);
	else
		snprintf(out, cap, "%s/%s", dir, file);
}

/* Loads "<field>-data" (base64) or "<field>" (a file) of a map into *pem. */
static int load_pem(const struct yaml_node *n, int map, const char *field, const char *dir,
		    const char *what, char **pem, size_t *len, char *err, size_t errcap)
{
	char key[64];
	snprintf(key, sizeof(key), "%s-data", field);
	const char *data = yaml_get_str(n, map, key), *file = yaml_get_str(n, map, field);
	if (data && *data) {
		if (!(*pem = b64decode(data, len)))
			return errf(err, errcap, "%s: %s is not valid base64", what, key);
		return 1;
	}
	if (file && *file) {
		char path[PATH_MAX];
		resolve(path, sizeof(path), dir, file);
		char sub[PATH_MAX + 64];
		if (!(*pem = read_file(path, len, sub, sizeof(sub))))
			return errf(err, errcap, "%s: %s: %s", what, field, sub);
		return 1;
	}
	return 0;
}

static int load_kubeconfig(struct kube_config *cfg, const char *path, char *err, size_t errcap)
{
	size_t len;
	char *text = read_file(path, &len, err, errcap);
	if (!text)
		return -1;
	int nnodes = 8; /* a node at most per line and per flow item, plus a key's value */
	for (size_t i = 0; i < len && nnodes < (1 << 24); i++)
		nnodes += 2 * (text[i] == '\n' || text[i] == ',' || text[i] == '{' ||
			       text[i] == '[');
	size_t cap = yaml_buf_size(text, len, nnodes);
	struct yaml_node *n = malloc(sizeof(*n) * (size_t)nnodes);
	char *sb = malloc(cap);
	int rc = -1, line;
	char yerr[128];
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	if (!n || !sb) {
		errf(err, errcap, "out of memory");
		goto out;
	}
	int used = yaml_parse(text, len, n, nnodes, sb, cap, &line, yerr, sizeof(yerr));
	if (used < 0) {
		errf(err, errcap, "%s:%d: %s", path, line, used == -1 ? yerr : "too complex");
		goto out;
	}
	if (n[0].type != YAML_MAP) {
		errf(err, errcap, "%s: not a kubeconfig (the document is not a mapping)", path);
		goto out;
	}
	const char *cur = yaml_get_str(n, 0, "current-context");
	if (!cur || !*cur) {
		errf(err, errcap, "%s: current-context is not set", path);
		goto out;
	}
	int ctx = find_named(n, "contexts", "context", cur, path, err, errcap);
	if (ctx < 0)
		goto out;
	const char *cluster_name = yaml_get_str(n, ctx, "cluster");
	const char *user_name = yaml_get_str(n, ctx, "user");
	if (!cluster_name || !*cluster_name) {
		errf(err, errcap, "%s: context \"%s\" names no cluster", path, cur);
		goto out;
	}
	int cl = find_named(n, "clusters", "cluster", cluster_name, path, err, errcap);
	if (cl < 0)
		goto out;
	char what[PATH_MAX + 300];
	snprintf(what, sizeof(what), "%s: cluster \"%s\"", path, cluster_name);
	const char *server = yaml_get_str(n, cl, "server");
	if (!server || !*server) {
		errf(err, errcap, "%s: server is not set", what);
		goto out;
	}
	if (set_server(cfg, server, what, err, errcap))
		goto out;
	const char *insecure = yaml_get_str(n, cl, "insecure-skip-tls-verify");
	cfg->insecure = insecure && !strcmp(insecure, "true");
	const char *sni = yaml_get_str(n, cl, "tls-server-name");
	if (sni && *sni && !(cfg->tls_server_name = strdup(sni))) {
		errf(err, errcap, "out of memory");
		goto out;
	}
	int got = load_pem(n, cl, "certificate-authority", dir, what, &cfg->ca_pem, &cfg->ca_len,
			   err, errcap);
	if (got < 0)
		goto out;
	if (got && cfg->insecure) {
		errf(err, errcap,
		     "%s: insecure-skip-tls-verify is true and a certificate-authority is set; "
		     "use one or the other (kubectl refuses this too)",
		     what);
		goto out;
	}
	if (!got && !cfg->insecure) {
		errf(err, errcap,
		     "%s: neither certificate-authority nor certificate-authority-data is set "
		     "(and insecure-skip-tls-verify is not true)",
		     what);
		goto out;
	}
	if (user_name && *user_name) {
		int u = find_named(n, "users", "user", user_name, path, err, errcap);
		if (u < 0)
			goto out;
		snprintf(what, sizeof(what), "%s: user \"%s\"", path, user_name);
		if (yaml_get(n, u, "exec") >= 0) {
			errf(err, errcap,
			     "%s: exec credential plugins are not supported (the agent runs no "
			     "other programs): use token, tokenFile or a client certificate, e.g. "
			     "a ServiceAccount token from \"kubectl create token\"",
			     what);
			goto out;
		}
		static const char *unsupported[] = {"auth-provider", "username", "password"};
		for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
			if (yaml_get(n, u, unsupported[i]) >= 0) {
				errf(err, errcap,
				     "%s: \"%s\" is not supported (use token, tokenFile or a "
				     "client certificate)",
				     what, unsupported[i]);
				goto out;
			}
		const char *token = yaml_get_str(n, u, "token");
		const char *token_file = yaml_get_str(n, u, "tokenFile");
		if (token && *token) {
			int bad = kube_token_check(token);
			if (bad >= 0) {
				errf(err, errcap,
				     "%s: token holds a space or control character (byte %d); "
				     "refusing to send it in an HTTP header",
				     what, bad + 1);
				goto out;
			}
			if (!(cfg->token = strdup(token))) {
				errf(err, errcap, "out of memory");
				goto out;
			}
		} else if (token_file && *token_file) {
			char p[PATH_MAX];
			resolve(p, sizeof(p), dir, token_file);
			if (!(cfg->token_file = strdup(p))) {
				errf(err, errcap, "out of memory");
				goto out;
			}
			char sub[PATH_MAX + 64];
			if (kube_config_reload_token(cfg, sub, sizeof(sub)) < 0) {
				errf(err, errcap, "%s: tokenFile: %s", what, sub);
				goto out;
			}
		}
		got = load_pem(n, u, "client-certificate", dir, what, &cfg->cert_pem,
			       &cfg->cert_len, err, errcap);
		if (got < 0)
			goto out;
		int gotkey = load_pem(n, u, "client-key", dir, what, &cfg->key_pem, &cfg->key_len,
				      err, errcap);
		if (gotkey < 0)
			goto out;
		if (got != gotkey) {
			errf(err, errcap, "%s: %s is set without %s", what,
			     got ? "client-certificate" : "client-key",
			     got ? "client-key" : "client-certificate");
			goto out;
		}
	}
	rc = 0;
out:
	free(n);
	if (sb) /* the text and its strings may hold an inline token or key */
		explicit_bzero(sb, cap);
	free(sb);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int kube_config_load(struct kube_config *cfg, const char *path, const char *sa_dir, char *err,
		     size_t errcap)
{
	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	int rc = path ? load_kubeconfig(cfg, path, err, errcap)
		      : load_in_cluster(cfg, sa_dir ? sa_dir : KUBE_SA_DIR, err, errcap);
	if (rc == 0 && !(cfg->source = strdup(path ? path : "in-cluster")))
		rc = errf(err, errcap, "out of memory");
	if (rc == 0 && !cfg->tls_server_name && !(cfg->tls_server_name = strdup(cfg->host)))
		rc = errf(err, errcap, "out of memory");
	if (rc)
		kube_config_free(cfg);
	return rc;
}
