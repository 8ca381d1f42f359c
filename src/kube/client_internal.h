/* The kube_client struct, shared by the files of kube/ only. */
#ifndef KUBE_CLIENT_INTERNAL_H
#define KUBE_CLIENT_INTERNAL_H

#include "kube/client.h"
#include "kube/tls.h"

struct kube_client {
	struct kube_config cfg;
	struct tls_creds creds;
	int64_t token_checked_ms;
};

#endif
