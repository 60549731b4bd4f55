/* svg.c - labelled inline-SVG charts (see svg.h).
 *
 * Owns the chart geometry (a plot area inside margins for tick labels, axis labels and the title),
 * the choice of tick values and their formatting. Charts are drawn in a fixed user space
 * (viewBox) and scaled by the browser, so font sizes are relative to the chart width.
 */
#include "stage/svg.h"

#include <math.h>
#include <string.h>

void ws_html_puts(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* ---- ticks ----------------------------------------------------------------------------------- */

/* A step of 1, 2 or 5 times a power of ten giving about `want` intervals over span: tick labels a
 * reader can add up in the head. */
static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* Tick label of v for ticks `step` apart: as many decimals as the step needs, exponent form for
 * very small or large values (learning rates like 2e-05). */
static void tick_label(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-6) { snprintf(buf, n, "0"); return; }   /* -0 and rounding noise at the origin */
    double a = fabs(step);
    if (v != 0 && (a < 1e-3 || fabs(v) >= 1e6)) snprintf(buf, n, "%.1e", v);
    else snprintf(buf, n, "%.*f", a >= 1 ? 0 : (int)ceil(-log10(a) - 1e-9), v);
}

/* ---- frame ----------------------------------------------------------------------------------- */

typedef struct frame {
    double W, H, L, R, T, B;   /* canvas size and the plot area's left, right, top, bottom */
    double x0, x1, y0, y1;     /* data ranges mapped to the plot area */
} frame;

static double fx(const frame *g, double x) { return g->L + (x - g->x0) / (g->x1 - g->x0) * (g->R - g->L); }
static double fy(const frame *g, double y) { return g->B - (y - g->y0) / (g->y1 - g->y0) * (g->B - g->T); }

static void svg_open(FILE *f, const frame *g, const char *title)
{
    /* at most 1.25 times its drawn size (a small chart on a wide screen stays a small chart), but never
     * narrower than the charts' minimum width (the CSS min-width of the svg), which would clip it */
    fprintf(f, "<figure class=chart style=\"max-width:%.0fpx\"><svg viewBox=\"0 0 %.0f %.0f\" role=img aria-label=\"",
            fmax(1.25 * g->W, 520), g->W, g->H);
    ws_html_puts(f, title);
    fprintf(f, "\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"%.0f\" y=\"18\" text-anchor=\"middle\" "
               "font-size=\"14\" font-weight=\"bold\">", g->W / 2);
    ws_html_puts(f, title);
    fputs("</text>\n", f);
}

static void svg_close(FILE *f, const char *caption)
{
    fputs("</svg>", f);
    if (caption) {
        fputs("<figcaption>", f);
        ws_html_puts(f, caption);
        fputs("</figcaption>", f);
    }
    fputs("</figure>\n", f);
}

/* The y axis with grid lines and tick labels, the x axis line, and both axis labels. */
static void axes_y(FILE *f, const frame *g, const char *xlabel, const char *ylabel)
{
    double step = nice_step(g->y1 - g->y0, 5);
    char lab[48];
    for (double v = ceil(g->y0 / step - 1e-9) * step; v <= g->y1 + step * 1e-9; v += step) {
        double y = fy(g, v);
        tick_label(lab, sizeof lab, v, step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                g->L, y, g->R, y, g->L - 5, y + 4, lab);
    }
    fprintf(f, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#333\"/>\n", g->L, g->T, g->B, g->R);
    if (xlabel) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (g->L + g->R) / 2, g->H - 6);
        ws_html_puts(f, xlabel);
        fputs("</text>\n", f);
    }
    fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">", (g->T + g->B) / 2);
    ws_html_puts(f, ylabel);
    fputs("</text>\n", f);
}

static void axis_x_numeric(FILE *f, const frame *g)
{
    double step = nice_step(g->x1 - g->x0, 6);
    char lab[48];
    for (double v = ceil(g->x0 / step - 1e-9) * step; v <= g->x1 + step * 1e-9; v += step) {
        double x = fx(g, v);
        tick_label(lab, sizeof lab, v, step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, g->B, x, g->B + 5, x, g->B + 18, lab);
    }
}

/* Category names under the x axis at the centres of ncat equal slots; slanted when a name would not
 * fit its slot. */
static void axis_x_names(FILE *f, const frame *g, const char *const *cats, int ncat, int slanted)
{
    double slot = (g->R - g->L) / ncat;
    for (int k = 0; k < ncat; k++) {
        double x = g->L + (k + 0.5) * slot;
        if (slanted)
            fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-45)\" text-anchor=\"end\">", x + 4, g->B + 12);
        else fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, g->B + 18);
        ws_html_puts(f, cats[k]);
        fputs("</text>\n", f);
    }
}

static void legend(FILE *f, const frame *g, const char *const *names, const char *const *colours, int ns)
{
    double x = g->L + 8;
    for (int t = 0; t < ns; t++) {
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">",
                x, g->T - 22, colours[t], x + 16, g->T - 12);
        ws_html_puts(f, names[t]);
        fputs("</text>\n", f);
        x += 28 + 7.0 * (double)strlen(names[t]);
    }
}

