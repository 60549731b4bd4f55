/* fuzz_ptload.c - libFuzzer harness for the torch.save reader of shim/ptload.c: the zip directory
 * and the restricted unpickler.
 *
 * The input is a checkpoint file. A file that opens must keep ptload.h's promise that the model
 * loaders rely on: every element of every tensor (offset + sum of index * stride over its shape)
 * lies inside its storage, and the storage inside the mapped file. */
#include "fuzz_common.h"

#include "shim/at.h"
#include "shim/ptload.h"

static void check_tensor(const ws_pt_file *f, const ws_pt_tensor *t)
{
    if (!t->name || t->ndim < 0 || t->ndim > 8 || t->storage_numel < 0) abort();
    __int128 lo = t->offset, hi = t->offset;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] < 0) { fprintf(stderr, "tensor %s: shape[%d] = %lld\n", t->name, k, (long long)t->shape[k]); abort(); }
        if (t->shape[k] == 0) return;   /* no element */
        __int128 span = (__int128)(t->shape[k] - 1) * t->stride[k];
        if (span < 0) lo += span; else hi += span;
    }
    if (lo < 0 || hi >= t->storage_numel) {
        fprintf(stderr, "tensor %s: elements %lld..%lld of a storage of %lld\n", t->name, (long long)lo, (long long)hi,
                (long long)t->storage_numel);
        abort();
    }
    size_t es = ws_at_dtype_size(t->dtype);
    const uint8_t *m = f->map;
    if (t->data < m || t->data + (size_t)t->storage_numel * es > m + f->map_len) abort();
    volatile uint8_t first = t->data[(size_t)lo * es], last = t->data[(size_t)hi * es + es - 1];
    (void)first;
    (void)last;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "model.pt", data, size);
    ws_pt_file f;
    char err[512];
    if (ws_pt_open(path, &f, err, sizeof err) == 0) {
        for (int i = 0; i < f.n; i++) check_tensor(&f, &f.tensors[i]);
        ws_pt_close(&f);
    } else if (!err[0]) abort();   /* a failure always says why */
    return 0;
}
