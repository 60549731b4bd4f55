/* pngstat.c - image facts for the shell tests.
 *   pngstat FILE                      prints "W H N", N = pixels whose first channel is 255
 *   pngstat FILE --max V [--same-size OTHER]
 *                                     FILE must be an 8-bit palette/greyscale PNG (a label map)
 *                                     with every value <= V (and OTHER's size); exit 1 otherwise
 *   pngstat FILE --values             the distinct values of a label map, ascending, space-separated */
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

static int label_values(const char *path)
{
    uint8_t *m = NULL;
    int w, h, seen[256] = {0}, first = 1;
    if (ws_png_read_index(path, &m, &w, &h)) { fprintf(stderr, "pngstat: %s\n", ws_last_error()); return 1; }
    for (long i = 0; i < (long)w * h; i++) seen[m[i]] = 1;
    for (int v = 0; v < 256; v++)
        if (seen[v]) { printf(first ? "%d" : " %d", v); first = 0; }
    putchar('\n');
    free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[2], "--values")) return label_values(argv[1]);
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
