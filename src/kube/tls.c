/* BearSSL client connections; see tls.h. */
#include "kube/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

enum { VERIFY_NAME, VERIFY_IP, VERIFY_NONE };

/* Our own X.509 verdicts, in the range BearSSL leaves to X.509 errors it does not define. */
#define TLS_ERR_NOT_SERVER_AUTH 61
#define TLS_ERR_LEAF_TOO_LARGE 63

/* Offered cipher suites: forward secret key exchange (ECDHE) with AEAD encryption only, as
 * kube-apiserver's defaults; no static RSA key exchange, no CBC, no 3DES. */
static const uint16_t suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

/* ---- PEM and DER helpers ---- */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void bytes_push(void *ctx, const void *data, size_t len)
{
	struct bytes *b = ctx;
	if (!b->p && b->cap == (size_t)-1)
		return; /* failed earlier */
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *np = realloc(b->p, cap);
		if (!np) {
			free(b->p);
			b->p = NULL;
			b->cap = (size_t)-1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

struct pem_obj {
	char name[128];
	struct bytes der;
};

/* Decodes every PEM object in text; returns how many (objs malloc'd), or -1. */
static int pem_decode_all(const char *text, size_t len, struct pem_obj **objs)
{
	br_pem_decoder_context pc;
	struct pem_obj *v = NULL;
	int n = 0;
	bool inobj = false;
	br_pem_decoder_init(&pc);
	while (len > 0) {
		size_t k = br_pem_decoder_push(&pc, text, len);
		text += k;
		len -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ: {
			struct pem_obj *nv = realloc(v, sizeof(*v) * (size_t)(n + 1));
			if (!nv)
				goto fail;
			v = nv;
			memset(&v[n], 0, sizeof(v[n]));
			snprintf(v[n].name, sizeof(v[n].name), "%s", br_pem_decoder_name(&pc));
			br_pem_decoder_setdest(&pc, bytes_push, &v[n].der);
			n++;
			inobj = true;
			break;
		}
		case BR_PEM_END_OBJ:
			if (!inobj || !v[n - 1].der.p)
				goto fail;
			inobj = false;
			break;
		case BR_PEM_ERROR:
			goto fail;
		}
	}
	if (inobj)
		goto fail;
	*objs = v;
	return n;
fail:
	for (int i = 0; i < n; i++)
		free(v[i].der.p);
	free(v);
	return -1;
}

static void pem_free(struct pem_obj *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].der.p);
	free(v);
}

static void *memdup(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q)
		memcpy(q, p, n);
	return q;
}

/* A trust anchor from one CA certificate (DN and key copied). */
static int anchor_from_der(br_x509_trust_anchor *ta, const unsigned char *der, size_t len)
{
	br_x509_decoder_context dc;
	struct bytes dn = {0};
	br_x509_decoder_init(&dc, bytes_push, &dn);
	br_x509_decoder_push(&dc, der, len);
	br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || !dn.p) {
		free(dn.p);
		return -1;
	}
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dn.p;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = memdup(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = memdup(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e)
			return -1;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = memdup(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (!ta->pkey.key.ec.q)
			return -1;
	} else {
		return -1;
	}
	return 0;
}

