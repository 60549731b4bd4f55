/* h5tensor.h - the one conversion between ATen tensors and ws_array / HDF5 datasets.
 *
 * Tensors and arrays share their dtype codes (WS_AT_F32 == WS_F32, ...); a bool tensor is
 * stored as uint8 0/1 because HDF5 and the golden files have no bool type. Everything that
 * writes a tensor to a file (the verification harness, checkpoints, caches) goes through here
 * so that the dtype and shape rules live in one place.
 */
#ifndef WS_IO_H5TENSOR_H
#define WS_IO_H5TENSOR_H

#include "core/array.h"
#include "io/h5.h"
#include "shim/at.h"

/* Copies tensor t (any dtype and shape; bool becomes WS_U8) into a new array *out, which the
 * caller frees with ws_array_free. Fails (WS_EINVAL) on a NULL tensor and (WS_ETORCH) when the
 * shim cannot read it; what names the tensor in the message. *out is untouched on failure. */
int ws_array_from_tensor(ws_at_tensor t, const char *what, ws_array *out);
/* New tensor *out (caller frees with ws_at_free) holding a copy of a (same dtype and shape). */
int ws_tensor_from_array(const ws_array *a, const char *what, ws_at_tensor *out);
/* Writes tensor t (any dtype; bool as uint8) as dataset name of f, shape and dtype kept. */
int ws_h5_put_tensor(ws_h5file *f, const char *name, ws_at_tensor t);
/* Reads dataset name converted to dtype (WS_F32, WS_I64, ...) as a new tensor *out (caller
 * frees with ws_at_free). Fails naming the file and dataset when it is absent. */
int ws_h5_get_tensor(const ws_h5file *f, const char *name, int dtype, ws_at_tensor *out);
#endif
