#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "agent/httpd.h"
#include "agent/metrics.h"

static void test_parse_request(void **state)
{
	char path[32];

	(void)state;
	assert_int_equal(httpd_parse_request("GET /readyz HTTP/1.1\r\n\r\n", 24, path, 32), 0);
	assert_string_equal(path, "/readyz");
	assert_int_equal(httpd_parse_request("GET /metrics?x=1 HTTP/1.0\r\n\r\n", 29, path, 32), 0);
	assert_string_equal(path, "/metrics");
	assert_int_equal(httpd_parse_request("POST /readyz HTTP/1.1\r\n\r\n", 25, path, 32), -1);
	assert_int_equal(httpd_parse_request("GET readyz HTTP/1.1\r\n\r\n", 23, path, 32), -1);
	assert_int_equal(httpd_parse_request("GET /readyz\r\n\r\n", 15, path, 32), -1);
	assert_int_equal(
	    httpd_parse_request("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n", 53,
				path, 32),
	    -1);
}

static int handler(void *ctx, const char *path, char *body, size_t cap)
{
	const struct metrics *m = ctx;

	if (strcmp(path, "/metrics") == 0) {
		metrics_format(m, body, cap);
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		snprintf(body, cap, "not ready\n");
		return 503;
	}
	return 404;
}

/* A TCP connection to 127.0.0.1:port from the loopback address from (e.g. "127.0.0.2"). */
static int connect_from(const char *from, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Runs the server's handler for a few rounds at the clock now_ms. */
static void pump(struct httpd *h, int64_t now_ms)
{
	for (int round = 0; round < 50; round++) {
		struct pollfd pfds[HTTPD_MAX_CONNS + 1];
		int n = httpd_pollfds(h, pfds, HTTPD_MAX_CONNS + 1);
		poll(pfds, (nfds_t)n, 20);
		httpd_handle(h, pfds, n, now_ms);
	}
}

/* Sends one request to the server on port from address from, pumping its handler until the
 * reply is complete. */
static void roundtrip_from(struct httpd *h, const char *from, int port, const char *req,
			   char *reply, size_t cap)
{
	int fd = connect_from(from, port);
	size_t len = 0;

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	pump(h, 0);
	for (;;) {
		ssize_t r = recv(fd, reply + len, cap - 1 - len, MSG_DONTWAIT);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	reply[len] = '\0';
	close(fd);
}

static void roundtrip(struct httpd *h, int port, const char *req, char *reply, size_t cap)
{
	roundtrip_from(h, "127.0.0.1", port, req, reply, cap);
}

/* 1 when the server closed fd (EOF or reset), 0 while it is open. */
static int closed_by_server(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN);
}

static int listen_port(struct httpd *h)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	assert_int_equal(getsockname(h->listen_fd, (struct sockaddr *)&sa, &sl), 0);
	return ntohs(sa.sin_port);
}

#define FLOOD 16

/* Idle connections from one peer hold every slot: a probe from the same address still gets
 * its answer (the oldest idle connection makes room). */
static void test_idle_flood_same_peer(void **state)
{
	static char reply[4096];
	struct metrics m = {0};
	struct httpd h;
	char err[128];
	int idle[FLOOD];

	(void)state;
	assert_int_equal(httpd_listen(&h, "127.0.0.1:0", handler, &m, err, sizeof(err)), 0);
	int port = listen_port(&h);
	for (int i = 0; i < FLOOD; i++) {
		idle[i] = connect_from("127.0.0.1", port);
		pump(&h, 0);
	}
	roundtrip(&h, port, "GET /readyz HTTP/1.1\r\n\r\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 503 Service Unavailable\r\n"));
	assert_true(h.evicted >= FLOOD - HTTPD_MAX_PER_PEER);
	for (int i = 0; i < FLOOD; i++)
		close(idle[i]);
	httpd_close(&h);
}

/* One peer's idle connections hold at most HTTPD_MAX_PER_PEER slots; another peer's probe is
 * answered and evicts nothing of its own. */
