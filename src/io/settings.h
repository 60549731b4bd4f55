/* settings.h - the settings every stage shares, declared once: the model files, the dataset and
 * the runtime. Each has one struct, one key table (keys relative to the struct: "model.clip",
 * "data.root", "runtime.threads") and one set of defaults; a stage embeds the structs and composes
 * the rows it reads into its own table with ws_settings_add (the pipeline composes them once for
 * every stage). The help texts are part of the resolved config.yaml and of the pipeline's cache
 * keys: change them knowingly.
 */
#ifndef WS_IO_SETTINGS_H
#define WS_IO_SETTINGS_H
#include <stddef.h>
#include "data/classes.h"
#include "data/dataset.h"
#include "io/config.h"
#include "shim/at.h"

typedef struct ws_model_paths {
    char clip[WS_CFG_STR_MAX];         /* CLIP checkpoint (ViT-B-16.pt) or random:tiny / random:vit_b16 */
    char vocab[WS_CFG_STR_MAX];        /* CLIP BPE vocabulary, or builtin:bytes (random models) */
    char sam[WS_CFG_STR_MAX];          /* SAM checkpoint or random:tiny / random:vit_b */
    int decoder_heads;                 /* SAM mask-decoder heads; 0 = 8 (released models) */
    char gdino[WS_CFG_STR_MAX];        /* Grounding-DINO checkpoint */
    char bert_vocab[WS_CFG_STR_MAX];   /* BERT vocab.txt of bert-base-uncased */
    char bert_config[WS_CFG_STR_MAX];  /* BERT config.json; '' = bert-base-uncased's sizes */
} ws_model_paths;

typedef struct ws_data_cfg {
    char dataset[WS_CFG_STR_MAX];      /* voc | coco | custom: class names and count */
    char classes[WS_CFG_STR_MAX];      /* custom: class entries "label" or "label: prompt", '\n'-joined (a YAML list) */
    char class_file[WS_CFG_STR_MAX];   /* custom: or a file of them, one per line (below root unless absolute) */
    char root[WS_CFG_STR_MAX];
    char split[WS_CFG_STR_MAX];
    char image_dir[WS_CFG_STR_MAX];    /* below root; {split} is replaced */
    char label_dir[WS_CFG_STR_MAX];    /* ground-truth maps below root; '' = none */
    char split_file[WS_CFG_STR_MAX];   /* id list below root */
    char labels_file[WS_CFG_STR_MAX];  /* '' or '<id> <class> ...' lines */
    char list[WS_CFG_STR_MAX];         /* masks: a file of image paths instead of the split */
    char seed_dir[WS_CFG_STR_MAX];     /* seg training: seed PNGs replacing the label maps */
} ws_data_cfg;

typedef struct ws_runtime_cfg {
    int threads;                       /* libtorch intra-op threads */
    int workers;                       /* training image-loading threads */
    char device[WS_CFG_STR_MAX];       /* cpu | cuda | cuda:N */
    char precision[WS_CFG_STR_MAX];    /* fp32 | fp16 | bf16 (the models' matrix products; CUDA only) */
} ws_runtime_cfg;

/* The key tables (offsets within their own struct; compose with ws_cfg_table_add and the
 * struct's offset in the stage's settings). Static, read-only. */
extern const ws_cfg_key WS_MODEL_KEYS[];
extern const size_t WS_MODEL_NKEYS;
extern const ws_cfg_key WS_DATA_KEYS[];
extern const size_t WS_DATA_NKEYS;
extern const ws_cfg_key WS_RUNTIME_KEYS[];
extern const size_t WS_RUNTIME_NKEYS;

/* The released checkpoints under checkpoints/ (ViT-B-16.pt, SAM ViT-H, Grounding-DINO Swin-T). */
void ws_model_paths_defaults(ws_model_paths *m);
/* VOC2012 + SegmentationClassAug at data/VOC2012, split train_aug. */
void ws_data_defaults(ws_data_cfg *d);
/* One libtorch thread (OpenBLAS threads the products), two image-loading workers, the CPU, fp32. */
void ws_runtime_defaults(ws_runtime_cfg *r);
/* runtime.device as a shim device ("cuda" = cuda:0); fails naming the key and the value otherwise.
 * Only the spelling is checked here: whether the device exists is ws_at_set_device's question. */
int ws_runtime_device(const ws_runtime_cfg *r, ws_at_device *out);
/* runtime.precision as a shim dtype (WS_AT_F32, WS_AT_F16, WS_AT_BF16); fails naming the key. */
int ws_runtime_precision(const ws_runtime_cfg *r, int *dtype);

/* The dataset's class list (ws_classes_load on data.dataset, data.classes, data.class_file): the one
 * source of class names and counts for every stage. Free with ws_classes_free. */
int ws_data_class_list(const ws_data_cfg *d, ws_classes *c);
/* Its foreground class count only (20 voc, 80 coco, the list's length for custom). */
int ws_data_classes(const ws_data_cfg *d, int *n_fg);
/* ws_data_open flags: the seed maps of data.seed_dir replace the label maps; only the images are
 * read (no image labels needed: the mask generator). */
enum { WS_DATA_SEEDS = 1, WS_DATA_IMAGES_ONLY = 2 };
/* Opens d's split (id list, labels) with d's folders; *n_fg (may be NULL) receives the class count. */
int ws_data_open(const ws_data_cfg *d, int flags, ws_dataset *ds, int *n_fg);

/* Appends to *tab the rows of src (ns rows) named in `only` (NULL-terminated full key names),
 * under prefix, at offset base: a stage's table takes exactly the shared keys it reads. */
int ws_settings_add(ws_cfg_key **tab, size_t *n, const ws_cfg_key *src, size_t ns, const char *const *only,
                    const char *prefix, size_t base);
#endif
