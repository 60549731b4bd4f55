/* verify.h - the verification harness behind `wsseed dump MODULE`.
 *
 * Each module reads the inputs and settings of a golden-style HDF5 file (datasets under
 * /input(s)/..., attributes of /config and of the case groups), runs one part of wsseed and
 * writes every output such a file holds under the same names, shapes and dtypes, so that one
 * generic comparer (tests/h5cmp) can diff any golden file against wsseed. Nothing of a
 * particular golden file (case names, sizes, counts, seeds) is compiled in: it all comes from
 * the input file. The harness sits above io/method/model and below nothing; src/cli only calls
 * ws_verify_main.
 */
#ifndef WS_VERIFY_VERIFY_H
#define WS_VERIFY_VERIFY_H

#include "io/h5.h"
#include "shim/at.h"

/* Runs `dump` with argv[0] = "dump", argv[1..] = MODULE and options; prints usage or the error
 * ("wsseed: error: ...") itself and returns the process exit status (0 ok, 1 failed, 2 usage). */
int ws_verify_main(int argc, char **argv);

/* Options every module receives (the fixed contract of `wsseed dump`). Borrowed strings. */
typedef struct ws_verify_args {
    const char *model, *vocab, *input, *output;
    const char *bert_config;   /* gdino: BERT config.json (sizes the tensors cannot tell) */
} ws_verify_args;

/* One function per module: 0 or a negative WS_E* status with ws_fail's message naming the file
 * and dataset/attribute at fault. OUT.h5 appears only when complete (ws_h5_commit). */
int ws_verify_clip(const ws_verify_args *a);
int ws_verify_sam(const ws_verify_args *a);
int ws_verify_amg(const ws_verify_args *a);
int ws_verify_imageops(const ws_verify_args *a);
int ws_verify_step(const ws_verify_args *a);
int ws_verify_caa(const ws_verify_args *a);
int ws_verify_sams(const ws_verify_args *a);
int ws_verify_merge(const ws_verify_args *a);
int ws_verify_eval(const ws_verify_args *a);
int ws_verify_boxsam(const ws_verify_args *a);
int ws_verify_gdino(const ws_verify_args *a);

/* ---- helpers shared by the modules (common.c) ---- */

/* Writes /checkpoint/<file name with . and - as _>/{names,dtypes,ndim,shapes,sum,abs_sum,first8}:
 * every tensor of the checkpoint in file order (the golden manifest layout). */
int ws_verify_manifest(ws_h5file *out, ws_at_ckpt ck);
/* Reads the integer attribute attr of obj in f into *v; when the attribute is absent, *v = dflt
 * if has_dflt, else fails naming file, object and attribute. A non-integral value fails. */
int ws_verify_attr_int(const ws_h5file *f, const char *obj, const char *attr, int has_dflt, long dflt, long *v);
/* Same for a floating attribute. */
int ws_verify_attr_num(const ws_h5file *f, const char *obj, const char *attr, int has_dflt, double dflt, double *v);
/* Reads the numeric attribute attr of obj, which must hold exactly n values, into v[n]. */
int ws_verify_attr_vec(const ws_h5file *f, const char *obj, const char *attr, double *v, int n);
/* Names of the direct child groups of group (sorted, malloc'd strings; free with
 * ws_h5_strings_free); an absent group gives n = 0. */
int ws_verify_subgroups(const ws_h5file *f, const char *group, char ***names, size_t *n);
#endif