void tls_creds_free(struct tls_creds *c)
{
	for (size_t i = 0; i < c->nanchors; i++) {
		br_x509_trust_anchor *ta = &c->anchors[i];
		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
	free(c->anchors);
	for (size_t i = 0; i < c->nchain; i++)
		free(c->chain[i].data);
	free(c->chain);
	if (c->key) /* the decoded private key */
		explicit_bzero(c->key, sizeof(*c->key));
	free(c->key);
	memset(c, 0, sizeof(*c));
}

int tls_creds_init(struct tls_creds *c, const char *ca_pem, size_t ca_len, const char *cert_pem,
		   size_t cert_len, const char *key_pem, size_t key_len, bool insecure, char *err,
		   size_t errcap)
{
	struct pem_obj *objs;
	int n;
	memset(c, 0, sizeof(*c));
	c->insecure = insecure;
	if (ca_pem) {
		n = pem_decode_all(ca_pem, ca_len, &objs);
		if (n < 0) {
			snprintf(err, errcap, "CA bundle: malformed PEM");
			return -1;
		}
		c->anchors = calloc((size_t)n + 1, sizeof(*c->anchors));
		for (int i = 0; c->anchors && i < n; i++) {
			if (strcmp(objs[i].name, "CERTIFICATE") &&
			    strcmp(objs[i].name, "X509 CERTIFICATE"))
				continue;
			if (anchor_from_der(&c->anchors[c->nanchors], objs[i].der.p,
					    objs[i].der.len)) {
				pem_free(objs, n);
				snprintf(err, errcap, "CA bundle: certificate %d cannot be decoded",
					 i + 1);
				tls_creds_free(c);
				return -1;
			}
			c->nanchors++;
		}
		pem_free(objs, n);
		if (!c->anchors || c->nanchors == 0) {
			snprintf(err, errcap, "CA bundle: no certificate in it");
			tls_creds_free(c);
			return -1;
		}
	} else if (!insecure) {
		snprintf(err, errcap, "no CA to verify the server with");
		return -1;
	}
	if (cert_pem) {
		n = pem_decode_all(cert_pem, cert_len, &objs);
		if (n <= 0) {
			snprintf(err, errcap, "client certificate: malformed PEM");
			tls_creds_free(c);
			return -1;
		}
		c->chain = calloc((size_t)n, sizeof(*c->chain));
		for (int i = 0; c->chain && i < n; i++) {
			if (strcmp(objs[i].name, "CERTIFICATE"))
				continue;
			c->chain[c->nchain].data = objs[i].der.p;
			c->chain[c->nchain].data_len = objs[i].der.len;
			objs[i].der.p = NULL;
			c->nchain++;
		}
		pem_free(objs, n);
		if (c->nchain == 0) {
			snprintf(err, errcap, "client certificate: no CERTIFICATE in it");
			tls_creds_free(c);
			return -1;
		}
		if (!key_pem || (n = pem_decode_all(key_pem, key_len, &objs)) <= 0) {
			snprintf(err, errcap, "client key: missing or malformed PEM");
			tls_creds_free(c);
			return -1;
		}
		c->key = malloc(sizeof(*c->key));
		int found = 0;
		for (int i = 0; c->key && i < n && !found; i++) {
			if (!strstr(objs[i].name, "PRIVATE KEY"))
				continue;
			br_skey_decoder_init(c->key);
			br_skey_decoder_push(c->key, objs[i].der.p, objs[i].der.len);
			found = br_skey_decoder_last_error(c->key) == 0 ? 1 : -1;
		}
		pem_free(objs, n);
		if (found != 1) {
			snprintf(err, errcap, "client key: %s",
				 found ? "cannot be decoded (RSA or EC, PKCS#1/SEC1/PKCS#8)"
				       : "no PRIVATE KEY in it");
			tls_creds_free(c);
			return -1;
		}
		c->key_type = br_skey_decoder_key_type(c->key);
	}
	return 0;
}

/* ---- certificate checking ---- */

/* Reads one DER TLV at *p; returns its tag, value and moves *p past it; -1 when malformed. */
static int der_next(const unsigned char **p, const unsigned char *end, const unsigned char **val,
		    size_t *vlen)
{
	const unsigned char *q = *p;
	if (end - q < 2)
		return -1;
	int tag = *q++;
	size_t len = *q++;
	if (len & 0x80) {
		int nb = (int)(len & 0x7f);
		if (nb == 0 || nb > 3 || end - q < nb)
			return -1;
		len = 0;
		while (nb--)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*val = q;
	*vlen = len;
	*p = q + len;
	return tag;
}

/* The extnValue (OCTET STRING contents) of the certificate extension with OID 2.5.29.<id>.
 * 1 when found, 0 when absent, -1 when the certificate is malformed. */
static int cert_ext(const unsigned char *der, size_t len, unsigned char id,
		    const unsigned char **val, size_t *vlen)
{
	const unsigned char *p = der, *v, *end = der + len;
	size_t vl;
	if (der_next(&p, end, &v, &vl) != 0x30)
		return -1;
	p = v;
	end = v + vl;
	if (der_next(&p, end, &v, &vl) != 0x30) /* tbsCertificate */
		return -1;
	p = v;
	end = v + vl;
	while (p < end) {
		int tag = der_next(&p, end, &v, &vl);
		if (tag < 0)
			return -1;
		if (tag != 0xa3)
			continue;
		const unsigned char *e = v, *eend = v + vl, *ev;
		size_t evl;
		if (der_next(&e, eend, &ev, &evl) != 0x30)
			return -1;
		e = ev;
		eend = ev + evl;
		while (e < eend) {
			const unsigned char *x, *xv;
			size_t xl;
			if (der_next(&e, eend, &x, &xl) != 0x30)
				return -1;
			const unsigned char *xe = x + xl;
			if (der_next(&x, xe, &xv, &xl) != 0x06)
				return -1;
			if (xl != 3 || memcmp(xv, "\x55\x1d", 2) || xv[2] != id)
				continue;
			int t = der_next(&x, xe, &xv, &xl);
			if (t == 0x01) /* critical */
				t = der_next(&x, xe, &xv, &xl);
			if (t != 0x04)
				return -1;
			*val = xv;
			*vlen = xl;
			return 1;
		}
	}
	return 0;
}

/* Whether the certificate's subjectAltName holds the IP address. */
static bool cert_has_ip(const unsigned char *der, size_t len, const unsigned char *ip, size_t iplen)
{
	const unsigned char *g, *gend, *gv;
	size_t gl;
	if (cert_ext(der, len, 0x11, &g, &gl) != 1)
		return false;
	gend = g + gl;
	if (der_next(&g, gend, &gv, &gl) != 0x30)
		return false;
	g = gv;
	gend = gv + gl;
	while (g < gend) {
		int nt = der_next(&g, gend, &gv, &gl);
		if (nt < 0)
			return false;
		if (nt == 0x87 && gl == iplen && !memcmp(gv, ip, iplen))
			return true;
	}
	return false;
}

/* Whether the certificate may serve TLS: no extendedKeyUsage, or one listing serverAuth (or
 * anyExtendedKeyUsage), as Go's crypto/x509 (client-go) requires of the leaf. */
bool tls_cert_allows_server_auth(const unsigned char *der, size_t len)
{
	static const unsigned char server_auth[] = {0x2b, 6, 1, 5, 5, 7, 3, 1};
	static const unsigned char any_eku[] = {0x55, 0x1d, 0x25, 0x00};
	const unsigned char *e, *eend, *v;
	size_t el, vl;
	int r = cert_ext(der, len, 0x25, &e, &el);
	if (r <= 0)
		return r == 0;
	eend = e + el;
	if (der_next(&e, eend, &v, &vl) != 0x30)
		return false;
	e = v;
	eend = v + vl;
	while (e < eend) {
		if (der_next(&e, eend, &v, &vl) != 0x06)
			return false;
		if ((vl == sizeof(server_auth) && !memcmp(v, server_auth, vl)) ||
		    (vl == sizeof(any_eku) && !memcmp(v, any_eku, vl)))
			return true;
	}
	return false;
}

static void x_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = (struct tls_x509 *)ctx;
	x->cert_index = 0;
	x->leaf_len = 0;
	x->leaf_overflow = false;
	if (x->mode == VERIFY_NONE)
		br_x509_decoder_init(&x->decoder, NULL, NULL);
	else
		x->minimal.vtable->start_chain(&x->minimal.vtable,
					       x->mode == VERIFY_NAME ? server_name : NULL);
}

static void x_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = (struct tls_x509 *)ctx;
	if (x->mode != VERIFY_NONE)
		x->minimal.vtable->start_cert(&x->minimal.vtable, length);
}

