/* status.h - error codes and the per-thread last-error message of wsseed.
 *
 * Every function that can fail returns int: 0 on success, a negative WS_E* code on failure,
 * after recording a message with ws_fail(). The message names the file, key or tensor and says
 * how to fix the problem; callers read it with ws_last_error(). Nothing here allocates.
 */
#ifndef WS_CORE_STATUS_H
#define WS_CORE_STATUS_H

enum {
    WS_OK = 0,
    WS_EINVAL = -1,   /* bad argument or malformed input */
    WS_EIO = -2,      /* file missing, unreadable or unwritable */
    WS_EFORMAT = -3,  /* file readable but not what was expected */
    WS_ESHAPE = -4,   /* tensor shape or dtype mismatch */
    WS_ENOMEM = -5,   /* allocation failed */
    WS_ETORCH = -6,   /* error raised inside libtorch (message from the shim) */
    WS_ENUM = -7,     /* numerical problem (NaN/Inf loss, ...) */
    WS_EUNSUP = -8,   /* valid input that wsseed does not support */
};

/* Records a printf-style message for the calling thread and returns code (so callers can write
 * `return ws_fail(WS_EIO, "...")`). The message is truncated to 1 KiB. */
int ws_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the current message (adds context while unwinding); returns code. */
int ws_fail_ctx(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last message; borrowed, valid until the next ws_fail on this thread.
 * Never NULL ("" when no error was recorded). */
const char *ws_last_error(void);

/* Clears the calling thread's message. */
void ws_clear_error(void);

/* Short name of a code ("I/O error", ...); static string. */
const char *ws_strerror(int code);

#endif
