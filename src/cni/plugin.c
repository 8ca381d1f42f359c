/* The chained plugin: ADD asks the agent to commit the pod's table and returns prevResult
 * unchanged once it has; without an answer in time it applies onAgentUnavailable. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cni/cni.h"
#include "nft/apply.h"
#include "util/clock.h"
#include "util/json.h"

#define DEL_TIMEOUT_MS 1000
#define MAX_ARGS 32

struct plugin {
	const char *command;
	const char *cni_version; /* for error objects */
	struct cni_config conf;
	struct cni_request req;
};


/* 0.3.x results carry the same interfaces and ips as 0.4.0 (NADs still often say 0.3.1); the
 * plugin reads only the addresses and passes prevResult on unchanged. 0.3.x has no CHECK. */
#define SUPPORTED_TEXT "0.3.0, 0.3.1, 0.4.0, 1.0.0"
static bool version_supported(const char *v)
{
	static const char *const ok[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(v, ok[i]))
			return true;
	return false;
}
/* Prints the CNI error object on stdout (and the message on stderr); returns the exit status. */
static int cni_fail(const struct plugin *p, int code, const char *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cni_fail(const struct plugin *p, int code, const char *details, const char *fmt, ...)
{
	char msg[1024], line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "multi-networkpolicy-cni: %s\n", msg);
	if (cni_error_format(p->cni_version, code, msg, details, line, sizeof(line)) > 0)
		fputs(line, stdout);
	fflush(stdout);
	return 1;
}

/* Reads all of stdin into a buffer of at most CNI_CONFIG_MAX bytes; NULL when larger or on
 * error (errno set: EFBIG when too large). */
static char *read_stdin(size_t *len)
{
	size_t cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	*len = 0;
	while (buf) {
		if (*len == cap) {
			char *b = cap > CNI_CONFIG_MAX ? NULL : realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				errno = cap > CNI_CONFIG_MAX ? EFBIG : ENOMEM;
				return NULL;
			}
			buf = b;
			cap *= 2;
		}
		n = read(0, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (buf && *len > CNI_CONFIG_MAX) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	return buf;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		struct pollfd pfd = {.fd = fd, .events = events};
		if (left <= 0)
			return errno = ETIMEDOUT, -1;
		int rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Sends the request and reads the one-line reply before the deadline. 0, or -1 with err. */
static int ask_agent(const char *path, const struct cni_request *req, int64_t deadline,
		     struct cni_reply *reply, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char line[CNI_LINE_MAX];
	size_t got = 0;
	int fd, n = cni_request_format(req, line, sizeof(line)), rc = -1;

	if (n < 0)
		return snprintf(err, errlen, "request too large"), -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return snprintf(err, errlen, "socket: %s", strerror(errno)), -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS &&
	    errno != EAGAIN) {
		snprintf(err, errlen, "agent socket %s: %s", path, strerror(errno));
		goto out;
	}
	for (size_t sent = 0; sent < (size_t)n;) {
		ssize_t w = send(fd, line + sent, (size_t)n - sent, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				goto io_fail;
			continue;
		}
		if (w < 0)
			goto io_fail;
		sent += (size_t)w;
	}
	while (!memchr(line, '\n', got)) {
		ssize_t r;
		if (got == sizeof(line)) {
			snprintf(err, errlen, "agent reply longer than %zu bytes", sizeof(line));
			goto out;
		}
		if (wait_fd(fd, POLLIN, deadline) < 0)
			goto io_fail;
		r = recv(fd, line + got, sizeof(line) - got, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "agent closed the connection without an answer");
			goto out;
		}
		got += (size_t)r;
	}
	if (cni_reply_parse(reply, line, (size_t)((char *)memchr(line, '\n', got) - line)) < 0) {
		snprintf(err, errlen, "agent reply is not understood");
		goto out;
	}
	rc = 0;
	goto out;
io_fail:
	snprintf(err, errlen, "agent socket %s: %s", path,
		 errno == ETIMEDOUT ? "no answer in time" : strerror(errno));
out:
	close(fd);
	return rc;
}

static int env_str(const char *name, char *buf, size_t cap, bool required, char *err, size_t errlen)
{
	const char *v = getenv(name);

	buf[0] = '\0';
	if (!v || !*v) {
		if (required)
			snprintf(err, errlen, "%s is not set", name);
		return required ? -1 : 0;
	}
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s is longer than %zu bytes", name, cap - 1);
		return -1;
	}
	memcpy(buf, v, strlen(v) + 1);
	return 0;
}

