/* array.h - a plain host array (dtype, shape, malloc'd data) used at the I/O boundary.
 * Dtype codes are numerically equal to the shim's ws_at_dtype (WS_F32 == WS_AT_F32, ...). */
#ifndef WS_CORE_ARRAY_H
#define WS_CORE_ARRAY_H

#include <stddef.h>
#include <stdint.h>

enum { WS_F32 = 0, WS_F16 = 1, WS_F64 = 2, WS_I64 = 3, WS_I32 = 4, WS_U8 = 5, WS_BOOL = 6 };
#define WS_ARRAY_MAX_DIMS 8

typedef struct ws_array {
    int dtype;                        /* WS_F32 ... */
    int ndim;                         /* 0 = scalar */
    int64_t shape[WS_ARRAY_MAX_DIMS];
    void *data;                       /* owned, row-major */
} ws_array;

/* Bytes of one element of dtype (WS_F32 ...); 0 for an unknown code. */
size_t ws_dtype_size(int dtype);
/* Elements of a (1 for a scalar); a is only read. */
int64_t ws_array_numel(const ws_array *a);
/* Allocates zeroed data for the given dtype/shape. Returns 0 or WS_ENOMEM. */
int ws_array_alloc(ws_array *a, int dtype, int ndim, const int64_t *shape);
void ws_array_free(ws_array *a);      /* frees data; NULL or zeroed array is a no-op */
/* "[2,3,64]" into buf. */
const char *ws_array_shape_str(const ws_array *a, char *buf, size_t cap);
/* IEEE binary16 bits of x, rounded to nearest even (numpy's float16 cast). */
uint16_t ws_f32_to_f16(float x);

#endif