static void x_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = (struct tls_x509 *)ctx;
	if (x->cert_index == 0) {
		if (x->mode == VERIFY_NONE)
			br_x509_decoder_push(&x->decoder, buf, len);
		if (x->leaf_len + len <= sizeof(x->leaf)) {
			memcpy(x->leaf + x->leaf_len, buf, len);
			x->leaf_len += len;
		} else {
			x->leaf_overflow = true;
		}
	}
	if (x->mode != VERIFY_NONE)
		x->minimal.vtable->append(&x->minimal.vtable, buf, len);
}

static void x_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)ctx;
	if (x->mode != VERIFY_NONE)
		x->minimal.vtable->end_cert(&x->minimal.vtable);
	x->cert_index++;
}

static unsigned x_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)ctx;
	if (x->mode == VERIFY_NONE)
		return br_x509_decoder_get_pkey(&x->decoder) ? 0 : BR_ERR_X509_BAD_SERVER_NAME;
	unsigned r = x->minimal.vtable->end_chain(&x->minimal.vtable);
	if (r == 0 && x->leaf_overflow)
		r = TLS_ERR_LEAF_TOO_LARGE; /* fail closed: the checks below need all of it */
	if (r == 0 && x->mode == VERIFY_IP && !cert_has_ip(x->leaf, x->leaf_len, x->ip, x->ip_len))
		r = BR_ERR_X509_BAD_SERVER_NAME;
	if (r == 0 && !tls_cert_allows_server_auth(x->leaf, x->leaf_len))
		r = TLS_ERR_NOT_SERVER_AUTH;
	return r;
}

