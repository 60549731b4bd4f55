/* seed.h - the seed stage (FMA-WSSS SAMS, gather_norm_bg_argmax): a CAM store + the mask store ->
 * one 8-bit palette PNG per image (class indices, what mmsegmentation trains on). */
#ifndef WS_STAGE_SEED_H
#define WS_STAGE_SEED_H

typedef struct ws_seed_settings {
    const char *cams;      /* CAM store (usually refined by CAA; borrowed) */
    const char *masks;     /* mask store of the same split (borrowed) */
    const char *out;       /* folder of <id>.png (borrowed) */
    double pow;            /* background score (1 - max)^pow: 0.6 coarse, 0.7 fine seeds */
} ws_seed_settings;

/* Writes out/<id>.png for every image of the CAM store that has none yet (an interrupted run
 * continues). Fails naming the image and store (e.g. an image without masks). */
int ws_stage_seed(const ws_seed_settings *s);
#endif
