/* pngstat.c - prints "W H N" for an image file, N = pixels whose first channel is 255 (tests). */
#include <stdio.h>

#include "data/image.h"
#include "core/status.h"

int main(int argc, char **argv)
{
    ws_image im;
    if (argc != 2 || ws_image_read(argv[1], &im)) { fprintf(stderr, "pngstat: %s\n", ws_last_error()); return 1; }
    long n = 0;
    for (long i = 0; i < (long)im.w * im.h; i++) n += im.rgb[3 * i] == 255;
    printf("%d %d %ld\n", im.w, im.h, n);
    ws_image_free(&im);
    return 0;
}
