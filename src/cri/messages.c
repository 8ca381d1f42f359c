#include "cri/messages.h"

#include <pb_decode.h>
#include <pb_encode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/runtime.pb.h"
#include "util/err.h"

static int encode(const pb_msgdesc_t *fields, const void *src, uint8_t *buf, size_t cap,
		  size_t *len)
{
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);

	if (!pb_encode(&os, fields, src))
		return -1;
	*len = os.bytes_written;
	return 0;
}

int cri_encode_version_req(uint8_t *buf, size_t cap, size_t *len)
{
	runtime_v1_VersionRequest req = runtime_v1_VersionRequest_init_zero;

	strcpy(req.version, "v1");
	return encode(runtime_v1_VersionRequest_fields, &req, buf, cap, len);
}

int cri_encode_list_ready_req(uint8_t *buf, size_t cap, size_t *len)
{
	runtime_v1_ListPodSandboxRequest req = runtime_v1_ListPodSandboxRequest_init_zero;

	req.has_filter = true;
	req.filter.has_state = true;
	req.filter.state.state = runtime_v1_PodSandboxState_SANDBOX_READY;
	return encode(runtime_v1_ListPodSandboxRequest_fields, &req, buf, cap, len);
}

int cri_encode_events_req(uint8_t *buf, size_t cap, size_t *len)
{
	runtime_v1_GetEventsRequest req = runtime_v1_GetEventsRequest_init_zero;

	return encode(runtime_v1_GetEventsRequest_fields, &req, buf, cap, len);
}

int cri_encode_status_req(const char *sandbox_id, bool verbose, uint8_t *buf, size_t cap,
			  size_t *len)
{
	runtime_v1_PodSandboxStatusRequest req = runtime_v1_PodSandboxStatusRequest_init_zero;

	if (strlen(sandbox_id) >= sizeof(req.pod_sandbox_id))
		return -1;
	strcpy(req.pod_sandbox_id, sandbox_id);
	req.verbose = verbose;
	return encode(runtime_v1_PodSandboxStatusRequest_fields, &req, buf, cap, len);
}

int cri_decode_version(const uint8_t *msg, size_t len, struct cri_version *out, char *err,
		       size_t errcap)
{
	runtime_v1_VersionResponse v = runtime_v1_VersionResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(msg, len);

	if (!pb_decode(&is, runtime_v1_VersionResponse_fields, &v)) {
		errf(err, errcap, "VersionResponse: %s", PB_GET_ERROR(&is));
		return -1;
	}
	_Static_assert(sizeof(out->version) >= sizeof(v.version), "version fits");
	memcpy(out->version, v.version, sizeof(v.version));
	memcpy(out->runtime_name, v.runtime_name, sizeof(v.runtime_name));
	memcpy(out->runtime_version, v.runtime_version, sizeof(v.runtime_version));
	memcpy(out->runtime_api_version, v.runtime_api_version, sizeof(v.runtime_api_version));
	return 0;
}

static void copy_sandbox(struct cri_sandbox_msg *m, const char *id, bool has_meta,
			 const runtime_v1_PodSandboxMetadata *md, int state, int64_t created_at)
{
	_Static_assert(sizeof(m->sb.id) >= sizeof(((runtime_v1_PodSandbox *)0)->id), "id fits");
	_Static_assert(sizeof(m->sb.uid) >= sizeof(md->uid), "uid fits");
	_Static_assert(sizeof(m->sb.ns) >= sizeof(md->namespace), "namespace fits");
	_Static_assert(sizeof(m->sb.name) >= sizeof(md->name), "name fits");
	memset(m, 0, sizeof(*m));
	strcpy(m->sb.id, id);
	if (has_meta) {
		strcpy(m->sb.uid, md->uid);
		strcpy(m->sb.ns, md->namespace);
		strcpy(m->sb.name, md->name);
		m->sb.attempt = md->attempt;
	}
	m->ready = state == runtime_v1_PodSandboxState_SANDBOX_READY;
	m->created_at = created_at;
}

struct list_ctx {
	int (*fn)(void *ctx, const struct cri_sandbox_msg *m);
	void *ctx;
	bool stop;
	int skipped;
};

static bool decode_item(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct list_ctx *lc = *arg;
	runtime_v1_PodSandbox item = runtime_v1_PodSandbox_init_zero;
	struct cri_sandbox_msg m;

	if (!pb_decode(stream, runtime_v1_PodSandbox_fields, &item)) {
		lc->skipped++;
		return pb_read(stream, NULL, stream->bytes_left);
	}
	if (lc->stop)
		return true;
	copy_sandbox(&m, item.id, item.has_metadata, &item.metadata, item.state, item.created_at);
	if (lc->fn(lc->ctx, &m) != 0)
		lc->stop = true;
	return true;
}

