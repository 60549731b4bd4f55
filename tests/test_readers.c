/* test_readers.c - the reader bugs that fuzzing found (tests/fuzz/README.md), one check each, on
 * synthetic files and the regression inputs of tests/fuzz/corpus/: a config string that needs YAML
 * escapes dumps and reloads unchanged and a non-UTF-8 --set value is refused; a list of floats with a value
 * beyond float range is refused; a mask record whose
 * shapes disagree is refused; RLE counts near INT64_MAX are refused; an image header declaring
 * billions of pixels is refused by size; a pickle memo index far past the stored entries is refused; a
 * box JSON entry whose box overflows float or whose score is NaN, or an images entry whose id is no
 * image number, is refused. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/status.h"
#include "data/image.h"
#include "data/rle.h"
#include "io/boxjson.h"
#include "io/config.h"
#include "io/h5.h"
#include "io/store.h"
#include "shim/ptload.h"
#include "tap.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

typedef struct { char s[WS_CFG_STR_MAX]; } one_str;

static void test_config_escapes(void)
{
    static const ws_cfg_key keys[] = {{"run", WS_CFG_STR, 0, NULL}};
    one_str a = {"q\"uote \\back\tslash \x01 nel\xc2\x85 ls\xe2\x80\xa8 bom\xef\xbb\xbf \xe7\x9c\x9f"}, b = {""};
    char *text = ws_cfg_dump(keys, 1, &a);
    FILE *f = fopen(tmp_path("dump.yaml"), "w");
    fputs(text ? text : "", f);
    fclose(f);
    int rc = ws_cfg_load(keys, 1, &b, tmp_path("dump.yaml"));
    ok(rc == 0 && !strcmp(a.s, b.s), "a string with quotes, backslashes, controls and YAML line breaks dumps and reloads "
       "unchanged (%s)", rc ? ws_last_error() : strcmp(a.s, b.s) ? b.s : "same");
    free(text);
    rc = ws_cfg_set(keys, 1, &b, "run=\xff");
    ok(rc != 0 && strstr(ws_last_error(), "UTF-8"), "--set run=<0xff> is refused as not UTF-8 (%s)", rc ? ws_last_error() : "accepted");
}

/* A list of 3 floats with a value beyond float range (fuzz_config: --set aug.mean=[1, 2.2e124, 3]) was
 * stored as inf, and the dumped config.yaml ("inf") could not be read back. */
static void test_config_float3_range(void)
{
    typedef struct { float v[3]; } three;
    static const ws_cfg_key keys[] = {{"amg.score_thresh_offset", WS_CFG_FLOAT3, 0, NULL}};
    three t = {{0, 0, 0}};
    int rc = ws_cfg_set(keys, 1, &t, "amg.score_thresh_offset=[1, 22222222222222222222222222222222222222222, 3]");
    ok(rc != 0 && strstr(ws_last_error(), "beyond the range of a float"), "a list value beyond float range is refused (%s)",
       rc ? ws_last_error() : "accepted");
    rc = ws_cfg_set(keys, 1, &t, "amg.score_thresh_offset=[1, -3e38, 3]");
    ok(rc == 0 && t.v[1] == -3e38f, "... while -3e38 fits (%s)", rc ? ws_last_error() : "accepted");
}

/* An unknown key gets the likeliest meant one (the same name in another section, else the nearest
 * spelling) and its section's keys, the list closed; an unknown section lists the top level. */
