/* messages: the runtime.v1 requests the client sends, encoded with nanopb, and the responses it
 * reads, decoded with fixed caps. Callers own every buffer; nothing is kept between calls except
 * what a cri_infobuf holds (its own growable buffer, bounded by max). */
#ifndef CRI_MESSAGES_H
#define CRI_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri/cri.h"

/* One sandbox from ListPodSandbox or PodSandboxStatus. */
struct cri_sandbox_msg {
	struct cri_sandbox sb;
	bool ready;
	int64_t created_at;
};

/* One GetContainerEvents message. A sandbox's own events name the sandbox as container_id;
 * containerd sends no status once a sandbox is removed (has_status false). */
struct cri_event_msg {
	char container_id[CRI_ID_MAX];
	int type; /* CRI_EVENT_* */
	int64_t created_at;
	bool has_status;
	struct cri_sandbox_msg status;
};

#define CRI_EVENT_CREATED 0
#define CRI_EVENT_STARTED 1
#define CRI_EVENT_STOPPED 2
#define CRI_EVENT_DELETED 3

/* Where the verbose info["info"] value goes. buf grows up to max bytes (+1 for a NUL);
 * the owner frees buf. found: the response had an "info" entry; buf then holds its len bytes
 * and a NUL. */
struct cri_infobuf {
	char *buf;
	size_t cap;
	size_t max;
	size_t len;
	bool found;
	/* decoding state */
	size_t entry_len;
	bool entry_has_value;
	bool over;
};

/* Encoders: 0, or -1 when buf is too small (or the id is too long). */
int cri_encode_version_req(uint8_t *buf, size_t cap, size_t *len);
int cri_encode_list_ready_req(uint8_t *buf, size_t cap, size_t *len);
int cri_encode_events_req(uint8_t *buf, size_t cap, size_t *len);
int cri_encode_status_req(const char *sandbox_id, bool verbose, uint8_t *buf, size_t cap,
			  size_t *len);

/* Decoders: 0, or -1 with err saying what is wrong. */
int cri_decode_version(const uint8_t *msg, size_t len, struct cri_version *out, char *err,
		       size_t errcap);
/* Calls fn per sandbox until fn returns non-zero. A sandbox that does not decode (a string over
 * its cap) is skipped and counted in *skipped, so one odd sandbox never hides the others. */
int cri_decode_sandboxes(const uint8_t *msg, size_t len,
			 int (*fn)(void *ctx, const struct cri_sandbox_msg *m), void *ctx,
			 int *skipped, char *err, size_t errcap);
/* status: the sandbox in the response (has_status false when absent); info: see above. */
int cri_decode_status(const uint8_t *msg, size_t len, struct cri_sandbox_msg *status,
		      bool *has_status, struct cri_infobuf *info, char *err, size_t errcap);
int cri_decode_event(const uint8_t *msg, size_t len, struct cri_event_msg *ev, char *err,
		     size_t errcap);

#endif