static const br_x509_pkey *x_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509 *x = (const struct tls_x509 *)ctx;
	if (x->mode == VERIFY_NONE) {
		if (usages)
			*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
		return br_x509_decoder_get_pkey((br_x509_decoder_context *)&x->decoder);
	}
	return x->minimal.vtable->get_pkey(&x->minimal.vtable, usages);
}

static const br_x509_class x_vtable = {
    sizeof(struct tls_x509),
    x_start_chain,
    x_start_cert,
    x_append,
    x_end_cert,
    x_end_chain,
    x_get_pkey,
};

/* ---- connections ---- */

int tls_conn_start(struct tls_conn *t, const struct tls_creds *c, int fd, const char *server_name,
		   char *err, size_t errcap)
{
	static const char *alpn[] = {"http/1.1"};
	unsigned char seed[32];

	t->fd = fd;
	t->eof = false;
	t->sys_errno = 0;
	br_ssl_client_init_full(&t->sc, &t->x509.minimal, c->anchors, c->nanchors);
	br_ssl_engine_set_versions(&t->sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&t->sc.eng, suites, sizeof(suites) / sizeof(suites[0]));
	br_ssl_engine_set_buffer(&t->sc.eng, t->iobuf, sizeof(t->iobuf), 1);
	br_ssl_engine_set_protocol_names(&t->sc.eng, alpn, 1);
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		snprintf(err, errcap, "getrandom: %s", strerror(errno));
		return -1;
	}
	br_ssl_engine_inject_entropy(&t->sc.eng, seed, sizeof(seed));

	struct tls_x509 *x = &t->x509;
	x->vtable = &x_vtable;
	x->ip_len = 0;
	if (c->insecure)
		x->mode = VERIFY_NONE;
	else if (inet_pton(AF_INET, server_name, x->ip) == 1)
		x->mode = VERIFY_IP, x->ip_len = 4;
	else if (inet_pton(AF_INET6, server_name, x->ip) == 1)
		x->mode = VERIFY_IP, x->ip_len = 16;
	else
		x->mode = VERIFY_NAME;
	br_ssl_engine_set_x509(&t->sc.eng, &x->vtable);

	if (c->key_type == BR_KEYTYPE_RSA)
		br_ssl_client_set_single_rsa(&t->sc, c->chain, c->nchain,
					     br_skey_decoder_get_rsa(c->key),
					     br_rsa_pkcs1_sign_get_default());
	else if (c->key_type == BR_KEYTYPE_EC)
		br_ssl_client_set_single_ec(
		    &t->sc, c->chain, c->nchain, br_skey_decoder_get_ec(c->key), BR_KEYTYPE_SIGN,
		    BR_KEYTYPE_EC, br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	/* SNI only for names; the name check itself is done by the x509 wrapper */
	if (!br_ssl_client_reset(&t->sc, x->mode == VERIFY_IP ? NULL : server_name, 0)) {
		snprintf(err, errcap, "TLS setup failed: error %d",
			 br_ssl_engine_last_error(&t->sc.eng));
		return -1;
	}
	return 0;
}

/* Moves records between the engine and the socket as far as it goes without blocking. */
static int pump(struct tls_conn *t)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	if (t->sys_errno)
		return -1;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		bool progress = false;
		if (st & BR_SSL_CLOSED)
			return br_ssl_engine_last_error(eng) == BR_ERR_OK ? 0 : -1;
		if (st & BR_SSL_SENDREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
			ssize_t w = write(t->fd, buf, len);
			if (w > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)w);
				progress = true;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				t->sys_errno = errno;
				return -1;
			}
		}
		if ((st & BR_SSL_RECVREC) && !t->eof) {
			size_t len;
			unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
			ssize_t r = read(t->fd, buf, len);
			if (r > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)r);
				progress = true;
			} else if (r == 0) {
				t->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				t->sys_errno = errno;
				return -1;
			}
		}
		if (!progress)
			return 0;
	}
}

ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t n)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	if (pump(t) < 0)
		return -1;
	unsigned st = br_ssl_engine_current_state(eng);
	if (st & BR_SSL_RECVAPP) {
		size_t len;
		unsigned char *app = br_ssl_engine_recvapp_buf(eng, &len);
		if (len > n)
			len = n;
		memcpy(buf, app, len);
		br_ssl_engine_recvapp_ack(eng, len);
		return (ssize_t)len;
	}
	if (st & BR_SSL_CLOSED)
		return br_ssl_engine_last_error(eng) == BR_ERR_OK ? 0 : -1;
	if (t->eof)
		return 0; /* closed without close_notify: HTTP framing decides if that was early */
	return TLS_AGAIN;
}

ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t n)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	if (pump(t) < 0)
		return -1;
	unsigned st = br_ssl_engine_current_state(eng);
	if (st & BR_SSL_CLOSED)
		return -1;
	if (!(st & BR_SSL_SENDAPP))
		return t->eof ? -1 : TLS_AGAIN;
	size_t len;
	unsigned char *app = br_ssl_engine_sendapp_buf(eng, &len);
	if (len > n)
		len = n;
	memcpy(app, buf, len);
	br_ssl_engine_sendapp_ack(eng, len);
	br_ssl_engine_flush(eng, 0);
	if (pump(t) < 0)
		return -1;
	return (ssize_t)len;
}

