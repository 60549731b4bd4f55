/* dump.h - the `wsseed dump` verification modules (cmd_dump.c, dump_*.c). Temporary home until
 * the harness moves to src/verify/ (issue 12). */
#ifndef WS_CLI_DUMP_H
#define WS_CLI_DUMP_H
#include "cli/common.h"
#include "io/config.h"
#include "io/h5.h"
#include "method/amg.h"
#include "method/evaluate.h"
#include "shim/at.h"

/* Options every `dump` module receives (the fixed contract). */
typedef struct ws_dump_args {
    const char *model, *vocab, *input, *output;
    const char *bert_config;   /* gdino: BERT config.json (sizes the tensors cannot tell) */
} ws_dump_args;
int ws_dump_clip(const ws_dump_args *a);
int ws_dump_sam(const ws_dump_args *a);
int ws_dump_amg(const ws_dump_args *a);
int ws_dump_imageops(const ws_dump_args *a);
int ws_dump_step(const ws_dump_args *a);
int ws_dump_caa(const ws_dump_args *a);
int ws_dump_sams(const ws_dump_args *a);
int ws_dump_merge(const ws_dump_args *a);
int ws_dump_eval(const ws_dump_args *a);
int ws_dump_boxsam(const ws_dump_args *a);
int ws_dump_gdino(const ws_dump_args *a);
/* Writes /checkpoint/<file name with . and - as _>/{names,dtypes,ndim,shapes,sum,abs_sum,first8}:
 * every tensor of the checkpoint in file order (the golden manifest layout). */
int ws_cli_dump_manifest(ws_h5file *out, ws_at_ckpt ck);
/* Writes tensor t (any dtype) as dataset name. */
int ws_cli_put(ws_h5file *f, const char *name, ws_at_tensor t);
/* Reads dataset name as a tensor of dtype (WS_F32, WS_I64, ...). */
int ws_cli_get(const ws_h5file *f, const char *name, int dtype, ws_at_tensor *out);
#endif
