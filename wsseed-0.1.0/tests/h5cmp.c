/* h5cmp.c - the generic golden comparer: every dataset of REF.h5 against OUT.h5, as TAP.
 *
 * Usage: h5cmp REF.h5 OUT.h5 [--group G]... [--skip GLOB]... [--tol GLOB=RULE]...
 *   --group  compare only datasets below G (default: the whole file); G:O compares REF's G
 *            with OUT's group O
 *   --skip   datasets that are inputs (not produced by the module); fnmatch on "/a/b"
 *   --tol    first matching rule wins; RULE is one of
 *              exact            identical values (NaN == NaN)
 *              abs:A            |c - r| <= A
 *              rel:A:R          |c - r| <= A + R*|r|
 *              scaled:A         |c - r| <= A * max(1, max |r| over the dataset)
 *              rows             exact after sorting the rows of a 2-d dataset (a multiset of
 *                               rows, e.g. boxes whose order the reference leaves open)
 *              maxrel:S:R       |c - r| <= S * max |r| + R*|r|
 *              both:A:R:S       |c - r| <= A + R*|r| and |c - r| <= S * max |r| (the golden
 *                               README's check for small quantities)
 *              mask:A           binary masks: identical except where OUT's own logit (dataset
 *                               <name>_logits, or <stem>_logits for ..._binary) has |logit| <= A
 *            integers and strings are always exact; floats default to rel:1e-4:1e-4.
 *   --rle P  P/rle_counts_* hold masks as uncompressed RLEs (SAM's mask generator): masks are
 *            decoded and compared pixel by pixel; mask i may differ in at most
 *            OUT:P/borderline_pixels[i] pixels (our own logits within tolerance of 0, the golden
 *            README's exception); P/area must then differ by no more, P/bbox and
 *            P/boxes_xyxy may differ only for such masks. Every other dataset stays exact.
 * String lists are compared through their variable-length form (X_utf8 pairs are skipped).
 * Each dataset is one TAP line with its max |diff|; failures show the first values side by side.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/h5.h"
#include "tap.h"

typedef struct { const char *glob; char kind; double a, r, s; } rule;

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* HDF5 type class (H5T_FLOAT, H5T_STRING, ...) and element size of a dataset; -1 when absent. */
static int dataset_type(const ws_h5file *f, const char *name, int *size)
{
    hid_t ds = H5Dopen2(f->id, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t t = H5Dget_type(ds);
    int cls = H5Tget_class(t);
    if (size) *size = (int)H5Tget_size(t);
    H5Tclose(t);
    H5Dclose(ds);
    return cls;
}

static void compare_strings(const ws_h5file *ref, const ws_h5file *out, const char *name, const char *oname)
{
    char **a = NULL, **b = NULL;
    size_t na = 0, nb = 0;
    if (ws_h5_read_strings(ref, name, &a, &na) || ws_h5_read_strings(out, oname, &b, &nb)) {
        ok(0, "%s: %s", name, ws_last_error());
        return;
    }
    size_t bad = na == nb ? na : 0;
    for (size_t i = 0; na == nb && i < na; i++)
        if (strcmp(a[i], b[i])) { bad = i; break; }
    ok(na == nb && bad == na, "%s: %zu strings identical", name, na);
    if (na != nb) diag("count: ref %zu, out %zu", na, nb);
    else if (bad < na) diag("string %zu: ref '%s' out '%s'", bad, a[bad], b[bad]);
    ws_h5_strings_free(a, na);
    ws_h5_strings_free(b, nb);
}

static const rule *find_rule(const rule *rules, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!fnmatch(rules[i].glob, name, 0)) return &rules[i];
    return NULL;
}

static char kind_of(const rule *ru) { return ru ? ru->kind : 0; }