/* CNI_* and CNI_ARGS into the request. */
static int read_env(struct plugin *p, char *err, size_t errlen)
{
	struct cni_request *r = &p->req;
	struct cni_arg args[MAX_ARGS];
	size_t nargs = MAX_ARGS;
	const char *cargs = getenv("CNI_ARGS");
	bool del = strcmp(p->command, "DEL") == 0;

	r->version = CNI_PROTO_VERSION;
	snprintf(r->command, sizeof(r->command), "%s", p->command);
	if (env_str("CNI_CONTAINERID", r->container_id, sizeof(r->container_id), true, err,
		    errlen) < 0 ||
	    env_str("CNI_NETNS", r->netns, sizeof(r->netns), !del, err, errlen) < 0 ||
	    env_str("CNI_IFNAME", r->ifname, sizeof(r->ifname), true, err, errlen) < 0)
		return -1;
	if (cargs && cni_args_parse(cargs, strlen(cargs), args, &nargs) < 0) {
		snprintf(err, errlen, "CNI_ARGS is not a list of KEY=VALUE separated by ';'");
		return -1;
	}
	if (!cargs)
		nargs = 0;
	if (cni_args_get(args, nargs, "K8S_POD_NAMESPACE", r->pod_ns, sizeof(r->pod_ns)) < 0 ||
	    cni_args_get(args, nargs, "K8S_POD_NAME", r->pod_name, sizeof(r->pod_name)) < 0 ||
	    !r->pod_ns[0] || !r->pod_name[0]) {
		if (del)
			return 0;
		snprintf(err, errlen,
			 "CNI_ARGS must name the pod (K8S_POD_NAMESPACE, K8S_POD_NAME)");
		return -1;
	}
	if (cni_args_get(args, nargs, "K8S_POD_UID", r->pod_uid, sizeof(r->pod_uid)) < 0)
		r->pod_uid[0] = '\0';
	return 0;
}

