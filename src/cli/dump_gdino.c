/* dump_gdino.c - `wsseed dump gdino`: the Grounding-DINO parts of gdino_tiny_ref.h5 implemented so
 * far: /tokenizer (BERT WordPiece: pieces, input ids, decode; preprocess_caption, caption ids,
 * position ids and the block-diagonal text self-attention mask) from /tokenizer/strings and
 * --vocab. The model (Swin, BERT, fusion, deformable encoder/decoder) is not implemented yet, so
 * --model is accepted and not read.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/status.h"
#include "model/wordpiece.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* A ragged int dataset pair X_values / X_offsets. */
typedef struct ragged { void *v; int64_t *off; size_t n, cap, esz; int64_t k; } ragged;

static int rag_add(ragged *r, const void *data, size_t count)
{
    if (r->n + count > r->cap) {
        size_t cap = (r->cap + count) * 2 + 64;
        void *t = realloc(r->v, cap * r->esz);
        if (!t) return ws_fail(WS_ENOMEM, "out of memory");
        r->v = t;
        r->cap = cap;
    }
    memcpy((char *)r->v + r->n * r->esz, data, count * r->esz);
    r->n += count;
    r->off[++r->k] = (int64_t)r->n;
    return 0;
}

static int rag_write(ws_h5file *f, const char *name, const ragged *r, int dt)
{
    char p[256];
    int64_t n = (int64_t)r->n, k = r->k + 1;
    snprintf(p, sizeof p, "/tokenizer/%s_values", name);
    int rc = ws_h5_write_raw(f, p, dt, 1, &n, r->v ? r->v : "");
    snprintf(p, sizeof p, "/tokenizer/%s_offsets", name);
    return rc ? rc : ws_h5_write_raw(f, p, WS_I64, 1, &k, r->off);
}

int ws_dump_gdino(const ws_dump_args *a)
{
    ws_wordpiece w = {0};
    ws_h5file in = {0}, out = {0};
    char **strs = NULL, **pieces = NULL, **decoded = NULL, **caps = NULL;
    size_t n = 0;
    ragged ids = {.esz = 4}, cids = {.esz = 4}, cpos = {.esz = 8}, cmask = {.esz = 1};
    int rc;
    if (!a->vocab) return ws_fail(WS_EINVAL, "dump gdino needs --vocab (BERT vocab.txt)");
    TRY(ws_wordpiece_load(&w, a->vocab));
    TRY(ws_h5_open(&in, a->input));
    TRY(ws_h5_read_strings(&in, "/tokenizer/strings", &strs, &n));
    TRY(ws_h5_create(&out, a->output));
    pieces = calloc(n + 1, sizeof *pieces);
    decoded = calloc(n + 1, sizeof *decoded);
    caps = calloc(n + 1, sizeof *caps);
    ids.off = calloc(n + 1, 8); cids.off = calloc(n + 1, 8); cpos.off = calloc(n + 1, 8); cmask.off = calloc(n + 1, 8);
    if (!pieces || !decoded || !caps || !ids.off || !cids.off || !cpos.off || !cmask.off) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (size_t i = 0; i < n; i++) {
        int32_t *v = NULL, *cv = NULL;
        size_t nv = 0, nc = 0;
        TRY(ws_wordpiece_encode(&w, strs[i], &v, &nv));
        pieces[i] = ws_wordpiece_pieces(&w, strs[i]);
        decoded[i] = ws_wordpiece_decode(&w, v + 1, nv - 2);
        caps[i] = ws_gdino_caption(strs[i]);
        rc = pieces[i] && decoded[i] && caps[i] ? rag_add(&ids, v, nv) : ws_fail(WS_ENOMEM, "out of memory");
        if (!rc) rc = ws_wordpiece_encode(&w, caps[i], &cv, &nc);
        uint8_t *mask = rc ? NULL : malloc(nc * nc);
        int64_t *pos = rc ? NULL : malloc(nc * sizeof *pos);
        if (!rc && (!mask || !pos)) rc = ws_fail(WS_ENOMEM, "out of memory");
        if (!rc) {
            ws_gdino_text_masks(&w, cv, (int)nc, mask, pos);
            rc = rag_add(&cids, cv, nc);
            if (!rc) rc = rag_add(&cpos, pos, nc);
            if (!rc) rc = rag_add(&cmask, mask, nc * nc);
        }
        free(v); free(cv); free(mask); free(pos);
        if (rc) goto cleanup;
    }
    TRY(ws_h5_write_strings(&out, "/tokenizer/wordpieces", pieces, n));
    TRY(ws_h5_write_strings(&out, "/tokenizer/decoded", decoded, n));
    TRY(ws_h5_write_strings(&out, "/tokenizer/caption", caps, n));
    TRY(rag_write(&out, "input_ids", &ids, WS_I32));
    TRY(rag_write(&out, "caption_input_ids", &cids, WS_I32));
    TRY(rag_write(&out, "caption_position_ids", &cpos, WS_I64));
    TRY(rag_write(&out, "caption_self_attention_mask", &cmask, WS_U8));
    TRY(ws_h5_commit(&out));
cleanup:
    for (size_t i = 0; i < n; i++) {
        if (pieces) free(pieces[i]);
        if (decoded) free(decoded[i]);
        if (caps) free(caps[i]);
    }
    free(pieces); free(decoded); free(caps);
    free(ids.v); free(ids.off); free(cids.v); free(cids.off); free(cpos.v); free(cpos.off); free(cmask.v); free(cmask.off);
    ws_h5_strings_free(strs, n);
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_wordpiece_free(&w);
    return rc;
}
