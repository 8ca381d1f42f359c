/* kube_reflector: keeps one resource kind (pods, namespaces, NADs, policies) in step with the
 * API server for a sink, the way client-go's reflector does: list with paging, then watch from
 * the list's resourceVersion; 410 Gone relists and replaces (at once on a watch's first 410;
 * a 410 on a list, or 410s in a row with no event between, back off like errors); errors back
 * off 0.8 s doubling to 30 s with jitter, a Retry-After is honoured up to that maximum. It never
 * blocks: the agent's single poll loop asks each reflector for its fd, the poll events it wants and
 * its next deadline, and calls kube_reflector_handle on readiness or when the deadline passes. The
 * reflector owns its connection and buffers; objects reach the sink as JSON text valid only during
 * the callback. List items arrive as EV_ADDED between replace_begin and replace_end; a list that
 * fails midway starts again from its first page, so replace_begin may come twice before one
 * replace_end. */
#ifndef KUBE_REFLECTOR_H
#define KUBE_REFLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"
#include "kube/sink.h"

struct kube_reflector;

struct kube_reflector_opts {
	const char *field_selector; /* e.g. "spec.nodeName=node1" (pods); NULL for none */
	const char *label_selector; /* NULL for none */
	unsigned page_limit;	    /* list page size; 0 means 500 */
	unsigned watch_timeout_min; /* timeoutSeconds is random in [min, max]; 0 means 300..600,
				     * or N..N with MNP_WATCH_TIMEOUT_SECONDS=N (tests) */
	unsigned watch_timeout_max;
	uint32_t backoff_initial_ms; /* 0 means 800 */
	uint32_t backoff_max_ms;     /* 0 means 30000 */
};

/* The client must outlive the reflector. opts may be NULL. NULL on out of memory. */
struct kube_reflector *kube_reflector_new(struct kube_client *client, enum kube_kind kind,
					  const struct kube_sink *sink,
					  const struct kube_reflector_opts *opts);
void kube_reflector_free(struct kube_reflector *r);

/* The fd to poll (-1 while waiting for a timer) and the poll(2) events it wants. */
int kube_reflector_fd(const struct kube_reflector *r);
short kube_reflector_events(const struct kube_reflector *r);
/* Monotonic time in ms (kube_now_ms) when kube_reflector_handle must be called even without
 * readiness (0 when that is now, e.g. decrypted bytes already wait). */
int64_t kube_reflector_deadline(const struct kube_reflector *r);
/* Does whatever is due: revents from poll (0 when called for the deadline). */
void kube_reflector_handle(struct kube_reflector *r, short revents);

/* The first full list has reached the sink. */
bool kube_reflector_synced(const struct kube_reflector *r);

struct kube_reflector_stats {
	uint64_t lists, list_pages, watches, events, bookmarks, relists_410, errors, oversized,
	    rejected;
	uint64_t bytes_received, bytes_moved; /* read; moved to compact the body buffer */
	char resource_version[32];	      /* last seen */
	int64_t last_activity_ms; /* kube_now_ms of the last list page or watch event, 0: none */
};
void kube_reflector_get_stats(const struct kube_reflector *r, struct kube_reflector_stats *st);

/* Blocking convenience (tests, tools): polls the reflectors until done(ctx) returns true or
 * timeout_ms passes. Returns 0 when done, -1 on timeout. */
int kube_reflectors_run(struct kube_reflector **rs, int n, bool (*done)(void *ctx), void *ctx,
			int timeout_ms);

#endif
