/* multi-networkpolicy-nftables: the agent (no subcommand), render, version, help. */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flags.h"
#include "nft/render.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"

#include "agent/agent.h"

/* The first byte of this program's image (its ELF header), placed by the linker. */
extern const char __ehdr_start;

/* musl's static start relocates the binary but never makes PT_GNU_RELRO read-only as ld.so
 * does, so a memory write bug could still overwrite the GOT and function pointer tables. */
static int protect_relro(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	size_t n = getauxval(AT_PHNUM);
	uintptr_t base = 0, page = (uintptr_t)sysconf(_SC_PAGESIZE);

	for (size_t i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			base = (uintptr_t)&__ehdr_start - ph[i].p_vaddr;
	for (size_t i = 0; ph && i < n; i++) {
		if (ph[i].p_type != PT_GNU_RELRO)
			continue;
		uintptr_t start = (base + ph[i].p_vaddr) & -page;
		uintptr_t end = (base + ph[i].p_vaddr + ph[i].p_memsz) & -page;
		if (end > start && mprotect((void *)start, end - start, PROT_READ) != 0)
			return -1;
	}
	return 0;
}

static int cmd_version(void)
{
	printf("multi-networkpolicy-nftables %s (%s)\n", VERSION, GITREV);
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int kind_of(const struct json *j, int item, enum kube_kind *k)
{
	int kind = json_get(j, item, "kind");
	if (json_str_eq(j, kind, "Pod"))
		*k = KIND_POD;
	else if (json_str_eq(j, kind, "Namespace"))
		*k = KIND_NAMESPACE;
	else if (json_str_eq(j, kind, "NetworkAttachmentDefinition"))
		*k = KIND_NAD;
	else if (json_str_eq(j, kind, "MultiNetworkPolicy"))
		*k = KIND_POLICY;
	else
		return -1;
	return 0;
}

/* Loads a List (or a single object) into the store. Returns 0 or -1 (message printed). */
static int load_objects(struct store *s, const char *path)
{
	size_t len;
	char *text = read_file(path, &len);
	jsmntok_t *tok = NULL;
	struct json j;
	int n, items, rc = -1;

	if (!text) {
		fprintf(stderr, "render: %s: %s\n", path, strerror(errno ? errno : EIO));
		return -1;
	}
	n = json_count_tokens(text, len);
	if (n <= 0 || !(tok = malloc((size_t)n * sizeof(*tok))) ||
	    json_parse(&j, text, len, tok, n) < 0 || !json_is_object(&j, 0)) {
		fprintf(stderr, "render: %s: not a JSON object\n", path);
		goto out;
	}
	items = json_get(&j, 0, "items");
	if (items < 0) {
		/* A single object. */
		enum kube_kind k;
		if (kind_of(&j, 0, &k) == 0)
			store_upsert_json(s, k, text, len);
		rc = 0;
		goto out;
	}
	for (int it = json_first(&j, items); it >= 0; it = json_next(&j, items, it)) {
		enum kube_kind k;
		if (kind_of(&j, it, &k) < 0)
			continue;
		store_upsert_json(s, k, text + tok[it].start,
				  (size_t)(tok[it].end - tok[it].start));
	}
	rc = 0;
out:
	free(tok);
	free(text);
	return rc;
}

struct pod_list {
	const struct store_pod **v;
	size_t n, cap;
};

static void collect(void *ctx, const char *uid, const struct store_pod *pod)
{
	struct pod_list *l = ctx;
	if (!pod)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		const struct store_pod **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pod;
}

static int pod_cmp(const void *a, const void *b)
{
	const struct store_pod *x = *(const struct store_pod *const *)a;
	const struct store_pod *y = *(const struct store_pod *const *)b;
	int c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

static int cmd_render(int argc, char **argv)
{
	struct flags f;
	struct policy_opts opts;
	struct pod_list pods = {0};
	struct arena a = {0};
	struct store *s;
	char err[512];
	int rc = 1;

	if (flags_parse(&f, FLAGS_RENDER, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "render: %s\n", err);
		flags_free(&f);
		return 2;
	}
	if (f.help || f.version) {
		if (f.help)
			flags_usage(stdout, FLAGS_RENDER);
		else
			cmd_version();
		flags_free(&f);
		return 0;
	}
	log_verbosity = f.verbosity;
	if (policy_opts_init(&opts, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "render: %s\n", err);
		flags_free(&f);
		return 1;
	}
	s = store_new(f.node);
	if (!s || load_objects(s, f.objects) < 0)
		goto out;
	store_for_each_local(s, collect, &pods);
	qsort(pods.v, pods.n, sizeof(*pods.v), pod_cmp);
	rc = 0;
	for (size_t i = 0; i < pods.n; i++) {
		struct pod_ruleset rs;
		arena_reset(&a);
		if (pod_ruleset_compute(s, pods.v[i], &opts, &a, &rs) < 0) {
			fprintf(stderr, "render: pod %s/%s: out of memory\n", pods.v[i]->ns,
				pods.v[i]->name);
			rc = 1;
			break;
		}
		if (rs.nchains == 0)
			continue;
		printf("# pod %s/%s (%s)\n", pods.v[i]->ns, pods.v[i]->name, pods.v[i]->uid);
		if (nft_ruleset_print(&rs, stdout) < 0) {
			fprintf(stderr, "render: pod %s/%s: %s\n", pods.v[i]->ns, pods.v[i]->name,
				strerror(errno));
			rc = 1;
			break;
		}
	}
	if (fflush(stdout) != 0)
		rc = 1;
out:
	free(pods.v);
	arena_free(&a);
	store_free(s);
	policy_opts_free(&opts);
	flags_free(&f);
	return rc;
}

static int cmd_agent(int argc, char **argv)
{
	struct flags f;
	char err[512];
	int rc;

	if (flags_parse(&f, FLAGS_AGENT, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "multi-networkpolicy-nftables: %s (see --help)\n", err);
		flags_free(&f);
		return 2;
	}
	if (f.help || f.version) {
		if (f.help)
			flags_usage(stdout, FLAGS_AGENT);
		else
			cmd_version();
		flags_free(&f);
		return 0;
	}
	log_verbosity = f.verbosity;
	{
		/* Refuse to start on a custom rule file the agent cannot enforce exactly. */
		struct policy_opts opts;
		if (policy_opts_init(&opts, &f, err, sizeof(err)) < 0) {
			fprintf(stderr, "multi-networkpolicy-nftables: %s\n", err);
			flags_free(&f);
			return 1;
		}
		policy_opts_free(&opts);
	}
	rc = agent_run(&f);
	flags_free(&f);
	return rc;
}

int main(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (protect_relro() != 0) {
		fprintf(stderr, "error: cannot make the relocation-read-only segment read-only: %s\n",
			strerror(errno));
		return 1;
	}
	if (sub && strcmp(sub, "render") == 0)
		return cmd_render(argc - 2, argv + 2);
	if (sub && (strcmp(sub, "version") == 0))
		return cmd_version();
	if (sub && strcmp(sub, "help") == 0) {
		flags_usage(stdout, FLAGS_AGENT);
		return 0;
	}
	return cmd_agent(argc - 1, argv + 1);
}
