/* Unit tests of the HTTP/1.1 response parser and the chunked decoder, with input split at every
 * byte position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/http.h"

static const char resp[] = "HTTP/1.1 200 OK\r\n"
			   "Content-Type: application/json\r\n"
			   "Transfer-Encoding:  chunked \r\n"
			   "X-Empty:\r\n"
			   "\r\n"
			   "5\r\nhello\r\n";

static void test_parse_full(void **state)
{
	int minor, status;
	const char *msg;
	size_t msg_len, n = HTTP_HEADER_MAX;
	struct http_header h[HTTP_HEADER_MAX];
	size_t hdr_len = strstr(resp, "\r\n\r\n") - resp + 4;

	int r = http_parse_response(resp, sizeof(resp) - 1, &minor, &status, &msg, &msg_len, h, &n);
	assert_int_equal(r, (int)hdr_len);
	assert_int_equal(minor, 1);
	assert_int_equal(status, 200);
	assert_int_equal(msg_len, 2);
	assert_memory_equal(msg, "OK", 2);
	assert_int_equal(n, 3);
	const struct http_header *te = http_header_find(h, n, "transfer-encoding");
	assert_non_null(te);
	assert_int_equal(te->value_len, 7);
	assert_memory_equal(te->value, "chunked", 7);
	assert_int_equal(http_header_find(h, n, "x-empty")->value_len, 0);
	assert_null(http_header_find(h, n, "content-length"));

	struct http_body_info bi;
	assert_int_equal(http_body_info(minor, status, h, n, &bi), 0);
	assert_int_equal(bi.kind, HTTP_BODY_CHUNKED);
	assert_true(bi.keep_alive);
}

/* Every prefix of a valid header block is "need more", never malformed. */
static void test_parse_every_prefix(void **state)
{
	size_t hdr_len = strstr(resp, "\r\n\r\n") - resp + 4;
	for (size_t cut = 0; cut < hdr_len; cut++) {
		int minor, status;
		const char *msg;
		size_t msg_len, n = HTTP_HEADER_MAX;
		struct http_header h[HTTP_HEADER_MAX];
		char *copy = malloc(cut + 1); /* exact size so ASan catches overreads */
		memcpy(copy, resp, cut);
		int r = http_parse_response(copy, cut, &minor, &status, &msg, &msg_len, h, &n);
		free(copy);
		assert_int_equal(r, -2);
	}
}