static int row_len;   /* qsort context of cmp_rows */
static int cmp_rows(const void *a, const void *b)
{
    const double *x = a, *y = b;
    for (int i = 0; i < row_len; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

static void sort_rows(ws_array *a)
{
    if (a->ndim != 2 || !a->shape[0]) return;
    row_len = (int)a->shape[1];
    qsort(a->data, (size_t)a->shape[0], (size_t)row_len * sizeof(double), cmp_rows);
}

static void compare_numeric(const ws_h5file *ref, const ws_h5file *out, const char *name, const char *oname,
                            const rule *ru)
{
    ws_array a = {0}, b = {0};
    char sa[64], sb[64];
    int sza = 0, szb = 0;
    int ca = dataset_type(ref, name, &sza), cb = dataset_type(out, oname, &szb);
    if (ws_h5_read(ref, name, WS_F64, &a) || ws_h5_read(out, oname, WS_F64, &b)) {
        ok(0, "%s: %s", name, ws_last_error());
        goto done;
    }
    int same_shape = a.ndim == b.ndim;
    for (int i = 0; same_shape && i < a.ndim; i++) same_shape = a.shape[i] == b.shape[i];
    if (!same_shape || sza != szb || ca != cb) {
        ok(0, "%s: shape/dtype ref %s (class %d, %d bytes) vs out %s (class %d, %d bytes)", name,
           ws_array_shape_str(&a, sa, sizeof sa), ca, sza, ws_array_shape_str(&b, sb, sizeof sb), cb, szb);
        goto done;
    }
    ws_array lg = {0};
    if (kind_of(ru) == 'm') {   /* our own logits decide where a flipped pixel is acceptable */
        char lname[1024];
        snprintf(lname, sizeof lname, "%s", oname);
        char *suf = strstr(lname, "_binary");
        if (suf && !suf[7]) strcpy(suf, "_logits");
        else strncat(lname, "_logits", sizeof lname - strlen(lname) - 1);
        if (ws_h5_read(out, lname, WS_F64, &lg) || ws_array_numel(&lg) != ws_array_numel(&a)) {
            ok(0, "%s: needs the logits %s in the output: %s", name, lname, ws_last_error());
            goto done;
        }
    }
    if (kind_of(ru) == 'w') { sort_rows(&a); sort_rows(&b); }
    const double *r = a.data, *c = b.data, *own = lg.data;
    int64_t flips = 0;
    int64_t n = ws_array_numel(&a), nbad = 0, first = -1;
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) if (isfinite(r[i]) && fabs(r[i]) > maxref) maxref = fabs(r[i]);
    char kind = ru ? (ru->kind == 'w' ? 'e' : ru->kind) : (ca == H5T_FLOAT ? 'r' : 'e');
    double A = ru ? ru->a : 1e-4, R = ru ? ru->r : 1e-4;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(c[i] - r[i]), tol;
        int good;
        if (isnan(r[i]) || isinf(r[i])) good = isnan(r[i]) ? isnan(c[i]) : c[i] == r[i];
        else {
            tol = kind == 'e' || kind == 'm' ? 0 : kind == 'a' ? A : kind == 's' ? A * (maxref > 1 ? maxref : 1) : A + R * fabs(r[i]);
            if (kind == 'b' && tol > ru->s * maxref) tol = ru->s * maxref;
            if (kind == 'x') tol = A * maxref + R * fabs(r[i]);
            good = d <= tol;
            if (!good && kind == 'm' && fabs(own[i]) <= A) good = 1, flips++;
            if (d > maxdiff || isnan(d)) maxdiff = isnan(d) ? INFINITY : d;
        }
        if (!good) { nbad++; if (first < 0) first = i; }
    }
    const char *desc = kind == 'e' ? "exact" : kind == 'a' ? "abs" : kind == 's' ? "scaled" : kind == 'm' ? "mask" : kind == 'b' ? "both" : kind == 'x' ? "maxrel" : "rel";
    char tol[64] = "";
    if (kind == 'a' || kind == 's') snprintf(tol, sizeof tol, " %.0e", A);
    else if (kind == 'r') snprintf(tol, sizeof tol, " %.0e + %.0e|ref|", A, R);
    else if (kind == 'x') snprintf(tol, sizeof tol, " %.0e max|ref| + %.0e|ref|", A, R);
    else if (kind == 'b') snprintf(tol, sizeof tol, " %.0e + %.0e|ref| and %.0e max|ref|", A, R, ru->s);
    else if (kind == 'm') snprintf(tol, sizeof tol, ", %lld flips where |own logit| <= %.0e", (long long)flips, A);
    ok(nbad == 0, "%s %s: max|diff| %.3g (%s%s, max|ref| %.3g)", name, ws_array_shape_str(&a, sa, sizeof sa),
       maxdiff, desc, tol, maxref);
    if (nbad) {
        diag("%lld of %lld elements out of tolerance; first at flat index %lld", (long long)nbad, (long long)n,
             (long long)first);
        for (int64_t i = first; i < n && i < first + 6; i++) diag("  [%lld] ref %.9g  out %.9g", (long long)i, r[i], c[i]);
    }
done:
    ws_array_free(&lg);
    ws_array_free(&a);
    ws_array_free(&b);
}

