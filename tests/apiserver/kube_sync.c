/* kube_sync: a test driver for the kube/ client. It keeps reflectors for the requested kinds in
 * a poll loop of its own (fd / events / deadline, as the agent does) and feeds a small store:
 * kind + namespace/name -> resourceVersion. Commands on stdin, one per line:
 *   dump    prints "BEGIN", one "kind ns/name rv" line per object (sorted), "END"
 *   stats   prints one "stats kind synced lists pages watches events bookmarks relists errors
 *           oversized rejected rv received moved" line per kind (received: bytes read; moved:
 *           bytes moved to compact the body buffer), then "END"
 *   quit
 * Usage: kube_sync (--kubeconfig FILE | --in-cluster SA_DIR) [--kinds pods,namespaces,nads,
 *        policies] [--field-selector S] [--page-limit N] [--backoff-ms N] [--exit-synced]
 *        [--timeout-ms N] [--insecure-skip-tls-verify] [-v N]
 * With --exit-synced it exits 0 once every reflector has synced, 1 on timeout (default 10 s).
 * MNP_WATCH_TIMEOUT_SECONDS=N shortens every watch to N seconds, as it does the agent's. */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/reflector.h"
#include "util/json.h"
#include "util/log.h"

static const char *kind_names[KIND_COUNT] = {"pods", "namespaces", "nads", "policies"};

struct entry {
	struct entry *next;
	int kind;
	unsigned gen;
	char rv[32];
	char key[]; /* "ns/name" */
};

#define NBUCKETS 65536
static struct entry *table[NBUCKETS];
static unsigned gen[KIND_COUNT];
static size_t count;

static unsigned hash(int kind, const char *key)
{
	unsigned h = 2166136261u ^ (unsigned)kind;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % NBUCKETS;
}

static struct entry **find(int kind, const char *key)
{
	struct entry **e = &table[hash(kind, key)];
	while (*e && ((*e)->kind != kind || strcmp((*e)->key, key)))
		e = &(*e)->next;
	return e;
}

static int sink_object(void *ctx, enum kube_kind kind, enum kube_event ev, const char *json,
		       size_t len)
{
	static jsmntok_t *tok;
	static int ntok;
	int need = json_count_tokens(json, len);
	if (need < 0) {
		fprintf(stderr, "kube_sync: %s: malformed JSON object rejected\n",
			kind_names[kind]);
		return -1;
	}
	if (need > ntok) {
		free(tok);
		ntok = need;
		tok = malloc(sizeof(*tok) * (size_t)ntok);
	}
	struct json j;
	char ns[256] = "", name[256], rv[32];
	if (json_parse(&j, json, len, tok, ntok) ||
	    json_str(&j, json_path(&j, 0, "metadata.name"), name, sizeof(name)) < 0 ||
	    json_str(&j, json_path(&j, 0, "metadata.resourceVersion"), rv, sizeof(rv)) < 0) {
		fprintf(stderr, "kube_sync: %s: object without metadata.name/resourceVersion\n",
			kind_names[kind]);
		return -1;
	}
	int nsi = json_path(&j, 0, "metadata.namespace");
	if (nsi >= 0 && json_str(&j, nsi, ns, sizeof(ns)) < 0)
		return -1;
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	struct entry **e = find(kind, key);
	if (ev == EV_DELETED) {
		if (*e) {
			struct entry *dead = *e;
			*e = dead->next;
			free(dead);
			count--;
		}
		return 0;
	}
	if (!*e) {
		*e = calloc(1, sizeof(**e) + strlen(key) + 1);
		(*e)->kind = kind;
		strcpy((*e)->key, key);
		count++;
	}
	snprintf((*e)->rv, sizeof((*e)->rv), "%s", rv);
	(*e)->gen = gen[kind];
	return 0;
}

static void sink_begin(void *ctx, enum kube_kind kind)
{
	gen[kind]++;
}