/* The longest category name, in characters: the room the slanted labels need below the axis. */
static int longest(const char *const *cats, int ncat)
{
    int m = 0;
    for (int k = 0; k < ncat; k++) m = (int)strlen(cats[k]) > m ? (int)strlen(cats[k]) : m;
    return m;
}

/* ---- charts ---------------------------------------------------------------------------------- */

void ws_svg_lines(FILE *f, const char *title, const char *xlabel, const char *ylabel, const ws_svg_series *s, int ns)
{
    frame g = {640, 300, 70, 624, 48, 250, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int t = 0; t < ns; t++)
        for (int i = 0; i < s[t].n; i++) {
            if (!isfinite(s[t].x[i]) || !isfinite(s[t].y[i])) continue;
            g.x0 = fmin(g.x0, s[t].x[i]); g.x1 = fmax(g.x1, s[t].x[i]);
            g.y0 = fmin(g.y0, s[t].y[i]); g.y1 = fmax(g.y1, s[t].y[i]);
        }
    if (!isfinite(g.x0)) { g.x0 = 0; g.x1 = 1; g.y0 = 0; g.y1 = 1; }
    /* A single point or a flat curve: widen the range so the axes still have ticks. */
    if (!(g.x1 > g.x0)) g.x1 = g.x0 + 1;
    if (!(g.y1 > g.y0)) { double d = fabs(g.y0) > 0 ? fabs(g.y0) * 0.1 : 1; g.y0 -= d; g.y1 += d; }
    /* Losses and learning rates are positive: start the axis at 0 when that costs little room. */
    if (g.y0 > 0 && g.y0 < 0.5 * g.y1) g.y0 = 0;
    double step = nice_step(g.y1 - g.y0, 5);
    g.y0 = floor(g.y0 / step + 1e-9) * step;
    g.y1 = ceil(g.y1 / step - 1e-9) * step;
    svg_open(f, &g, title);
    axes_y(f, &g, xlabel, ylabel);
    axis_x_numeric(f, &g);
    for (int t = 0; t < ns; t++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", s[t].colour);
        for (int i = 0; i < s[t].n; i++)
            if (isfinite(s[t].x[i]) && isfinite(s[t].y[i])) fprintf(f, "%.1f,%.1f ", fx(&g, s[t].x[i]), fy(&g, s[t].y[i]));
        fputs("\"/>\n", f);
    }
    if (ns > 1) {
        const char *names[8], *cols[8];
        for (int t = 0; t < ns && t < 8; t++) { names[t] = s[t].name; cols[t] = s[t].colour; }
        legend(f, &g, names, cols, ns < 8 ? ns : 8);
    }
    svg_close(f, NULL);
}

void ws_svg_bars(FILE *f, const char *title, const char *ylabel, const char *const *cats, int ncat,
                 const double *const *vals, const char *const *names, const char *const *colours, int ns, double ymax)
{
    /* At least 28 units per category so names stay legible; a long class list makes a wider chart that
     * the page scrolls sideways. */
    double W = ncat * 28.0 + 90 > 640 ? ncat * 28.0 + 90 : 640;
    int lng = longest(cats, ncat), slanted = lng * 7.0 > (W - 90) / ncat;
    double below = slanted ? 16 + 5.5 * lng : 30;
    frame g = {W, 48 + 200 + below + 24, 70, W - 16, 48, 248, 0, 1, 0, ymax};
    svg_open(f, &g, title);
    axes_y(f, &g, NULL, ylabel);
    double slot = (g.R - g.L) / ncat, bw = slot * 0.8 / ns;
    for (int k = 0; k < ncat; k++)
        for (int t = 0; t < ns; t++) {
            double v = vals[t] ? vals[t][k] : NAN;
            if (!isfinite(v)) continue;
            double x = g.L + k * slot + slot * 0.1 + t * bw, y = fy(&g, v < 0 ? 0 : v > ymax ? ymax : v);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x, y, bw, g.B - y,
                    colours[t]);
            ws_html_puts(f, cats[k]);
            fprintf(f, " (%s): %.2f</title></rect>\n", names[t], v);
        }
    axis_x_names(f, &g, cats, ncat, slanted);
    legend(f, &g, names, colours, ns);
    svg_close(f, NULL);
}

void ws_svg_points(FILE *f, const char *title, const char *xlabel, const char *ylabel, const char *const *cats, int ncat,
                   const int *cat, int n, const double *const *vals, const char *const *names,
                   const char *const *colours, int ns, double ymax)
{
    double W = ncat * 90.0 + 90 > 480 ? ncat * 90.0 + 90 : 480;
    int lng = longest(cats, ncat), slanted = lng * 7.0 > (W - 90) / ncat;
    double below = slanted ? 16 + 5.5 * lng : 30;
    frame g = {W, 48 + 200 + below + 24, 70, W - 16, 48, 248, 0, 1, 0, ymax};
    svg_open(f, &g, title);
    axes_y(f, &g, xlabel, ylabel);
    double slot = (g.R - g.L) / ncat;
    for (int t = 0; t < ns; t++)
        for (int i = 0; i < n; i++) {
            double v = vals[t][i];
            if (!isfinite(v)) continue;
            /* series side by side within a category, so equal values do not hide each other */
            double x = g.L + (cat[i] + 0.5) * slot + (t - (ns - 1) / 2.0) * 10;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%s: %.2f</title></circle>\n", x,
                    fy(&g, v < 0 ? 0 : v > ymax ? ymax : v), colours[t], names[t], v);
        }
    axis_x_names(f, &g, cats, ncat, slanted);
    legend(f, &g, names, colours, ns);
    svg_close(f, NULL);
}

