/* cli.h - subcommands of the wsseed command and their shared helpers. Only src/cli/ exits. */
#ifndef WS_CLI_CLI_H
#define WS_CLI_CLI_H

#include "io/config.h"
#include "io/h5.h"
#include "method/amg.h"
#include "method/evaluate.h"
#include "shim/at.h"

/* Each subcommand: argv[0] is the subcommand name; returns the process exit status. */
int ws_cmd_tokenize(int argc, char **argv);
int ws_cmd_demo(int argc, char **argv);
int ws_cmd_masks(int argc, char **argv);
int ws_cmd_masks_export(int argc, char **argv);
int ws_cmd_train(int argc, char **argv);
int ws_cmd_synth(int argc, char **argv);
int ws_cmd_export_ctx(int argc, char **argv);
int ws_cmd_cam(int argc, char **argv);
int ws_cmd_caa(int argc, char **argv);
int ws_cmd_seed(int argc, char **argv);
int ws_cmd_merge(int argc, char **argv);
int ws_cmd_eval(int argc, char **argv);
int ws_cmd_boxes(int argc, char **argv);
int ws_cmd_boxseed(int argc, char **argv);
int ws_cmd_pipeline(int argc, char **argv);
int ws_cmd_sweep(int argc, char **argv);

/* `wsseed masks` settings (also a section of the pipeline config). */
typedef struct masks_settings {
    char sam[WS_CFG_STR_MAX];
    int decoder_heads;
    char root[WS_CFG_STR_MAX], split[WS_CFG_STR_MAX], list[WS_CFG_STR_MAX];
    char store[WS_CFG_STR_MAX];
    int threads;
    ws_amg_cfg amg;
} masks_settings;
const ws_cfg_key *ws_masks_keys(size_t *n);
void ws_masks_defaults(masks_settings *s);
/* Fills the mask store s->store for the images of the split (resumable; shard i of n). */
int ws_masks_run(masks_settings *s, int shard_i, int shard_n, long max_images);

/* `wsseed boxes` / `wsseed boxseed` settings (cmd_boxes.c; also a section of the pipeline config). */
typedef struct boxes_settings {
    char clip[WS_CFG_STR_MAX], vocab[WS_CFG_STR_MAX], gdino[WS_CFG_STR_MAX], bert_vocab[WS_CFG_STR_MAX];
    char bert_config[WS_CFG_STR_MAX], sam[WS_CFG_STR_MAX];
    int decoder_heads;
    char dataset[WS_CFG_STR_MAX], root[WS_CFG_STR_MAX], split[WS_CFG_STR_MAX], image_dir[WS_CFG_STR_MAX];
    char label_dir[WS_CFG_STR_MAX], split_file[WS_CFG_STR_MAX], labels_file[WS_CFG_STR_MAX];
    char source[WS_CFG_STR_MAX];
    double tau, box_thresh, text_thresh;
    int size, max_size;
    char json[WS_CFG_STR_MAX], store[WS_CFG_STR_MAX], overlap[WS_CFG_STR_MAX], out[WS_CFG_STR_MAX];
    double max_box_frac, min_mask_frac, ignore_delta;
    int ignore_band, ignore_empty;
    char out_dir[WS_CFG_STR_MAX];
    int threads;
} boxes_settings;
const ws_cfg_key *ws_boxes_keys(size_t *n);
void ws_boxes_defaults(boxes_settings *s);
/* The box store of the split (resumable; shard i of n), then the seed PNGs. */
int ws_boxes_run(const boxes_settings *s, int shard_i, int shard_n, long max_images);
int ws_boxseed_run(const boxes_settings *s, long max_images);
/* Image-label precision/recall/F1 of a box store against its gt_labels; prints, writes json (may be
 * NULL); *f1 (may be NULL) gets F1. */
int ws_cli_eval_labels(const char *store, const char *json, double *f1);

/* The seed-stage commands as functions (cmd_seed.c). */
typedef struct ws_train_cfg ws_train_cfg;
int ws_cli_cam(const ws_train_cfg *c, const char *ckpt, const char *out, long max_images);
int ws_cli_caa(const char *in_path, const char *out, const void *caa_cfg /* ws_caa_cfg */);
int ws_cli_seed(const char *cams, const char *masks, const char *dir, double pw);
/* Evaluates every pred/<id>.png against gt/<id>.png; writes json/md when given; *m (may be NULL)
 * receives the metrics; quiet: no table on stdout. */
int ws_cli_eval(const char *pred, const char *gt, int nc, const char *json, const char *md, ws_eval_metrics *m, int quiet);

/* Default BPE vocabulary path: $WSSEED_BPE, else checkpoints/bpe_simple_vocab_16e6.txt.gz. */
const char *ws_cli_default_vocab(void);
/* Prints "wsseed: error: <last error>" and returns 1. */
int ws_cli_error(void);

#endif