static int print_prev_result(const struct plugin *p)
{
	fwrite(p->conf.prev_result, 1, p->conf.prev_result_len, stdout);
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* The agent gave no usable answer (why): onAgentUnavailable decides. */
static int add_unavailable(struct plugin *p, const char *why)
{
	char err[512];

	switch (p->conf.on_unavailable) {
	case CNI_IGNORE:
		fprintf(stderr,
			"multi-networkpolicy-cni: %s; onAgentUnavailable=ignore: %s left "
			"as it is\n",
			why, p->req.ifname);
		return print_prev_result(p);
	case CNI_FAIL:
		return cni_fail(p, CNI_ERR_AGENT, why, "pod %s/%s: no answer from the agent",
				p->req.pod_ns, p->req.pod_name);
	case CNI_ISOLATE:
		break;
	}
	if (cni_isolate(p->req.netns, p->req.ifname, p->req.ips, p->req.nips, err, sizeof(err)) < 0)
		return cni_fail(p, CNI_ERR_ISOLATE, why,
				"pod %s/%s: the agent did not answer and isolating %s failed: %s",
				p->req.pod_ns, p->req.pod_name, p->req.ifname, err);
	fprintf(stderr, "multi-networkpolicy-cni: %s; %s isolated until the agent takes over\n",
		why, p->req.ifname);
	return print_prev_result(p);
}

static int cmd_add(struct plugin *p)
{
	struct cni_reply reply;
	char err[512], why[1024];
	int64_t deadline = mono_ms() + p->conf.agent_timeout_ms;

	if (!p->conf.prev_result)
		return cni_fail(p, CNI_ERR_INVALID_CONFIG, NULL,
				"config: \"prevResult\" is missing: chain this plugin after the "
				"plugin that creates the interface");
	p->req.timeout_ms = p->conf.agent_timeout_ms;
	if (ask_agent(p->conf.agent_socket, &p->req, deadline, &reply, err, sizeof(err)) < 0)
		return add_unavailable(p, err);
	if (reply.status == CNI_ST_APPLIED || reply.status == CNI_ST_NONE)
		return print_prev_result(p);
	snprintf(why, sizeof(why), "agent: %s", reply.msg);
	return add_unavailable(p, why);
}

static int cmd_check(struct plugin *p)
{
	struct cni_reply reply;
	char err[640];
	bool present = false;

	p->req.timeout_ms = p->conf.agent_timeout_ms;
	if (ask_agent(p->conf.agent_socket, &p->req, mono_ms() + p->conf.agent_timeout_ms, &reply,
		      err, sizeof(err)) == 0) {
		if (reply.status == CNI_ST_APPLIED || reply.status == CNI_ST_NONE)
			return 0;
		if (reply.status == CNI_ST_ERROR)
			return cni_fail(p, CNI_ERR_CHECK, reply.msg,
					"pod %s/%s: policy not in place", p->req.pod_ns,
					p->req.pod_name);
		snprintf(err, sizeof(err), "agent: %s", reply.msg);
	}
	if (p->conf.on_unavailable == CNI_IGNORE)
		return 0;
	if (p->conf.on_unavailable == CNI_FAIL)
		return cni_fail(p, CNI_ERR_AGENT, err, "pod %s/%s: no answer from the agent",
				p->req.pod_ns, p->req.pod_name);
	if (nft_table_present(p->req.netns, NULL, &present, NULL, err, sizeof(err)) < 0 || !present)
		return cni_fail(p, CNI_ERR_CHECK, err,
				"pod %s/%s: the agent does not answer and no table isolates %s",
				p->req.pod_ns, p->req.pod_name, p->req.ifname);
	return 0;
}

/* Best effort: the agent lets go of the sandbox's netns. Always succeeds. */
static int cmd_del(struct plugin *p)
{
	struct cni_reply reply;
	char err[512];
	uint32_t t =
	    p->conf.agent_timeout_ms < DEL_TIMEOUT_MS ? p->conf.agent_timeout_ms : DEL_TIMEOUT_MS;

	p->req.timeout_ms = t;
	if (ask_agent(p->conf.agent_socket, &p->req, mono_ms() + t, &reply, err, sizeof(err)) < 0)
		fprintf(stderr, "multi-networkpolicy-cni: DEL %s: %s (ignored)\n",
			p->req.container_id, err);
	return 0;
}

static int run(struct plugin *p)
{
	char err[1024];
	size_t len;
	char *text;
	jsmntok_t *tok = NULL;
	int n, rc;
	bool del = strcmp(p->command, "DEL") == 0;

	text = read_stdin(&len);
	if (!text)
		return del ? 0
			   : cni_fail(p, CNI_ERR_IO, NULL, "reading the config from stdin: %s",
				      errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
	n = json_count_tokens(text, len);
	if (n <= 0 || !(tok = malloc((size_t)n * sizeof(*tok)))) {
		rc = del ? 0 : cni_fail(p, CNI_ERR_DECODE, NULL, "config: not valid JSON");
		goto out;
	}
	if (cni_config_parse(&p->conf, text, len, tok, n, getenv("CNI_IFNAME"), err, sizeof(err)) <
	    0) {
		if (p->conf.cni_version[0])
			p->cni_version = p->conf.cni_version;
		rc = del ? 0
			 : cni_fail(p,
				    strstr(err, "not a JSON object") ? CNI_ERR_DECODE
								     : CNI_ERR_INVALID_CONFIG,
				    NULL, "%s", err);
		goto out;
	}
	p->cni_version = p->conf.cni_version;
	if (!version_supported(p->conf.cni_version)) {
		p->cni_version = "1.0.0";
		rc = del ? 0
			 : cni_fail(p, CNI_ERR_INCOMPATIBLE, "supported: " SUPPORTED_TEXT,
				    "cniVersion %s is not supported", p->conf.cni_version);
		goto out;
	}
	if (read_env(p, err, sizeof(err)) < 0) {
		rc = del ? 0 : cni_fail(p, CNI_ERR_INVALID_ENV, NULL, "%s", err);
		goto out;
	}
	snprintf(p->req.network, sizeof(p->req.network), "%s", p->conf.name);
	p->req.nips = p->conf.nips;
	memcpy(p->req.ips, p->conf.ips, sizeof(p->req.ips));
	if (strcmp(p->command, "ADD") == 0)
		rc = cmd_add(p);
	else if (del)
		rc = cmd_del(p);
	else
		rc = cmd_check(p);
out:
	free(tok);
	free(text);
	return rc;
}

/* Copies this binary to DIR/multi-networkpolicy-cni, replacing it atomically: the scratch
 * image has no cp, so an init container runs this. */
static int install(const char *dir)
{
	char tmp[CNI_PATH_MAX], dst[CNI_PATH_MAX], buf[65536];
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), out = -1;
	ssize_t n = 0;

	snprintf(dst, sizeof(dst), "%s/multi-networkpolicy-cni", dir);
	snprintf(tmp, sizeof(tmp), "%s/.multi-networkpolicy-cni.tmp", dir);
	if (in >= 0)
		out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (in < 0 || out < 0 || n < 0 || fsync(out) < 0 || close(out) < 0 ||
	    rename(tmp, dst) < 0) {
		fprintf(stderr, "cni install: %s: %s\n", dst, strerror(errno));
		unlink(tmp);
		return 1;
	}
	close(in);
	printf("installed %s\n", dst);
	return 0;
}

int cni_plugin_main(int argc, char **argv)
{
	static struct plugin p; /* large: keep it off the stack */
	const char *cmd = getenv("CNI_COMMAND");

	if (argc == 2 && strcmp(argv[0], "install") == 0)
		return install(argv[1]);

	memset(&p, 0, sizeof(p));
	p.cni_version = "1.0.0";
	p.command = cmd ? cmd : "";
	if (!cmd || !*cmd)
		return cni_fail(&p, CNI_ERR_INVALID_ENV, NULL,
				"CNI_COMMAND is not set (this is a CNI plugin: see README)");
	if (strcmp(cmd, "VERSION") == 0) {
		printf("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\","
		       "\"0.4.0\",\"1.0.0\"]}\n");
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "ADD") != 0 && strcmp(cmd, "DEL") != 0 && strcmp(cmd, "CHECK") != 0)
		return cni_fail(&p, CNI_ERR_INVALID_ENV, NULL, "CNI_COMMAND %.32s is not supported",
				cmd);
	return run(&p);
}
