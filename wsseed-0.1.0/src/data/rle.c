/* rle.c - uncompressed column-major RLE (see rle.h): the mask encoding of SAM's generator
 * ("uncompressed_rle"), of the mask store and of COCO's iscrowd segmentations. Column-major
 * because pycocotools (Fortran-order masks) defines it so; the C side keeps row-major masks and
 * converts while scanning.
 */
#include "data/rle.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int ws_rle_encode(const uint8_t *mask, int H, int W, int64_t **counts, int *n)
{
    size_t cap = 16, k = 0;
    int64_t *c = malloc(cap * sizeof *c), run = 0;
    uint8_t cur = 0;
    if (!c) return ws_fail(WS_ENOMEM, "RLE: out of memory");
    /* Scan down each column (pycocotools' order); the first count is the run of zeros, 0 when the mask starts
     * with a 1, which is why cur starts at 0. */
    for (int x = 0; x < W; x++)
        for (int y = 0; y < H; y++) {
            uint8_t v = mask[(size_t)y * W + x] ? 1 : 0;
            if (v != cur) {
                if (k + 2 > cap) {
                    int64_t *p = realloc(c, (cap *= 2) * sizeof *p);
                    if (!p) { free(c); return ws_fail(WS_ENOMEM, "RLE: out of memory"); }
                    c = p;
                }
                c[k++] = run;
                run = 0;
                cur = v;
            }
            run++;
        }
    /* The last run is always written, even when it is of zeros: the counts must sum to H * W. */
    c[k++] = run;
    *counts = c;
    *n = (int)k;
    return 0;
}

int ws_rle_decode(const int64_t *counts, int64_t n, int64_t H, int64_t W, uint8_t one, uint8_t *mask)
{
    int64_t pos = 0, hw = H * W;
    for (int64_t k = 0; k < n; k++) {
        /* Counts come from files: a corrupt store must fail here, not write past the mask. */
        if (counts[k] < 0 || pos + counts[k] > hw) return ws_fail(WS_EFORMAT, "RLE counts exceed the %lldx%lld mask", (long long)H, (long long)W);
        uint8_t v = (k & 1) ? one : 0;
        /* Position pos in column-major order is row pos % H of column pos / H. */
        for (int64_t j = 0; j < counts[k]; j++, pos++) mask[(pos % H) * W + pos / H] = v;
    }
    return pos == hw ? 0 : ws_fail(WS_EFORMAT, "RLE counts cover %lld of %lld pixels", (long long)pos, (long long)hw);
}

/* One values array plus k + 1 offsets (record i is values[off[i], off[i+1])): how the stores and golden files
 * hold a variable number of variable-length RLEs in two datasets. */
int ws_rle_concat(int64_t *const *counts, const int *lens, int k, int64_t **values, int64_t **offsets, int64_t *total)
{
    int64_t t = 0;
    for (int i = 0; i < k; i++) t += lens[i];
    int64_t *v = malloc((size_t)(t ? t : 1) * sizeof *v), *o = malloc(((size_t)k + 1) * sizeof *o);
    if (!v || !o) { free(v); free(o); return ws_fail(WS_ENOMEM, "RLE: out of memory"); }
    o[0] = 0;
    for (int i = 0; i < k; i++) {
        memcpy(v + o[i], counts[i], (size_t)lens[i] * sizeof *v);
        o[i + 1] = o[i] + lens[i];
    }
    *values = v;
    *offsets = o;
    *total = t;
    return 0;
}
