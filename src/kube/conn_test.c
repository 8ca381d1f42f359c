/* Unit tests of the API server connection below HTTP: Retry-After parsing, connecting to each
 * address of a name in turn (refused and timed-out ones move on), the host name resolved off
 * the loop, the bearer token checked and sent whole, the body buffer's consume offset. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/client.h"
#include "kube/conn.h"

static struct kube_client *client_for(const char *host, uint16_t port, const char *token)
{
	struct kube_config cfg = {0};
	char err[256], url[128];
	snprintf(url, sizeof(url), "https://%s:%u", host, port);
	cfg.server = strdup(url);
	cfg.host = strdup(host);
	cfg.port = port;
	cfg.tls_server_name = strdup(host);
	cfg.insecure = true; /* no handshake completes here: nothing to verify */
	cfg.token = token ? strdup(token) : NULL;
	struct kube_client *c = kube_client_new(&cfg, err, sizeof(err));
	if (!c)
		fail_msg("kube_client_new: %s", err);
	return c;
}

/* A listening socket on 127.0.0.1 (port in *port). */
static int listener(uint16_t *port, int backlog)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port on 127.0.0.1 nothing listens on (bound then closed). */
static uint16_t closed_port(void)
{
	uint16_t port;
	int fd = listener(&port, 1);
	close(fd);
	return port;
}

static void loopback(struct sockaddr_in *sa, struct addrinfo *ai, uint16_t port,
		     struct addrinfo *next)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(ai, 0, sizeof(*ai));
	ai->ai_family = AF_INET;
	ai->ai_socktype = SOCK_STREAM;
	ai->ai_addr = (struct sockaddr *)sa;
	ai->ai_addrlen = sizeof(*sa);
	ai->ai_next = next;
}

/* Drives the connection the way the reflector does (poll on fd/events, handle on readiness or
 * the connection's deadline) until it leaves the resolve/connect states. */
static enum kube_conn_state drive(struct kube_conn *c)
{
	for (int i = 0; i < 200; i++) {
		if (c->state != KC_RESOLVING && c->state != KC_CONNECTING)
			return c->state;
		struct pollfd p = {.fd = kube_conn_fd(c), .events = kube_conn_events(c)};
		int64_t d = kube_conn_deadline(c), now = kube_now_ms();
		int wait = d == INT64_MAX ? 100 : d > now ? (int)(d - now) : 0;
		poll(&p, 1, wait > 100 ? 100 : wait);
		kube_conn_handle(c, p.revents);
	}
	return c->state;
}

/* TCP is up: TLS started (with no request queued the connection waits for headers). */
static bool connected(enum kube_conn_state st)
{
	return st == KC_SENDING || st == KC_HEADERS;
}

static uint16_t peer_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&a, &l), 0);
	return ntohs(a.sin_port);
}

static void test_retry_after(void **state)
{
	assert_int_equal(kube_retry_after_parse("120", 3, 3600), 120);
	assert_int_equal(kube_retry_after_parse(" 5 ", 3, 3600), 5);
	assert_int_equal(kube_retry_after_parse("4000000", 7, 3600), 3600);
	assert_int_equal(kube_retry_after_parse("99999999999999999999999999", 26, 3600), 3600);
	assert_int_equal(kube_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 29, 3600), 0);
	assert_int_equal(kube_retry_after_parse("-1", 2, 3600), 0);
	assert_int_equal(kube_retry_after_parse("12abc", 5, 3600), 0);
	assert_int_equal(kube_retry_after_parse("", 0, 3600), 0);
}

/* The first address refuses: the second one is connected. */
static void test_connect_each_address(void **state)
{
	uint16_t good;
	int l = listener(&good, 8);
	struct kube_client *cl = client_for("127.0.0.1", good, NULL);
	struct kube_conn c;
	kube_conn_init(&c, cl, 0);
	struct sockaddr_in sa[2];
	struct addrinfo ai[2];
	loopback(&sa[1], &ai[1], good, NULL);
	loopback(&sa[0], &ai[0], closed_port(), &ai[1]);
	assert_int_equal(kube_conn_connect_addrinfo(&c, &ai[0]), 0);
	assert_true(connected(drive(&c)));
	assert_int_equal(peer_port(c.fd), good);
	kube_conn_free(&c);

	/* every address refuses: one failure naming each */
	kube_conn_init(&c, cl, 0);
	loopback(&sa[1], &ai[1], closed_port(), NULL);
	loopback(&sa[0], &ai[0], closed_port(), &ai[1]);
	kube_conn_connect_addrinfo(&c, &ai[0]);
	assert_int_equal(drive(&c), KC_FAILED);
	if (!strstr(kube_conn_error(&c),
		    "127.0.0.1: Connection refused; 127.0.0.1: Connection refused"))
		fail_msg("error: %s", kube_conn_error(&c));
	kube_conn_free(&c);
	kube_client_free(cl);
	close(l);
}

