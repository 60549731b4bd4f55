/* yaml.h - the one libyaml reader of wsseed's YAML files (configs, sweep files): walks a file's
 * document and reports every leaf (a scalar or a list of scalars) with the keys that lead to it.
 *
 * A list item that is a mapping contributes its index ("0", "1", ...) to the path, so both the
 * flat configs (io/config.c) and the sweep file's list of runs (stage/sweep.c) are read by the same
 * loop. Malformed YAML, aliases, lists nested in lists, keys that are not scalars and nesting
 * deeper than WS_YAML_MAX_DEPTH are errors naming file:line. A key given twice in one mapping is
 * an error naming both lines.
 */
#ifndef WS_IO_YAML_H
#define WS_IO_YAML_H

#define WS_YAML_MAX_DEPTH 8
#define WS_YAML_MAX_LIST 64

typedef struct ws_yaml_leaf {
    const char *const *path;   /* keys from the root (depth of them); list items appear as "0", "1", ... */
    int depth;
    char *const *values;       /* the scalar (n = 1, is_list 0) or the list's scalars (n >= 0, is_list 1) */
    int n, is_list;
    const char *where;         /* "file:line" of the leaf's value */
    const char *file;          /* the file */
    const unsigned long *lines;  /* line of each path element (1-based; a list item: its first line) */
} ws_yaml_leaf;

/* Called for each leaf in file order; a non-zero return stops the walk and is returned. */
typedef int (*ws_yaml_visit)(void *ctx, const ws_yaml_leaf *leaf);

/* Walks YAML file `path` (an empty file or document has no leaves). A document that is not a
 * mapping is an error. Returns 0, the visitor's status, or a WS_E* code naming file:line. */
int ws_yaml_walk(const char *path, ws_yaml_visit visit, void *ctx);
#endif
