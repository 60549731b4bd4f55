/* bpe.c - CLIP's byte-level BPE tokenizer in C (see bpe.h). */
#include "model/bpe.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/status.h"
#include "core/unicode.h"

#define N_MERGES (49152 - 256 - 2)   /* merges = lines[1 : 49152-256-2+1] */

/* ---- loading ---- */

static int read_gz(const char *path, char **data, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    size_t cap = 1 << 22, n = 0;
    char *buf = NULL;
    if (!f) return ws_fail(WS_EIO, "cannot open BPE vocabulary %s (pass --vocab PATH to "
                           "bpe_simple_vocab_16e6.txt.gz from openai/CLIP)", path);
    for (;;) {
        char *nb = realloc(buf, cap + 1);
        if (!nb) { free(buf); gzclose(f); return ws_fail(WS_ENOMEM, "%s: out of memory", path); }
        buf = nb;
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            int e;
            const char *msg = gzerror(f, &e);
            ws_fail(WS_EFORMAT, "%s: not a readable gzip file (%s)", path, msg);
            free(buf);
            gzclose(f);
            return WS_EFORMAT;
        }
        n += (size_t)r;
        if (r == 0) break;
        if (n == cap) cap *= 2;
    }
    gzclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static void bytes_to_unicode(uint32_t enc[256], int order[256])
{
    int k = 0, extra = 0;
    char printable[256] = {0};
    for (int b = '!'; b <= '~'; b++) printable[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) printable[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) printable[b] = 1;
    for (int b = 0; b < 256; b++)
        if (printable[b]) { enc[b] = (uint32_t)b; order[k++] = b; }
    for (int b = 0; b < 256; b++)
        if (!printable[b]) { enc[b] = 256u + (uint32_t)extra++; order[k++] = b; }
}

