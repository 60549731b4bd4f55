/* settings.c - the shared settings (see settings.h): model files, dataset, runtime.
 *
 * Owns the one definition (key, type, help, default) of every setting that several stages read,
 * so model.sam or data.root means the same in `wsseed masks`, `wsseed boxes` and the pipeline;
 * each stage picks the rows it reads with ws_settings_add.
 */
#include "io/settings.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define OFF(f) offsetof(ws_model_paths, f)
const ws_cfg_key WS_MODEL_KEYS[] = {
    {"model.clip", WS_CFG_STR, OFF(clip), "CLIP checkpoint (ViT-B-16.pt) or random:tiny / random:vit_b16"},
    {"model.vocab", WS_CFG_STR, OFF(vocab), "CLIP BPE vocabulary, or builtin:bytes (random models only)"},
    {"model.sam", WS_CFG_STR, OFF(sam), "SAM checkpoint (sam_vit_h_4b8939.pth) or random:tiny / random:vit_b"},
    {"model.decoder_heads", WS_CFG_INT, OFF(decoder_heads), "SAM mask-decoder heads; 0 = 8 for released models"},
    {"model.gdino", WS_CFG_STR, OFF(gdino), "Grounding-DINO checkpoint (groundingdino_swint_ogc.pth)"},
    {"model.bert_vocab", WS_CFG_STR, OFF(bert_vocab), "BERT vocab.txt of bert-base-uncased"},
    {"model.bert_config", WS_CFG_STR, OFF(bert_config), "BERT config.json; '' = bert-base-uncased's sizes"},
};
const size_t WS_MODEL_NKEYS = sizeof WS_MODEL_KEYS / sizeof WS_MODEL_KEYS[0];
#undef OFF

#define OFF(f) offsetof(ws_data_cfg, f)
const ws_cfg_key WS_DATA_KEYS[] = {
    {"data.dataset", WS_CFG_STR, OFF(dataset), "voc, coco or custom (classes from data.classes or data.class_file)"},
    {"data.classes", WS_CFG_STRLIST, OFF(classes), "custom: [label, \"label: prompt name\", ...]; value k = k-th, background 0 unlisted"},
    {"data.class_file", WS_CFG_STR, OFF(class_file), "custom: or a file of those entries, one per line (below root unless absolute)"},
    {"data.root", WS_CFG_STR, OFF(root), "dataset root"},
    {"data.split", WS_CFG_STR, OFF(split), "the split that is trained on and gets seeds (train_aug)"},
    {"data.image_dir", WS_CFG_STR, OFF(image_dir), "images below root; {split} is replaced"},
    {"data.label_dir", WS_CFG_STR, OFF(label_dir), "ground-truth maps (image labels, evaluation); '' = none"},
    {"data.split_file", WS_CFG_STR, OFF(split_file), "id list below root"},
    {"data.labels_file", WS_CFG_STR, OFF(labels_file), "'' or '<id> <class> ...' lines (no maps: no evaluation)"},
    {"data.list", WS_CFG_STR, OFF(list), "instead of the split: a text file of image paths, one per line"},
    {"data.seed_dir", WS_CFG_STR, OFF(seed_dir), "seg task: folder of coarse-seed PNGs replacing the label maps"},
};
const size_t WS_DATA_NKEYS = sizeof WS_DATA_KEYS / sizeof WS_DATA_KEYS[0];
#undef OFF

#define OFF(f) offsetof(ws_runtime_cfg, f)
const ws_cfg_key WS_RUNTIME_KEYS[] = {
    {"runtime.threads", WS_CFG_INT, OFF(threads), "libtorch intra-op threads"},
    {"runtime.workers", WS_CFG_INT, OFF(workers), "training image-loading threads"},
    {"runtime.device", WS_CFG_STR, OFF(device), "cpu, cuda or cuda:N: where the models compute"},
    {"runtime.precision", WS_CFG_STR, OFF(precision), "fp32, or on CUDA fp16 / bf16 matrix products of the models"},
};
const size_t WS_RUNTIME_NKEYS = sizeof WS_RUNTIME_KEYS / sizeof WS_RUNTIME_KEYS[0];
#undef OFF

void ws_model_paths_defaults(ws_model_paths *m)
{
    memset(m, 0, sizeof *m);
    /* The released files under their upstream names (openai/CLIP, segment-anything's ViT-H, Grounding-DINO's
     * Swin-T OGC), so a checkpoints/ folder filled from the official links works without a config. */
    strcpy(m->clip, "checkpoints/ViT-B-16.pt");
    strcpy(m->vocab, "checkpoints/bpe_simple_vocab_16e6.txt.gz");
    strcpy(m->sam, "checkpoints/sam_vit_h_4b8939.pth");
    strcpy(m->gdino, "checkpoints/groundingdino_swint_ogc.pth");
    strcpy(m->bert_vocab, "checkpoints/bert-base-uncased/vocab.txt");
}

