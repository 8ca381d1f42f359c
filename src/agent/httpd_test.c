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
	assert_int_equal(httpd_parse_request("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n",
					     53, path, 32),
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

/* Sends one request to the server on port, pumping its handler until the reply is complete. */
static void roundtrip(struct httpd *h, int port, const char *req, char *reply, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t len = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	for (int round = 0; round < 50; round++) {
		struct pollfd pfds[HTTPD_MAX_CONNS + 1];
		int n = httpd_pollfds(h, pfds, HTTPD_MAX_CONNS + 1);
		poll(pfds, (nfds_t)n, 20);
		httpd_handle(h, pfds, n, 0);
	}
	for (;;) {
		ssize_t r = recv(fd, reply + len, cap - 1 - len, MSG_DONTWAIT);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	reply[len] = '\0';
	close(fd);
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
	};
	return cmocka_run_group_tests_name("httpd", tests, NULL, NULL);
}
