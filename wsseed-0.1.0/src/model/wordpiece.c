/* wordpiece.c - BERT uncased WordPiece tokenizer and Grounding-DINO captions (see wordpiece.h). */
#define _POSIX_C_SOURCE 200809L
#include "model/wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/unicode.h"

int ws_wordpiece_load(ws_wordpiece *w, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int cap = 0, rc = 0;
    memset(w, 0, sizeof *w);
    w->unk = w->cls = w->sep = w->pad = -1;
    if (!f) return ws_fail(WS_EIO, "cannot open BERT vocabulary %s", path);
    if (ws_strmap_init(&w->vocab, 40000)) { fclose(f); return ws_fail(WS_ENOMEM, "out of memory"); }
    while (!rc && fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (w->n == cap) {
            char **t = realloc(w->tokens, (size_t)(cap = cap ? 2 * cap : 32768) * sizeof *t);
            if (!t) { rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
            w->tokens = t;
        }
        if (!(w->tokens[w->n] = strdup(line)) || ws_strmap_put(&w->vocab, line, l, w->n)) rc = ws_fail(WS_ENOMEM, "out of memory");
        w->n++;
    }
    fclose(f);
    int64_t v;
    if (!rc && ws_strmap_get(&w->vocab, "[UNK]", 5, &v)) w->unk = (int)v;
    if (!rc && ws_strmap_get(&w->vocab, "[CLS]", 5, &v)) w->cls = (int)v;
    if (!rc && ws_strmap_get(&w->vocab, "[SEP]", 5, &v)) w->sep = (int)v;
    if (!rc && ws_strmap_get(&w->vocab, "[PAD]", 5, &v)) w->pad = (int)v;
    if (!rc && (w->unk < 0 || w->cls < 0 || w->sep < 0 || w->pad < 0))
        rc = ws_fail(WS_EFORMAT, "%s is not a BERT vocabulary (no [UNK], [CLS], [SEP] or [PAD] line)", path);
    if (rc) ws_wordpiece_free(w);
    return rc;
}

void ws_wordpiece_free(ws_wordpiece *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->tokens[i]);
    free(w->tokens);
    ws_strmap_free(&w->vocab);
    memset(w, 0, sizeof *w);
}

static int is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_punct(uint32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    int k = ws_uc_category(c);
    return k >= WS_UC_PC && k <= WS_UC_PO;
}

static int is_ws(uint32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || ws_uc_category(c) == WS_UC_ZS; }

static int is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    int k = ws_uc_category(c);
    return k == WS_UC_CC || k == WS_UC_CF || k == WS_UC_CS || k == WS_UC_CO || k == WS_UC_CN;
}

typedef struct piece_list { char **p; size_t n, cap; } piece_list;

static int push(piece_list *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        char **t = realloc(l->p, (l->cap = l->cap ? 2 * l->cap : 64) * sizeof *t);
        if (!t) return ws_fail(WS_ENOMEM, "out of memory");
        l->p = t;
    }
    if (!(l->p[l->n] = strndup(s, len))) return ws_fail(WS_ENOMEM, "out of memory");
    l->n++;
    return 0;
}

/* WordPiece of one basic token (UTF-8), appended to out. */
static int wordpiece(const ws_wordpiece *w, const uint32_t *cp, size_t n, piece_list *out)
{
    if (n > 100) return push(out, "[UNK]", 5);
    char *word = ws_utf8_encode(cp, n), buf[1024];
    if (!word) return ws_fail(WS_ENOMEM, "out of memory");
    size_t len = strlen(word), start = 0, first = out->n;
    /* byte offsets of code-point boundaries */
    size_t *b = malloc((n + 1) * sizeof *b);
    if (!b) { free(word); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (size_t i = 0, o = 0; i <= n; i++) { b[i] = o; if (i < n) o += (size_t)ws_utf8_put(cp[i], buf); }
    int rc = 0, bad = 0;
    size_t si = 0;
    while (si < n && !rc) {
        size_t ei = n;
        int found = 0;
        while (ei > si) {
            int pre = si > 0;
            size_t pl = b[ei] - b[si];
            if (pl + 2 >= sizeof buf) { ei--; continue; }
            memcpy(buf, "##", 2);
            memcpy(buf + 2 * pre, word + b[si], pl);
            int64_t v;
            if (ws_strmap_get(&w->vocab, buf, pl + 2 * (size_t)pre, &v)) { rc = push(out, buf, pl + 2 * (size_t)pre); found = 1; break; }
            ei--;
        }
        if (!found) { bad = 1; break; }
        si = ei;
    }
    (void)start; (void)len;
    if (!rc && bad) {   /* the whole word becomes [UNK] */
        while (out->n > first) free(out->p[--out->n]);
        rc = push(out, "[UNK]", 5);
    }
    free(b);
    free(word);
    return rc;
}

/* Basic tokenisation + WordPiece of text into pieces. */
static int tokenize(const ws_wordpiece *w, const char *text, piece_list *out)
{
    uint32_t *cp = NULL, *t = NULL, *lw = NULL, *d = NULL;
    size_t n = 0, m = 0;
    int rc = ws_utf8_decode(text, strlen(text), &cp, &n);
    if (rc) return rc;
    t = malloc((3 * n + 1) * sizeof *t);
    lw = malloc((3 * n + 1) * sizeof *lw);
    d = malloc((12 * n + 1) * sizeof *d);
    if (!t || !lw || !d) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) {   /* clean, CJK spacing */
        uint32_t c = cp[i];
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_cjk(c)) { t[m++] = ' '; t[m++] = c; t[m++] = ' '; }
        else t[m++] = is_ws(c) ? ' ' : c;
    }
    for (size_t i = 0; i < m && !rc;) {   /* words */
        while (i < m && t[i] == ' ') i++;
        size_t j = i;
        while (j < m && t[j] != ' ') j++;
        if (j == i) break;
        size_t nl = ws_uc_lower(t + i, j - i, lw), nd = ws_uc_nfd(lw, nl, d), k = 0;
        for (size_t q = 0; q < nd; q++)
            if (ws_uc_category(d[q]) != WS_UC_MN) d[k++] = d[q];
        for (size_t q = 0; q < k && !rc;) {   /* punctuation splits */
            if (is_punct(d[q])) { rc = wordpiece(w, d + q, 1, out); q++; continue; }
            size_t e = q;
            while (e < k && !is_punct(d[e])) e++;
            rc = wordpiece(w, d + q, e - q, out);
            q = e;
        }
        i = j;
    }