static int add_vocab(ws_bpe *b, const char *s, size_t len)
{
    int id = b->vocab_size;
    char *copy = malloc(len + 1);
    if (!copy) return ws_fail(WS_ENOMEM, "BPE: out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    b->decoder[id] = copy;
    b->vocab_size++;
    return ws_strmap_put(&b->encoder, s, len, id);
}

int ws_bpe_spec_check(const char *path, int *builtin)
{
    *builtin = !strncmp(path, "builtin:", 8);
    if (*builtin && strcmp(path, "builtin:bytes"))
        return ws_fail(WS_EINVAL, "unknown built-in vocabulary '%s' (builtin:bytes, or a CLIP BPE file)", path);
    return 0;
}

int ws_bpe_load(ws_bpe *b, const char *path)
{
    char *data = NULL, *line, *next;
    size_t len = 0;
    int order[256], rc;
    memset(b, 0, sizeof *b);
    int builtin;
    if ((rc = ws_bpe_spec_check(path, &builtin))) return rc;
    if (builtin) {
        b->bytes_only = 1;
        b->vocab_size = WS_BPE_EOT + 1;
        return 0;
    }
    if ((rc = read_gz(path, &data, &len))) return rc;
    bytes_to_unicode(b->byte_enc, order);
    b->decoder = calloc(2 * 256 + N_MERGES + 2, sizeof *b->decoder);
    if (!b->decoder || ws_strmap_init(&b->encoder, 50000) || ws_strmap_init(&b->ranks, 50000)) {
        rc = ws_fail(WS_ENOMEM, "BPE: out of memory");
        goto fail;
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 256; i++) {
            char s[16];
            int n = ws_utf8_put(b->byte_enc[order[i]], s);
            if (pass) { memcpy(s + n, "</w>", 4); n += 4; }
            if ((rc = add_vocab(b, s, (size_t)n))) goto fail;
        }
    line = strchr(data, '\n');   /* skip the version header line */
    for (int r = 0; r < N_MERGES; r++) {
        if (!line) {
            rc = ws_fail(WS_EFORMAT, "%s: only %d BPE merges, expected %d: is it bpe_simple_vocab_16e6.txt.gz?",
                         path, r, N_MERGES);
            goto fail;
        }
        line++;
        next = strchr(line, '\n');
        size_t ll = next ? (size_t)(next - line) : strlen(line);
        char *sp = memchr(line, ' ', ll);
        if (!sp || sp == line || memchr(sp + 1, ' ', ll - (size_t)(sp - line) - 1)) {
            rc = ws_fail(WS_EFORMAT, "%s: line %d is not a BPE merge 'a b'", path, r + 2);
            goto fail;
        }
        if ((rc = ws_strmap_put(&b->ranks, line, ll, r))) goto fail;
        char joined[256];
        size_t a = (size_t)(sp - line), c = ll - a - 1;
        if (a + c >= sizeof joined) { rc = ws_fail(WS_EFORMAT, "%s: merge too long", path); goto fail; }
        memcpy(joined, line, a);
        memcpy(joined + a, sp + 1, c);
        if ((rc = add_vocab(b, joined, a + c))) goto fail;
        line = next;
    }
    if ((rc = add_vocab(b, "<|startoftext|>", 15)) || (rc = add_vocab(b, "<|endoftext|>", 13))) goto fail;
    free(data);
    return 0;
fail:
    free(data);
    ws_bpe_free(b);
    return rc;
}

void ws_bpe_free(ws_bpe *b)
{
    for (int i = 0; b->decoder && i < b->vocab_size; i++) free(b->decoder[i]);
    free(b->decoder);
    ws_strmap_free(&b->encoder);
    ws_strmap_free(&b->ranks);
    memset(b, 0, sizeof *b);
}

const char *ws_bpe_piece(const ws_bpe *b, int id)
{
    return b->decoder && id >= 0 && id < b->vocab_size ? b->decoder[id] : NULL;
}

/* ---- cleaning: html.unescape x2, whitespace runs -> ' ', strip, lower ---- */

static int clean_cps(const char *text, uint32_t **out, size_t *n_out)
{
    uint32_t *a = NULL, *t = NULL;
    size_t n = 0;
    int rc = ws_utf8_decode(text, strlen(text), &a, &n);
    if (rc) return rc;
    t = malloc((3 * n + 4) * sizeof *t);
    uint32_t *u = malloc((3 * n + 4) * sizeof *u);
    if (!t || !u) { free(a); free(t); free(u); return ws_fail(WS_ENOMEM, "tokenizer: out of memory"); }
    n = ws_html_unescape(a, n, t);
    n = ws_html_unescape(t, n, a);
    size_t k = 0;   /* collapse white-space runs and strip both ends */
    for (size_t i = 0; i < n; i++) {
        if (ws_uc_is_space(a[i])) {
            while (i + 1 < n && ws_uc_is_space(a[i + 1])) i++;
            if (k > 0 && i + 1 < n) t[k++] = ' ';
        } else {
            t[k++] = a[i];
        }
    }
    n = ws_uc_lower(t, k, u);
    free(a);
    free(t);
    *out = u;
    *n_out = n;
    return 0;
}

int ws_bpe_clean(const char *text, char **out)
{
    uint32_t *cps = NULL;
    size_t n = 0;
    int rc = clean_cps(text, &cps, &n);
    if (rc) return rc;
    *out = ws_utf8_encode(cps, n);
    free(cps);
    return *out ? 0 : ws_fail(WS_ENOMEM, "tokenizer: out of memory");
}

/* ---- pre-tokenizer ---- */

static int match_lit(const uint32_t *s, size_t n, size_t i, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++) {
        uint32_t c = i + k < n ? s[i + k] : 0;
        uint32_t l = (uint32_t)(unsigned char)lit[k];
        if (c >= 'A' && c <= 'Z') c |= 32;   /* re.IGNORECASE */
        if (c != l) return 0;
    }
    return (int)k;
}

/* Length of the regex match starting at i, or 0 when none matches there (white space). */
static size_t next_token(const uint32_t *s, size_t n, size_t i)
{
    static const char *lits[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m",
                                 "'ll", "'d"};
    for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
        int m = match_lit(s, n, i, lits[k]);
        if (m) return (size_t)m;
    }
    size_t j = i;
    if (ws_uc_is_letter(s[i])) {
        while (j < n && ws_uc_is_letter(s[j])) j++;
        return j - i;
    }
    if (ws_uc_is_number(s[i])) return 1;
    while (j < n && !ws_uc_is_space(s[j]) && !ws_uc_is_letter(s[j]) && !ws_uc_is_number(s[j])) j++;
    return j - i;
}

/* ---- BPE merges on one pre-token ---- */

typedef struct { char *s; size_t len; } sym;

