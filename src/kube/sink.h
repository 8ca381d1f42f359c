/* kube_sink: how list/watch results reach whoever caches them (the store, or a test).
 * The reflector calls these with the JSON text of one object at a time; the text is only valid
 * during the call. */
#ifndef KUBE_SINK_H
#define KUBE_SINK_H

#include <stddef.h>

enum kube_kind { KIND_POD, KIND_NAMESPACE, KIND_NAD, KIND_POLICY, KIND_COUNT };

enum kube_event { EV_ADDED, EV_MODIFIED, EV_DELETED };

struct kube_sink {
	void *ctx;
	/* One object from a list page or a watch event (ADDED/MODIFIED upsert, DELETED removes).
	 * Returns 0, or -1 when the object was rejected (the callee logs why, naming it). */
	int (*object)(void *ctx, enum kube_kind kind, enum kube_event ev, const char *json,
		      size_t len);
	/* A full list of `kind` starts; objects not delivered again before replace_end vanish. */
	void (*replace_begin)(void *ctx, enum kube_kind kind);
	/* The list is complete: the callee deletes what was not seen since replace_begin. */
	void (*replace_end)(void *ctx, enum kube_kind kind);
};

#endif
