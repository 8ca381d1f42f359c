/* Unit tests of the CRI client's pure parts: netns from verbose info, gRPC framing, and the
 * nanopb message decoding (responses built here with nanopb's encoder). The transport is tested
 * against a CRI double and a real containerd by tests/t-cri*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "cri/cri.h"
#include "cri/h2grpc.h"
#include "cri/messages.h"
#include "cri/runtime.pb.h"

static const char containerd_info[] =
    "{\"pid\":4242,\"processStatus\":\"running\",\"netNamespaceClosed\":false,"
    "\"image\":\"registry.k8s.io/pause:3.9\",\"runtimeType\":\"io.containerd.runc.v2\","
    "\"runtimeSpec\":{\"ociVersion\":\"1.0.2-dev\",\"linux\":{\"namespaces\":["
    "{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},"
    "{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1234\"}]}},"
    "\"cniResult\":{\"Interfaces\":{\"eth0\":{\"Sandbox\":\"/var/run/netns/cni-1234\"}}},"
    "\"sandboxMetadata\":{\"ID\":\"abc\",\"NetNSPath\":\"/var/run/netns/cni-meta\"}}";

static int netns(const char *info, const char *prefix, char *path, size_t cap, char *err)
{
	return cri_netns_from_info(info, strlen(info), prefix, path, cap, err, 256);
}

static void test_info_containerd(void **state)
{
	char path[CRI_PATH_MAX], err[256];

	assert_int_equal(netns(containerd_info, NULL, path, sizeof(path), err), 0);
	assert_string_equal(path, "/var/run/netns/cni-1234");
	assert_int_equal(netns(containerd_info, "/host/", path, sizeof(path), err), 0);
	assert_string_equal(path, "/host/var/run/netns/cni-1234");
	assert_int_equal(netns(containerd_info, "/host", path, sizeof(path), err), 0);
	assert_string_equal(path, "/host/var/run/netns/cni-1234");
	/* One byte short of the path and its NUL. */
	assert_int_equal(
	    netns(containerd_info, "/host", path, strlen("/host/var/run/netns/cni-1234"), err), -1);
	assert_non_null(strstr(err, "too long"));
}

static void test_info_fallbacks(void **state)
{
	char path[CRI_PATH_MAX], err[256];

	/* containerd before the spec exists: sandboxMetadata.NetNSPath. */
	assert_int_equal(netns("{\"pid\":7,\"sandboxMetadata\":{\"NetNSPath\":\"/run/netns/m\"}}",
			       NULL, path, sizeof(path), err),
			 0);
	assert_string_equal(path, "/run/netns/m");
	/* Only a pid. */
	assert_int_equal(netns("{\"pid\":123}", "/h", path, sizeof(path), err), 0);
	assert_string_equal(path, "/h/proc/123/ns/net");
	/* CRI-O with the infra container dropped: pid 0, the spec has the pinned netns. */
	assert_int_equal(
	    netns("{\"image\":\"p\",\"pid\":0,\"runtimeSpec\":{\"linux\":{\"namespaces\""
		  ":[{\"type\":\"network\",\"path\":\"/var/run/netns/crio-1\"}]}}}",
		  NULL, path, sizeof(path), err),
	    0);
	assert_string_equal(path, "/var/run/netns/crio-1");
	/* A network namespace made by the sandbox process itself (no path): its pid. */
	assert_int_equal(netns("{\"pid\":99,\"runtimeSpec\":{\"linux\":{\"namespaces\":[{\"type\":"
			       "\"network\"}]}}}",
			       NULL, path, sizeof(path), err),
			 0);
	assert_string_equal(path, "/proc/99/ns/net");
	/* JSON escapes are undone. */
	assert_int_equal(netns("{\"runtimeSpec\":{\"linux\":{\"namespaces\":[{\"type\":\"network\","
			       "\"path\":\"\\/var\\/run\\/netns\\/e\"}]}}}",
			       NULL, path, sizeof(path), err),
			 0);
	assert_string_equal(path, "/var/run/netns/e");
}