void ws_data_defaults(ws_data_cfg *d)
{
    memset(d, 0, sizeof *d);
    strcpy(d->dataset, "voc");
    strcpy(d->root, "data/VOC2012");
    /* FMA-WSSS trains and seeds on VOC's train_aug with SegmentationClassAug as ground truth;
     * these defaults are its folder layout. */
    strcpy(d->split, "train_aug");
    strcpy(d->image_dir, "JPEGImages");
    strcpy(d->label_dir, "SegmentationClassAug");
    strcpy(d->split_file, "ImageSets/Segmentation/{split}.txt");
}

void ws_runtime_defaults(ws_runtime_cfg *r)
{
    /* One libtorch thread (OpenBLAS already threads the products, see stage/runtime.h); two loader threads
     * prepare the next batch while a step computes. */
    r->threads = 1;
    r->workers = 2;
    strcpy(r->device, "cpu");
    strcpy(r->precision, "fp32");
}

int ws_runtime_device(const ws_runtime_cfg *r, ws_at_device *out)
{
    const char *s = r->device;
    if (!strcmp(s, "cpu")) { *out = (ws_at_device){WS_AT_CPU, 0}; return 0; }
    if (!strcmp(s, "cuda")) { *out = (ws_at_device){WS_AT_CUDA, 0}; return 0; }
    /* cuda:N with N plain decimal digits: "cuda:-1", "cuda:x", "cuda:1x" and "cuda: 1" are typos, never read as a prefix */
    size_t nd = strncmp(s, "cuda:", 5) ? 0 : strspn(s + 5, "0123456789");
    if (nd == 0 || nd > 4 || s[5 + nd])
        return ws_fail(WS_EINVAL, "runtime.device: '%s' is not cpu, cuda or cuda:N (N = 0, 1, ...)", s);
    *out = (ws_at_device){WS_AT_CUDA, atoi(s + 5)};
    return 0;
}

int ws_runtime_precision(const ws_runtime_cfg *r, int *dtype)
{
    static const struct { const char *name; int dtype; } tab[] = {
        {"fp32", WS_AT_F32}, {"fp16", WS_AT_F16}, {"bf16", WS_AT_BF16}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(r->precision, tab[i].name)) { *dtype = tab[i].dtype; return 0; }
    return ws_fail(WS_EINVAL, "runtime.precision: '%s' is not fp32, fp16 or bf16", r->precision);
}

int ws_data_class_list(const ws_data_cfg *d, ws_classes *c)
{
    memset(c, 0, sizeof *c);
    char *file = d->class_file[0] ? ws_dataset_path(d->root, d->class_file, d->split) : NULL;
    if (d->class_file[0] && !file) return ws_fail(WS_ENOMEM, "out of memory");
    int rc = ws_classes_load(c, d->dataset, d->classes, file);
    free(file);
    return rc;
}

int ws_data_classes(const ws_data_cfg *d, int *n_fg)
{
    ws_classes c;
    int rc = ws_data_class_list(d, &c);
    *n_fg = c.n_fg;
    ws_classes_free(&c);
    return rc;
}

int ws_data_open(const ws_data_cfg *d, int flags, ws_dataset *ds, int *n_fg)
{
    int nf = 0, rc = ws_data_classes(d, &nf);
    if (rc) return rc;
    ws_dataset_spec s = {.root = d->root, .split = d->split, .image_dir = d->image_dir, .label_dir = d->label_dir,
                         .split_file = d->split_file, .labels_file = d->labels_file,
                         .seed_dir = flags & WS_DATA_SEEDS ? d->seed_dir : NULL, .image_ext = ".jpg", .n_fg = nf,
                         .images_only = !!(flags & WS_DATA_IMAGES_ONLY)};
    if (n_fg) *n_fg = nf;
    return ws_dataset_open(ds, &s);
}

int ws_settings_add(ws_cfg_key **tab, size_t *n, const ws_cfg_key *src, size_t ns, const char *const *only,
                    const char *prefix, size_t base)
{
    /* one row at a time: ws_cfg_table_add matches name prefixes ("data.split" would also take
     * "data.split_file"), a stage names exactly the shared keys it reads */
    for (size_t i = 0; i < ns; i++) {
        int take = !only;
        for (int j = 0; only && only[j] && !take; j++) take = !strcmp(only[j], src[i].key);
        int rc = take ? ws_cfg_table_add(tab, n, src + i, 1, NULL, NULL, prefix, base) : 0;
        if (rc) return rc;
    }
    return 0;
}