static int64_t pair_rank(const ws_bpe *b, const sym *x, const sym *y, char *buf, size_t cap)
{
    int64_t r;
    if (x->len + y->len + 1 > cap) return INT64_MAX;
    memcpy(buf, x->s, x->len);
    buf[x->len] = ' ';
    memcpy(buf + x->len + 1, y->s, y->len);
    return ws_strmap_get(&b->ranks, buf, x->len + 1 + y->len, &r) ? r : INT64_MAX;
}

/* The literal special tokens ('<' and '|' map to themselves) are looked up whole, as the
 * official BPE cache returns them unmerged. */
static int is_special(const char *word, size_t len)
{
    return (len == 15 && !memcmp(word, "<|startoftext|>", 15)) || (len == 13 && !memcmp(word, "<|endoftext|>", 13));
}

/* One symbol per code point of word, '</w>' appended to the last; w has room for len. */
static int split_symbols(const char *word, size_t len, sym *w, size_t *nw)
{
    for (size_t i = 0; i < len;) {
        unsigned c = (unsigned char)word[i];
        size_t cl = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4, extra = i + cl >= len ? 4 : 0;
        w[*nw].s = malloc(cl + extra + 1);
        if (!w[*nw].s) return ws_fail(WS_ENOMEM, "tokenizer: out of memory");
        memcpy(w[*nw].s, word + i, cl);
        memcpy(w[*nw].s + cl, "</w>", extra);
        w[*nw].len = cl + extra;
        (*nw)++;
        i += cl;
    }
    return 0;
}

/* The rank of the lowest-ranked adjacent pair of w[0..nw) (the first such pair on ties) and its
 * index in *at; INT64_MAX when no pair is a merge. */
static int64_t best_pair(const ws_bpe *b, const sym *w, size_t nw, size_t *at)
{
    char pb[512];
    int64_t best = INT64_MAX;
    *at = 0;
    for (size_t i = 0; i + 1 < nw; i++) {
        int64_t r = pair_rank(b, &w[i], &w[i + 1], pb, sizeof pb);
        if (r < best) { best = r; *at = i; }
    }
    return best;
}

static int sym_eq(const sym *x, const sym *y) { return x->len == y->len && !memcmp(x->s, y->s, x->len); }

/* Merges every occurrence of the pair (first, second), left to right as the official loop does,
 * compacting w in place. On failure the slots already moved or freed are cleared, so that the
 * caller frees each symbol once. */
static int merge_all(sym *w, size_t *nw, const sym *first, const sym *second)
{
    size_t k = 0, i = 0;
    int rc = 0;
    while (i < *nw) {
        if (i + 1 < *nw && sym_eq(&w[i], first) && sym_eq(&w[i + 1], second)) {
            size_t ml = w[i].len + w[i + 1].len;
            char *m = malloc(ml + 1);
            if (!m) { rc = ws_fail(WS_ENOMEM, "tokenizer: out of memory"); break; }
            memcpy(m, w[i].s, w[i].len);
            memcpy(m + w[i].len, w[i + 1].s, w[i + 1].len);
            free(w[i].s);
            free(w[i + 1].s);
            w[k] = (sym){m, ml};
            i += 2;
        } else {
            w[k] = w[i];
            i++;
        }
        k++;
    }
    for (size_t j = k; j < i; j++) w[j].s = NULL;   /* moved down or freed */
    if (!rc) *nw = k;   /* on failure the unvisited tail stays where it is, for the caller to free */
    return rc;
}

/* The merge loop: the lowest-ranked pair is merged everywhere until no pair is a merge. */
static int merge_symbols(const ws_bpe *b, sym *w, size_t *nw)
{
    while (*nw > 1) {
        size_t bi;
        if (best_pair(b, w, *nw, &bi) == INT64_MAX) break;
        /* copies: merging frees the symbols that first/second would otherwise point to */
        char fs[512], ss[512];
        sym first = {fs, w[bi].len}, second = {ss, w[bi + 1].len};
        memcpy(fs, w[bi].s, first.len);
        memcpy(ss, w[bi + 1].s, second.len);
        int rc = merge_all(w, nw, &first, &second);
        if (rc) return rc;
    }
    return 0;
}