/* Pixel-by-pixel comparison of the RLE masks under prefix p (see --rle). Fills flipped[i]. */
static void compare_rle(const ws_h5file *ref, const ws_h5file *out, const char *p, int64_t **flipped, int64_t *nmask)
{
    char a[600];
    ws_array rv = {0}, ro = {0}, ov = {0}, oo = {0}, bl = {0};
    int ok_all = 1;
    int64_t total_flips = 0, total_allowed = 0;
    *flipped = NULL;
    *nmask = 0;
    snprintf(a, sizeof a, "%s/rle_counts_values", p);
    int rc = ws_h5_read(ref, a, WS_I64, &rv) || ws_h5_read(out, a, WS_I64, &ov);
    snprintf(a, sizeof a, "%s/rle_counts_offsets", p);
    rc = rc || ws_h5_read(ref, a, WS_I64, &ro) || ws_h5_read(out, a, WS_I64, &oo);
    snprintf(a, sizeof a, "%s/borderline_pixels", p);
    rc = rc || ws_h5_read(out, a, WS_I64, &bl);
    if (rc || ws_array_numel(&ro) != ws_array_numel(&oo)) {
        ok(0, "%s: RLE masks: %s", p, rc ? ws_last_error() : "different mask counts");
        goto done;
    }
    int64_t n = ws_array_numel(&ro) - 1;
    *nmask = n;
    *flipped = calloc((size_t)n + 1, sizeof **flipped);
    const int64_t *rvd = rv.data, *rod = ro.data, *ovd = ov.data, *ood = oo.data, *bld = bl.data;
    for (int64_t i = 0; i < n; i++) {
        int64_t ka = rod[i], kb = ood[i], ea = rod[i + 1], eb = ood[i + 1], ra = 0, rb = 0, pos = 0, flips = 0;
        int va = 0, vb = 0;
        if (ka < ea) ra = rvd[ka];
        if (kb < eb) rb = ovd[kb];
        for (;;) {   /* walk both run sequences */
            while (ra == 0 && ka < ea - 1) { ra = rvd[++ka]; va ^= 1; }
            while (rb == 0 && kb < eb - 1) { rb = ovd[++kb]; vb ^= 1; }
            if (ra == 0 || rb == 0) { if (ra != rb) flips = -1; break; }
            int64_t step = ra < rb ? ra : rb;
            if (va != vb) flips += step;
            ra -= step;
            rb -= step;
            pos += step;
        }
        (*flipped)[i] = flips;
        total_flips += flips > 0 ? flips : 0;
        total_allowed += bld[i];
        if (flips < 0 || flips > bld[i]) {
            ok_all = 0;
            diag("%s mask %lld: %lld pixels differ, %lld borderline (sizes differ: %s)", p, (long long)i,
                 (long long)flips, (long long)bld[i], flips < 0 ? "yes" : "no");
        }
    }
    ok(ok_all, "%s: %lld RLE masks, %lld pixels differ, all where our logit is within tolerance of 0 (%lld such pixels)",
       p, (long long)n, (long long)total_flips, (long long)total_allowed);
done:
    ws_array_free(&rv); ws_array_free(&ro); ws_array_free(&ov); ws_array_free(&oo); ws_array_free(&bl);
}

/* P/area and the boxes: exact, except masks with accepted flips (area within the flip count). */
static void compare_rle_fields(const ws_h5file *ref, const ws_h5file *out, const char *p, const int64_t *flipped,
                               int64_t n)
{
    const char *fields[3] = {"area", "bbox", "boxes_xyxy"};
    for (int f = 0; f < 3; f++) {
        char a[600];
        ws_array x = {0}, y = {0};
        snprintf(a, sizeof a, "%s/%s", p, fields[f]);
        if (!ws_h5_exists(ref, a)) continue;
        if (ws_h5_read(ref, a, WS_I64, &x) || ws_h5_read(out, a, WS_I64, &y) || ws_array_numel(&x) != ws_array_numel(&y) ||
            ws_array_numel(&x) % (n ? n : 1)) {
            ok(0, "%s: %s", a, ws_last_error());
            ws_array_free(&x); ws_array_free(&y);
            continue;
        }
        int64_t per = n ? ws_array_numel(&x) / n : 0, bad = 0, excused = 0;
        const int64_t *xv = x.data, *yv = y.data;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < per; k++) {
                int64_t d = llabs(xv[i * per + k] - yv[i * per + k]);
                if (!d) continue;
                if (flipped[i] > 0 && (f > 0 || d <= flipped[i])) excused++;
                else bad++;
            }
        ok(bad == 0, "%s: exact but %lld values of masks with accepted flips", a, (long long)excused);
        ws_array_free(&x);
        ws_array_free(&y);
    }
}