static void test_parse_malformed(void **state)
{
	static const char *bad[] = {
	    "HTTP/2 200 OK\r\n\r\n",
	    "HTTX/1.1 200 OK\r\n\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 200OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n: v\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA B: v\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
	    "garbage",
	    "HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int minor, status;
		const char *msg;
		size_t msg_len, n = HTTP_HEADER_MAX;
		struct http_header h[HTTP_HEADER_MAX];
		int r = http_parse_response(bad[i], strlen(bad[i]), &minor, &status, &msg, &msg_len,
					    h, &n);
		if (r != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	/* more headers than slots */
	int minor, status;
	const char *msg;
	size_t msg_len, n = 1;
	struct http_header h[1];
	const char *two = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
	assert_int_equal(
	    http_parse_response(two, strlen(two), &minor, &status, &msg, &msg_len, h, &n), -1);
}

static void test_body_info(void **state)
{
	struct http_header h[2] = {{"Content-Length", 14, "42", 2}, {"Connection", 10, "close", 5}};
	struct http_body_info bi;
	assert_int_equal(http_body_info(1, 200, h, 1, &bi), 0);
	assert_int_equal(bi.kind, HTTP_BODY_LENGTH);
	assert_int_equal(bi.length, 42);
	assert_true(bi.keep_alive);
	assert_int_equal(http_body_info(1, 200, h, 2, &bi), 0);
	assert_false(bi.keep_alive);
	assert_int_equal(http_body_info(1, 200, h + 1, 1, &bi), 0);
	assert_int_equal(bi.kind, HTTP_BODY_CLOSE);
	struct http_header dup[2] = {{"Content-Length", 14, "1", 1},
				     {"content-length", 14, "2", 1}};
	assert_int_equal(http_body_info(1, 200, dup, 2, &bi), -1);
	struct http_header neg[1] = {{"Content-Length", 14, "-1", 2}};
	assert_int_equal(http_body_info(1, 200, neg, 1, &bi), -1);
	struct http_header both[2] = {{"Content-Length", 14, "1", 1},
				      {"Transfer-Encoding", 17, "chunked", 7}};
	assert_int_equal(http_body_info(1, 200, both, 2, &bi), -1);
	struct http_header gz[1] = {{"Transfer-Encoding", 17, "gzip", 4}};
	assert_int_equal(http_body_info(1, 200, gz, 1, &bi), -1);
	assert_int_equal(http_body_info(1, 204, NULL, 0, &bi), 0);
	assert_int_equal(bi.kind, HTTP_BODY_NONE);
}

static const char chunked[] = "4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n"
			      "0\r\nTrailer: x\r\n\r\nHTTP/1.1";
static const char decoded[] = "Wikipedia in \r\n\r\nchunks.";

/* Feeds `chunked` in two pieces split at every position, decoding as it goes. */
static void test_chunked_every_split(void **state)
{
	size_t total = sizeof(chunked) - 1;
	for (size_t cut = 0; cut <= total; cut++) {
		struct http_chunked d = {0};
		char out[256], buf[256];
		size_t outlen = 0, pending = 0;
		ssize_t r = -2;
		size_t pieces[2] = {cut, total - cut}, pos = 0;
		for (int p = 0; p < 2 && r == -2; p++) {
			memcpy(buf + pending, chunked + pos, pieces[p]);
			pos += pieces[p];
			size_t len = pending + pieces[p];
			r = http_decode_chunked(&d, buf, &len);
			assert_true(r != -1);
			memcpy(out + outlen, buf, len);
			outlen += len;
			pending = 0;
			if (r >= 0) {
				/* what follows the body: the rest of this piece, then unfed input
				 */
				char rest[16];
				size_t unfed = total - pos;
				assert_int_equal((size_t)r + unfed, 8);
				memcpy(rest, buf + len, (size_t)r);
				memcpy(rest + r, chunked + pos, unfed);
				assert_memory_equal(rest, "HTTP/1.1", 8);
			}
		}
		assert_true(r >= 0);
		assert_int_equal(outlen, sizeof(decoded) - 1);
		assert_memory_equal(out, decoded, outlen);
	}
}

/* One byte at a time. */
static void test_chunked_bytewise(void **state)
{
	struct http_chunked d = {0};
	char out[256];
	size_t outlen = 0;
	ssize_t r = -2;
	for (size_t i = 0; i < sizeof(chunked) - 1 && r == -2; i++) {
		char b = chunked[i];
		size_t len = 1;
		r = http_decode_chunked(&d, &b, &len);
		assert_true(r != -1);
		memcpy(out + outlen, &b, len);
		outlen += len;
	}
	assert_true(r >= 0);
	assert_int_equal(outlen, sizeof(decoded) - 1);
	assert_memory_equal(out, decoded, outlen);
}

static void test_chunked_malformed(void **state)
{
	static const char *bad[] = {"x\r\n", "\r\n", "5\r\nhelloX", "5\r\nhello\rX",
				    "ffffffffffffffffff\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_chunked d = {0};
		char buf[64];
		size_t len = strlen(bad[i]);
		memcpy(buf, bad[i], len);
		if (http_decode_chunked(&d, buf, &len) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_full),		cmocka_unit_test(test_parse_every_prefix),
	    cmocka_unit_test(test_parse_malformed),	cmocka_unit_test(test_body_info),
	    cmocka_unit_test(test_chunked_every_split), cmocka_unit_test(test_chunked_bytewise),
	    cmocka_unit_test(test_chunked_malformed),
	};
	return cmocka_run_group_tests_name("kube/http", tests, NULL, NULL);
}