/* Appends the vocabulary id of piece s[0..sl) to ids. */
static int push_id(const ws_bpe *b, const char *s, size_t sl, int32_t **ids, size_t *n, size_t *cap)
{
    int64_t id;
    if (!ws_strmap_get(&b->encoder, s, sl, &id))
        return ws_fail(WS_EFORMAT, "BPE piece '%.*s' is not in the vocabulary", (int)sl, s);
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        int32_t *p = realloc(*ids, nc * sizeof *p);
        if (!p) return ws_fail(WS_ENOMEM, "tokenizer: out of memory");
        *ids = p;
        *cap = nc;
    }
    (*ids)[(*n)++] = (int32_t)id;
    return 0;
}

/* Appends the ids of one pre-token (its bytes already mapped, UTF-8 in word[0..len)). */
static int bpe_word(const ws_bpe *b, const char *word, size_t len, int32_t **ids, size_t *n, size_t *cap)
{
    if (is_special(word, len)) return push_id(b, word, len, ids, n, cap);
    sym *w = calloc(len + 1, sizeof *w);
    size_t nw = 0;
    if (!w) return ws_fail(WS_ENOMEM, "tokenizer: out of memory");
    int rc = split_symbols(word, len, w, &nw);
    if (!rc) rc = merge_symbols(b, w, &nw);
    if (!rc && !nw) rc = push_id(b, word, len, ids, n, cap);   /* an empty word: looked up as is */
    for (size_t i = 0; i < nw && !rc; i++) rc = push_id(b, w[i].s, w[i].len, ids, n, cap);
    for (size_t i = 0; i < nw; i++) free(w[i].s);
    free(w);
    return rc;
}

int ws_bpe_encode(const ws_bpe *b, const char *text, int32_t **ids, size_t *n)
{
    uint32_t *s = NULL;
    size_t len = 0, cap = 0;
    char *word = NULL;
    int rc = clean_cps(text, &s, &len);
    *ids = NULL;
    *n = 0;
    if (rc) return rc;
    if (b->bytes_only) {   /* the stand-in tokenizer: UTF-8 bytes of the cleaned text */
        char *u = ws_utf8_encode(s, len);
        free(s);
        if (!u) return ws_fail(WS_ENOMEM, "tokenizer: out of memory");
        size_t nb = strlen(u);
        int32_t *v = malloc((nb ? nb : 1) * sizeof *v);
        if (!v) { free(u); return ws_fail(WS_ENOMEM, "tokenizer: out of memory"); }
        for (size_t i = 0; i < nb; i++) v[i] = (uint8_t)u[i];
        free(u);
        *ids = v;
        *n = nb;
        return 0;
    }
    word = malloc(8 * len + 8);
    if (!word) { free(s); return ws_fail(WS_ENOMEM, "tokenizer: out of memory"); }
    for (size_t i = 0; i < len && !rc;) {
        size_t t = next_token(s, len, i);
        if (t == 0) { i++; continue; }
        char raw[8];
        size_t wl = 0;
        for (size_t k = i; k < i + t; k++) {   /* UTF-8 bytes, each mapped by bytes_to_unicode */
            int nb = ws_utf8_put(s[k], raw);
            for (int q = 0; q < nb; q++) wl += (size_t)ws_utf8_put(b->byte_enc[(unsigned char)raw[q]], word + wl);
        }
        rc = bpe_word(b, word, wl, ids, n, &cap);
        i += t;
    }
    free(word);
    free(s);
    if (rc) { free(*ids); *ids = NULL; *n = 0; }
    return rc;
}

int ws_bpe_tokenize(const ws_bpe *b, const char *text, int truncate, int context, int32_t *out,
                    int *n_untruncated)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = ws_bpe_encode(b, text, &ids, &n);
    if (rc) return rc;
    size_t total = n + 2;
    if (n_untruncated) *n_untruncated = (int)total;
    if (total > (size_t)context && !truncate) {
        free(ids);
        return ws_fail(WS_EINVAL, "input text is too long for context length %d (%zu tokens): use truncation",
                       context, total);
    }
    memset(out, 0, (size_t)context * sizeof *out);
    out[0] = WS_BPE_SOT;
    size_t k = 1;
    for (size_t i = 0; i < n && k < (size_t)context; i++) out[k++] = ids[i];
    if (k < (size_t)context) out[k] = WS_BPE_EOT;
    else out[context - 1] = WS_BPE_EOT;
    free(ids);
    return 0;
}
