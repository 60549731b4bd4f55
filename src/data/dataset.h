/* dataset.h - image-level-labelled segmentation datasets in their released layouts.
 *
 * VOC2012 + SBD: ROOT/JPEGImages/<id>.jpg, ROOT/SegmentationClassAug/<id>.png,
 * ROOT/ImageSets/Segmentation/<split>.txt. COCO-2014 (the WSSS layout of CLIP-ES/ToCo):
 * ROOT/JPEGImages/<split>/<id>.jpg, ROOT/SegmentationClass/<split>/<id>.png,
 * ROOT/ImageSets/<split>.txt. Folder patterns may contain {split}. Image labels come from the
 * label maps (classes 1..n_fg present, 255 ignored) or, without maps, from a labels file with
 * lines "<id> <class> <class> ..." (classes 1..n_fg). A seed folder replaces the label maps
 * (seg task). The dataset owns its id list.
 */
#ifndef WS_DATA_DATASET_H
#define WS_DATA_DATASET_H
#include <stddef.h>
#include <stdint.h>
#include "data/image.h"

typedef struct ws_dataset_spec {
    const char *root;         /* dataset folder */
    const char *split;        /* train_aug, train, val, ... */
    const char *image_dir;    /* e.g. "JPEGImages" or "JPEGImages/{split}" */
    const char *label_dir;    /* e.g. "SegmentationClassAug"; "" = none */
    const char *split_file;   /* e.g. "ImageSets/Segmentation/{split}.txt" */
    const char *labels_file;  /* "" or a labels file (relative to root unless absolute) */
    const char *seed_dir;     /* "" or a folder of seed PNGs replacing the label maps */
    const char *image_ext;    /* ".jpg" */
    int n_fg;                 /* foreground classes (data/classes.h: 20 VOC, 80 COCO, a custom list's length) */
    int images_only;          /* 1: the images are all that is read (no image labels needed) */
} ws_dataset_spec;

typedef struct ws_dataset {
    char *image_dir, *label_dir;  /* resolved folders (label_dir: seeds or maps, or NULL) */
    char *image_ext;
    char **ids;
    int n, n_fg;
    uint8_t *labels;              /* (n, n_fg) from the labels file, or NULL */
} ws_dataset;

/* Reads a split file (or an image list): one image per line, the first column counting; a UTF-8
 * byte-order mark, CR line ends, surrounding blanks, blank lines and '#' comment lines are ignored.
 * ids_of_paths: an entry that is a path ("/JPEGImages/x.jpg ...", the two-column train_aug.txt)
 * becomes its file name without extension; otherwise entries are kept as written. An entry listed
 * twice is an error naming both lines; an empty list is an error. *entries (strings) and *lines
 * (the line number of each) are malloc'd: the caller frees both. */
int ws_split_read(const char *path, int ids_of_paths, char ***entries, int **lines, int *n);
/* The folder or file `pattern` of a dataset: root + "/" + pattern with every {split} replaced by
 * split; an absolute pattern is taken as it is. malloc'd (caller frees); NULL when out of memory. */
char *ws_dataset_path(const char *root, const char *pattern, const char *split);
/* Opens the split: reads the id list (fails naming the file when missing or empty) and the
 * labels file. Every image's files are checked only when read. */
int ws_dataset_open(ws_dataset *d, const ws_dataset_spec *s);
void ws_dataset_close(ws_dataset *d);   /* zeroed dataset is a no-op */
/* The image file of entry i into buf (cap bytes); returns buf. */
char *ws_dataset_image_path(const ws_dataset *d, int i, char *buf, size_t cap);
/* Reads image i (RGB) and, when want_map, its label/seed map (h, w) (malloc'd, NULL when the
 * dataset has none); fg (n_fg) receives the image label. Fails naming the file. */
int ws_dataset_read(const ws_dataset *d, int i, ws_image *img, uint8_t **map, uint8_t *fg, int want_map);

/* A synthetic dataset in the VOC layout: n images of random size in [min_side, max_side] with
 * 1..3 filled ellipses/rectangles of classes in 1..n_classes (each class its own colour and
 * texture), 255 on a 1-pixel band around every object, JPEG images, palette PNG maps and the
 * splits train_aug (80 %), train (the first half of train_aug) and val. Deterministic in seed.
 * names (NULL: a VOC dataset, n_classes <= 20): a custom dataset of n_classes <= 254 classes
 * named so, with ROOT/classes.txt (data.class_file) and ROOT/labels.txt (data.labels_file: the
 * classes present in each map) beside. */
int ws_synth_voc(const char *root, int n, int min_side, int max_side, int n_classes, const char *const *names,
                 uint32_t seed);
/* 1 if root holds nothing but an interrupted ws_synth_voc: only the folders and files it writes, its
 * images and maps named synth_*, and no train_aug.txt (written last). Writing it again finishes it. */
int ws_synth_interrupted(const char *root);
/* The VOC colour palette (256 RGB triples). */
void ws_voc_palette(uint8_t pal[768]);
#endif
