/* weights.c - named fp32 weights from checkpoints (see weights.h). */
#include "model/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static void dims_str(const int64_t *s, int nd, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < nd && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)s[i]);
}

int ws_weight_shape(ws_at_ckpt ck, const char *name, int64_t *shape, int *ndim, const char *kind)
{
    ws_at_tensor t = NULL;
    if (!ws_at_ckpt_has(ck, name))
        return ws_fail(WS_EFORMAT, "checkpoint %s lacks tensor '%s': is it %s checkpoint?", ws_at_ckpt_path(ck), name, kind);
    int rc = ws_at_ckpt_get(ck, name, &t) || ws_at_shape(t, shape, WS_AT_MAX_DIMS, ndim);
    ws_at_free(t);
    return rc ? ws_fail(WS_ETORCH, "%s: %s", ws_at_ckpt_path(ck), ws_at_last_error()) : 0;
}

int ws_weight(ws_at_ckpt ck, const char *name, int ndim, const int64_t *shape, const char *kind, ws_at_tensor *out)
{
    ws_at_tensor raw = NULL, t32 = NULL, host = NULL;
    int64_t sh[WS_AT_MAX_DIMS];
    int nd = 0, rc = ws_weight_shape(ck, name, sh, &nd, kind);
    if (rc) return rc;
    int bad = ndim >= 0 && nd != ndim;
    for (int i = 0; !bad && ndim >= 0 && i < nd; i++) bad = shape[i] >= 0 && sh[i] != shape[i];
    if (bad) {
        char got[128], want[128];
        dims_str(sh, nd, got, sizeof got);
        dims_str(shape, ndim, want, sizeof want);
        return ws_fail(WS_ESHAPE, "checkpoint %s: tensor '%s' has shape [%s], expected [%s] (-1 = any)",
                       ws_at_ckpt_path(ck), name, got, want);
    }
    /* Checkpoints hold host tensors; the model's copy lives on the current device (runtime.device), so the
     * forward passes never move a weight. */
    if (ws_at_ckpt_get(ck, name, &raw) || ws_at_to_dtype(raw, WS_AT_F32, &t32) || ws_at_contiguous(t32, &host) ||
        ws_at_to_current(host, out))
        rc = ws_fail(WS_ETORCH, "%s: tensor '%s': %s", ws_at_ckpt_path(ck), name, ws_at_last_error());
    ws_at_free(raw);
    ws_at_free(t32);
    ws_at_free(host);
    return rc;
}

int ws_weight_count(ws_at_ckpt ck, const char *prefix)
{
    int max = -1;
    size_t pl = strlen(prefix);
    for (int i = 0; i < ws_at_ckpt_count(ck); i++) {
        const char *k = ws_at_ckpt_name(ck, i);
        if (strncmp(k, prefix, pl) == 0 && k[pl] >= '0' && k[pl] <= '9') {
            int b = atoi(k + pl);
            if (b > max) max = b;
        }
    }
    return max + 1;
}

int ws_weight_random(ws_at_gen gen, ws_at_ckpt ck, const char *name, double fill, int ndim, const int64_t *shape)
{
    ws_at_tensor t = NULL;
    int rc = ws_at_empty(WS_AT_F32, ndim, shape, &t) ||
             (isnan(fill) || fill < 0 ? ws_at_normal_(t, 0, 0.02 * (fill < 0 ? -fill : 1), gen) : ws_at_fill_(t, fill)) ||
             ws_at_ckpt_add(ck, name, t);
    ws_at_free(t);
    return rc ? ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error()) : 0;
}

int ws_weight_random_linear(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t out, int64_t in)
{
    char n[320];
    const int64_t w[2] = {out, in}, b[1] = {out};
    int rc;
    snprintf(n, sizeof n, "%s.weight", pre);
    if ((rc = ws_weight_random(gen, ck, n, NAN, 2, w))) return rc;
    snprintf(n, sizeof n, "%s.bias", pre);
    return ws_weight_random(gen, ck, n, NAN, 1, b);
}

int ws_weight_random_norm(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t d)
{
    char n[320];
    const int64_t s[1] = {d};
    int rc;
    snprintf(n, sizeof n, "%s.weight", pre);
    if ((rc = ws_weight_random(gen, ck, n, 1.0, 1, s))) return rc;
    snprintf(n, sizeof n, "%s.bias", pre);
    return ws_weight_random(gen, ck, n, 0.0, 1, s);
}
