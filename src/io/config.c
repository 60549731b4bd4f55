/* config.c - YAML settings against a key table (see config.h), with libyaml's event parser.
 *
 * Owns the typed assignment of a value to a settings field (from a file, `base:` chains and
 * --set), the unknown-key message, the YAML dump (config.yaml, stage cache keys, store settings)
 * and the composite tables the stages build from other stages' keys.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/yaml.h"

static const ws_cfg_key *find_key(const ws_cfg_key *keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].key, k)) return &keys[i];
    return NULL;
}

static const char *type_name(ws_cfg_type t)
{
    static const char *names[] = {"integer", "number", "string", "boolean", "list of 3 numbers", "list of strings"};
    return names[t];
}

/* Strict numbers: trailing garbage ("0.5x") is an error rather than the 0.5 strtod would give, since a
 * silently misread threshold changes results without a trace. */
static int parse_num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    while (*end == ' ') end++;
    /* strtod also reads "nan" and "inf": no setting is meant to be either, so they are refused */
    return errno || end == s || *end || !isfinite(*v) ? -1 : 0;
}

/* The longest value text: a string of WS_CFG_STR_MAX bytes, each escaped (quote_yaml: at most 10 bytes for 1),
 * or a STRLIST (quotes and ", " per item). */
#define WS_CFG_VAL_MAX (10 * WS_CFG_STR_MAX + 4 * WS_YAML_MAX_LIST + 8)

/* Length of the UTF-8 sequence at s and its code point (*cp), or 0 when s does not start a valid one. */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    uint32_t v = n == 1 ? s[0] : n == 2 ? s[0] & 0x1Fu : n == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (!n || v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

/* A value written into a YAML file must be text: a --set value that is not UTF-8 would make the run's
 * config.yaml unreadable. */
static int is_utf8(const char *s)
{
    uint32_t cp;
    for (int n; *s; s += n)
        if (!(n = utf8_next((const unsigned char *)s, &cp))) return 0;
    return 1;
}

/* s as a YAML double-quoted scalar that reads back as s: quotes and backslashes escaped, and so is every
 * character YAML would fold (line breaks) or refuse (non-printable ones), by its code point. s is UTF-8
 * (assign refuses anything else); cap >= 10 * strlen(s) + 3 always suffices. */
static void quote_yaml(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    uint32_t cp;
    buf[o++] = '"';
    for (int n; *s && o + 12 < cap; s += n) {
        if (!(n = utf8_next((const unsigned char *)s, &cp))) { n = 1; cp = 0xFFFD; }
        int printable = (cp >= 0x20 && cp <= 0x7E) || (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD && cp != 0xFEFF) ||
                        cp >= 0x10000;
        if (cp == '"' || cp == '\\') o += (size_t)snprintf(buf + o, cap - o, "\\%c", (int)cp);
        else if (printable && cp != 0x2028 && cp != 0x2029) { memcpy(buf + o, s, (size_t)n); o += (size_t)n; }
        else o += (size_t)snprintf(buf + o, cap - o, cp <= 0xFF ? "\\x%02X" : cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", (unsigned)cp);
    }
    snprintf(buf + o, cap - o, "\"");
}

/* A list of strings into its '\n'-joined field; refused whole rather than truncated. */
static int assign_strlist(const ws_cfg_key *k, char *field, char **vals, int n, const char *where)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const char *v = vals[i];
        /* '\n' separates the items and '"' would break the dumped flow list that config.yaml and the cache
         * keys are made of */
        if (!v[0] || strchr(v, '\n') || strchr(v, '"'))
            return ws_fail(WS_EINVAL, "%s: key '%s': item %d '%s' is empty or holds a newline or '\"'", where, k->key, i + 1, v);
        len += strlen(v) + 1;
    }
    if (len >= WS_CFG_STR_MAX) return ws_fail(WS_EINVAL, "%s: key '%s': list too long (%zu characters at most)", where, k->key, (size_t)WS_CFG_STR_MAX - 1);
    field[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(field, "\n");
        strcat(field, vals[i]);
    }
    return 0;
}

