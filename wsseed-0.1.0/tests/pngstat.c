/* pngstat.c - image facts for the shell tests.
 *   pngstat FILE                      prints "W H N", N = pixels whose first channel is 255
 *   pngstat FILE --max V [--same-size OTHER]
 *                                     FILE must be an 8-bit palette/greyscale PNG (a label map)
 *                                     with every value <= V (and OTHER's size); exit 1 otherwise */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "core/status.h"

static int label_check(const char *path, int max, const char *other)
{
    uint8_t *m = NULL, *o = NULL;
    int w, h, ow, oh, bad = 0;
    if (ws_png_read_index(path, &m, &w, &h)) { fprintf(stderr, "pngstat: %s\n", ws_last_error()); return 1; }
    for (long i = 0; i < (long)w * h; i++)
        if (m[i] > max) { fprintf(stderr, "pngstat: %s has value %d > %d\n", path, m[i], max); bad = 1; break; }
    if (!bad && other) {
        if (ws_png_read_index(other, &o, &ow, &oh)) { fprintf(stderr, "pngstat: %s\n", ws_last_error()); bad = 1; }
        else if (ow != w || oh != h) { fprintf(stderr, "pngstat: %s is %dx%d, %s %dx%d\n", path, w, h, other, ow, oh); bad = 1; }
    }
    free(m);
    free(o);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[2], "--max"))
        return label_check(argv[1], atoi(argv[3]), argc >= 6 && !strcmp(argv[4], "--same-size") ? argv[5] : NULL);
    ws_image im;
    if (argc != 2 || ws_image_read(argv[1], &im)) { fprintf(stderr, "pngstat: %s\n", ws_last_error()); return 1; }
    long n = 0;
    for (long i = 0; i < (long)im.w * im.h; i++) n += im.rgb[3 * i] == 255;
    printf("%d %d %ld\n", im.w, im.h, n);
    ws_image_free(&im);
    return 0;
}
