/* svg.h - labelled charts as inline SVG for report.html and the sweep summary: line charts, grouped
 * bars with category names, a heat map and colour scales, each with axes, ticks, units and a title.
 *
 * SVG rather than raster plots because a browser renders the text (axis labels, class names) at any
 * size, on a phone or a wide screen, without a font renderer here. Every chart scales to the width
 * of its container (viewBox); text is escaped for HTML. Writes only to the FILE it is given.
 */
#ifndef WS_STAGE_SVG_H
#define WS_STAGE_SVG_H
#include <stdio.h>

/* One line of a line chart: n points (x[i], y[i]); non-finite points are skipped. */
typedef struct ws_svg_series {
    const double *x, *y;
    int n;
    const char *name;     /* legend entry */
    const char *colour;   /* CSS colour */
} ws_svg_series;

/* A line chart of ns series with x and y axes, "nice" ticks (1-2-5 steps), axis labels (units in
 * the label text) and a legend when ns > 1. */
void ws_svg_lines(FILE *f, const char *title, const char *xlabel, const char *ylabel, const ws_svg_series *s, int ns);

/* Grouped bars: for each of ncat categories (names under the axis, slanted when long), one bar per
 * series (vals[t][k], NaN = no bar); y from 0 to ymax with ticks; legend of series names. */
void ws_svg_bars(FILE *f, const char *title, const char *ylabel, const char *const *cats, int ncat,
                 const double *const *vals, const char *const *names, const char *const *colours, int ns, double ymax);

/* Points per category: for each series t, the value vals[t][i] at category position cat[i] (0..ncat-1)
 * for i < n; category names on the x axis (xlabel names the key), y from 0 to ymax. */
void ws_svg_points(FILE *f, const char *title, const char *xlabel, const char *ylabel, const char *const *cats, int ncat,
                   const int *cat, int n, const double *const *vals, const char *const *names,
                   const char *const *colours, int ns, double ymax);

/* An n x n heat map of m (row-major, values in 0..1) with row and column names, the value in each
 * cell when n is small enough to read it, and a colour scale 0..1 beside it (ws_svg_ramp_blue). */
void ws_svg_heatmap(FILE *f, const char *title, const char *rowlabel, const char *collabel, const char *const *names,
                    int n, const double *m);

/* A horizontal colour scale from lo to hi with ticks, coloured by ramp(t, rgb) for t in 0..1. */
void ws_svg_colour_scale(FILE *f, const char *label, double lo, double hi, void (*ramp)(double t, unsigned char rgb[3]));

/* Colour ramps: white to dark blue (confusion matrix); blue-green-red (CAM heat maps, the colours
 * report.c blends into its heat map panels). */
void ws_svg_ramp_blue(double t, unsigned char rgb[3]);
void ws_svg_ramp_heat(double t, unsigned char rgb[3]);

/* s with &, <, >, " escaped (HTML text and attributes). */
void ws_html_puts(FILE *f, const char *s);
#endif