/* The first address never answers (its accept queue is full, SYNs are dropped): after the
 * per-address timeout the second one is tried. */
static void test_connect_timeout_moves_on(void **state)
{
	uint16_t full, good;
	int lf = listener(&full, 0), lg = listener(&good, 8);
	int fillers[4];
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in a;
		struct addrinfo ai;
		loopback(&a, &ai, full, NULL);
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[i], ai.ai_addr, ai.ai_addrlen);
	}
	usleep(100000);
	struct kube_client *cl = client_for("127.0.0.1", good, NULL);
	struct kube_conn c;
	kube_conn_init(&c, cl, 0);
	c.addr_timeout_ms = 300;
	struct sockaddr_in sa[2];
	struct addrinfo ai[2];
	loopback(&sa[1], &ai[1], good, NULL);
	loopback(&sa[0], &ai[0], full, &ai[1]);
	kube_conn_connect_addrinfo(&c, &ai[0]);
	assert_true(connected(drive(&c)));
	assert_int_equal(peer_port(c.fd), good);
	assert_non_null(strstr(c.connect_errs, "connect timed out"));
	kube_conn_free(&c);
	kube_client_free(cl);
	for (int i = 0; i < 4; i++)
		close(fillers[i]);
	close(lf);
	close(lg);
}

/* A host name is resolved on a thread: kube_conn_get returns at once (KC_RESOLVING, its fd is
 * the notification pipe), then the connection proceeds. */
static void test_resolve_off_loop(void **state)
{
	uint16_t good;
	int l = listener(&good, 8);
	struct kube_client *cl = client_for("localhost", good, NULL);
	struct kube_conn c;
	kube_conn_init(&c, cl, 0);
	assert_int_equal(kube_conn_get(&c, "/api/v1/pods"), 0);
	assert_int_equal(c.state, KC_RESOLVING);
	assert_true(kube_conn_fd(&c) >= 0);
	assert_int_equal(kube_conn_events(&c), POLLIN);
	assert_int_equal(drive(&c), KC_SENDING);
	assert_int_equal(peer_port(c.fd), good);
	kube_conn_free(&c);

	/* abandoned while resolving: nothing leaks, nothing is touched after free */
	kube_conn_init(&c, cl, 0);
	assert_int_equal(kube_conn_get(&c, "/api/v1/pods"), 0);
	kube_conn_free(&c);
	kube_client_free(cl);
	usleep(200000); /* lets the thread finish before the leak check */
	close(l);
}

static void test_token_header(void **state)
{
	uint16_t port;
	int l = listener(&port, 8);
	struct kube_client *cl = client_for("127.0.0.1", port, "abc\r\nX-Evil: 1");
	struct kube_conn c;
	kube_conn_init(&c, cl, 0);
	assert_int_equal(kube_conn_get(&c, "/api/v1/pods"), -1);
	assert_non_null(strstr(kube_conn_error(&c), "control character"));
	kube_conn_free(&c);
	kube_client_free(cl);

	/* a 12 KB token goes out whole */
	char *tok = malloc(12001), want[12100];
	memset(tok, 'T', 12000);
	tok[12000] = '\0';
	cl = client_for("127.0.0.1", port, tok);
	kube_conn_init(&c, cl, 0);
	assert_int_equal(kube_conn_get(&c, "/api/v1/pods"), 0);
	snprintf(want, sizeof(want), "\r\nAuthorization: Bearer %s\r\n", tok);
	assert_non_null(strstr(c.req, want));
	kube_conn_free(&c);
	kube_client_free(cl);
	free(tok);
	close(l);
}

/* Consuming moves an offset; nothing is copied until the buffer must be compacted. */
static void test_consume_offset(void **state)
{
	struct kube_conn c;
	kube_conn_init(&c, NULL, 0);
	c.buf = malloc(64);
	c.cap = 64;
	memcpy(c.buf, "{\"a\":1}{\"b\":2}{\"c\":3}", 21);
	c.len = 21;
	size_t n;
	kube_conn_consume(&c, 7);
	kube_conn_consume(&c, 7);
	const char *b = kube_conn_body(&c, &n);
	assert_int_equal(n, 7);
	assert_memory_equal(b, "{\"c\":3}", 7);
	assert_int_equal(c.moved, 0);
	kube_conn_consume(&c, 7);
	assert_int_equal(c.off, 0); /* all consumed: back to the start for free */
	assert_int_equal(c.len, 0);
	free(c.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_connect_each_address),
	    cmocka_unit_test(test_connect_timeout_moves_on),
	    cmocka_unit_test(test_resolve_off_loop),
	    cmocka_unit_test(test_token_header),
	    cmocka_unit_test(test_consume_offset),
	};
	return cmocka_run_group_tests_name("kube/conn", tests, NULL, NULL);
}