static void sink_end(void *ctx, enum kube_kind kind)
{
	for (int b = 0; b < NBUCKETS; b++)
		for (struct entry **e = &table[b]; *e;) {
			if ((*e)->kind == (int)kind && (*e)->gen != gen[kind]) {
				struct entry *dead = *e;
				*e = dead->next;
				free(dead);
				count--;
			} else {
				e = &(*e)->next;
			}
		}
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dump(void)
{
	char **lines = malloc(sizeof(char *) * (count + 1));
	size_t n = 0;
	for (int b = 0; b < NBUCKETS; b++)
		for (struct entry *e = table[b]; e; e = e->next)
			if (asprintf(&lines[n], "%s %s %s", kind_names[e->kind], e->key, e->rv) > 0)
				n++;
	qsort(lines, n, sizeof(char *), cmp_lines);
	printf("BEGIN\n");
	for (size_t i = 0; i < n; i++) {
		printf("%s\n", lines[i]);
		free(lines[i]);
	}
	printf("END\n");
	fflush(stdout);
	free(lines);
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *sa_dir = NULL, *kinds = "pods,namespaces,nads,policies";
	struct kube_reflector_opts opts = {0};
	bool exit_synced = false, insecure = false;
	int timeout_ms = 10000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--exit-synced")) {
			exit_synced = true;
			continue;
		}
		if (!strcmp(a, "--insecure-skip-tls-verify")) {
			insecure = true; /* as the agent's flag */
			continue;
		}
		if (!v) {
			fprintf(stderr, "kube_sync: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--kubeconfig"))
			kubeconfig = v;
		else if (!strcmp(a, "--in-cluster"))
			sa_dir = v;
		else if (!strcmp(a, "--kinds"))
			kinds = v;
		else if (!strcmp(a, "--field-selector"))
			opts.field_selector = v;
		else if (!strcmp(a, "--page-limit"))
			opts.page_limit = (unsigned)atoi(v);
		else if (!strcmp(a, "--backoff-ms"))
			opts.backoff_initial_ms = (uint32_t)atoi(v);
		else if (!strcmp(a, "--timeout-ms"))
			timeout_ms = atoi(v);
		else if (!strcmp(a, "-v"))
			log_verbosity = atoi(v);
		else {
			fprintf(stderr, "kube_sync: unknown flag %s\n", a);
			return 2;
		}
	}
	char err[512];
	struct kube_config cfg;
	if (kube_config_load(&cfg, kubeconfig, sa_dir, err, sizeof(err))) {
		fprintf(stderr, "kube_sync: config: %s\n", err);
		return 1;
	}
	if (insecure)
		cfg.insecure = true;
	struct kube_client *client = kube_client_new(&cfg, err, sizeof(err));
	if (!client) {
		fprintf(stderr, "kube_sync: client: %s\n", err);
		kube_config_free(&cfg);
		return 1;
	}
	struct kube_sink sink = {NULL, sink_object, sink_begin, sink_end};
	struct kube_reflector *rs[KIND_COUNT];
	int rkind[KIND_COUNT], n = 0;
	for (int k = 0; k < KIND_COUNT; k++)
		if (strstr(kinds, kind_names[k])) {
			rkind[n] = k;
			rs[n++] = kube_reflector_new(client, (enum kube_kind)k, &sink, &opts);
		}

	int64_t start = kube_now_ms();
	int rc = 0;
	char line[256];
	size_t linelen = 0;
	bool stdin_open = true;
	for (;;) {
		bool all = true;
		for (int i = 0; i < n; i++)
			all = all && kube_reflector_synced(rs[i]);
		int64_t now = kube_now_ms();
		if (exit_synced && all) {
			printf("synced\n");
			break;
		}
		if (exit_synced && now - start > timeout_ms) {
			fprintf(stderr, "kube_sync: not synced after %d ms\n", timeout_ms);
			rc = 1;
			break;
		}
		struct pollfd pfd[KIND_COUNT + 1];
		int64_t wake = now + 200;
		for (int i = 0; i < n; i++) {
			pfd[i].fd = kube_reflector_fd(rs[i]);
			pfd[i].events = kube_reflector_events(rs[i]);
			pfd[i].revents = 0;
			if (kube_reflector_deadline(rs[i]) < wake)
				wake = kube_reflector_deadline(rs[i]);
		}
		pfd[n].fd = stdin_open && !exit_synced ? 0 : -1;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		poll(pfd, (nfds_t)n + 1, wake > now ? (int)(wake - now) : 0);
		now = kube_now_ms();
		for (int i = 0; i < n; i++)
			if (pfd[i].revents || kube_reflector_deadline(rs[i]) <= now)
				kube_reflector_handle(rs[i], pfd[i].revents);
		if (!(pfd[n].revents & (POLLIN | POLLHUP)))
			continue;
		ssize_t r = read(0, line + linelen, sizeof(line) - 1 - linelen);
		if (r <= 0) {
			stdin_open = false;
			break;
		}
		linelen += (size_t)r;
		char *nl;
		while ((nl = memchr(line, '\n', linelen))) {
			*nl = '\0';
			if (!strcmp(line, "dump")) {
				dump();
			} else if (!strcmp(line, "stats")) {
				for (int i = 0; i < n; i++) {
					struct kube_reflector_stats st;
					kube_reflector_get_stats(rs[i], &st);
					printf("stats %s %d %llu %llu %llu %llu %llu %llu %llu "
					       "%llu %llu "
					       "%s %llu %llu\n",
					       kind_names[rkind[i]], kube_reflector_synced(rs[i]),
					       (unsigned long long)st.lists,
					       (unsigned long long)st.list_pages,
					       (unsigned long long)st.watches,
					       (unsigned long long)st.events,
					       (unsigned long long)st.bookmarks,
					       (unsigned long long)st.relists_410,
					       (unsigned long long)st.errors,
					       (unsigned long long)st.oversized,
					       (unsigned long long)st.rejected,
					       st.resource_version[0] ? st.resource_version : "-",
					       (unsigned long long)st.bytes_received,
					       (unsigned long long)st.bytes_moved);
				}
				printf("END\n");
				fflush(stdout);
			} else if (!strcmp(line, "quit")) {
				stdin_open = false;
			}
			size_t used = (size_t)(nl + 1 - line);
			memmove(line, nl + 1, linelen - used);
			linelen -= used;
		}
		if (!stdin_open || linelen == sizeof(line) - 1)
			break;
	}
	for (int i = 0; i < n; i++)
		kube_reflector_free(rs[i]);
	kube_client_free(client);
	for (int b = 0; b < NBUCKETS; b++)
		while (table[b]) {
			struct entry *e = table[b];
			table[b] = e->next;
			free(e);
		}
	return rc;
}
