/* status.c - the per-thread last-error message behind ws_fail(). */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WS_MSG_MAX 1024
static _Thread_local char ws_msg[WS_MSG_MAX];

int ws_fail(int code, const char *fmt, ...)
{
    char buf[WS_MSG_MAX];   /* the arguments may include ws_last_error() itself */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(ws_msg, buf, sizeof buf);
    return code;
}

int ws_fail_ctx(int code, const char *fmt, ...)
{
    char prefix[WS_MSG_MAX], old[WS_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, ws_msg, sizeof old);
    snprintf(ws_msg, sizeof ws_msg, "%.400s: %.600s", prefix, old);
    return code;
}

const char *ws_last_error(void) { return ws_msg; }

void ws_clear_error(void) { ws_msg[0] = '\0'; }

const char *ws_strerror(int code)
{
    switch (code) {
    case WS_OK: return "ok";
    case WS_EINVAL: return "invalid argument";
    case WS_EIO: return "I/O error";
    case WS_EFORMAT: return "format error";
    case WS_ESHAPE: return "shape mismatch";
    case WS_ENOMEM: return "out of memory";
    case WS_ETORCH: return "libtorch error";
    case WS_ENUM: return "numerical error";
    case WS_EUNSUP: return "unsupported";
    default: return "unknown error";
    }
}