int cri_decode_sandboxes(const uint8_t *msg, size_t len,
			 int (*fn)(void *ctx, const struct cri_sandbox_msg *m), void *ctx,
			 int *skipped, char *err, size_t errcap)
{
	runtime_v1_ListPodSandboxResponse r = runtime_v1_ListPodSandboxResponse_init_zero;
	struct list_ctx lc = {.fn = fn, .ctx = ctx};
	pb_istream_t is = pb_istream_from_buffer(msg, len);

	r.items.funcs.decode = decode_item;
	r.items.arg = &lc;
	if (!pb_decode(&is, runtime_v1_ListPodSandboxResponse_fields, &r)) {
		errf(err, errcap, "ListPodSandboxResponse: %s", PB_GET_ERROR(&is));
		return -1;
	}
	if (skipped)
		*skipped = lc.skipped;
	return 0;
}

static bool decode_info_value(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct cri_infobuf *ib = *arg;
	size_t base = ib->found ? ib->len + 1 : 0, n = stream->bytes_left;

	/* Values of other keys go after the kept "info" value and are dropped with their entry. */
	if (n > ib->max) {
		ib->over = true;
		return false;
	}
	if (base + n + 1 > ib->cap) {
		char *nb = realloc(ib->buf, base + n + 1);
		if (!nb) {
			ib->over = true;
			return false;
		}
		ib->buf = nb;
		ib->cap = base + n + 1;
	}
	if (!pb_read(stream, (pb_byte_t *)ib->buf + base, n))
		return false;
	ib->buf[base + n] = 0;
	ib->entry_len = n;
	ib->entry_has_value = true;
	return true;
}

static bool decode_info_entry(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct cri_infobuf *ib = *arg;
	runtime_v1_PodSandboxStatusResponse_InfoEntry e =
	    runtime_v1_PodSandboxStatusResponse_InfoEntry_init_zero;

	e.value.funcs.decode = decode_info_value;
	e.value.arg = ib;
	ib->entry_len = 0;
	ib->entry_has_value = false;
	if (!pb_decode(stream, runtime_v1_PodSandboxStatusResponse_InfoEntry_fields, &e)) {
		if (ib->over)
			return false;
		/* Some other key too long for us: not the entry we want. */
		return pb_read(stream, NULL, stream->bytes_left);
	}
	if (!ib->found && strcmp(e.key, "info") == 0) {
		if (!ib->entry_has_value) {
			/* An entry without a value: an empty string, still NUL-terminated. */
			if (!ib->buf && !(ib->buf = malloc(1)))
				return false;
			ib->cap = ib->cap ? ib->cap : 1;
			ib->buf[0] = 0;
		}
		ib->found = true;
		ib->len = ib->entry_len;
	}
	return true;
}

int cri_decode_status(const uint8_t *msg, size_t len, struct cri_sandbox_msg *status,
		      bool *has_status, struct cri_infobuf *info, char *err, size_t errcap)
{
	runtime_v1_PodSandboxStatusResponse r = runtime_v1_PodSandboxStatusResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(msg, len);

	info->len = 0;
	info->found = false;
	info->over = false;
	r.info.funcs.decode = decode_info_entry;
	r.info.arg = info;
	if (!pb_decode(&is, runtime_v1_PodSandboxStatusResponse_fields, &r)) {
		if (info->over)
			errf(err, errcap, "PodSandboxStatusResponse: verbose info over %zu bytes",
			     info->max);
		else
			errf(err, errcap, "PodSandboxStatusResponse: %s", PB_GET_ERROR(&is));
		info->found = false;
		return -1;
	}
	*has_status = r.has_status;
	copy_sandbox(status, r.status.id, r.status.has_metadata, &r.status.metadata, r.status.state,
		     r.status.created_at);
	return 0;
}

int cri_decode_event(const uint8_t *msg, size_t len, struct cri_event_msg *ev, char *err,
		     size_t errcap)
{
	runtime_v1_ContainerEventResponse r = runtime_v1_ContainerEventResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(msg, len);

	if (!pb_decode(&is, runtime_v1_ContainerEventResponse_fields, &r)) {
		errf(err, errcap, "ContainerEventResponse: %s", PB_GET_ERROR(&is));
		return -1;
	}
	_Static_assert(sizeof(ev->container_id) >= sizeof(r.container_id), "container id fits");
	memset(ev, 0, sizeof(*ev));
	strcpy(ev->container_id, r.container_id);
	ev->type = r.container_event_type;
	ev->created_at = r.created_at;
	ev->has_status = r.has_pod_sandbox_status;
	copy_sandbox(&ev->status, r.pod_sandbox_status.id, r.pod_sandbox_status.has_metadata,
		     &r.pod_sandbox_status.metadata, r.pod_sandbox_status.state,
		     r.pod_sandbox_status.created_at);
	return 0;
}