/* The verbose info real containerd releases returned for a pod sandbox (tests/containerd/start,
 * RunPodSandbox as the kubelet does), trimmed of bulk (capabilities, mounts, other interfaces);
 * read from the repository root, where the unit tests run. */
struct real_info {
	const char *file;
	const char *netns; /* runtimeSpec's network namespace path */
	int pid;
	int has_meta; /* sandboxMetadata.Metadata.NetNSPath present (2.x) */
};

static const struct real_info real_infos[] = {
    {"containerd-1.6.json",
     "/tmp/rt16/state/io.containerd.grpc.v1.cri/netns/cni-053cad53-5a0d-6161-d41b-26900bf51193",
     13565, 0},
    {"containerd-1.7.json",
     "/tmp/rt17/state/io.containerd.grpc.v1.cri/netns/cni-69060d39-5d42-9c8c-3585-f46cf1ee8c21",
     10003, 0},
    {"containerd-2.1.json",
     "/tmp/rt21/state/io.containerd.grpc.v1.cri/netns/cni-e8f474e4-9ded-1af7-37cc-ae431a4bec25",
     5960, 1},
};

static char *read_seed(const char *name)
{
	char path[256];
	FILE *f;
	long n;
	char *text;

	snprintf(path, sizeof(path), "tests/fuzz-seeds/cri_info/%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (unit tests run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = 0;
	fclose(f);
	return text;
}

/* Hides a top-level member from the decoder by renaming its key in place ("x" + key[1..]). */
static void hide_key(char *text, const char *key)
{
	char quoted[64];
	char *at;

	snprintf(quoted, sizeof(quoted), "\"%s\":", key);
	at = strstr(text, quoted);
	assert_non_null(at);
	at[1] = 'x';
}

/* Each release's real document, then the documented fallback order on the same document:
 * runtimeSpec's path, sandboxMetadata's NetNSPath, /proc/<pid>/ns/net; host prefix applied. */
static void test_info_real_runtimes(void **state)
{
	char path[CRI_PATH_MAX], want[CRI_PATH_MAX], err[256];

	for (size_t k = 0; k < sizeof(real_infos) / sizeof(real_infos[0]); k++) {
		const struct real_info *r = &real_infos[k];
		char *text = read_seed(r->file);

		assert_int_equal(netns(text, NULL, path, sizeof(path), err), 0);
		assert_string_equal(path, r->netns);
		assert_int_equal(netns(text, "/host", path, sizeof(path), err), 0);
		snprintf(want, sizeof(want), "/host%s", r->netns);
		assert_string_equal(path, want);

		hide_key(text, "runtimeSpec");
		assert_int_equal(netns(text, "/host", path, sizeof(path), err), 0);
		if (r->has_meta) {
			assert_string_equal(path, want);
			hide_key(text, "sandboxMetadata");
			assert_int_equal(netns(text, "/host", path, sizeof(path), err), 0);
		}
		snprintf(want, sizeof(want), "/host/proc/%d/ns/net", r->pid);
		assert_string_equal(path, want);

		hide_key(text, "pid");
		assert_int_equal(netns(text, NULL, path, sizeof(path), err), -1);
		assert_non_null(strstr(err, "no netns path"));
		free(text);
	}
}

static void expect_info_error(const char *info, const char *words)
{
	char path[CRI_PATH_MAX] = "untouched", err[256] = "";

	assert_int_equal(netns(info, NULL, path, sizeof(path), err), -1);
	if (!strstr(err, words))
		fail_msg("error \"%s\" does not say \"%s\"", err, words);
}

static void test_info_errors(void **state)
{
	expect_info_error("", "not valid JSON");
	expect_info_error("{\"runtimeSpec\": {\"linux\": {\"namespaces\": [{\"type\": ",
			  "not valid JSON");
	expect_info_error("[1,2]", "not a JSON object");
	expect_info_error("{}", "no netns path");
	expect_info_error("{\"pid\":-5}", "no netns path");
	expect_info_error("{\"pid\":\"12\"}", "no netns path");
	expect_info_error("{\"pid\":1.5}", "no netns path");
	/* hostNetwork: the spec lists namespaces but no network one; never fall back to the pid,
	 * which would be the host's namespace. */
	expect_info_error(
	    "{\"pid\":5,\"runtimeSpec\":{\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}"
	    ",\"sandboxMetadata\":{\"NetNSPath\":\"/x\"}}",
	    "host network");
	expect_info_error("{\"runtimeSpec\":{\"linux\":{\"namespaces\":[{\"type\":\"network\","
			  "\"path\":5}]}}}",
			  "not a string");
	expect_info_error("{\"runtimeSpec\":{\"linux\":{\"namespaces\":[{\"type\":\"network\","
			  "\"path\":\"/a\\u0000b\"}]}}}",
			  "holds a NUL");
	expect_info_error("{\"sandboxMetadata\":{\"NetNSPath\":\"var/run/netns/rel\"}}",
			  "not absolute");
	expect_info_error("{\"netNamespaceClosed\":true,\"pid\":4}", "closed");
}

static void test_info_long_path(void **state)
{
	char info[2048], path[CRI_PATH_MAX], err[256];
	char longp[CRI_PATH_MAX + 10];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	snprintf(info, sizeof(info), "{\"sandboxMetadata\":{\"NetNSPath\":\"%s\"}}", longp);
	assert_int_equal(netns(info, NULL, path, sizeof(path), err), -1);
	assert_non_null(strstr(err, "too long"));
}

static void test_frame_parse(void **state)
{
	uint8_t buf[16] = {0, 0, 0, 0, 3, 'a', 'b', 'c', 0xff};
	int comp = -1;
	size_t len = 0;

	assert_int_equal(grpc_frame_parse(buf, 0, &comp, &len), -2);
	assert_int_equal(grpc_frame_parse(buf, 4, &comp, &len), -2);
	assert_int_equal(grpc_frame_parse(buf, 7, &comp, &len), -2);
	assert_int_equal(grpc_frame_parse(buf, 8, &comp, &len), 8);
	assert_int_equal(comp, 0);
	assert_int_equal(len, 3);
	assert_int_equal(grpc_frame_parse(buf, 9, &comp, &len), 8);
	buf[0] = 1;
	assert_int_equal(grpc_frame_parse(buf, 8, &comp, &len), 8);
	assert_int_equal(comp, 1);
	buf[0] = 2;
	assert_int_equal(grpc_frame_parse(buf, 8, &comp, &len), -1);
	assert_int_equal(grpc_frame_parse(buf, 1, &comp, &len), -1);
	/* A length near 4 GiB only asks for more input. */
	memcpy(buf, "\0\xff\xff\xff\xff", 5);
	assert_int_equal(grpc_frame_parse(buf, 16, &comp, &len), -2);
	assert_string_equal(grpc_status_name(4), "DEADLINE_EXCEEDED");
	assert_string_equal(grpc_status_name(99), "UNKNOWN");
	assert_string_equal(grpc_status_name(-1), "UNKNOWN");
}

/* Encoding side, as a runtime would. */
struct fake_sandbox {
	const char *id, *uid, *ns, *name;
	int state;
	int64_t created;
};

struct fake_list {
	const struct fake_sandbox *sb;
	int n;
};

static bool encode_items(pb_ostream_t *os, const pb_field_t *field, void *const *arg)
{
	const struct fake_list *fl = *arg;

	for (int i = 0; i < fl->n; i++) {
		runtime_v1_PodSandbox item = runtime_v1_PodSandbox_init_zero;
		const struct fake_sandbox *f = &fl->sb[i];
		snprintf(item.id, sizeof(item.id), "%s", f->id);
		item.has_metadata = true;
		/* The uid may be longer than the decoder accepts: write it raw below. */
		snprintf(item.metadata.name, sizeof(item.metadata.name), "%s", f->name);
		snprintf(item.metadata.namespace, sizeof(item.metadata.namespace), "%s", f->ns);
		snprintf(item.metadata.uid, sizeof(item.metadata.uid), "%s", f->uid);
		item.state = f->state;
		item.created_at = f->created;
		if (!pb_encode_tag_for_field(os, field))
			return false;
		if (strlen(f->uid) >= sizeof(item.metadata.uid)) {
			/* An over-long uid: hand-encode PodSandbox{id, metadata{uid}}. */
			uint8_t sub[512], meta[256];
			pb_ostream_t ms = pb_ostream_from_buffer(meta, sizeof(meta));
			pb_ostream_t ss = pb_ostream_from_buffer(sub, sizeof(sub));
			if (!pb_encode_tag(&ms, PB_WT_STRING, 2) ||
			    !pb_encode_string(&ms, (const pb_byte_t *)f->uid, strlen(f->uid)) ||
			    !pb_encode_tag(&ss, PB_WT_STRING, 1) ||
			    !pb_encode_string(&ss, (const pb_byte_t *)f->id, strlen(f->id)) ||
			    !pb_encode_tag(&ss, PB_WT_STRING, 2) ||
			    !pb_encode_string(&ss, meta, ms.bytes_written))
				return false;
			if (!pb_encode_string(os, sub, ss.bytes_written))
				return false;
			continue;
		}
		if (!pb_encode_submessage(os, runtime_v1_PodSandbox_fields, &item))
			return false;
	}
	return true;
}

static size_t encode_list(const struct fake_sandbox *sb, int n, uint8_t *buf, size_t cap)
{
	runtime_v1_ListPodSandboxResponse r = runtime_v1_ListPodSandboxResponse_init_zero;
	struct fake_list fl = {sb, n};
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);

	r.items.funcs.encode = encode_items;
	r.items.arg = &fl;
	assert_true(pb_encode(&os, runtime_v1_ListPodSandboxResponse_fields, &r));
	return os.bytes_written;
}

