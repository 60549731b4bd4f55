/* fuzz_boxjson.c - libFuzzer harness for the COCO-style box JSON reader (io/boxjson.c).
 *
 * The input is a boxes.json. A file that loads must keep boxjson.h's promises: classes 0..n_fg-1,
 * finite boxes with x1 <= x2 and y1 <= y2 (they become SAM box prompts), and every box found again
 * by its image name, each once. */
#include "fuzz_common.h"

#include <math.h>

#include "core/status.h"
#include "io/boxjson.h"

typedef struct { const ws_json_boxes *j; int hits, seen_self; int want; } probe;

static int count(void *ctx, const ws_json_box *b)
{
    probe *p = ctx;
    p->hits++;
    if (b == &p->j->b[p->want]) p->seen_self++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "boxes.json", data, size);
    const int n_fg = 20;
    ws_json_boxes j = {0};
    if (ws_json_boxes_load(path, n_fg, &j)) { ws_clear_error(); return 0; }
    for (int k = 0; k < j.n; k++) {
        const ws_json_box *b = &j.b[k];
        if (b->cls < 0 || b->cls >= n_fg || !b->image) abort();
        for (int i = 0; i < 4; i++)
            if (!isfinite(b->xyxy[i])) { fprintf(stderr, "box %d: coordinate %d is %g\n", k, i, b->xyxy[i]); abort(); }
        if (b->xyxy[2] < b->xyxy[0] || b->xyxy[3] < b->xyxy[1]) abort();
        if (!(b->score == b->score)) abort();
        if (k < 64) {
            probe p = {&j, 0, 0, k};
            ws_json_boxes_of(&j, b->image, count, &p);
            if (p.seen_self != 1 || p.hits > j.n) abort();
        }
    }
    ws_json_boxes_free(&j);
    return 0;
}
