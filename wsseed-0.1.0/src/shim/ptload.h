/* ptload.h - reading torch.save zip files in C: the zip directory plus a restricted unpickler.
 *
 * libtorch's C++ unpickler turns collections.OrderedDict into None (1.13), so it cannot read the
 * released SAM / Grounding-DINO state dicts. This reader understands exactly what torch.save
 * writes for a (possibly nested) dict of tensors: the pickle opcodes of protocols 2-5, OrderedDict,
 * _rebuild_tensor_v2 / _rebuild_parameter, typed storages as persistent ids. It never executes
 * anything. The file is memory-mapped; entries point into the mapping until ws_pt_close.
 */
#ifndef WS_SHIM_PTLOAD_H
#define WS_SHIM_PTLOAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ws_pt_tensor {
    char *name;            /* state-dict key (owned) */
    int dtype;             /* ws_at_dtype */
    int ndim;
    int64_t shape[8], stride[8];
    int64_t offset;        /* storage offset, in elements */
    const uint8_t *data;   /* start of the storage inside the mapping */
    int64_t storage_numel; /* elements in the storage */
} ws_pt_tensor;

typedef struct ws_pt_file {
    ws_pt_tensor *tensors; /* in dict insertion order */
    int n;
    void *map;             /* mmap of the whole file */
    size_t map_len;
} ws_pt_file;

/* Reads the state dict of a torch.save zip. On failure returns -1 and writes a message naming
 * the file and the problem into err (cap bytes). A dict holding one nested tensor dict (e.g.
 * {'model': state_dict}) yields the nested one. */
int ws_pt_open(const char *path, ws_pt_file *f, char *err, size_t cap);
void ws_pt_close(ws_pt_file *f);   /* zeroed struct is a no-op */

#ifdef __cplusplus
}
#endif
#endif
