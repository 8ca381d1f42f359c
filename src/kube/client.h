/* kube_client: what every connection to one API server shares: the configuration, the TLS
 * credentials decoded once (trust anchors, client certificate and key) and the bearer token
 * (re-read from its file every minute and after a 401). Owns copies of everything it holds. */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H

#include <stdint.h>
#include <stddef.h>

#include "kube/config.h"

struct kube_client;

/* Takes ownership of cfg's contents (cfg is zeroed). Set cfg->insecure first for the agent's
 * --insecure-skip-tls-verify (logged as a warning; refused when a CA is configured too, as
 * client-go does). NULL with err on bad PEM/key, that conflict, or OOM. */
struct kube_client *kube_client_new(struct kube_config *cfg, char *err, size_t errcap);
void kube_client_free(struct kube_client *c);

const struct kube_config *kube_client_config(const struct kube_client *c);
/* The current "Bearer ..." token, refreshed from the token file when older than a minute. */
const char *kube_client_token(struct kube_client *c);
/* A request got 401: re-read the token file now. */
void kube_client_token_rejected(struct kube_client *c);

/* Monotonic milliseconds, the clock of every deadline in kube/. */
int64_t kube_now_ms(void);

#endif
