/* TLS 1.2 client over a non-blocking socket with BearSSL (TLS 1.2 only: BearSSL has no 1.3):
 * server verified against the configured CA (DNS name or IP address in subjectAltName, and an
 * extendedKeyUsage, when present, must allow serverAuth), ECDHE+AEAD cipher suites only, SNI,
 * ALPN http/1.1, optional client certificate (RSA or EC). tls_creds is decoded once from PEM and
 * shared read-only by every connection; a tls_conn is one connection's engine and I/O buffer (about
 * 33 KiB), owned by the caller. */
#ifndef KUBE_TLS_H
#define KUBE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <bearssl.h>

struct tls_creds {
	br_x509_trust_anchor *anchors;
	size_t nanchors;
	br_x509_certificate *chain; /* client certificate chain, leaf first */
	size_t nchain;
	int key_type; /* 0 (no client certificate), BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_skey_decoder_context *key; /* holds the decoded private key */
	bool insecure;		      /* do not verify the server at all */
};

/* PEM inputs may be NULL (no CA only when insecure; no client certificate). Returns 0, or -1
 * with err saying which input is malformed. */
int tls_creds_init(struct tls_creds *c, const char *ca_pem, size_t ca_len, const char *cert_pem,
		   size_t cert_len, const char *key_pem, size_t key_len, bool insecure, char *err,
		   size_t errcap);
void tls_creds_free(struct tls_creds *c);

/* Certificate check wrapper: BearSSL's minimal validator plus an IP subjectAltName match, or
 * no check at all when insecure. */
struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	br_x509_decoder_context decoder;
	int mode;
	unsigned char ip[16];
	size_t ip_len;
	unsigned cert_index;
	size_t leaf_len;
	unsigned char leaf[16384]; /* the server's certificate, for the IP and EKU checks */
	bool leaf_overflow;
};

struct tls_conn {
	br_ssl_client_context sc;
	struct tls_x509 x509;
	int fd;
	bool eof;
	int sys_errno;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

#define TLS_AGAIN (-2)

/* The certificate (DER) has no extendedKeyUsage, or one with serverAuth or anyExtendedKeyUsage.
 * Exposed for tests. */
bool tls_cert_allows_server_auth(const unsigned char *der, size_t len);

/* Starts a handshake on connected (or connecting) non-blocking fd. server_name: checked against
 * the certificate (an IP literal is matched against iPAddress names) and sent as SNI when it is
 * a DNS name. 0, or -1 with err. */
int tls_conn_start(struct tls_conn *t, const struct tls_creds *c, int fd, const char *server_name,
		   char *err, size_t errcap);
/* Up to n bytes of application data: > 0, 0 when the peer closed, TLS_AGAIN, or -1 on error. */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t n);
/* Queues up to n bytes and sends what the socket takes: > 0 accepted, TLS_AGAIN, -1 on error. */
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t n);
/* Sends queued records; 0 when all are out, TLS_AGAIN, -1 on error. */
int tls_conn_flush(struct tls_conn *t);
/* Decrypted application data is waiting in the engine (poll would not report it). */
bool tls_conn_pending(const struct tls_conn *t);
/* poll(2) events the engine waits for. */
short tls_conn_events(const struct tls_conn *t);
/* Why the connection failed, in words ("certificate expired", ...). */
const char *tls_conn_error(const struct tls_conn *t);

#endif