static void test_config_unknown_key(void)
{
    typedef struct { int run; double lr, mom; int batch, iters; } cfg;
    static const ws_cfg_key keys[] = {{"run", WS_CFG_INT, offsetof(cfg, run), NULL},
                                      {"optim.lr", WS_CFG_FLOAT, offsetof(cfg, lr), NULL},
                                      {"optim.momentum", WS_CFG_FLOAT, offsetof(cfg, mom), NULL},
                                      {"train.batch", WS_CFG_INT, offsetof(cfg, batch), NULL},
                                      {"train.max_iter", WS_CFG_INT, offsetof(cfg, iters), NULL}};
    cfg c = {0};
    static const struct { const char *set, *want; } cases[] = {
        {"train.lr=1", "unknown key 'train.lr'; did you mean 'optim.lr'? (keys of this section: train.batch, train.max_iter)"},
        {"train.max_iters=1", "did you mean 'train.max_iter'? (keys of this section: train.batch, train.max_iter)"},
        {"optim.momentun=1", "did you mean 'optim.momentum'? (keys of this section: optim.lr, optim.momentum)"},
        {"foo.bar=1", "unknown key 'foo.bar' (top level: run, optim, train)"},
        {"train.zzzzzz=1", "unknown key 'train.zzzzzz' (keys of this section: train.batch, train.max_iter)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = ws_cfg_set(keys, sizeof keys / sizeof *keys, &c, cases[i].set);
        ok(rc != 0 && strstr(ws_last_error(), cases[i].want), "--set %s: the likely key and the section's (%s)", cases[i].set,
           rc ? ws_last_error() : "accepted");
    }
}

static void test_store_shapes(void)
{
    static const char *names[13] = {"rle_counts_values", "rle_counts_offsets", "size", "area", "bbox", "crop_box",
                                    "level", "predicted_iou", "predicted_iou_thresh", "predicted_iou_nms",
                                    "stability_score", "stability_score_bias", "point_coords"};
    static const int types[13] = {WS_I64, WS_I64, WS_I64, WS_I64, WS_I64, WS_I64, WS_I64, WS_F32, WS_F32, WS_F32,
                                  WS_F32, WS_F32, WS_F64};
    /* every dataset a scalar zero: "size" then has no W, and the offsets cover no mask */
    ws_h5file f;
    double zero[1] = {0};
    int rc = ws_h5_create(&f, tmp_path("bad.h5"));
    for (int k = 0; k < 13 && !rc; k++) {
        char p[128];
        snprintf(p, sizeof p, "/masks/img/%s", names[k]);
        rc = ws_h5_write_raw(&f, p, types[k], 0, NULL, zero);
    }
    if (!rc) rc = ws_h5_commit(&f);
    ws_h5_close(&f);
    ok(rc == 0, "wrote a mask record of scalars (%s)", rc ? ws_last_error() : "ok");
    ws_mask_set m;
    rc = ws_store_read(tmp_path("bad.h5"), "img", &m);
    ok((rc == WS_EFORMAT || rc == WS_ESHAPE) && strstr(ws_last_error(), "img"), "a mask record whose shapes disagree is refused naming the image (%s)",
       rc ? ws_last_error() : "read");
    if (!rc) ws_mask_set_free(&m);
}

static void test_rle_overflow(void)
{
    int64_t counts[2] = {1, INT64_MAX};
    uint8_t mask[4];
    int rc = ws_rle_decode(counts, 2, 2, 2, 1, mask);
    ok(rc == WS_EFORMAT, "RLE counts near INT64_MAX are refused (%s)", rc ? ws_last_error() : "decoded");
}

static void put_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t n)
{
    uint8_t be[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    /* IEND has no data: crc32(crc, NULL, 0) would return zlib's initial value instead of crc, and fwrite
     * may not be given NULL (UBSan) */
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (n) crc = crc32(crc, data, n);
    fwrite(be, 1, 4, f);
    fwrite(type, 1, 4, f);
    if (n) fwrite(data, 1, n, f);
    for (int i = 0; i < 4; i++) be[i] = (uint8_t)(crc >> (24 - 8 * i));
    fwrite(be, 1, 4, f);
}

/* A well-formed grey PNG header of w x h pixels with the first few rows of data only. */
static void write_png_header(const char *path, uint32_t w, uint32_t h)
{
    uint8_t ihdr[13] = {0}, raw[64] = {0}, z[128];
    uLongf zn = sizeof z;
    for (int i = 0; i < 4; i++) { ihdr[i] = (uint8_t)(w >> (24 - 8 * i)); ihdr[4 + i] = (uint8_t)(h >> (24 - 8 * i)); }
    ihdr[8] = 8;   /* bit depth; colour type 0 (grey), no interlace */
    compress(z, &zn, raw, sizeof raw);
    FILE *f = fopen(path, "wb");
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    put_chunk(f, "IHDR", ihdr, sizeof ihdr);
    put_chunk(f, "IDAT", z, (uint32_t)zn);
    put_chunk(f, "IEND", NULL, 0);
    fclose(f);
}

static void test_image_bomb(void)
{
    write_png_header(tmp_path("bomb.png"), 100000, 100000);
    ws_image img;
    int rc = ws_image_read(tmp_path("bomb.png"), &img);
    ok(rc != 0 && strstr(ws_last_error(), "100000x100000 pixels"), "a PNG declaring 100000x100000 pixels is refused by size (%s)",
       rc ? ws_last_error() : "decoded");
    if (!rc) ws_image_free(&img);
    uint8_t *map = NULL;
    int w, h;
    rc = ws_png_read_index(tmp_path("bomb.png"), &map, &w, &h);
    ok(rc != 0 && strstr(ws_last_error(), "100000x100000 pixels"), "... and so is the same label map (%s)",
       rc ? ws_last_error() : "decoded");
    free(map);
}

/* The checkpoint reader's regression inputs in tests/fuzz/corpus/ptload/, each refused with its cause:
 * - a LONG_BINPUT memo index of 2^26 - 1 after 3 entries (it allocated and cleared 512 MB);
 * - a zip64 local-header offset near 2^64 (the bounds check wrapped around and the reader read far
 *   outside the file; fuzz_ptload under UBSan);
 * - a pickle DICT built from an odd number of values (the state-dict scan read the value after the
 *   last key, which no opcode had written; fuzz_ptload under ASan). */
static void test_ptload_regressions(void)
{
    static const struct { const char *file, *cause, *what; } cases[] = {
        {"regress-memo-index-2e26.pt", "skips ahead", "a pickle memo index of 56977265 after 3 entries"},
        {"regress-zip64-offset-overflow.pt", "corrupt zip entry", "a zip64 entry offset near 2^64"},
        {"regress-dict-odd-items.pt", "odd number of items", "a pickle dict with a key and no value"},
    };
    const char *top = getenv("top_srcdir");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096], err[512] = "";
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/ptload/%s", top ? top : ".", cases[i].file);
        if (access(path, R_OK)) { ok(0, "regression input %s is readable", path); continue; }
        ws_pt_file f;
        int rc = ws_pt_open(path, &f, err, sizeof err);
        ok(rc != 0 && strstr(err, cases[i].cause), "%s is refused: '%s' (%s)", cases[i].what, cases[i].cause, rc ? err : "opened");
        if (!rc) ws_pt_close(&f);
    }
}