/* Sets one key from scalar values (n = 1) or a sequence (n values). where = "file:line". */
static int assign(const ws_cfg_key *k, void *settings, char **vals, int n, int seq, const char *where)
{
    char *field = (char *)settings + k->offset;
    double v;
    if (k->type == WS_CFG_FLOAT3) {
        if (!seq || n != 3) return ws_fail(WS_EINVAL, "%s: key '%s' needs a list of 3 numbers, e.g. [0, 0, 0.1]", where, k->key);
        for (int i = 0; i < 3; i++) {
            if (parse_num(vals[i], &v)) return ws_fail(WS_EINVAL, "%s: key '%s': '%s' is not a number", where, k->key, vals[i]);
            /* the field is float: a value beyond its range would become inf (and config.yaml unreadable) */
            if (!isfinite((float)v))
                return ws_fail(WS_EINVAL, "%s: key '%s': '%s' is beyond the range of a float (about 3.4e38)", where, k->key, vals[i]);
            ((float *)field)[i] = (float)v;
        }
        return 0;
    }
    if (k->type == WS_CFG_STRLIST) {
        if (!seq) return ws_fail(WS_EINVAL, "%s: key '%s' needs a list, e.g. [cat, dog], not '%s'", where, k->key, vals[0]);
        return assign_strlist(k, field, vals, n, where);
    }
    if (seq || n != 1) return ws_fail(WS_EINVAL, "%s: key '%s' needs a single %s, not a list", where, k->key, type_name(k->type));
    const char *s = vals[0];
    switch (k->type) {
    case WS_CFG_INT: {
        char *end;
        errno = 0;
        /* Base 10 only: a YAML value like "010" must not become 8. */
        long x = strtol(s, &end, 10);
        if (errno || end == s || *end) return ws_fail(WS_EINVAL, "%s: key '%s' needs an integer, got '%s'", where, k->key, s);
        *(int *)field = (int)x;
        return 0;
    }
    case WS_CFG_FLOAT:
        if (parse_num(s, &v)) return ws_fail(WS_EINVAL, "%s: key '%s' needs a finite number, got '%s'", where, k->key, s);
        *(double *)field = v;
        return 0;
    case WS_CFG_BOOL:
        /* YAML 1.1's boolean spellings (yes/no, on/off) besides true/false, and 1/0 as typed on the command
         * line. */
        if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1") || !strcmp(s, "on")) *(int *)field = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0") || !strcmp(s, "off")) *(int *)field = 0;
        else return ws_fail(WS_EINVAL, "%s: key '%s' needs true or false, got '%s'", where, k->key, s);
        return 0;
    case WS_CFG_STR:
        /* Refused, not truncated: a shortened path would name another file. */
        if (strlen(s) >= WS_CFG_STR_MAX) return ws_fail(WS_EINVAL, "%s: key '%s': value too long", where, k->key);
        if (!is_utf8(s)) return ws_fail(WS_EINVAL, "%s: key '%s': the value is not UTF-8 text", where, k->key);
        strcpy(field, s);
        return 0;
    default:
        return ws_fail(WS_EINVAL, "%s: key '%s' has an unknown type", where, k->key);
    }
}

/* Levenshtein distance of a and b, capped at 9 (only small distances matter for a suggestion). */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 9;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            const int up = row[j];
            int d = diag + (a[i - 1] != b[j - 1]);   /* substitute */
            if (up + 1 < d) d = up + 1;                /* delete */
            if (row[j - 1] + 1 < d) d = row[j - 1] + 1;  /* insert */
            row[j] = d;
            diag = up;
        }
    }
    return row[lb] < 9 ? row[lb] : 9;
}

