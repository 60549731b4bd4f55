/* merge.h - SAM-enhanced pseudo-labels (Chen et al., seed-002): a CAM label map merged with SAM masks.
 *
 * Classes 1..20 in ascending order; U = union of the masks not yet claimed when the class starts;
 * a mask is claimed when 2*I > |M| (rule A) or I >= 0.85 |P_c| (rule B); the class paints its
 * claimed masks plus its label pixels that no unclaimed mask covers; later classes overwrite.
 * Variants of the released code: max_iou (rule A, no CAM fallback), max_iou_imp (rule A +
 * fallback), max_iou_imp2 (both rules + fallback, the default). assign=argmax restricts each mask
 * to its largest-overlap present class (the paper's prose reading).
 */
#ifndef WS_METHOD_MERGE_H
#define WS_METHOD_MERGE_H
#include <stdint.h>

enum { WS_MERGE_MAX_IOU = 0, WS_MERGE_MAX_IOU_IMP = 1, WS_MERGE_MAX_IOU_IMP2 = 2 };
enum { WS_ASSIGN_FIRST = 0, WS_ASSIGN_ARGMAX = 1 };

/* label (H, W) (classes 1..n_cls, others never targets) and K masks as column-major RLEs
 * (values, offsets[K+1]) -> merged (H, W) and claimed_by[K] (class or 0). */
int ws_merge(const uint8_t *label, int H, int W, int n_cls, const int64_t *rle_values, const int64_t *rle_offsets,
             int K, int method, int assign, uint8_t *merged, int64_t *claimed_by);
#endif