done:
    free(cp); free(t); free(lw); free(d);
    return rc;
}

static void list_free(piece_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->p[i]);
    free(l->p);
}

int ws_wordpiece_encode(const ws_wordpiece *w, const char *text, int32_t **ids, size_t *n)
{
    piece_list l = {0};
    int rc = tokenize(w, text, &l);
    *ids = NULL;
    *n = 0;
    int32_t *v = rc ? NULL : malloc((l.n + 2) * sizeof *v);
    if (!rc && !v) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc) {
        v[0] = w->cls;
        for (size_t i = 0; i < l.n; i++) {
            int64_t id = w->unk;
            ws_strmap_get(&w->vocab, l.p[i], strlen(l.p[i]), &id);
            v[i + 1] = (int32_t)id;
        }
        v[l.n + 1] = w->sep;
        *ids = v;
        *n = l.n + 2;
    }
    list_free(&l);
    return rc;
}

char *ws_wordpiece_pieces(const ws_wordpiece *w, const char *text)
{
    piece_list l = {0};
    if (tokenize(w, text, &l)) { list_free(&l); return NULL; }
    size_t len = 1;
    for (size_t i = 0; i < l.n; i++) len += strlen(l.p[i]) + 1;
    char *s = malloc(len);
    if (s) {
        s[0] = '\0';
        for (size_t i = 0; i < l.n; i++) { if (i) strcat(s, " "); strcat(s, l.p[i]); }
    }
    list_free(&l);
    return s;
}

/* Replaces every occurrence of a by b (b no longer than a) in place. */
static void replace_all(char *s, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = s, *o = s;
    while (*r) {
        if (!strncmp(r, a, la)) { memcpy(o, b, lb); o += lb; r += la; }
        else *o++ = *r++;
    }
    *o = '\0';
}

char *ws_wordpiece_decode(const ws_wordpiece *w, const int32_t *ids, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += (ids[i] >= 0 && ids[i] < w->n ? strlen(w->tokens[ids[i]]) : 5) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(s, " ");
        strcat(s, ids[i] >= 0 && ids[i] < w->n ? w->tokens[ids[i]] : "[UNK]");
    }
    replace_all(s, " ##", "");
    size_t a = 0, e = strlen(s);   /* strip */
    while (s[a] == ' ') a++;
    while (e > a && s[e - 1] == ' ') e--;
    memmove(s, s + a, e - a);
    s[e - a] = '\0';
    /* clean_up_tokenization_spaces */
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) replace_all(s, from[k], to[k]);
    return s;
}

char *ws_gdino_caption(const char *text)
{
    uint32_t *cp = NULL, *lw = NULL;
    size_t n = 0;
    if (ws_utf8_decode(text, strlen(text), &cp, &n)) return NULL;
    if (!(lw = malloc((3 * n + 2) * sizeof *lw))) { free(cp); return NULL; }
    size_t m = ws_uc_lower(cp, n, lw), a = 0;
    while (a < m && ws_uc_is_space(lw[a])) a++;   /* Python strip() */
    while (m > a && ws_uc_is_space(lw[m - 1])) m--;
    if (m == a || lw[m - 1] != '.') lw[m++] = '.';
    char *s = ws_utf8_encode(lw + a, m - a);
    free(cp);
    free(lw);
    return s;
}

void ws_gdino_text_masks(const ws_wordpiece *w, const int32_t *ids, int L, uint8_t *mask, int64_t *pos)
{
    int64_t dot = -1, q = -1;
    ws_strmap_get(&w->vocab, ".", 1, &dot);
    ws_strmap_get(&w->vocab, "?", 1, &q);
    memset(mask, 0, (size_t)L * L);
    for (int i = 0; i < L; i++) { mask[(size_t)i * L + i] = 1; pos[i] = 0; }
    int prev = 0;
    for (int c = 0; c < L; c++) {
        int special = ids[c] == w->cls || ids[c] == w->sep || ids[c] == dot || ids[c] == q;
        if (!special) continue;
        if (c == 0 || c == L - 1) {
            mask[(size_t)c * L + c] = 1;
            pos[c] = 0;
        } else {
            for (int r = prev + 1; r <= c; r++) {
                for (int k = prev + 1; k <= c; k++) mask[(size_t)r * L + k] = 1;
                pos[r] = r - prev - 1;
            }
        }
        prev = c;
    }
}
