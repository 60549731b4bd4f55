/* classes.c - the class lists of voc, coco and custom datasets (see classes.h).
 *
 * Owns the parsing and checking of custom class entries ("label" or "label: prompt") from the
 * config's list or a class file; VOC's and COCO's lists point at the tables of data/names.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/classes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"
#include "data/names.h"

static int alloc_lists(ws_classes *c, int n_fg)
{
    c->n_fg = n_fg;
    c->label = calloc((size_t)n_fg + 1, sizeof *c->label);
    c->prompt = calloc((size_t)n_fg + 1, sizeof *c->prompt);
    c->detect = calloc((size_t)n_fg + 1, sizeof *c->detect);
    if (c->label && c->prompt && c->detect) return 0;
    ws_classes_free(c);
    return ws_fail(WS_ENOMEM, "out of memory");
}

static int builtin(ws_classes *c, int coco)
{
    int rc = alloc_lists(c, coco ? 80 : 20);
    if (rc) return rc;
    c->label[0] = "background";
    for (int i = 0; i < c->n_fg; i++) {
        /* VOC's label names are the dataset's own spellings ("diningtable"); COCO's the official category
         * names. The prompt and detector names are the official code's renamings. */
        c->label[i + 1] = coco ? WS_COCO_NAMES[i] : WS_VOC_LABELS[i + 1];
        c->prompt[i] = coco ? WS_COCO_FG[i] : WS_VOC_FG[i];
        c->detect[i] = coco ? WS_COCO_NAMES[i] : WS_VOC_DINO[i];
    }
    c->bg_words = coco ? WS_COCO_BG : WS_VOC_BG;
    c->n_bg_words = coco ? 23 : 25;
    return 0;
}

/* Trims s in place (blanks, CR) and returns its first non-blank character. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

/* The names end up in JSON, YAML, HTML and a Python config: refusing the few characters that need
 * escaping there keeps every writer simple and the outputs valid. */
static int name_ok(const char *s, const char *where, const char *what)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 32 || *p == 127 || *p == '"' || *p == '\\' || *p == '<' || *p == '>' || *p == '&')
            return ws_fail(WS_EFORMAT, "%s: %s '%s' holds a %s: class names may not hold quotes, backslashes, "
                           "<, >, & or control characters", where, what, s, *p < 32 ? "control character" : "reserved character");
    return 0;
}

/* One entry "label" or "label: prompt" (line already trimmed) as class value v. */
static int entry(ws_classes *c, int v, char *line, const char *where)
{
    char *colon = strchr(line, ':'), *prompt = NULL;
    if (colon) { *colon = '\0'; prompt = trim(colon + 1); }
    char *label = trim(line);
    if (!*label) return ws_fail(WS_EFORMAT, "%s: empty class name (entries are 'label' or 'label: prompt name')", where);
    /* Background is value 0 by convention (as in VOC): listing it would make every class one value too
     * high and silently mislabel the whole dataset. */
    if (!strcasecmp(label, "background") || !strcasecmp(label, "_background_"))
        return ws_fail(WS_EFORMAT, "%s: '%s' is listed, but background is value 0 and never listed: list the "
                       "foreground classes only, the first is label value 1", where, label);
    int rc = name_ok(label, where, "class name");
    if (!rc && prompt && *prompt) rc = name_ok(prompt, where, "prompt name");
    if (rc) return rc;
    for (int k = 1; k < v; k++)
        if (!strcmp(c->label[k], label))
            return ws_fail(WS_EFORMAT, "%s: class '%s' is listed twice (values %d and %d)", where, label, k, v);
    c->label[v] = label;
    c->prompt[v - 1] = c->detect[v - 1] = prompt && *prompt ? prompt : label;
    return 0;
}

/* Parses the entries of text (owned by c from now on); src names the list for messages, lines 1
 * when it is a file (messages say file:line) rather than the config list (item k). */
static int parse(ws_classes *c, char *text, const char *src, int is_file)
{
    int n = 0, rc = 0, ln = 0;
    c->text_ = text;
    if (!strncmp(text, "\xef\xbb\xbf", 3)) text += 3;   /* a UTF-8 byte-order mark (Windows editors) */
    for (char *p = text; *p; p++) n += *p == '\n';
    if ((rc = alloc_lists(c, n + 1))) return rc;
    int v = 0;
    for (char *line = text, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char where[1200], *t = trim(line);
        ln++;
        if (!*t || *t == '#') continue;
        if (++v > WS_CLASSES_MAX)
            return ws_fail(WS_EINVAL, "%s: more than %d classes: label maps and seeds are 8-bit PNGs (0 background, "
                           "255 ignore), so at most %d foreground classes fit", src, WS_CLASSES_MAX, WS_CLASSES_MAX);
        snprintf(where, sizeof where, is_file ? "%s:%d" : "%s item %d", src, is_file ? ln : v);
        rc = entry(c, v, t, where);
    }
    if (!rc && !v) rc = ws_fail(WS_EINVAL, "%s names no class", src);
    c->n_fg = v;
    c->label[0] = "background";
    c->bg_words = WS_VOC_BG;   /* generic scene words (ground, sky, wall, ...): CLIP-ES uses them for any dataset */
    c->n_bg_words = 25;
    return rc;
}

static int read_file(const char *path, char **text)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open class file %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap + 1);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *b = realloc(buf, (cap *= 2) + 1);
            if (!b) { free(buf); buf = NULL; }
            else buf = b;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return ws_fail(WS_ENOMEM, "out of memory");
    if (bad) { free(buf); return ws_fail(WS_EIO, "cannot read class file %s", path); }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) { free(buf); return ws_fail(WS_EFORMAT, "class file %s is not a text file", path); }
    *text = buf;
    return 0;
}

int ws_classes_load(ws_classes *c, const char *dataset, const char *list, const char *file)
{
    const int has_list = list && list[0], has_file = file && file[0];
    memset(c, 0, sizeof *c);
    if (!strcmp(dataset, "voc") || !strcmp(dataset, "coco")) {
        /* A class list given beside a built-in dataset would be ignored or contradict it: either is a mistake. */
        if (has_list || has_file)
            return ws_fail(WS_EINVAL, "data.classes / data.class_file are for data.dataset: custom, not %s", dataset);
        return builtin(c, !strcmp(dataset, "coco"));
    }
    if (strcmp(dataset, "custom"))
        return ws_fail(WS_EINVAL, "data.dataset: '%s' is not voc, coco or custom", dataset);
    if (has_list == has_file)
        return ws_fail(WS_EINVAL, "data.dataset: custom needs its classes in exactly one of data.classes (a list) and "
                       "data.class_file (a file, one class per line)%s", has_list ? ", not both" : "");
    char *text = NULL;
    int rc = has_file ? read_file(file, &text) : (text = strdup(list)) ? 0 : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc) rc = parse(c, text, has_file ? file : "data.classes", has_file);
    else free(text);
    if (rc) ws_classes_free(c);
    return rc;
}

void ws_classes_free(ws_classes *c)
{
    if (!c) return;
    free(c->label);
    free(c->prompt);
    free(c->detect);
    free(c->text_);
    memset(c, 0, sizeof *c);
}
