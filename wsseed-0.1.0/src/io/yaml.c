/* yaml.c - the YAML leaf walker (see yaml.h) over libyaml's event parser.
 *
 * Owns the stack of open mappings and lists and turns the event stream into leaves (a dotted key
 * path with its scalar or list of scalars, and the line of every key), which the config loader
 * and the sweep reader check against their own tables. Events rather than libyaml's document
 * loader, because the loader does not keep a duplicate key's two lines for the message.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/status.h"

/* One open collection: a mapping (its pending key, the keys seen with their lines) or a list. */
typedef struct frame {
    int is_list;
    char *key;                 /* mapping: the key whose value comes next (NULL: a key comes next) */
    unsigned long key_line;    /* its line; a list: the line of the current item */
    int item;                  /* list of mappings: index of the current item */
    char **seen;               /* mapping: keys already given, and their lines (duplicate check) */
    unsigned long *seen_line;
    int nseen, capseen;
} frame;

typedef struct walker {
    const char *path;
    ws_yaml_visit visit;
    void *ctx;
    frame f[WS_YAML_MAX_DEPTH + 1];
    int depth;                 /* open collections */
    char *seqv[WS_YAML_MAX_LIST];
    int nseq, in_scalar_list;  /* a list of scalars being collected (a leaf) */
    char where[1200];
} walker;

static void frame_free(frame *f)
{
    free(f->key);
    for (int i = 0; i < f->nseen; i++) free(f->seen[i]);
    free(f->seen);
    free(f->seen_line);
    memset(f, 0, sizeof *f);
}

/* The path of keys to the current position (list items as their index). */
static int path_of(walker *w, const char **out, unsigned long *lines, char idx[][16])
{
    int d = 0;
    for (int i = 0; i < w->depth; i++) {
        const frame *f = &w->f[i];
        if (f->is_list) { snprintf(idx[d], 16, "%d", f->item); lines[d] = f->key_line; out[d] = idx[d]; d++; }
        else if (f->key) { lines[d] = f->key_line; out[d++] = f->key; }
    }
    return d;
}

static int leaf(walker *w, char *const *vals, int n, int is_list)
{
    const char *path[WS_YAML_MAX_DEPTH + 1];
    unsigned long lines[WS_YAML_MAX_DEPTH + 1];
    char idx[WS_YAML_MAX_DEPTH + 1][16];
    int d = path_of(w, path, lines, idx);
    ws_yaml_leaf l = {.path = path, .depth = d, .values = vals, .n = n, .is_list = is_list, .where = w->where,
                      .file = w->path, .lines = lines};
    return w->visit(w->ctx, &l);
}

/* A key of the innermost mapping: refused when the mapping already has it. */
/* YAML parsers differ on a repeated key (PyYAML keeps the last one silently); here it is an error naming both
 * lines, since either choice would hide a mistake in a config. */
static int take_key(walker *w, frame *f, const char *k, unsigned long line)
{
    for (int i = 0; i < f->nseen; i++)
        if (!strcmp(f->seen[i], k))
            return ws_fail(WS_EINVAL, "%s: key '%s' is given twice (lines %lu and %lu); keep one", w->where, k,
                           f->seen_line[i], line);
    if (f->nseen == f->capseen) {
        int cap = f->capseen ? 2 * f->capseen : 16;
        char **s = realloc(f->seen, (size_t)cap * sizeof *s);
        if (s) f->seen = s;
        unsigned long *l = s ? realloc(f->seen_line, (size_t)cap * sizeof *l) : NULL;
        if (!l) return ws_fail(WS_ENOMEM, "out of memory");
        f->seen_line = l;
        f->capseen = cap;
    }
    if (!(f->seen[f->nseen] = strdup(k)) || !(f->key = strdup(k))) return ws_fail(WS_ENOMEM, "out of memory");
    f->key_line = line;
    f->seen_line[f->nseen++] = line;
    return 0;
}

/* After a value is complete: the mapping above waits for its next key, a list for its next item. */
static void value_done(walker *w)
{
    if (!w->depth) return;
    frame *f = &w->f[w->depth - 1];
    if (f->is_list) f->item++;
    else { free(f->key); f->key = NULL; }
}

static int on_scalar(walker *w, char *val, unsigned long line)
{
    if (w->in_scalar_list) {
        if (w->nseq >= WS_YAML_MAX_LIST) return ws_fail(WS_EINVAL, "%s: list too long (at most %d values)", w->where, WS_YAML_MAX_LIST);
        if (!(w->seqv[w->nseq++] = strdup(val))) return ws_fail(WS_ENOMEM, "out of memory");
        return 0;
    }
    /* An empty document yields one empty scalar: that is an empty config (all defaults), not an error. */
    if (!w->depth) return val[0] ? ws_fail(WS_EFORMAT, "%s: the file must be a mapping of keys", w->where) : 0;
    frame *f = &w->f[w->depth - 1];
    if (!f->is_list && !f->key) return take_key(w, f, val, line);
    int rc = leaf(w, &val, 1, 0);
    value_done(w);
    return rc;
}