struct seen {
	char uids[8][CRI_UID_MAX];
	bool ready[8];
	int n;
	int stop_after;
};

static int collect(void *ctx, const struct cri_sandbox_msg *m)
{
	struct seen *s = ctx;

	snprintf(s->uids[s->n], CRI_UID_MAX, "%s", m->sb.uid);
	s->ready[s->n] = m->ready;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_decode_sandboxes(void **state)
{
	char longuid[100];
	const struct fake_sandbox sb[] = {
	    {"id-a", "uid-a", "default", "a", 0, 10},
	    {"id-b", longuid, "default", "b", 0, 11},
	    {"id-c", "uid-c", "kube-system", "c", 1, 12},
	};
	uint8_t buf[4096];
	size_t len;
	struct seen s = {0};
	int skipped = -1;
	char err[256];

	memset(longuid, 'u', sizeof(longuid) - 1);
	longuid[sizeof(longuid) - 1] = 0;
	len = encode_list(sb, 3, buf, sizeof(buf));
	assert_int_equal(cri_decode_sandboxes(buf, len, collect, &s, &skipped, err, sizeof(err)),
			 0);
	assert_int_equal(skipped, 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.uids[0], "uid-a");
	assert_true(s.ready[0]);
	assert_string_equal(s.uids[1], "uid-c");
	assert_false(s.ready[1]);

	/* fn asks to stop: no more calls, the rest still decodes. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(cri_decode_sandboxes(buf, len, collect, &s, &skipped, err, sizeof(err)),
			 0);
	assert_int_equal(s.n, 1);

	/* Truncated: an error, not a partial success. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    cri_decode_sandboxes(buf, len - 3, collect, &s, &skipped, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ListPodSandboxResponse"));
	/* Empty message: no sandboxes. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(cri_decode_sandboxes(buf, 0, collect, &s, &skipped, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
}

struct fake_info {
	const char *keys[3], *values[3];
	int n;
};

static bool encode_info(pb_ostream_t *os, const pb_field_t *field, void *const *arg)
{
	const struct fake_info *fi = *arg;

	for (int i = 0; i < fi->n; i++) {
		uint8_t sub[8192];
		pb_ostream_t ss = pb_ostream_from_buffer(sub, sizeof(sub));
		if (!pb_encode_tag(&ss, PB_WT_STRING, 1) ||
		    !pb_encode_string(&ss, (const pb_byte_t *)fi->keys[i], strlen(fi->keys[i])) ||
		    !pb_encode_tag(&ss, PB_WT_STRING, 2) ||
		    !pb_encode_string(&ss, (const pb_byte_t *)fi->values[i], strlen(fi->values[i])))
			return false;
		if (!pb_encode_tag_for_field(os, field) ||
		    !pb_encode_string(os, sub, ss.bytes_written))
			return false;
	}
	return true;
}

static size_t encode_status(const struct fake_info *fi, uint8_t *buf, size_t cap)
{
	runtime_v1_PodSandboxStatusResponse r = runtime_v1_PodSandboxStatusResponse_init_zero;
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);

	r.has_status = true;
	strcpy(r.status.id, "id-a");
	r.status.has_metadata = true;
	strcpy(r.status.metadata.uid, "uid-a");
	strcpy(r.status.metadata.name, "a");
	r.status.state = runtime_v1_PodSandboxState_SANDBOX_NOTREADY;
	r.info.funcs.encode = encode_info;
	r.info.arg = (void *)fi;
	assert_true(pb_encode(&os, runtime_v1_PodSandboxStatusResponse_fields, &r));
	return os.bytes_written;
}

static void test_decode_status(void **state)
{
	struct fake_info fi = {{"runtime", "info", "zzz"}, {"{\"x\":1}", containerd_info, "{}"}, 3};
	struct cri_infobuf ib = {.max = 4096};
	struct cri_sandbox_msg st;
	bool has = false;
	uint8_t buf[16384];
	size_t len = encode_status(&fi, buf, sizeof(buf));
	char err[256];

	assert_int_equal(cri_decode_status(buf, len, &st, &has, &ib, err, sizeof(err)), 0);
	assert_true(has);
	assert_string_equal(st.sb.id, "id-a");
	assert_string_equal(st.sb.uid, "uid-a");
	assert_false(st.ready);
	assert_true(ib.found);
	assert_int_equal(ib.len, strlen(containerd_info));
	assert_memory_equal(ib.buf, containerd_info, ib.len);

	/* No "info" key. */
	fi.n = 1;
	len = encode_status(&fi, buf, sizeof(buf));
	assert_int_equal(cri_decode_status(buf, len, &st, &has, &ib, err, sizeof(err)), 0);
	assert_false(ib.found);

	/* An "info" entry without a value: found, empty, terminated. */
	{
		/* PodSandboxStatusResponse{info: {key: "info"}} */
		static const uint8_t msg[] = {0x12, 0x06, 0x0a, 0x04, 'i', 'n', 'f', 'o'};
		struct cri_infobuf empty = {.max = 4096};
		assert_int_equal(
		    cri_decode_status(msg, sizeof(msg), &st, &has, &empty, err, sizeof(err)), 0);
		assert_true(empty.found);
		assert_int_equal(empty.len, 0);
		assert_non_null(empty.buf);
		assert_int_equal(empty.buf[0], 0);
		free(empty.buf);
	}

	/* The info value over the cap is refused, not truncated. */
	fi.n = 2;
	ib.max = 100;
	len = encode_status(&fi, buf, sizeof(buf));
	assert_int_equal(cri_decode_status(buf, len, &st, &has, &ib, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "over 100 bytes"));
	assert_false(ib.found);
	free(ib.buf);
}

/* ContainerEventResponse as containerd sends it: the sandbox's status, containers' statuses
 * (field 5, not in our proto: skipped), or no status at all once the sandbox is removed. */
static void test_decode_event(void **state)
{
	runtime_v1_ContainerEventResponse r = runtime_v1_ContainerEventResponse_init_zero;
	uint8_t buf[1024];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	struct cri_event_msg ev;
	char err[256];
	size_t len;
	/* field 5 (containers_statuses), length 3, a nested field 1 "x" */
	static const uint8_t statuses[] = {0x2a, 0x03, 0x0a, 0x01, 'x'};

	strcpy(r.container_id, "sb-1");
	r.container_event_type = runtime_v1_ContainerEventType_CONTAINER_STOPPED_EVENT;
	r.created_at = 1700000000123456789;
	r.has_pod_sandbox_status = true;
	strcpy(r.pod_sandbox_status.id, "sb-1");
	r.pod_sandbox_status.has_metadata = true;
	strcpy(r.pod_sandbox_status.metadata.uid, "uid-1");
	r.pod_sandbox_status.state = runtime_v1_PodSandboxState_SANDBOX_NOTREADY;
	assert_true(pb_encode(&os, runtime_v1_ContainerEventResponse_fields, &r));
	len = os.bytes_written;
	memcpy(buf + len, statuses, sizeof(statuses));
	len += sizeof(statuses);
	assert_int_equal(cri_decode_event(buf, len, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.container_id, "sb-1");
	assert_int_equal(ev.type, CRI_EVENT_STOPPED);
	assert_true(ev.created_at == 1700000000123456789);
	assert_true(ev.has_status);
	assert_string_equal(ev.status.sb.id, "sb-1");
	assert_string_equal(ev.status.sb.uid, "uid-1");
	assert_false(ev.status.ready);

	/* DELETED of a removed sandbox: no status. */
	{
		static const uint8_t msg[] = {0x0a, 0x02, 's', '2', 0x10, 0x03};
		assert_int_equal(cri_decode_event(msg, sizeof(msg), &ev, err, sizeof(err)), 0);
		assert_string_equal(ev.container_id, "s2");
		assert_int_equal(ev.type, CRI_EVENT_DELETED);
		assert_false(ev.has_status);
	}

	/* A container id over its cap: the event is refused, naming the message. */
	{
		uint8_t big[200] = {0x0a, 150};
		memset(big + 2, 'a', 150);
		assert_int_equal(cri_decode_event(big, 152, &ev, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "ContainerEventResponse"));
	}
}

static void test_encode_requests(void **state)
{
	uint8_t buf[256];
	size_t len;
	char longid[200];
	runtime_v1_PodSandboxStatusRequest req = runtime_v1_PodSandboxStatusRequest_init_zero;
	runtime_v1_ListPodSandboxRequest lreq = runtime_v1_ListPodSandboxRequest_init_zero;
	pb_istream_t is;

	assert_int_equal(cri_encode_status_req("abc", true, buf, sizeof(buf), &len), 0);
	is = pb_istream_from_buffer(buf, len);
	assert_true(pb_decode(&is, runtime_v1_PodSandboxStatusRequest_fields, &req));
	assert_string_equal(req.pod_sandbox_id, "abc");
	assert_true(req.verbose);

	assert_int_equal(cri_encode_list_ready_req(buf, sizeof(buf), &len), 0);
	is = pb_istream_from_buffer(buf, len);
	assert_true(pb_decode(&is, runtime_v1_ListPodSandboxRequest_fields, &lreq));
	assert_true(lreq.has_filter && lreq.filter.has_state);
	assert_int_equal(lreq.filter.state.state, runtime_v1_PodSandboxState_SANDBOX_READY);
	/* READY is 0: the filter must still be on the wire, or the runtime lists every sandbox. */
	assert_true(len > 0);

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	assert_int_equal(cri_encode_status_req(longid, true, buf, sizeof(buf), &len), -1);
	assert_int_equal(cri_encode_version_req(buf, sizeof(buf), &len), 0);
	assert_int_equal(cri_encode_version_req(buf, 1, &len), -1);
}

static void test_open_config(void **state)
{
	char err[256];
	struct cri_config cfg = {.endpoint = "tcp://127.0.0.1:1234"};
	struct cri_client *c;

	assert_null(cri_open(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "unix://"));
	cfg.endpoint = "relative.sock";
	assert_null(cri_open(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "absolute"));
	cfg.endpoint = "";
	assert_null(cri_open(&cfg, err, sizeof(err)));
	cfg.endpoint = "unix:relative.sock";
	assert_null(cri_open(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "absolute"));
	cfg.endpoint = "unix:/nonexistent/one.sock";
	c = cri_open(&cfg, err, sizeof(err));
	assert_non_null(c);
	{
		struct cri_version v;
		assert_int_equal(cri_version(c, &v, err, sizeof(err)), CRI_ERR);
		assert_non_null(strstr(err, "no socket at /nonexistent/one.sock"));
	}
	cri_close(c);
	cfg.endpoint = "unix:///nonexistent/dir/cri.sock";
	cfg.host_prefix = "/also/missing/";
	c = cri_open(&cfg, err, sizeof(err));
	assert_non_null(c);
	/* Nothing listens: a clear error naming the socket, with the prefix applied. */
	{
		struct cri_version v;
		char path[CRI_PATH_MAX];
		assert_int_equal(cri_version(c, &v, err, sizeof(err)), CRI_ERR);
		assert_non_null(strstr(err, "/also/missing/nonexistent/dir/cri.sock"));
		assert_int_equal(cri_pod_netns(c, "uid-a", path, sizeof(path), err, sizeof(err)),
				 CRI_ERR);
		assert_non_null(strstr(err, "pod uid-a"));
	}
	cri_close(c);
}

static void test_netns_identify(void **state)
{
	char file[] = "/tmp/cri_test_netns.XXXXXX", err[256];
	struct cri_netns_id id = {0};
	struct stat st;
	int fd = mkstemp(file);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cri_netns_identify("/proc/self/ns/net", &id, err, sizeof(err)), 0);
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_true(id.dev == (uint64_t)st.st_dev && id.ino == (uint64_t)st.st_ino);

	assert_int_equal(cri_netns_identify(file, &id, err, sizeof(err)), CRI_ERR);
	assert_non_null(strstr(err, "not a network namespace (a regular file)"));
	assert_non_null(strstr(err, file));
	assert_int_equal(cri_netns_identify("/tmp", &id, err, sizeof(err)), CRI_ERR);
	assert_non_null(strstr(err, "not a network namespace (a directory)"));
	assert_int_equal(cri_netns_identify("/proc/self/ns/uts", &id, err, sizeof(err)), CRI_ERR);
	assert_non_null(strstr(err, "not a network namespace"));
	unlink(file);
	assert_int_equal(cri_netns_identify(file, &id, err, sizeof(err)), CRI_ERR);
	assert_non_null(strstr(err, "No such file or directory"));
	/* A FIFO with no writer: refused at once, never waited on. */
	assert_int_equal(mkfifo(file, 0600), 0);
	assert_int_equal(cri_netns_identify(file, &id, err, sizeof(err)), CRI_ERR);
	assert_non_null(strstr(err, "not a network namespace (a file of another kind)"));
	unlink(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_info_containerd),  cmocka_unit_test(test_info_fallbacks),
	    cmocka_unit_test(test_info_errors),	     cmocka_unit_test(test_info_real_runtimes),
	    cmocka_unit_test(test_info_long_path),   cmocka_unit_test(test_frame_parse),
	    cmocka_unit_test(test_decode_sandboxes), cmocka_unit_test(test_decode_status),
	    cmocka_unit_test(test_encode_requests),  cmocka_unit_test(test_open_config),
	    cmocka_unit_test(test_decode_event),     cmocka_unit_test(test_netns_identify),
	};
	return cmocka_run_group_tests_name("cri", tests, NULL, NULL);
}
