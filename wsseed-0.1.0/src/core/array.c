/* array.c - host arrays (see array.h). */
#include "core/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

size_t ws_dtype_size(int d)
{
    switch (d) {
    case WS_F32: case WS_I32: return 4;
    case WS_F16: return 2;
    case WS_F64: case WS_I64: return 8;
    case WS_U8: case WS_BOOL: return 1;
    default: return 0;
    }
}

int64_t ws_array_numel(const ws_array *a)
{
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++) n *= a->shape[i];
    return n;
}

int ws_array_alloc(ws_array *a, int dtype, int ndim, const int64_t *shape)
{
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > WS_ARRAY_MAX_DIMS || !ws_dtype_size(dtype))
        return ws_fail(WS_EINVAL, "array: bad dtype %d or rank %d", dtype, ndim);
    a->dtype = dtype;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    size_t bytes = (size_t)ws_array_numel(a) * ws_dtype_size(dtype);
    a->data = calloc(bytes ? bytes : 1, 1);
    return a->data ? 0 : ws_fail(WS_ENOMEM, "array: cannot allocate %zu bytes", bytes);
}

void ws_array_free(ws_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

const char *ws_array_shape_str(const ws_array *a, char *buf, size_t cap)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < a->ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)a->shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

uint16_t ws_f32_to_f16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t sign = (u >> 16) & 0x8000u, mant = u & 0x7fffffu;
    int32_t exp = (int32_t)((u >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));   /* inf, nan */
    int32_t e = exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);                          /* overflow */
    if (e <= 0) {                                                               /* subnormal or 0 */
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;                     /* may carry into exp */
    return (uint16_t)(sign | h);
}