static void test_boxjson_ranges(void)
{
    static const char *entries[2] = {"\"bbox\": [1, 2, 3e300, 4], \"score\": 1", "\"bbox\": [1, 2, 3, 4], \"score\": nan"};
    static const char *what[2] = {"a bbox width of 3e300 (beyond float)", "a NaN score"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(tmp_path("boxes.json"), "w");
        fprintf(f, "[{\"image_id\": \"a\", \"category_id\": 1, %s}]\n", entries[i]);
        fclose(f);
        ws_json_boxes j = {0};
        int rc = ws_json_boxes_load(tmp_path("boxes.json"), 20, &j);
        ok(rc == WS_EINVAL && strstr(ws_last_error(), "box entry 0"), "a box entry with %s is refused (%s)", what[i],
           rc ? ws_last_error() : "loaded");
        if (!rc) ws_json_boxes_free(&j);
    }
    FILE *f = fopen(tmp_path("boxes.json"), "w");
    fprintf(f, "{\"images\": [{\"id\": 7.7e67, \"file_name\": \"a.jpg\"}], \"annotations\": []}\n");
    fclose(f);
    ws_json_boxes j = {0};
    int rc = ws_json_boxes_load(tmp_path("boxes.json"), 20, &j);
    ok(rc == WS_EINVAL && strstr(ws_last_error(), "images entry 0"), "an images entry whose id 7.7e67 is no image number is "
       "refused (%s)", rc ? ws_last_error() : "loaded");
    if (!rc) ws_json_boxes_free(&j);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/wsseed-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) skip_all("cannot create a temporary folder");
    test_config_escapes();
    test_config_float3_range();
    test_config_unknown_key();
    test_store_shapes();
    test_rle_overflow();
    test_image_bomb();
    test_ptload_regressions();
    test_boxjson_ranges();
    const char *files[] = {"dump.yaml", "bad.h5", "bomb.png", "boxes.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(tmp_path(files[i]));
    rmdir(tmpdir);
    return done_testing();
}
