/* A YAML subset, enough for kubeconfig files as people and tools write them: block mappings
 * and sequences (a sequence may sit at its parent key's indentation), flow mappings and
 * sequences (which may span lines, so JSON documents parse too), plain, single- and
 * double-quoted one-line scalars, comments and "---". Anything else (anchors, tags, block
 * scalars, multi-line scalars) is an error naming the line.
 * Like jsmn, the parser fills the caller's node array and string buffer and allocates nothing. */
#ifndef KUBE_YAML_H
#define KUBE_YAML_H

#include <stddef.h>

enum yaml_type { YAML_SCALAR, YAML_MAP, YAML_SEQ };

struct yaml_node {
	enum yaml_type type;
	const char *key;   /* entry key when the parent is a map, else NULL */
	const char *value; /* scalar text (unquoted, unescaped); "" for an empty value */
	int first, next;   /* first child, next sibling; -1 for none */
	int line;	   /* 1-based line where the node starts */
};

/* Node 0 is the document root. strbuf receives every key and value (and the parser's line
 * table); yaml_buf_size bytes always suffice. Returns the number of nodes used, -2 when nodes or
 * strbuf are too small, or -1 when the text is outside the subset or malformed (*err_line and err
 * say where/why). */
int yaml_parse(const char *text, size_t len, struct yaml_node *nodes, int nnodes, char *strbuf,
	       size_t strcap, int *err_line, char *err, size_t errcap);

size_t yaml_buf_size(const char *text, size_t len, int nnodes);

/* The value of `key` in the map at index map, or -1. */
int yaml_get(const struct yaml_node *nodes, int map, const char *key);
/* The scalar value of `key` in the map, or NULL (missing or not a scalar). */
const char *yaml_get_str(const struct yaml_node *nodes, int map, const char *key);

#endif
