/* unicode.c - categories, Python-exact lower-casing and html.unescape (see unicode.h). */
#include "core/unicode.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/unicode_data.inc"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *ws_uc_version(void) { return WS_UNICODE_VERSION; }

int ws_uc_category(uint32_t cp)
{
    size_t lo = 0, hi = COUNT(ws_uc_cat_ranges);
    if (cp > 0x10FFFF) return WS_UC_CN;
    while (lo + 1 < hi) {  /* invariant: ranges[lo].lo <= cp < ranges[hi].lo */
        size_t mid = (lo + hi) / 2;
        if (ws_uc_cat_ranges[mid].lo <= cp) lo = mid;
        else hi = mid;
    }
    return ws_uc_cat_ranges[lo].cat;
}

const char *ws_uc_category_name(int cat)
{
    static const char *names[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd",
                                  "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
                                  "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
    return cat >= 0 && cat < (int)COUNT(names) ? names[cat] : "??";
}

int ws_uc_is_letter(uint32_t cp)
{
    int c = ws_uc_category(cp);
    return c >= WS_UC_LU && c <= WS_UC_LO;
}

int ws_uc_is_number(uint32_t cp)
{
    int c = ws_uc_category(cp);
    return c >= WS_UC_ND && c <= WS_UC_NO;
}

int ws_uc_is_space(uint32_t cp)
{
    size_t lo = 0, hi = COUNT(ws_uc_space);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ws_uc_space[mid] == cp) return 1;
        if (ws_uc_space[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int ws_utf8_put(uint32_t cp, char *b)
{
    if (cp < 0x80) { b[0] = (char)cp; return 1; }
    if (cp < 0x800) { b[0] = (char)(0xC0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | cp >> 18); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int ws_utf8_decode(const char *s, size_t len, uint32_t **out, size_t *n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    size_t k = 0;
    if (!cp) return ws_fail(WS_ENOMEM, "utf-8 decode: out of memory");
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        uint32_t v = extra == 0 ? c : extra == 1 ? c & 0x1F : extra == 2 ? c & 0x0F : c & 0x07;
        int ok = extra >= 0 && i + (size_t)extra < len;
        for (int j = 1; ok && j <= extra; j++) {
            ok = (p[i + j] & 0xC0) == 0x80;
            v = (v << 6) | (p[i + j] & 0x3F);
        }
        if (!ok) { cp[k++] = 0xFFFD; i++; continue; }
        cp[k++] = v;
        i += (size_t)extra + 1;
    }
    *out = cp;
    *n = k;
    return 0;
}

char *ws_utf8_encode(const uint32_t *cp, size_t n)
{
    char *s = malloc(4 * n + 1), *q = s;
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) q += ws_utf8_put(cp[i], q);
    *q = '\0';
    return s;
}

/* ---- lower-casing ---- */

static const uint32_t *lower_map(uint32_t cp)
{
    size_t lo = 0, hi = COUNT(ws_uc_lower_tab);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ws_uc_lower_tab[mid].cp == cp) return ws_uc_lower_tab[mid].to;
        if (ws_uc_lower_tab[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* 1 = cased (stops the Final_Sigma scan), 2 = case-ignorable (skipped), 0 = other */
static int sigma_class(uint32_t cp)
{
    size_t lo = 0, hi = COUNT(ws_uc_sigma);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < ws_uc_sigma[mid].lo) hi = mid;
        else if (cp > ws_uc_sigma[mid].hi) lo = mid + 1;
        else return ws_uc_sigma[mid].cls;
    }
    return 0;
}

/* Python's handle_capital_sigma: final if a cased letter precedes and none follows, skipping
 * case-ignorable characters on both sides. */
static int is_final_sigma(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    int c = 0;
    while (j > 0 && (c = sigma_class(s[j - 1])) == 2) j--;
    if (j == 0 || c != 1) return 0;
    for (j = i + 1; j < n && (c = sigma_class(s[j])) == 2; j++) {}
    return j == n || c != 1;
}

size_t ws_uc_lower(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0x3A3) {
            out[k++] = is_final_sigma(in, n, i) ? 0x3C2 : 0x3C3;
            continue;
        }
        const uint32_t *m = lower_map(in[i]);
        if (!m) { out[k++] = in[i]; continue; }
        for (int j = 0; j < 3 && m[j]; j++) out[k++] = m[j];
    }
    return k;
}

/* ---- html.unescape ---- */

static const char *html5_lookup(const uint32_t *name, size_t len)
{
    char key[40];
    if (len == 0 || len > 33) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (name[i] >= 0x80) return NULL; /* every HTML5 name is ASCII */
        key[i] = (char)name[i];
    }
    key[len] = '\0';
    size_t lo = 0, hi = COUNT(ws_html5);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ws_html5[mid].name, key);
        if (c == 0) return ws_html5[mid].value;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static size_t put_utf8_value(const char *v, uint32_t *out)
{
    uint32_t *cps = NULL;
    size_t n = 0;
    if (ws_utf8_decode(v, strlen(v), &cps, &n)) return 0;
    memcpy(out, cps, n * sizeof *cps);
    free(cps);
    return n;
}

