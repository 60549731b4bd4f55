/* merge.h - the merge stage (SAM-enhanced pseudo-labels, seed-002): any folder of label maps
 * (e.g. another CAM method's pseudo labels) merged with the image's SAM masks of the mask store. */
#ifndef WS_STAGE_MERGE_H
#define WS_STAGE_MERGE_H

typedef struct ws_merge_settings {
    const char *labels;    /* folder of <id>.png label maps, classes 1..n_fg (borrowed) */
    const char *masks;     /* mask store of the same images (borrowed) */
    const char *out;       /* folder of merged <id>.png (borrowed) */
    int method;            /* WS_MERGE_MAX_IOU_IMP2 (released rule), _IMP, _MAX_IOU */
    int assign;            /* WS_ASSIGN_FIRST (released) or WS_ASSIGN_ARGMAX (the paper's text) */
    int n_fg;              /* foreground classes (20 on VOC) */
} ws_merge_settings;

/* Sets s->method and s->assign from their names (max_iou_imp2 | max_iou_imp | max_iou; first |
 * argmax); fails naming the unknown value. */
int ws_merge_rule(ws_merge_settings *s, const char *method, const char *assign);
/* Writes out/<id>.png for every label map without one (an interrupted run continues). */
int ws_stage_merge(const ws_merge_settings *s);
#endif
