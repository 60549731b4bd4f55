/* config.h - YAML configuration files checked against a schema of known keys.
 *
 * A command declares its settings as a table of keys (dotted paths such as "amg.points_per_side")
 * with a type, a default (the embedded default config is just these values) and a help text.
 * Loading a YAML file sets the keys it names; `--set key=value` overrides follow. An unknown
 * key, a wrong type or malformed YAML is an error naming the file, line and key. The resolved
 * config can be written back as YAML (for experiments/<run>/ and cache keys).
 */
#ifndef WS_IO_CONFIG_H
#define WS_IO_CONFIG_H

#include <stddef.h>

/* WS_CFG_STRLIST: a YAML list of strings, held in a char[WS_CFG_STR_MAX] field as the items joined
 * by '\n' (no item may be empty or hold a newline or '"'); dumped as a flow list ["a", "b"]. */
typedef enum { WS_CFG_INT, WS_CFG_FLOAT, WS_CFG_STR, WS_CFG_BOOL, WS_CFG_FLOAT3, WS_CFG_STRLIST } ws_cfg_type;

typedef struct ws_cfg_key {
    const char *key;      /* dotted path */
    ws_cfg_type type;
    size_t offset;        /* offset of the field in the settings struct */
    const char *help;     /* one line for --help and the resolved YAML */
} ws_cfg_key;

#define WS_CFG_STR_MAX 1024   /* WS_CFG_STR fields are char[WS_CFG_STR_MAX] */

/* Reads YAML file `path` into `settings` (which holds the defaults already). A first key
 * `base: FILE` (relative to path's folder) loads FILE first; path's keys override it. */
int ws_cfg_load(const ws_cfg_key *keys, size_t n, void *settings, const char *path);
/* Applies one "key=value" override (value in YAML flow syntax, e.g. "[0, 0, 0.1]"). */
int ws_cfg_set(const ws_cfg_key *keys, size_t n, void *settings, const char *assignment);
/* The same for an assignment read elsewhere (a sweep file): its messages begin with `origin`
 * ("file:line", as a config file's do) where ws_cfg_set's say "--set KEY". */
int ws_cfg_set_from(const ws_cfg_key *keys, size_t n, void *settings, const char *assignment, const char *origin);
/* The resolved settings as YAML text (malloc'd, caller frees), keys in table order. */
char *ws_cfg_dump(const ws_cfg_key *keys, size_t n, const void *settings);
/* Prints the table (key, type, current value, help) for --help. */
void ws_cfg_print_help(const ws_cfg_key *keys, size_t n, const void *settings, void *file /* FILE* */);

/* Builds composite tables (a pipeline config made of sections): appends to *tab (malloc'd, grown)
 * the keys of src whose name starts with one of `only` (NULL-terminated; NULL = all), named
 * prefix + the name without a leading `strip` (may be NULL), their offsets shifted by base (the
 * section's offset in the composite struct). Free with ws_cfg_table_free. */
int ws_cfg_table_add(ws_cfg_key **tab, size_t *n, const ws_cfg_key *src, size_t ns, const char *const *only,
                     const char *strip, const char *prefix, size_t base);
/* Frees a table built with ws_cfg_table_add (its key names too); NULL is a no-op. */
void ws_cfg_table_free(ws_cfg_key *tab, size_t n);

/* A composite table built once per process, on first use (thread-safe), then read-only: what a
 * stage's `ws_<stage>_keys()` returns. Zero-initialise it (static storage). */
typedef struct ws_cfg_cached {
    ws_cfg_key *tab;
    size_t n;
    int built;
} ws_cfg_cached;
/* The table of c, building it with build (which appends with ws_cfg_table_add) on the first call;
 * *n its length. NULL when the build failed (out of memory); a later call tries again. */
const ws_cfg_key *ws_cfg_cached_table(ws_cfg_cached *c, int (*build)(ws_cfg_key **tab, size_t *n), size_t *n);
#endif
