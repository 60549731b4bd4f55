/* fuzz_at_stub.c - the one shim function ptload.c calls, for the fuzz harnesses only: element sizes
 * of the shim's dtypes (shim/at.h; c10::elementSize in the real shim), so that fuzz_ptload runs
 * without loading libtorch. */
#include <stddef.h>

#include "shim/at.h"

size_t ws_at_dtype_size(int d)
{
    /* F32 F16 F64 I64 I32 U8 BOOL BF16 I8 I16 */
    static const size_t size[] = {4, 2, 8, 8, 4, 1, 1, 2, 1, 2};
    return d >= 0 && d < 10 ? size[d] : 0;
}