static int on_open(walker *w, int is_list)
{
    frame *top = w->depth ? &w->f[w->depth - 1] : NULL;
    if (w->in_scalar_list) return ws_fail(WS_EINVAL, "%s: nested lists are not supported", w->where);
    if (top && !top->is_list && !top->key) return ws_fail(WS_EFORMAT, "%s: a mapping or list cannot be a key", w->where);
    if (is_list && !top) return ws_fail(WS_EFORMAT, "%s: the file must be a mapping of keys", w->where);
    /* Nested lists and aliases are refused rather than flattened: no setting needs them, and a silent
     * flattening would give a value nobody wrote. */
    if (is_list && top->is_list) return ws_fail(WS_EINVAL, "%s: nested lists are not supported", w->where);
    if (w->depth >= WS_YAML_MAX_DEPTH) return ws_fail(WS_EINVAL, "%s: nesting too deep", w->where);
    if (is_list) {
        /* a list is a leaf of scalars unless its first item opens a mapping (see on_event) */
        w->in_scalar_list = 1;
        w->nseq = 0;
        return 0;
    }
    memset(&w->f[w->depth++], 0, sizeof w->f[0]);
    return 0;
}

static int on_close_list(walker *w)
{
    int rc = 0;
    if (w->in_scalar_list) {
        rc = leaf(w, w->seqv, w->nseq, 1);
        for (int i = 0; i < w->nseq; i++) free(w->seqv[i]);
        w->nseq = 0;
        w->in_scalar_list = 0;
    } else {
        frame_free(&w->f[--w->depth]);
    }
    value_done(w);
    return rc;
}

static int on_event(walker *w, const yaml_event_t *ev)
{
    /* "file:line" of the event, kept current so that every message of the walker and of the visitor points at
     * the offending line (libyaml counts lines from 0). */
    snprintf(w->where, sizeof w->where, "%s:%lu", w->path, (unsigned long)ev->start_mark.line + 1);
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        if (w->in_scalar_list && w->nseq == 0) {   /* a list of mappings: a list frame after all */
            w->in_scalar_list = 0;
            if (w->depth >= WS_YAML_MAX_DEPTH) return ws_fail(WS_EINVAL, "%s: nesting too deep", w->where);
            memset(&w->f[w->depth], 0, sizeof w->f[0]);
            w->f[w->depth++].is_list = 1;
        } else if (w->in_scalar_list) {
            return ws_fail(WS_EINVAL, "%s: a list mixes values and mappings", w->where);
        }
        if (w->depth && w->f[w->depth - 1].is_list) w->f[w->depth - 1].key_line = (unsigned long)ev->start_mark.line + 1;
        return on_open(w, 0);
    case YAML_MAPPING_END_EVENT:
        frame_free(&w->f[--w->depth]);
        value_done(w);
        return 0;
    case YAML_SEQUENCE_START_EVENT: return on_open(w, 1);
    case YAML_SEQUENCE_END_EVENT: return on_close_list(w);
    case YAML_SCALAR_EVENT:
        if (w->depth && w->f[w->depth - 1].is_list && !w->in_scalar_list)
            return ws_fail(WS_EINVAL, "%s: a list mixes values and mappings", w->where);
        return on_scalar(w, (char *)ev->data.scalar.value, (unsigned long)ev->start_mark.line + 1);
    case YAML_ALIAS_EVENT: return ws_fail(WS_EINVAL, "%s: YAML aliases are not supported", w->where);
    default: return 0;
    }
}

int ws_yaml_walk(const char *path, ws_yaml_visit visit, void *ctx)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open %s", path);
    yaml_parser_t p;
    yaml_event_t ev;
    walker w;
    memset(&w, 0, sizeof w);
    w.path = path;
    w.visit = visit;
    w.ctx = ctx;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = 0, done = 0;
    while (!done && !rc) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = ws_fail(WS_EFORMAT, "%s:%lu: malformed YAML: %s", path, (unsigned long)p.problem_mark.line + 1,
                         p.problem ? p.problem : "syntax error");
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&w, &ev);
        yaml_event_delete(&ev);
    }
    for (int i = 0; i < WS_YAML_MAX_DEPTH + 1; i++) frame_free(&w.f[i]);
    for (int i = 0; i < w.nseq; i++) free(w.seqv[i]);
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}
