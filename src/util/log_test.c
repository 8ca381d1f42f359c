/* Unit tests of logging: text from the network cannot forge a line or reach a terminal raw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

/* What one log_error("%s", text) writes, without the "E.... hh:mm:ss.uuuuuu " prefix. */
static void logged(const char *text, char *out, size_t cap)
{
	int p[2], saved = dup(STDERR_FILENO);
	assert_int_equal(pipe(p), 0);
	dup2(p[1], STDERR_FILENO);
	log_error("%s", text);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	char buf[4096];
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 22);
	buf[n] = '\0';
	snprintf(out, cap, "%s", buf + 22); /* "E1205 04:07:42.300052 " */
}

static void test_escapes(void **state)
{
	char out[4096];
	logged("plain text, UTF-8 caf\xc3\xa9 ok", out, sizeof(out));
	assert_string_equal(out, "plain text, UTF-8 caf\xc3\xa9 ok\n");
	logged("bad\nE1205 00:00:00.000000 forged\r\t\x1b[2J\x7f", out, sizeof(out));
	assert_string_equal(out, "bad\\nE1205 00:00:00.000000 forged\\r\\t\\x1b[2J\\x7f\n");
	/* invalid UTF-8 and C1 controls (U+009B is a terminal CSI) */
	logged("a\xff\xc3(\xc2\x9b"
	       "b",
	       out, sizeof(out));
	assert_string_equal(out, "a\\xff\\xc3(\\xc2\\x9bb\n");
}

static void test_long_line_stays_one_line(void **state)
{
	char text[3000], out[4096];
	memset(text, '\n', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	logged(text, out, sizeof(out));
	size_t n = strlen(out);
	assert_true(n > 1000);
	assert_int_equal(out[n - 1], '\n');
	assert_null(memchr(out, '\n', n - 1)); /* one line, cut, never split */
}

/* The whole line one log_warn("%s", text) writes. */
static void logged_line(const char *text, char *out, size_t cap)
{
	int p[2], saved = dup(STDERR_FILENO);
	assert_int_equal(pipe(p), 0);
	dup2(p[1], STDERR_FILENO);
	log_warn("%s", text);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	ssize_t n = read(p[0], out, cap - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
}

/* --log-format=json: one object per line, the message and the object's names escaped so the
 * line stays one valid JSON object whatever they hold. */
static void test_json_lines(void **state)
{
	char out[8192];
	log_format = LOG_JSON;
	logged_line("applied \"x\"\\ \n{\"forged\":1}", out, sizeof(out));
	assert_non_null(strstr(out, "\"level\":\"warning\",\"msg\":\"applied \\\"x\\\"\\\\ "
				    "\\\\n{\\\"forged\\\":1}\"}\n"));
	assert_int_equal(strncmp(out, "{\"ts\":\"", 7), 0);
	assert_null(memchr(out, '\n', strlen(out) - 1));
	log_object("Pod", "ns-a", "web\"-1");
	logged_line("m", out, sizeof(out));
	assert_non_null(strstr(out, "\"msg\":\"m\",\"kind\":\"Pod\",\"namespace\":\"ns-a\","
				    "\"name\":\"web\\\"-1\"}\n"));
	log_object(NULL, NULL, NULL);
	logged_line("m", out, sizeof(out));
	assert_null(strstr(out, "namespace"));
	char big[3000];
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	logged_line(big, out, sizeof(out));
	size_t n = strlen(out);
	assert_string_equal(out + n - 3, "\"}\n"); /* cut, still closed */
	log_format = LOG_TEXT;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_lines),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_long_line_stays_one_line),
	};
	return cmocka_run_group_tests_name("util/log", tests, NULL, NULL);
}