int main(int argc, char **argv)
{
    rule rules[64];
    const char *skips[64], *groups[16], *rles[32];
    int nr = 0, ns = 0, ng = 0, nrle = 0;
    if (argc < 3) { fprintf(stderr, "usage: h5cmp REF.h5 OUT.h5 [--group G] [--skip GLOB] [--tol GLOB=RULE]\n"); return 2; }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--skip") && ns < 64) skips[ns++] = argv[i + 1];
        else if (!strcmp(argv[i], "--group") && ng < 16) groups[ng++] = argv[i + 1];
        else if (!strcmp(argv[i], "--rle") && nrle < 32) rles[nrle++] = argv[i + 1];
        else if (!strcmp(argv[i], "--tol") && nr < 64) {
            char *eq = strchr(argv[i + 1], '=');
            if (!eq) { fprintf(stderr, "h5cmp: bad --tol %s\n", argv[i + 1]); return 2; }
            *eq = '\0';
            rule *ru = &rules[nr++];
            ru->glob = argv[i + 1];
            ru->a = ru->r = 0;
            if (!strcmp(eq + 1, "exact")) ru->kind = 'e';
            else if (!strcmp(eq + 1, "rows")) ru->kind = 'w';
            else if (sscanf(eq + 1, "abs:%lf", &ru->a) == 1) ru->kind = 'a';
            else if (sscanf(eq + 1, "rel:%lf:%lf", &ru->a, &ru->r) == 2) ru->kind = 'r';
            else if (sscanf(eq + 1, "scaled:%lf", &ru->a) == 1) ru->kind = 's';
            else if (sscanf(eq + 1, "both:%lf:%lf:%lf", &ru->a, &ru->r, &ru->s) == 3) ru->kind = 'b';
            else if (sscanf(eq + 1, "maxrel:%lf:%lf", &ru->a, &ru->r) == 2) ru->kind = 'x';
            else if (sscanf(eq + 1, "mask:%lf", &ru->a) == 1) ru->kind = 'm';
            else { fprintf(stderr, "h5cmp: bad rule %s\n", eq + 1); return 2; }
        } else { fprintf(stderr, "h5cmp: bad option %s\n", argv[i]); return 2; }
    }
    if (!ng) groups[ng++] = "/";
    ws_h5file ref, out;
    if (ws_h5_open(&ref, argv[1])) { ok(0, "open reference: %s", ws_last_error()); return done_testing(); }
    if (ws_h5_open(&out, argv[2])) { ok(0, "open output: %s", ws_last_error()); return done_testing(); }
    for (int gi = 0; gi < ng; gi++) {
        char **names = NULL, g[512], og[512];
        size_t n = 0;
        snprintf(g, sizeof g, "%s", groups[gi]);
        char *colon = strchr(g, ':');
        if (colon) *colon = '\0';
        snprintf(og, sizeof og, "%s", colon ? colon + 1 : g);
        if (ws_h5_list(&ref, g, &names, &n)) { ok(0, "%s", ws_last_error()); continue; }
        for (size_t i = 0; i < n; i++) {
            char full[1024], ofull[1024];
            snprintf(full, sizeof full, "%s%s%s", g, g[strlen(g) - 1] == '/' ? "" : "/", names[i]);
            snprintf(ofull, sizeof ofull, "%s%s%s", og, og[strlen(og) - 1] == '/' ? "" : "/", names[i]);
            int skip = ends_with(full, "_utf8") || ends_with(full, "_utf8_offsets");
            for (int k = 0; !skip && k < nrle; k++) {   /* RLE groups are compared mask by mask */
                size_t pl = strlen(rles[k]);
                const char *rest = full + pl;
                skip = !strncmp(full, rles[k], pl) && rest[0] == '/' && !strchr(rest + 1, '/') &&
                       (!strcmp(rest, "/rle_counts_values") || !strcmp(rest, "/rle_counts_offsets") ||
                        !strcmp(rest, "/area") || !strcmp(rest, "/bbox") || !strcmp(rest, "/boxes_xyxy"));
            }
            for (int k = 0; !skip && k < ns; k++) skip = !fnmatch(skips[k], full, 0);
            if (skip) continue;
            if (!ws_h5_exists(&out, ofull)) { ok(0, "%s: missing in %s", ofull, argv[2]); continue; }
            if (dataset_type(&ref, full, NULL) == H5T_STRING) compare_strings(&ref, &out, full, ofull);
            else compare_numeric(&ref, &out, full, ofull, find_rule(rules, nr, full));
        }
        ws_h5_strings_free(names, n);
    }
    for (int k = 0; k < nrle; k++) {
        int64_t *flipped = NULL, n = 0;
        compare_rle(&ref, &out, rles[k], &flipped, &n);
        if (flipped) compare_rle_fields(&ref, &out, rles[k], flipped, n);
        free(flipped);
    }
    ws_h5_close(&ref);
    ws_h5_close(&out);
    return done_testing();
}
