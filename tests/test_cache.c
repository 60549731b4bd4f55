/* test_cache.c - the training feature cache round-trips exactly: after `train` built it (cls: image
 * embeddings; seg: last-block inputs in float32 and float16), every stored view equals the features
 * recomputed for the same image, view and augmentation draw (ws_train_cache_recompute), bit for bit. Uses the tiny CLIP of the golden
 * folder and a synthetic dataset. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/dataset.h"
#include "io/h5.h"
#include "tap.h"
#include "train/train.h"

static void check(const char *tmp, const char *dir, int fp16, int seg)
{
    ws_train_cfg c;
    ws_train_defaults(&c);
    snprintf(c.model.clip, sizeof c.model.clip, "%s/clip_tiny.pt", dir);
    snprintf(c.model.vocab, sizeof c.model.vocab, "%s/bpe_simple_vocab_16e6.txt.gz", dir);
    snprintf(c.data.root, sizeof c.data.root, "%s/voc", tmp);
    snprintf(c.out_dir, sizeof c.out_dir, "%s/exp", tmp);
    snprintf(c.run, sizeof c.run, "%s%d", seg ? "seg" : "cls", fp16 ? 16 : 32);
    snprintf(c.feature_cache, sizeof c.feature_cache, "%s/cache_%s%d.h5", tmp, seg ? "seg" : "cls", fp16 ? 16 : 32);
    if (seg) {   /* Grad-CAM task: the cache holds the last block's inputs */
        snprintf(c.task, sizeof c.task, "seg");
        snprintf(c.data.seed_dir, sizeof c.data.seed_dir, "%s/voc/SegmentationClassAug", tmp);
        c.prompt.csc = 1;
        snprintf(c.prompt.cls_token_pos, sizeof c.prompt.cls_token_pos, "front");
        snprintf(c.prompt.bg_names, sizeof c.prompt.bg_names, "empty");
        c.w_mcl = 0;
        c.w_cam_fg = c.w_cam_bg = 1;
        c.online_labels = 1;
    }
    c.scale_low = 72; c.scale_high = 120; c.short_thresh = 64; c.crop = 64;
    c.batch = 4; c.max_iter = 2; c.warm_iters = 1; c.cache_views = 2; c.cache_fp16 = fp16; c.runtime.workers = 1;
    if (!ok(!ws_train_run(&c, NULL), "%s training with a %s feature cache of %s%s", seg ? "seg" : "cls",
            fp16 ? "float16" : "float32", seg ? "last-block inputs" : "image embeddings", ws_last_error()))
        return;
    ws_h5file f = {0};
    if (!ok(!ws_h5_open(&f, c.feature_cache), "open %s", c.feature_cache)) return;
    for (int i = 0; i < 3; i++) {
        char name[64], p[128];
        snprintf(name, sizeof name, "synth_%06d", i);
        snprintf(p, sizeof p, "/views/%s/x", name);
        ws_array a = {0};
        float *b = NULL;
        int64_t n = 0;
        int rc = ws_h5_read(&f, p, WS_F32, &a);
        if (!rc) rc = ws_train_cache_recompute(&c, i, &b, &n);
        ok(!rc && n == ws_array_numel(&a) && !memcmp(a.data, b, (size_t)n * sizeof *b),
           "%s %s cache of %s (%lld values) equals the recomputation bit for bit", seg ? "seg" : "cls",
           fp16 && seg ? "float16" : "float32", name, (long long)n);
        ws_array_free(&a);
        free(b);
    }
    ws_h5_close(&f);
}

int main(void)
{
    const char *dir = golden_dir();
    char tmp[] = "/tmp/wsseed-cache-XXXXXX", voc[64], cmd[128];
    if (!mkdtemp(tmp)) { ok(0, "mkdtemp"); return done_testing(); }
    snprintf(voc, sizeof voc, "%s/voc", tmp);
    if (ok(!ws_synth_voc(voc, 10, 64, 100, 5, NULL, 3), "synthetic dataset")) {
        check(tmp, dir, 0, 0);   /* cls: image embeddings */
        check(tmp, dir, 0, 1);   /* seg: last-block inputs, float32 */
        check(tmp, dir, 1, 1);   /* seg: float16 */
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) diag("could not remove %s", tmp);
    return done_testing();
}