static int unknown(const ws_cfg_key *keys, size_t n, const char *key, const char *where)
{
    /* The likeliest meant key: the same name in another section (train.lr for optim.lr), else the nearest
     * spelling (a typo within a third of the key's length); then the keys of the same section. */
    const char *dot = strrchr(key, '.'), *leaf = dot ? dot + 1 : key, *guess = NULL;
    int best = (int)strlen(key) / 3 + 1;
    for (size_t i = 0; i < n; i++) {
        const char *kd = strrchr(keys[i].key, '.');
        if (!strcmp(kd ? kd + 1 : keys[i].key, leaf)) { guess = keys[i].key; break; }
        const int d = edit_distance(key, keys[i].key);
        if (d < best) best = d, guess = keys[i].key;
    }
    char hint[640] = "";
    size_t pl = dot ? (size_t)(dot - key + 1) : 0, used = 0;
    if (guess) used += (size_t)snprintf(hint, sizeof hint, "; did you mean '%s'?", guess);
    int listed = 0;
    for (size_t i = 0; i < n && pl; i++) {
        if (strncmp(keys[i].key, key, pl)) continue;
        if (used + strlen(keys[i].key) + 8 >= sizeof hint) { used += (size_t)snprintf(hint + used, sizeof hint - used, ", ..."); break; }
        used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%s", listed++ ? ", " : " (keys of this section: ", keys[i].key);
    }
    /* an unknown section: the top level's keys and sections */
    for (size_t i = 0; i < n && !listed; i++) {
        const char *kd = strchr(keys[i].key, '.');
        const size_t sl = kd ? (size_t)(kd - keys[i].key) : strlen(keys[i].key);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strncmp(keys[j].key, keys[i].key, sl) && (keys[j].key[sl] == '.' || !keys[j].key[sl]);
        if (seen || used + 40 >= sizeof hint) continue;
        used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%.*s", strchr(hint, '(') ? ", " : " (top level: ", (int)sl, keys[i].key);
    }
    if (strchr(hint, '(') && used + 2 < sizeof hint) strcat(hint, ")");
    return ws_fail(WS_EINVAL, "%s: unknown key '%s'%s", where, key, hint);
}

static int include_depth;   /* nesting of `base:` files (cycles end at 8) */

/* `base: FILE` (first key of a file): FILE, relative to the including file's folder, is loaded
 * first and this file's keys override it. */
static int load_base(const ws_cfg_key *keys, size_t n, void *settings, const char *path, const char *base,
                     const char *where, int assigned)
{
    char full[2048];
    /* Loading the base after some keys were set would silently override them: the rule "this file wins" holds
     * only if the base comes first. */
    if (assigned) return ws_fail(WS_EINVAL, "%s: 'base' must be the first key of the file", where);
    if (include_depth >= 8) return ws_fail(WS_EINVAL, "%s: 'base' files nest more than 8 deep (a cycle?)", where);
    const char *slash = strrchr(path, '/');
    if (base[0] == '/' || !slash) snprintf(full, sizeof full, "%s", base);
    else snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, base);
    include_depth++;
    int rc = ws_cfg_load(keys, n, settings, full);
    include_depth--;
    return rc ? ws_fail(rc, "%s (base of %s)", ws_last_error(), where) : 0;
}

typedef struct loader {
    const ws_cfg_key *keys;
    size_t n;
    void *settings;
    const char *path;
    int assigned;              /* a key was set (base must come first) */
} loader;

/* One leaf of the file: its dotted path is a key of the table. */
static int load_leaf(void *ctx, const ws_yaml_leaf *l)
{
    loader *ld = ctx;
    char full[512] = "";
    for (int i = 0; i < l->depth; i++) {
        const char *seg = l->path[i];
        /* Every setting is a scalar or a list of scalars; a list of mappings has no key in the table to go
         * to, so it is named rather than ignored. */
        if (seg[0] >= '0' && seg[0] <= '9' && i > 0)
            return ws_fail(WS_EINVAL, "%s: key '%s': lists of mappings are not supported", l->where, full);
        snprintf(full + strlen(full), sizeof full - strlen(full), "%s%s", i ? "." : "", seg);
    }
    if (!strcmp(full, "base") && !l->is_list)
        return load_base(ld->keys, ld->n, ld->settings, ld->path, l->values[0], l->where, ld->assigned);
    const ws_cfg_key *k = find_key(ld->keys, ld->n, full);
    ld->assigned = 1;
    return k ? assign(k, ld->settings, (char **)l->values, l->n, l->is_list, l->where) : unknown(ld->keys, ld->n, full, l->where);
}

int ws_cfg_load(const ws_cfg_key *keys, size_t n, void *settings, const char *path)
{
    loader ld = {keys, n, settings, path, 0};
    /* Opened once here only to give "cannot open" its own message; the walker reports syntax errors with line
     * numbers. */
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open config %s", path);
    fclose(f);
    return ws_yaml_walk(path, load_leaf, &ld);
}

int ws_cfg_set(const ws_cfg_key *keys, size_t n, void *settings, const char *assignment)
{
    return ws_cfg_set_from(keys, n, settings, assignment, NULL);
}

int ws_cfg_set_from(const ws_cfg_key *keys, size_t n, void *settings, const char *assignment, const char *origin)
{
    char buf[WS_CFG_STR_MAX + 256];
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment || strlen(assignment) >= sizeof buf)
        return ws_fail(WS_EINVAL, "%s '%s': expected key=value", origin ? origin : "--set", assignment);
    memcpy(buf, assignment, strlen(assignment) + 1);
    buf[eq - assignment] = '\0';
    char *key = buf, *val = buf + (eq - assignment) + 1, where[600];
    if (origin) snprintf(where, sizeof where, "%.500s", origin);
    else snprintf(where, sizeof where, "--set %.200s", key);
    const ws_cfg_key *k = find_key(keys, n, key);
    if (!k) return unknown(keys, n, key, where);
    size_t vl = strlen(val);
    /* Quotes are stripped as YAML would, so --set a="b" and the same line in a file give the same value. */
    if (vl >= 2 && ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
        val[vl - 1] = '\0';
        val++;
    }
    if (val[0] != '[') return assign(k, settings, &val, 1, 0, where);
    /* A --set list is a flow sequence "[a, b, c]" (items without commas; quotes around an item are
     * stripped); as many items as a YAML list may hold. */
    char *items[WS_YAML_MAX_LIST], *save = NULL;
    int m = 0;
    char *inner = val + 1, *close = strrchr(inner, ']');
    if (!close) return ws_fail(WS_EINVAL, "%s: unterminated list '%s'", where, val);
    *close = '\0';
    for (char *t = strtok_r(inner, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (m == WS_YAML_MAX_LIST) return ws_fail(WS_EINVAL, "%s: list too long (at most %d items)", where, WS_YAML_MAX_LIST);
        while (*t == ' ') t++;
        size_t tl = strlen(t);
        while (tl && t[tl - 1] == ' ') t[--tl] = '\0';
        if (tl >= 2 && ((t[0] == '"' && t[tl - 1] == '"') || (t[0] == '\'' && t[tl - 1] == '\''))) { t[tl - 1] = '\0'; t++; }
        items[m++] = t;
    }
    return assign(k, settings, items, m, 1, where);
}

/* The shortest %g text (lo..hi digits) that reads back as the same value at that precision. */
/* A dump must read back to the same bits: config.yaml reruns a run exactly and the stage cache keys hash this
 * text, so a value that printed differently after a round trip would miss the cache. hi == 9 marks a float
 * field (FLOAT3), compared at float precision. */
static void shortest(double v, int lo, int hi, char *buf, size_t cap)
{
    for (int d = lo; d <= hi; d++) {
        snprintf(buf, cap, "%.*g", d, v);
        double back = strtod(buf, NULL);
        if (hi == 9 ? (float)back == (float)v : back == v) return;
    }
}

static void value_str(const ws_cfg_key *k, const void *settings, char *buf, size_t cap)
{
    const char *field = (const char *)settings + k->offset;
    switch (k->type) {
    case WS_CFG_INT: snprintf(buf, cap, "%d", *(const int *)field); break;
    case WS_CFG_FLOAT: shortest(*(const double *)field, 15, 17, buf, cap); break;
    case WS_CFG_BOOL: snprintf(buf, cap, "%s", *(const int *)field ? "true" : "false"); break;
    case WS_CFG_STR: quote_yaml(field, buf, cap); break;
    case WS_CFG_STRLIST: {
        size_t o = (size_t)snprintf(buf, cap, "[");
        for (const char *p = field; *p && o + 8 < cap;) {
            size_t l = strcspn(p, "\n");
            o += (size_t)snprintf(buf + o, cap - o, "%s\"%.*s\"", p == field ? "" : ", ", (int)l, p);
            p += l + (p[l] == '\n');
        }
        snprintf(buf + (o < cap ? o : cap - 1), cap - (o < cap ? o : cap - 1), "]");
        break;
    }
    case WS_CFG_FLOAT3: {
        const float *v = (const float *)field;
        char a[32], b[32], c[32];
        shortest(v[0], 6, 9, a, sizeof a);
        shortest(v[1], 6, 9, b, sizeof b);
        shortest(v[2], 6, 9, c, sizeof c);
        snprintf(buf, cap, "[%s, %s, %s]", a, b, c);
        break;
    }
    }
}

/* The help text is written as a trailing comment and is part of the text that the pipeline hashes into cache
 * keys and that stores compare as settings: a help change (usually a change of a key's meaning) makes old
 * cache folders and stores unmatched, at the cost of rerunning after a mere rewording. */
char *ws_cfg_dump(const ws_cfg_key *keys, size_t n, const void *settings)
{
    size_t cap = WS_CFG_VAL_MAX + 4096 + n * 256, len = 0;
    char *out = malloc(cap), prev[512] = "";
    if (!out) return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i].key;
        /* open the sections of this key that differ from the previous key's */
        int depth = 0;
        const char *a = k, *b = prev;
        while (1) {
            const char *da = strchr(a, '.'), *db = strchr(b, '.');
            if (!da || !db || da - a != db - b || strncmp(a, b, (size_t)(da - a))) break;
            a = da + 1;
            b = db + 1;
            depth++;
        }
        for (const char *d; (d = strchr(a, '.')); a = d + 1, depth++)
            len += (size_t)snprintf(out + len, cap - len, "%*s%.*s:\n", 2 * depth, "", (int)(d - a), a);
        char val[WS_CFG_VAL_MAX];
        value_str(&keys[i], settings, val, sizeof val);
        len += (size_t)snprintf(out + len, cap - len, "%*s%s: %s%s%s\n", 2 * depth, "", a, val,
                                keys[i].help ? "  # " : "", keys[i].help ? keys[i].help : "");
        snprintf(prev, sizeof prev, "%s", k);
        if (len + WS_CFG_VAL_MAX + 300 > cap) {
            char *p = realloc(out, cap *= 2);
            if (!p) { free(out); return NULL; }
            out = p;
        }
    }
    return out;
}

