/* multi-networkpolicy-nftables: the agent (no subcommand), render, explain, cleanup, version,
 * help. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "explain.h"
#include "flags.h"
#include "nft/apply.h"
#include "nft/render.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"

#include "agent/agent.h"
#include "cni/cni.h"

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
	log_format = f.log_json ? LOG_JSON : LOG_TEXT;
	if (policy_opts_init(&opts, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "render: %s\n", err);
		flags_free(&f);
		return 1;
	}
	s = store_new(f.node);
	if (!s)
		goto out;
	if (store_load_file(s, f.objects, err, sizeof(err)) < 0) {
		fprintf(stderr, "render: %s\n", err);
		goto out;
	}
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

static int cleanup_one(const char *path)
{
	char err[512];
	bool left = false;
	if (nft_delete_table(path, NULL, err, sizeof(err)) < 0 ||
	    nft_table_present(path, NULL, &left, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "cleanup: %s: %s\n", path, err);
		return 1;
	}
	if (left) /* only a table another process's socket owns survives the deletion */
		printf("cleanup: %s: the agent's tables are removed; table inet "
		       "multi_networkpolicy stays, owned by another process\n",
		       path);
	else
		printf("cleanup: %s: no table inet multi_networkpolicy or companion left\n", path);
	return 0;
}

/* After the agent is uninstalled its tables stay in the pods (by design: leaving never opens a
 * pod). This removes them: from each --netns PATH, or every namespace file in --netns-dir. */
static int cmd_cleanup(int argc, char **argv)
{
	static const char usage[] =
	    "Usage: multi-networkpolicy-nftables cleanup --netns PATH... | --netns-dir DIR\n\n"
	    "Deletes the table inet multi_networkpolicy, and the agent's companion tables\n"
	    "multi_networkpolicy_<hex>, from the given network namespaces\n"
	    "(e.g. /var/run/netns/cni-..., /proc/PID/ns/net), or from every namespace file in DIR\n"
	    "(e.g. /var/run/netns). Stop the agent first: a running agent owns its tables.\n";
	int rc = 0, done = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t n = strcspn(a, "=");
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		bool is_ns = !strncmp(a, "--netns", n) && n == 7;
		bool is_dir = !strncmp(a, "--netns-dir", n) && n == 11;
		if (!is_ns && !is_dir) {
			fprintf(stderr, "cleanup: unknown argument \"%s\"\n%s", a, usage);
			return 2;
		}
		v = a[n] ? a + n + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!v || !*v) {
			fprintf(stderr, "cleanup: %.*s needs a value\n", (int)n, a);
			return 2;
		}
		if (is_ns) {
			rc |= cleanup_one(v);
			done++;
			continue;
		}
		DIR *d = opendir(v);
		if (!d) {
			fprintf(stderr, "cleanup: %s: %s\n", v, strerror(errno));
			return 1;
		}
		for (struct dirent *e; (e = readdir(d));) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", v, e->d_name);
			rc |= cleanup_one(path);
			done++;
		}
		closedir(d);
	}
	if (!done && argc == 0) {
		fputs(usage, stderr);
		return 2;
	}
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
	log_format = f.log_json ? LOG_JSON : LOG_TEXT;
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
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	/* Installed in the CNI bin dir under this name, the binary is the chained plugin. */
	if (argc > 0 && strcmp(base ? base + 1 : argv[0], "multi-networkpolicy-cni") == 0)
		return cni_plugin_main(argc - 1, argv + 1);
	if (sub && strcmp(sub, "cni") == 0)
		return cni_plugin_main(argc - 2, argv + 2);

	if (protect_relro() != 0) {
		fprintf(stderr, "error: cannot make the relocation-read-only segment read-only: %s\n",
			strerror(errno));
		return 1;
	}
	if (sub && strcmp(sub, "render") == 0)
		return cmd_render(argc - 2, argv + 2);
	if (sub && strcmp(sub, "explain") == 0)
		return explain_main(argc - 2, argv + 2);
	if (sub && strcmp(sub, "cleanup") == 0)
		return cmd_cleanup(argc - 2, argv + 2);
	if (sub && (strcmp(sub, "version") == 0))
		return cmd_version();
	if (sub && strcmp(sub, "help") == 0) {
		flags_usage(stdout, FLAGS_AGENT);
		return 0;
	}
	return cmd_agent(argc - 1, argv + 1);
}