static int is_hex(uint32_t c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f'); }

/* Numeric reference "#123;" / "#x1F" starting at in[i] == '#'; returns its length or 0. */
static size_t numeric_ref(const uint32_t *in, size_t n, size_t i, uint32_t *out, size_t *k)
{
    int hex = i + 1 < n && (in[i + 1] == 'x' || in[i + 1] == 'X');
    size_t j = i + 1 + (size_t)hex, start = j;
    uint64_t num = 0;
    int big = 0;
    while (j < n && (hex ? is_hex(in[j]) : (in[j] >= '0' && in[j] <= '9'))) {
        uint32_t c = in[j] | 32;
        num = num * (hex ? 16 : 10) + (c >= 'a' ? c - 'a' + 10 : in[j] - '0');
        if (num > 0x10FFFF) big = 1, num = 0x110000;
        j++;
    }
    if (j == start) return 0;
    if (j < n && in[j] == ';') j++;
    if (big) num = 0x110000;
    for (size_t t = 0; t < COUNT(ws_html_invalid_charrefs); t++)
        if (ws_html_invalid_charrefs[t].num == num) {
            out[(*k)++] = ws_html_invalid_charrefs[t].cp;
            return j - i;
        }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        out[(*k)++] = 0xFFFD;
        return j - i;
    }
    for (size_t t = 0; t < COUNT(ws_html_invalid_codepoints); t++)
        if (ws_html_invalid_codepoints[t] == num) return j - i;
    out[(*k)++] = (uint32_t)num;
    return j - i;
}

static int name_char(uint32_t c)
{
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' && c != ';';
}

/* Named reference at in[i] (just after '&'); returns the matched length or 0 (no match). */
static size_t named_ref(const uint32_t *in, size_t n, size_t i, uint32_t *out, size_t *k)
{
    size_t j = i;
    while (j < n && j - i < 32 && name_char(in[j])) j++;
    if (j == i) return 0;
    if (j < n && in[j] == ';') j++;
    size_t len = j - i;
    const char *v = html5_lookup(in + i, len);
    if (v) {
        *k += put_utf8_value(v, out + *k);
        return len;
    }
    for (size_t x = len - 1; x > 1; x--) { /* the longest known prefix, then the rest verbatim */
        if ((v = html5_lookup(in + i, x))) {
            *k += put_utf8_value(v, out + *k);
            for (size_t t = i + x; t < j; t++) out[(*k)++] = in[t];
            return len;
        }
    }
    out[(*k)++] = '&';
    for (size_t t = i; t < j; t++) out[(*k)++] = in[t];
    return len;
}

size_t ws_html_unescape(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] != '&' || i + 1 >= n) { out[k++] = in[i++]; continue; }
        size_t used = in[i + 1] == '#' ? numeric_ref(in, n, i + 1, out, &k) : named_ref(in, n, i + 1, out, &k);
        if (used == 0) { out[k++] = in[i++]; continue; }
        i += 1 + used;
    }
    return k;
}

size_t ws_uc_nfd(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t o = 0;
    const size_t nt = sizeof ws_uc_nfd_tab / sizeof ws_uc_nfd_tab[0];
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c >= 0xAC00 && c <= 0xD7A3) {   /* Hangul syllable: L V (T) */
            uint32_t s = c - 0xAC00, t = s % 28;
            out[o++] = 0x1100 + s / 588;
            out[o++] = 0x1161 + (s % 588) / 28;
            if (t) out[o++] = 0x11A7 + t;
            continue;
        }
        size_t lo = 0, hi = nt;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ws_uc_nfd_tab[mid].cp < c) lo = mid + 1;
            else hi = mid;
        }
        if (lo < nt && ws_uc_nfd_tab[lo].cp == c)
            for (int k = 0; k < ws_uc_nfd_tab[lo].len; k++) out[o++] = ws_uc_nfd_data[ws_uc_nfd_tab[lo].off + k];
        else
            out[o++] = c;
    }
    return o;
}
