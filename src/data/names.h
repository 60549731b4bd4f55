/* names.h - the class-name lists of FMA-WSSS (CLIP-ES renaming), index = label - 1.
 * VOC: 20 fg (configs/patterns/voc_names/clip_es.py), 25 bg words for the cls task.
 * COCO-2014: 80 fg (CLIP-ES new_class_names_coco), 23 bg words (VOC's minus keyboard, sign). */
#ifndef WS_DATA_NAMES_H
#define WS_DATA_NAMES_H
/* VOC's own label names, index = label value (0 background .. 20), as the dataset and the
 * evaluation tables name them. */
extern const char *const WS_VOC_LABELS[21];
/* Plain English VOC names for a zero-shot prompt "a photo of a {}" (wsseed demo). */
extern const char *const WS_VOC_PLAIN[20];
extern const char *const WS_VOC_FG[20];
extern const char *const WS_VOC_BG[25];
extern const char *const WS_COCO_FG[80];
extern const char *const WS_COCO_BG[23];
/* Detector prompt names: VOC's dino_class_names of zhaozhengChen/SAM_WSSS (bird -> "wild bird",
 * diningtable -> "dining table", tvmonitor -> "monitor/tv"); COCO's official category names. */
extern const char *const WS_VOC_DINO[20];
extern const char *const WS_COCO_NAMES[80];
#endif