int tls_conn_flush(struct tls_conn *t)
{
	if (pump(t) < 0)
		return -1;
	return br_ssl_engine_current_state(&t->sc.eng) & BR_SSL_SENDREC ? TLS_AGAIN : 0;
}

bool tls_conn_pending(const struct tls_conn *t)
{
	return br_ssl_engine_current_state((br_ssl_engine_context *)&t->sc.eng) & BR_SSL_RECVAPP;
}

short tls_conn_events(const struct tls_conn *t)
{
	unsigned st = br_ssl_engine_current_state((br_ssl_engine_context *)&t->sc.eng);
	short ev = 0;
	if (st & BR_SSL_SENDREC)
		ev |= POLLOUT;
	if ((st & BR_SSL_RECVREC) && !t->eof)
		ev |= POLLIN;
	return ev;
}

const char *tls_conn_error(const struct tls_conn *t)
{
	static __thread char buf[96];
	int e = br_ssl_engine_last_error((br_ssl_engine_context *)&t->sc.eng);
	if (t->sys_errno && e == BR_ERR_OK)
		e = BR_ERR_IO;
	switch (e) {
	case BR_ERR_OK:
		return t->eof ? "connection closed by the server" : "no error";
	case BR_ERR_IO:
		snprintf(buf, sizeof(buf), "I/O error: %s", strerror(t->sys_errno));
		return buf;
	case BR_ERR_X509_EXPIRED:
		return "server certificate has expired or is not yet valid";
	case BR_ERR_X509_NOT_TRUSTED:
		return "server certificate is not signed by the configured CA";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "server certificate does not match the server name or address";
	case BR_ERR_BAD_ALERT:
		return "the server sent a fatal TLS alert";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_RECV_FATAL_ALERT + 70: /* protocol_version */
		return "the server requires TLS 1.3 (or another version than 1.2); this agent "
		       "speaks TLS 1.2 only";
	case BR_ERR_RECV_FATAL_ALERT + 40: /* handshake_failure */
	case BR_ERR_BAD_CIPHER_SUITE:
		return "no common cipher suite: this agent offers only ECDHE with AES-GCM or "
		       "ChaCha20-Poly1305 (TLS 1.2)";
	case TLS_ERR_NOT_SERVER_AUTH:
		return "server certificate is not for server authentication (its extended key "
		       "usage lacks serverAuth)";
	case TLS_ERR_LEAF_TOO_LARGE:
		return "server certificate is too large to check (over 16 KiB)";
	default:
		break;
	}
	if (e >= BR_ERR_RECV_FATAL_ALERT && e < BR_ERR_RECV_FATAL_ALERT + 256)
		snprintf(buf, sizeof(buf),
			 "the server sent TLS alert %d (e.g. 42: certificate "
			 "refused, 48: unknown CA)",
			 e - BR_ERR_RECV_FATAL_ALERT);
	else if (e >= BR_ERR_SEND_FATAL_ALERT && e < BR_ERR_SEND_FATAL_ALERT + 256)
		snprintf(buf, sizeof(buf), "TLS failed locally (alert %d sent)",
			 e - BR_ERR_SEND_FATAL_ALERT);
	else if (e >= 32 && e < 64)
		snprintf(buf, sizeof(buf), "server certificate rejected (BearSSL X.509 error %d)",
			 e);
	else
		snprintf(buf, sizeof(buf), "TLS error %d", e);
	return buf;
}
