/* classes.h - the class list of a dataset: what every stage (masks, train, cam, boxes, eval,
 * report, export) knows about classes comes from ws_classes_load, the one place it is derived.
 *
 * "voc" (20 classes) and "coco" (80) are compiled in (data/names.h: label names, CLIP-ES prompt
 * names, detector captions, background words). "custom" takes its foreground classes from a list
 * of entries, each "label" or "label: prompt name" (as VOC's "bird" is prompted "wild bird"):
 * the k-th entry is label value k; background is value 0 and is never listed (a list that names
 * "background" is refused: it would shift every value by one); 255 is ignore. At most
 * WS_CLASSES_MAX classes, since label maps and seeds are 8-bit PNGs.
 */
#ifndef WS_DATA_CLASSES_H
#define WS_DATA_CLASSES_H

#define WS_CLASSES_MAX 254   /* foreground values 1..254: 0 is background and 255 ignore in an 8-bit map */

typedef struct ws_classes {
    int n_fg;                    /* foreground classes: label values 1..n_fg */
    const char **label;          /* [n_fg + 1] names by label value; label[0] = "background" */
    const char **prompt;         /* [n_fg] CLIP prompt name of value i + 1 (CLIP-ES renaming for voc/coco) */
    const char **detect;         /* [n_fg] detector caption of value i + 1 (Grounding-DINO) */
    const char *const *bg_words; /* [n_bg_words] CLIP-ES background words (static): custom uses VOC's */
    int n_bg_words;
    char *text_;                 /* owned: the custom entries */
} ws_classes;

/* Fills c for dataset "voc", "coco" or "custom". custom: exactly one of list (entries separated by
 * '\n', as the config's data.classes holds them; NULL or "" = none) and file (one entry per line;
 * blank lines and '#' comment lines skipped; NULL or "" = none). voc and coco take neither.
 * Fails naming the dataset, file:line or entry at fault (empty, duplicate, "background", a '"' or
 * '\' or control character, more than WS_CLASSES_MAX). Free with ws_classes_free. */
int ws_classes_load(ws_classes *c, const char *dataset, const char *list, const char *file);
/* Frees what c owns; a zeroed c is a no-op. */
void ws_classes_free(ws_classes *c);
#endif
