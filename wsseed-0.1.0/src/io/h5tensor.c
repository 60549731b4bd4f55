/* h5tensor.c - tensor <-> ws_array <-> HDF5 dataset (see h5tensor.h): the one conversion the
 * feature cache, checkpoints and export-ctx share, so a dtype or shape rule changes in one place.
 * Every conversion copies: the array and the tensor never share memory, so either can be freed
 * first.
 */
#include "io/h5tensor.h"

#include "core/status.h"

int ws_array_from_tensor(ws_at_tensor t, const char *what, ws_array *out)
{
    int64_t shape[WS_AT_MAX_DIMS];
    int nd = 0, dt = 0;
    ws_array a;
    if (!t) return ws_fail(WS_EINVAL, "no tensor for %s", what);
    if (ws_at_shape(t, shape, WS_AT_MAX_DIMS, &nd) || ws_at_dtype_of(t, &dt))
        return ws_fail(WS_ETORCH, "%s: %s", what, ws_at_last_error());
    int rc = ws_array_alloc(&a, dt == WS_AT_BOOL ? WS_U8 : dt, nd, shape);
    if (rc) return rc;
    /* A bool tensor reads as one byte per element, exactly the uint8 layout. */
    size_t bytes = (size_t)ws_array_numel(&a) * ws_dtype_size(a.dtype);
    if (ws_at_read(t, a.data, bytes)) {
        ws_array_free(&a);
        return ws_fail(WS_ETORCH, "%s: %s", what, ws_at_last_error());
    }
    *out = a;
    return 0;
}

int ws_tensor_from_array(const ws_array *a, const char *what, ws_at_tensor *out)
{
    if (ws_at_from_data(a->data, a->dtype, a->ndim, a->shape, out))
        return ws_fail(WS_ETORCH, "%s: %s", what, ws_at_last_error());
    return 0;
}

int ws_h5_put_tensor(ws_h5file *f, const char *name, ws_at_tensor t)
{
    ws_array a;
    int rc = ws_array_from_tensor(t, name, &a);
    if (rc) return rc;
    rc = ws_h5_write(f, name, &a);
    ws_array_free(&a);
    return rc;
}

int ws_h5_get_tensor(const ws_h5file *f, const char *name, int dtype, ws_at_tensor *out)
{
    ws_array a;
    int rc = ws_h5_read(f, name, dtype, &a);
    if (rc) return rc;
    rc = ws_tensor_from_array(&a, name, out);
    ws_array_free(&a);
    return rc;
}