static void test_idle_flood_other_peer(void **state)
{
	static char reply[4096];
	struct metrics m = {0};
	struct httpd h;
	char err[128];
	int idle[FLOOD], open_now = 0;

	(void)state;
	assert_int_equal(httpd_listen(&h, "127.0.0.1:0", handler, &m, err, sizeof(err)), 0);
	int port = listen_port(&h);
	for (int i = 0; i < FLOOD; i++)
		idle[i] = connect_from("127.0.0.2", port);
	pump(&h, 0);
	for (int i = 0; i < FLOOD; i++)
		open_now += !closed_by_server(idle[i]);
	assert_int_equal(open_now, HTTPD_MAX_PER_PEER);
	roundtrip_from(&h, "127.0.0.3", port, "GET /nothing HTTP/1.1\r\n\r\n", reply,
		       sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 404 Not Found\r\n"));
	for (int i = 0; i < FLOOD; i++)
		close(idle[i]);
	httpd_close(&h);
}

/* A connection that sends nothing is closed after HTTPD_IDLE_MS; one that started a request
 * has until HTTPD_TIMEOUT_MS. */
static void test_idle_timeout(void **state)
{
	struct metrics m = {0};
	struct httpd h;
	char err[128];

	(void)state;
	assert_int_equal(httpd_listen(&h, "127.0.0.1:0", handler, &m, err, sizeof(err)), 0);
	int port = listen_port(&h);
	int silent = connect_from("127.0.0.1", port);
	int slow = connect_from("127.0.0.1", port);
	assert_int_equal(send(slow, "GET /", 5, 0), 5);
	pump(&h, 0);
	assert_int_equal(httpd_next_deadline(&h), HTTPD_IDLE_MS);
	pump(&h, HTTPD_IDLE_MS);
	assert_true(closed_by_server(silent));
	assert_false(closed_by_server(slow));
	pump(&h, HTTPD_TIMEOUT_MS);
	assert_true(closed_by_server(slow));
	assert_int_equal(httpd_next_deadline(&h), INT64_MAX);
	close(silent);
	close(slow);
	httpd_close(&h);
}

static void test_serves_metrics_and_status(void **state)
{
	static char reply[32768];
	struct metrics m = {0};
	struct httpd h;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char err[128];

	(void)state;
	m.watch_events[KIND_POD] = 7;
	metrics_observe_apply(&m, 0.003);
	assert_int_equal(httpd_listen(&h, "127.0.0.1:0", handler, &m, err, sizeof(err)), 0);
	assert_int_equal(getsockname(h.listen_fd, (struct sockaddr *)&sa, &sl), 0);
	int port = ntohs(sa.sin_port);

	roundtrip(&h, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(reply, "mnp_watch_events_total{resource=\"pods\"} 7\n"));
	assert_non_null(strstr(reply, "mnp_apply_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(reply, "mnp_apply_duration_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(reply, "process_resident_memory_bytes "));

	roundtrip(&h, port, "GET /readyz HTTP/1.1\r\n\r\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 503 Service Unavailable\r\n"));
	roundtrip(&h, port, "GET /nothing HTTP/1.1\r\n\r\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 404 Not Found\r\n"));
	roundtrip(&h, port, "BREW /pot HTTP/1.1\r\n\r\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 400 Bad Request\r\n"));
	httpd_close(&h);
}

/* A GET to 127.0.0.1 or ::1 on port: 1 when answered, 0 when refused. */
static int answers(struct httpd *h, int family, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	}
	int fd = socket(family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return 0;
	}
	const char req[] = "GET /healthz HTTP/1.1\r\n\r\n";
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	pump(h, 0);
	char reply[512];
	ssize_t r = recv(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT);
	close(fd);
	reply[r > 0 ? r : 0] = 0;
	return strncmp(reply, "HTTP/1.1 ", 9) == 0;
}

/* ":PORT" listens on both families (IPv6-only clusters probe over IPv6); an explicit address
 * is honoured as given. */
static void test_listen_families(void **state)
{
	struct metrics m = {0};
	struct httpd h;
	char err[128];

	(void)state;
	assert_int_equal(httpd_listen(&h, ":0", handler, &m, err, sizeof(err)), 0);
	int port = listen_port(&h);
	assert_true(answers(&h, AF_INET, port));
	assert_true(answers(&h, AF_INET6, port));
	httpd_close(&h);
	assert_int_equal(httpd_listen(&h, "0.0.0.0:0", handler, &m, err, sizeof(err)), 0);
	port = listen_port(&h);
	assert_true(answers(&h, AF_INET, port));
	assert_false(answers(&h, AF_INET6, port));
	httpd_close(&h);
	assert_int_equal(httpd_listen(&h, "[::1]:0", handler, &m, err, sizeof(err)), 0);
	port = listen_port(&h);
	assert_false(answers(&h, AF_INET, port));
	assert_true(answers(&h, AF_INET6, port));
	httpd_close(&h);
}

static void test_bad_listen_address(void **state)
{
	struct httpd h;
	char err[128];

	(void)state;
	assert_int_equal(httpd_listen(&h, "localhost", handler, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad listen address"));
	assert_int_equal(httpd_listen(&h, "1.2.3.4.5:80", handler, NULL, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_request),
	    cmocka_unit_test(test_serves_metrics_and_status),
	    cmocka_unit_test(test_bad_listen_address),
	    cmocka_unit_test(test_listen_families),
	    cmocka_unit_test(test_idle_flood_same_peer),
	    cmocka_unit_test(test_idle_flood_other_peer),
	    cmocka_unit_test(test_idle_timeout),
	};
	return cmocka_run_group_tests_name("httpd", tests, NULL, NULL);
}
