/* kube_config: where the API server is and how to authenticate, from a kubeconfig file (the
 * subset kubeadm, k3s and kind write) or from the in-cluster service account. The struct owns
 * every string and PEM buffer it holds; kube_config_free releases them. */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
	char *server;	       /* "https://host:port" as configured */
	char *host;	       /* host part: a name or an IP literal (no brackets) */
	uint16_t port;	       /* 443 when the URL names none */
	char *tls_server_name; /* name checked in the server certificate and sent as SNI */
	bool insecure;	       /* insecure-skip-tls-verify (cluster entry or the agent's flag) */
	char *ca_pem;	       /* CA bundle, PEM; NULL only when insecure */
	size_t ca_len;
	char *cert_pem; /* client certificate chain, PEM; NULL when none */
	size_t cert_len;
	char *key_pem; /* client private key (RSA or EC, PKCS#1/SEC1/PKCS#8), PEM */
	size_t key_len;
	char *token;	  /* bearer token; NULL when none */
	char *token_file; /* re-read by kube_config_reload_token; NULL when the token is inline */
	time_t token_read_at;
	char *source; /* the kubeconfig path, or "in-cluster", for messages */
};

/* Loads `path` (a kubeconfig; relative file names in it resolve against its folder), or the
 * in-cluster configuration when path is NULL (KUBERNETES_SERVICE_HOST/PORT and the service
 * account token and ca.crt; sa_dir NULL means KUBE_SA_DIR). Returns 0, or -1 with a message in
 * err naming the file, the entry and the field that is missing or malformed. */
int kube_config_load(struct kube_config *cfg, const char *path, const char *sa_dir, char *err,
		     size_t errcap);
/* Re-reads token_file (no-op without one). Returns 1 when the token changed, 0 when not, -1
 * on error (the old token stays; err says why). */
int kube_config_reload_token(struct kube_config *cfg, char *err, size_t errcap);
void kube_config_free(struct kube_config *cfg);
/* Where token (NUL-terminated) has a byte that may not appear in a bearer token header value
 * (a space, a control character, non-ASCII: header injection), or -1 when it is clean. */
int kube_token_check(const char *token);

/* Splits "https://host:port[/]" into host and port; 0 or -1. Exposed for tests. */
int kube_config_parse_server(const char *url, char *host, size_t hostcap, uint16_t *port);

#endif
