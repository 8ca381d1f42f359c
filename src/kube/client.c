/* Shared API server connection settings; see client.h. */
#include "kube/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/client_internal.h"
#include "util/log.h"

#define TOKEN_REREAD_MS 60000

int64_t kube_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kube_client *kube_client_new(struct kube_config *cfg, char *err, size_t errcap)
{
	struct kube_client *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	if (cfg->insecure && cfg->ca_pem) {
		/* as client-go: skipping verification while a CA is configured is a mistake */
		snprintf(err, errcap,
			 "%s: insecure-skip-tls-verify together with a certificate authority is "
			 "refused; drop one of them",
			 cfg->source ? cfg->source : "config");
		free(c);
		return NULL;
	}
	if (tls_creds_init(&c->creds, cfg->ca_pem, cfg->ca_len, cfg->cert_pem, cfg->cert_len,
			   cfg->key_pem, cfg->key_len, cfg->insecure, err, errcap)) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errcap, "%s: %s", cfg->source ? cfg->source : "config", tmp);
		free(c);
		return NULL;
	}
	if (cfg->insecure)
		log_warn("%s: not verifying the API server's certificate "
			 "(insecure-skip-tls-verify)",
			 cfg->source ? cfg->source : "config");
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	c->token_checked_ms = kube_now_ms();
	return c;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	tls_creds_free(&c->creds);
	kube_config_free(&c->cfg);
	free(c);
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
	return &c->cfg;
}

static void reload_token(struct kube_client *c)
{
	char err[256];
	c->token_checked_ms = kube_now_ms();
	int r = kube_config_reload_token(&c->cfg, err, sizeof(err));
	if (r < 0)
		log_error("reading the API token: %s", err);
	else if (r > 0)
		log_info("API token reloaded from %s", c->cfg.token_file);
}

const char *kube_client_token(struct kube_client *c)
{
	if (c->cfg.token_file && kube_now_ms() - c->token_checked_ms >= TOKEN_REREAD_MS)
		reload_token(c);
	return c->cfg.token;
}

void kube_client_token_rejected(struct kube_client *c)
{
	reload_token(c);
}
