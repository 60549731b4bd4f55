/* merge.c - the seed-002 merge (see merge.h). */
#include "method/merge.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/rle.h"

int ws_merge(const uint8_t *label, int H, int W, int n_cls, const int64_t *rle_values, const int64_t *rle_offsets,
             int K, int method, int assign, uint8_t *merged, int64_t *claimed_by)
{
    const size_t HW = (size_t)H * W;
    uint8_t *m = malloc((size_t)(K ? K : 1) * HW);
    int64_t *inter = calloc((size_t)(K ? K : 1) * 256, sizeof *inter), *area = calloc((size_t)(K ? K : 1), sizeof *area);
    int64_t pc[256] = {0};
    int32_t *cov = calloc(HW, sizeof *cov);
    int *target = malloc((size_t)(K ? K : 1) * sizeof *target);
    uint8_t *avail = malloc((size_t)(K ? K : 1));
    int rc = m && inter && area && cov && target && avail ? 0 : ws_fail(WS_ENOMEM, "merge: out of memory");
    for (int k = 0; !rc && k < K; k++) {
        uint8_t *mk = m + (size_t)k * HW;
        if ((rc = ws_rle_decode(rle_values + rle_offsets[k], rle_offsets[k + 1] - rle_offsets[k], H, W, 1, mk))) break;
        for (size_t i = 0; i < HW; i++)
            if (mk[i]) { area[k]++; inter[(size_t)k * 256 + label[i]]++; cov[i]++; }
        avail[k] = 1;
        claimed_by[k] = 0;
        target[k] = 0;   /* argmax over present classes, ties to the lower index */
        for (int c = 1; c <= n_cls; c++)
            if (inter[(size_t)k * 256 + c] > (target[k] ? inter[(size_t)k * 256 + target[k]] : 0)) target[k] = c;
    }
    for (size_t i = 0; !rc && i < HW; i++) pc[label[i]]++;
    if (!rc) memset(merged, 0, HW);
    const int rule_b = method == WS_MERGE_MAX_IOU_IMP2, fallback = method != WS_MERGE_MAX_IOU;
    uint8_t *claim = rc ? NULL : calloc((size_t)(K ? K : 1), 1);
    if (!rc && !claim) rc = ws_fail(WS_ENOMEM, "merge: out of memory");
    for (int c = 1; !rc && c <= n_cls; c++) {
        if (!pc[c]) continue;
        for (int k = 0; k < K; k++) {   /* decisions against U as it was when the class started */
            int64_t I = inter[(size_t)k * 256 + c];
            claim[k] = avail[k] && (assign == WS_ASSIGN_FIRST || target[k] == c) &&
                       (2 * I > area[k] || (rule_b && (double)I >= 0.85 * (double)pc[c]));
        }
        if (fallback)
            for (size_t i = 0; i < HW; i++)
                if (label[i] == c && !cov[i]) merged[i] = (uint8_t)c;
        for (int k = 0; k < K; k++) {
            if (!claim[k]) continue;
            const uint8_t *mk = m + (size_t)k * HW;
            for (size_t i = 0; i < HW; i++)
                if (mk[i]) { merged[i] = (uint8_t)c; cov[i]--; }
            avail[k] = 0;
            claimed_by[k] = c;
        }
    }
    free(claim); free(m); free(inter); free(area); free(cov); free(target); free(avail);
    return rc;
}