void ws_cfg_print_help(const ws_cfg_key *keys, size_t n, const void *settings, void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < n; i++) {
        char val[WS_CFG_VAL_MAX];
        value_str(&keys[i], settings, val, sizeof val);
        fprintf(f, "  %-36s %-16s %s\n", keys[i].key, val, keys[i].help ? keys[i].help : "");
    }
}

/* Composite tables reuse another stage's rows with a new prefix and field offset, so a key's type, default
 * and help are written once (e.g. masks' amg.* rows become the pipeline's masks.amg.*). */
int ws_cfg_table_add(ws_cfg_key **tab, size_t *n, const ws_cfg_key *src, size_t ns, const char *const *only,
                     const char *strip, const char *prefix, size_t base)
{
    for (size_t i = 0; i < ns; i++) {
        const char *k = src[i].key;
        int keep = !only;
        for (int j = 0; only && only[j]; j++) keep |= !strncmp(k, only[j], strlen(only[j]));
        if (!keep) continue;
        if (strip && !strncmp(k, strip, strlen(strip))) k += strlen(strip);
        size_t len = strlen(prefix) + strlen(k) + 1;
        char *name = malloc(len);
        ws_cfg_key *t = realloc(*tab, (*n + 1) * sizeof *t);
        if (!name || !t) { free(name); if (t) *tab = t; return ws_fail(WS_ENOMEM, "out of memory"); }
        snprintf(name, len, "%s%s", prefix, k);
        *tab = t;
        t[*n] = src[i];
        t[*n].key = name;
        t[*n].offset = base + src[i].offset;
        (*n)++;
    }
    return 0;
}

void ws_cfg_table_free(ws_cfg_key *tab, size_t n)
{
    for (size_t i = 0; tab && i < n; i++) free((char *)tab[i].key);
    free(tab);
}

/* One lock for all cached tables: they are built once per process, so contention is nil and a per-table lock
 * would add nothing. */
static pthread_mutex_t cached_lock = PTHREAD_MUTEX_INITIALIZER;

const ws_cfg_key *ws_cfg_cached_table(ws_cfg_cached *c, int (*build)(ws_cfg_key **tab, size_t *n), size_t *n)
{
    pthread_mutex_lock(&cached_lock);
    if (!c->built) {
        ws_cfg_key *t = NULL;
        size_t k = 0;
        if (build(&t, &k)) ws_cfg_table_free(t, k);
        else { c->tab = t; c->n = k; c->built = 1; }
    }
    pthread_mutex_unlock(&cached_lock);
    *n = c->n;
    return c->built ? c->tab : NULL;
}
