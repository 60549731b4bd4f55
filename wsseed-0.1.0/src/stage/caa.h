/* caa.h - the CAA stage (FMA-WSSS class-aware attention affinity): a CAM store -> a CAM store of
 * refined CAMs (no attention), resumable like every store. */
#ifndef WS_STAGE_CAA_H
#define WS_STAGE_CAA_H
#include "method/caa.h"

typedef struct ws_caa_settings {
    const char *in;        /* CAM store of `wsseed cam` (with attention; borrowed) */
    const char *out;       /* refined CAM store (borrowed) */
    ws_caa_cfg caa;        /* Sinkhorn iterations, power, box threshold, score or CAM */
} ws_caa_settings;

/* Refines every CAM of s->in missing from s->out, then assembles s->out. 0 or WS_E*. */
int ws_stage_caa(const ws_caa_settings *s);
#endif
