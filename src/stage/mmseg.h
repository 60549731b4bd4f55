/* mmseg.h - the hand-off to stage II: a run's seeds as an mmsegmentation 1.x custom dataset.
 *
 * OUT/img_dir/{train,val}/<id><ext>   the images (symbolic links, or copies)
 * OUT/ann_dir/train/<id>.png          the seeds (8-bit palette PNGs: 0 background, 1..N, 255 ignore)
 * OUT/ann_dir/val/<id>.png            the ground truth of the val split, when there is one
 * OUT/splits/{train,val}.txt          the ids (BaseSegDataset's ann_file)
 * OUT/classes.txt                     the class names, value 0 (background) first
 * OUT/deeplabv3plus_r101_wsseed.py    a complete mmseg 1.x config (no _base_): DeepLabV3+ R101-D8,
 *                                     BaseSegDataset with the classes and palette, ignore_index 255
 * The folder is built as OUT.part and renamed into place when complete: OUT is either absent or
 * whole; a killed export is finished by running it again.
 */
#ifndef WS_STAGE_MMSEG_H
#define WS_STAGE_MMSEG_H
#include "io/settings.h"

typedef struct ws_mmseg_settings {
    ws_data_cfg data;          /* the run's dataset: classes, images, split, ground truth */
    const char *seeds;         /* folder of the seed PNGs, one per image of data.split */
    const char *out;           /* the folder to create */
    const char *val_split;     /* a split with ground truth to validate on; "" = none; NULL = "val" if it exists */
    int copy_images;           /* 1: copy the images (default: symbolic links to the dataset's) */
    int force;                 /* 1: replace an existing OUT (only one this command wrote) */
    const char *source;        /* what the seeds are (a line of the config's header), may be NULL */
} ws_mmseg_settings;

/* Writes the dataset and config s describes. Fails naming the file at fault: a missing seed or
 * image, a seed value that is not a class of the list or 255, an OUT that exists. */
int ws_stage_mmseg_export(const ws_mmseg_settings *s);
#endif