void ws_svg_ramp_blue(double t, unsigned char rgb[3])
{
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    rgb[0] = (unsigned char)(255 - 247 * t);
    rgb[1] = (unsigned char)(255 - 207 * t);
    rgb[2] = (unsigned char)(255 - 148 * t);
}

void ws_svg_ramp_heat(double t, unsigned char rgb[3])
{
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    rgb[0] = (unsigned char)(255 * t);
    rgb[1] = (unsigned char)(255 * (1 - fabs(2 * t - 1)));
    rgb[2] = (unsigned char)(255 * (1 - t));
}

void ws_svg_heatmap(FILE *f, const char *title, const char *rowlabel, const char *collabel, const char *const *names,
                    int n, const double *m)
{
    int lng = longest(names, n);
    /* Cells of at least 14 units; the names take the room left of and below the grid. */
    double cell = n <= 12 ? 40 : n <= 30 ? 24 : 14, left = 30 + 6.5 * lng, top = 40;
    /* at least as wide as the title */
    frame g = {fmax(left + n * cell + 20, 7.5 * (double)strlen(title) + 20), top + n * cell + 24 + 6.0 * lng + 20, left,
               left + n * cell, top, top + n * cell, 0, 1, 0, 1};
    svg_open(f, &g, title);
    unsigned char c[3];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = m[(size_t)i * n + j];
            ws_svg_ramp_blue(isfinite(v) ? v : 0, c);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%02x%02x%02x\"><title>", left + j * cell,
                    top + i * cell, cell, cell, c[0], c[1], c[2]);
            ws_html_puts(f, names[i]);
            fputs(" as ", f);
            ws_html_puts(f, names[j]);
            fprintf(f, ": %.3f</title></rect>\n", v);
            if (cell >= 24 && isfinite(v) && v >= 0.005)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%d\" fill=\"%s\">%.2f</text>\n",
                        left + (j + 0.5) * cell, top + (i + 0.5) * cell + 4, cell >= 40 ? 11 : 8, v > 0.5 ? "#fff" : "#222", v);
        }
    int fs = cell >= 24 ? 12 : 10;
    for (int i = 0; i < n; i++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%d\">", left - 4, top + (i + 0.5) * cell + 4, fs);
        ws_html_puts(f, names[i]);
        fprintf(f, "</text><text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"end\" font-size=\"%d\">",
                left + (i + 0.5) * cell + 4, g.B + 4, fs);
        ws_html_puts(f, names[i]);
        fputs("</text>\n", f);
    }
    fprintf(f, "<text transform=\"translate(12 %.1f) rotate(-90)\" text-anchor=\"middle\">", (g.T + g.B) / 2);
    ws_html_puts(f, rowlabel);
    fprintf(f, "</text><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (g.L + g.R) / 2, g.H - 6);
    ws_html_puts(f, collabel);
    fputs("</text>\n", f);
    svg_close(f, NULL);
    ws_svg_colour_scale(f, "fraction of the row's ground-truth pixels", 0, 1, ws_svg_ramp_blue);
}

void ws_svg_colour_scale(FILE *f, const char *label, double lo, double hi, void (*ramp)(double t, unsigned char rgb[3]))
{
    static int id;   /* gradient ids must be unique within the page */
    unsigned char c[3];
    id++;
    fprintf(f, "<figure class=scale><svg viewBox=\"0 0 320 62\" role=img aria-label=\"colour scale\" font-family=\"sans-serif\" "
               "font-size=\"13\"><defs><linearGradient id=\"ws-ramp%d\">", id);
    for (int k = 0; k <= 10; k++) {
        ramp(k / 10.0, c);
        fprintf(f, "<stop offset=\"%d%%\" stop-color=\"#%02x%02x%02x\"/>", 10 * k, c[0], c[1], c[2]);
    }
    fprintf(f, "</linearGradient></defs><rect x=\"10\" y=\"4\" width=\"300\" height=\"14\" fill=\"url(#ws-ramp%d)\" "
               "stroke=\"#999\"/>\n", id);
    double step = nice_step(hi - lo, 4);
    char lab[48];
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
        double x = 10 + (v - lo) / (hi - lo) * 300;
        tick_label(lab, sizeof lab, v, step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"18\" x2=\"%.1f\" y2=\"22\" stroke=\"#333\"/><text x=\"%.1f\" y=\"35\" "
                   "text-anchor=\"middle\">%s</text>", x, x, x, lab);
    }
    fputs("<text x=\"160\" y=\"56\" text-anchor=\"middle\">", f);
    ws_html_puts(f, label);
    fputs("</text></svg></figure>\n", f);
}
