/* fuzz_image.c - libFuzzer harness for the image readers of data/image.c: JPEG and PNG decoding to
 * RGB (ws_image_read) and label maps as palette indices (ws_png_read_index).
 *
 * The input is an image file. A decoded image must have a positive size and a pixel buffer of
 * exactly that size (every byte is read back, so ASan sees a short buffer). */
#include "fuzz_common.h"

#include "core/status.h"
#include "data/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "image", data, size);
    ws_image img;
    unsigned sum = 0;
    if (ws_image_read(path, &img) == 0) {
        if (img.w < 1 || img.h < 1 || !img.rgb) abort();
        for (size_t i = 0; i < (size_t)img.w * img.h * 3; i++) sum += img.rgb[i];
        ws_image_free(&img);
    }
    ws_clear_error();
    uint8_t *map = NULL;
    int w = 0, h = 0;
    if (ws_png_read_index(path, &map, &w, &h) == 0) {
        if (w < 1 || h < 1 || !map) abort();
        for (size_t i = 0; i < (size_t)w * h; i++) sum += map[i];
        free(map);
    } else if (map) abort();
    ws_clear_error();
    (void)sum;
    return 0;
}
