/* export.h - the export stage: a mask store or a training checkpoint to the files other tools
 * read (segment-anything's amg.py folders, COCO JSON, a PyTorch state dict). */
#ifndef WS_STAGE_EXPORT_H
#define WS_STAGE_EXPORT_H

/* Writes every image of mask store `store` as png (DIR/<id>/<i>.png + metadata.csv; NULL = skip)
 * and/or coco (COCO-style JSON with uncompressed RLE; NULL = skip). Fails naming the file. */
int ws_stage_masks_export(const char *store, const char *png, const char *coco);
/* Writes the prompt context of wsseed checkpoint ckpt (.h5) as the PyTorch state dict out_pth
 * {'prompt_learner.ctx': (n_ctx or C x n_ctx, D) f32}. */
int ws_stage_export_ctx(const char *ckpt, const char *out_pth);
#endif
