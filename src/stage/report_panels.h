/* report_panels.h - the image panels of report.html (inside the report stage): one row per image
 * with the photo, ground truth, CAM heat map and its colour scale, coarse and fine seeds, the SAM
 * masks outlined, and a legend of the class colours the row shows. PNGs embedded as data: URIs.
 */
#ifndef WS_STAGE_REPORT_PANELS_H
#define WS_STAGE_REPORT_PANELS_H
#include <stdio.h>

#include "stage/report.h"

/* Writes image id's row to f. A panel whose input is missing (no ground truth, no CAM, no mask
 * store) is left out: the report shows what exists. Fails only when the photo cannot be read or
 * memory runs out. */
int ws_report_image_row(FILE *f, const ws_report_input *r, const char *id, const uint8_t *pal);
#endif
