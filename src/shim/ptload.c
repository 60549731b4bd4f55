/* ptload.c - torch.save zip reader: zip directory + restricted unpickler (see ptload.h).
 *
 * The unpickler builds a small value tree (ints, strings, tuples, lists, dicts, globals,
 * storages, tensors) from the pickle opcodes; callables are never run. Only the reductions that
 * torch.save emits for state dicts are understood; anything else becomes an opaque object,
 * which is fine as long as it is not where a tensor is expected.
 */
#define _POSIX_C_SOURCE 200809L
#include "shim/ptload.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/at.h"

/* ---- zip directory ---------------------------------------------------------------------------- */

typedef struct { const char *name; size_t name_len; const uint8_t *data; uint64_t size; } zentry;
typedef struct { zentry *e; size_t n; } zdir;

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

typedef struct { char *err; size_t cap; const char *path; } errbuf;

static int fail(errbuf *e, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(e->err, e->cap, "%s: ", e->path);
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < e->cap) vsnprintf(e->err + k, e->cap - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static int zip_read(const uint8_t *m, size_t len, zdir *z, errbuf *e)
{
    size_t eocd = 0;
    int found = 0;
    for (size_t i = len >= 22 ? len - 22 : 0; i + 65557 >= len && i > 0; i--)
        if (rd(m + i, 4) == 0x06054b50) { eocd = i; found = 1; break; }
    if (!found) return fail(e, "not a complete zip file (no end of central directory: truncated?)");
    uint64_t count = rd(m + eocd + 10, 2), cd_off = rd(m + eocd + 16, 4);
    if ((count == 0xFFFF || cd_off == 0xFFFFFFFF) && eocd >= 20 && rd(m + eocd - 20, 4) == 0x07064b50) {
        uint64_t z64 = rd(m + eocd - 20 + 8, 8);
        if (z64 + 56 > len || rd(m + z64, 4) != 0x06064b50) return fail(e, "bad zip64 directory");
        count = rd(m + z64 + 32, 8);
        cd_off = rd(m + z64 + 48, 8);
    }
    z->e = calloc(count + 1, sizeof *z->e);
    if (!z->e) return fail(e, "out of memory");
    size_t p = cd_off;
    for (uint64_t k = 0; k < count; k++) {
        if (p + 46 > len || rd(m + p, 4) != 0x02014b50) return fail(e, "corrupt zip directory (truncated?)");
        uint64_t method = rd(m + p + 10, 2), csize = rd(m + p + 20, 4), usize = rd(m + p + 24, 4);
        size_t nl = rd(m + p + 28, 2), xl = rd(m + p + 30, 2), cl = rd(m + p + 32, 2);
        uint64_t loff = rd(m + p + 42, 4);
        const uint8_t *x = m + p + 46 + nl, *xend = x + xl;
        if (p + 46 + nl + xl + cl > len) return fail(e, "corrupt zip directory (truncated?)");
        while (x + 4 <= xend) {   /* zip64 extended information */
            uint64_t id = rd(x, 2), sz = rd(x + 2, 2);
            const uint8_t *v = x + 4;
            if (id == 1) {
                if (usize == 0xFFFFFFFF && v + 8 <= x + 4 + sz) { usize = rd(v, 8); v += 8; }
                if (csize == 0xFFFFFFFF && v + 8 <= x + 4 + sz) { csize = rd(v, 8); v += 8; }
                if (loff == 0xFFFFFFFF && v + 8 <= x + 4 + sz) { loff = rd(v, 8); }
            }
            x += 4 + sz;
        }
        if (method != 0) return fail(e, "zip entry %.*s is compressed (torch.save stores entries uncompressed)", (int)nl, m + p + 46);
        /* subtractions, not additions: a zip64 offset or size near 2^64 must not wrap around into range */
        if (loff > len || len - loff < 30 || rd(m + loff, 4) != 0x04034b50) return fail(e, "corrupt zip entry (truncated?)");
        uint64_t data = loff + 30 + rd(m + loff + 26, 2) + rd(m + loff + 28, 2);
        if (data > len || usize > len - data) return fail(e, "zip entry %.*s extends past the end of the file (truncated?)", (int)nl, m + p + 46);
        z->e[z->n++] = (zentry){(const char *)m + p + 46, nl, m + data, usize};
        p += 46 + nl + xl + cl;
    }
    return 0;
}

static const zentry *zip_find(const zdir *z, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < z->n; i++)
        if (z->e[i].name_len == n && !memcmp(z->e[i].name, name, n)) return &z->e[i];
    return NULL;
}

/* ---- values ----------------------------------------------------------------------------------- */

enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_OBJ, V_MARK };

typedef struct val {
    int kind;
    int64_t i;                 /* INT, BOOL; STORAGE: numel */
    char *s;                   /* STR, GLOBAL ("module.name"), STORAGE key */
    size_t slen;
    struct val **items;        /* TUPLE/LIST; DICT as key, value, key, value ... */
    size_t n, cap;
    int dtype;                 /* STORAGE */
    struct val *storage;       /* TENSOR */
    int64_t offset;
    int ndim;
    int64_t shape[8], stride[8];
} val;

typedef struct {
    val **all; size_t n_all, cap_all;         /* every allocated value (freed together) */
    val **stack; size_t sp, cap_stack;
    val **memo; size_t cap_memo, n_memo;
    const uint8_t *p, *end;                   /* the read position in data.pkl and its end */
    errbuf *e;
} unpickler;

static val *new_val(unpickler *u, int kind)
{
    val *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    if (u->n_all == u->cap_all) {
        size_t c = u->cap_all ? 2 * u->cap_all : 256;
        val **p = realloc(u->all, c * sizeof *p);
        if (!p) { free(v); return NULL; }
        u->all = p;
        u->cap_all = c;
    }
    u->all[u->n_all++] = v;
    v->kind = kind;
    return v;
}

static int add_item(val *c, val *x)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        val **p = realloc(c->items, cap * sizeof *p);
        if (!p) return -1;
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n++] = x;
    return 0;
}

static int push(unpickler *u, val *v)
{
    if (!v) return fail(u->e, "out of memory");
    if (u->sp == u->cap_stack) {
        size_t c = u->cap_stack ? 2 * u->cap_stack : 64;
        val **p = realloc(u->stack, c * sizeof *p);
        if (!p) return fail(u->e, "out of memory");
        u->stack = p;
        u->cap_stack = c;
    }
    u->stack[u->sp++] = v;
    return 0;
}

static val *pop(unpickler *u) { return u->sp ? u->stack[--u->sp] : NULL; }

/* Index of the topmost MARK, or -1. */
static long find_mark(unpickler *u)
{
    for (long i = (long)u->sp - 1; i >= 0; i--)
        if (u->stack[i]->kind == V_MARK) return i;
    return -1;
}

static int memo_put(unpickler *u, uint64_t idx, val *v)
{
    /* Picklers number memo entries 0, 1, 2, ... as they store them: an index past the next one is not from
     * torch.save, and would make a few bytes of data.pkl allocate up to a gigabyte of memo. */
    if (idx > u->n_memo) return fail(u->e, "pickle memo index %llu skips ahead of the %zu entries so far", (unsigned long long)idx, u->n_memo);
    if (idx >= u->cap_memo) {
        size_t c = u->cap_memo ? u->cap_memo : 64;
        while (c <= idx) c *= 2;
        val **p = realloc(u->memo, c * sizeof *p);
        if (!p) return fail(u->e, "out of memory");
        memset(p + u->cap_memo, 0, (c - u->cap_memo) * sizeof *p);
        u->memo = p;
        u->cap_memo = c;
    }
    u->memo[idx] = v;
    if (idx + 1 > u->n_memo) u->n_memo = idx + 1;
    return 0;
}

static int storage_dtype(const char *g)
{
    static const struct { const char *name; int dt; } map[] = {
        {"torch.FloatStorage", WS_AT_F32}, {"torch.HalfStorage", WS_AT_F16}, {"torch.DoubleStorage", WS_AT_F64},
        {"torch.LongStorage", WS_AT_I64}, {"torch.IntStorage", WS_AT_I32}, {"torch.ByteStorage", WS_AT_U8},
        {"torch.BoolStorage", WS_AT_BOOL}, {"torch.BFloat16Storage", WS_AT_BF16}, {"torch.CharStorage", WS_AT_I8},
        {"torch.ShortStorage", WS_AT_I16},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(g, map[i].name)) return map[i].dt;
    return -1;
}

static int int_tuple(const val *t, int64_t *out, int *n)
{
    if (!t || (t->kind != V_TUPLE && t->kind != V_LIST) || t->n > 8) return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != V_INT) return -1;
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return 0;
}

/* REDUCE: the few callables torch.save uses; anything else is an opaque object. */
static val *reduce(unpickler *u, val *fn, val *args)
{
    const char *g = fn && fn->kind == V_GLOBAL ? fn->s : "";
    if (!strcmp(g, "collections.OrderedDict")) return new_val(u, V_DICT);
    if ((!strcmp(g, "torch._utils._rebuild_tensor_v2") || !strcmp(g, "torch._utils._rebuild_tensor")) &&
        args && args->kind == V_TUPLE && args->n >= 4 && args->items[0]->kind == V_STORAGE &&
        args->items[1]->kind == V_INT) {
        val *t = new_val(u, V_TENSOR);
        if (!t) return NULL;
        t->storage = args->items[0];
        t->offset = args->items[1]->i;
        int nd = 0, ns = 0;
        if (int_tuple(args->items[2], t->shape, &nd) || int_tuple(args->items[3], t->stride, &ns) || nd != ns) {
            fail(u->e, "malformed tensor record in data.pkl");
            return NULL;
        }
        t->ndim = nd;
        return t;
    }
    /* torch::jit::pickle_save wraps containers as restore_type_tag(value, "Dict[str, Tensor]") */
    if (!strcmp(g, "torch.jit._pickle.restore_type_tag") && args && args->kind == V_TUPLE && args->n >= 1)
        return args->items[0];
    if (!strncmp(g, "torch._utils._rebuild_parameter", 31) && args && args->kind == V_TUPLE && args->n >= 1)
        return args->items[0];
    return new_val(u, V_OBJ);
}

static int e_is_set(const unpickler *u) { return u->e->err[0] != '\0'; }

static int persistent_load(unpickler *u, val *pid)
{
    if (!pid || pid->kind != V_TUPLE || pid->n < 5 || pid->items[0]->kind != V_STR ||
        strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != V_GLOBAL || pid->items[2]->kind != V_STR)
        return fail(u->e, "unsupported persistent id in data.pkl (not a torch storage)");
    val *s = new_val(u, V_STORAGE);
    if (!s) return fail(u->e, "out of memory");
    s->dtype = storage_dtype(pid->items[1]->s);
    if (s->dtype < 0) return fail(u->e, "unsupported storage type %s", pid->items[1]->s);
    s->s = strdup(pid->items[2]->s);
    s->i = pid->items[4]->kind == V_INT ? pid->items[4]->i : -1;
    return push(u, s);
}

static val *new_str(unpickler *u, int kind, const uint8_t *p, size_t n)
{
    val *v = new_val(u, kind);
    if (!v || !(v->s = malloc(n + 1))) return NULL;
    memcpy(v->s, p, n);
    v->s[n] = '\0';
    v->slen = n;
    return v;
}

static val *make_seq(unpickler *u, int kind, long from)
{
    val *t = new_val(u, kind);
    if (!t) return NULL;
    for (size_t i = (size_t)from; i < u->sp; i++)
        if (add_item(t, u->stack[i])) return NULL;
    u->sp = (size_t)from;
    return t;
}

/* ---- opcodes ---------------------------------------------------------------------------------- */

/* Each handler runs one opcode (its byte op; its arguments at u->p, which it moves past them) and
 * returns 0, or -1 with the message set. One handler serves each group of opcodes that share an
 * argument format or a stack rule. */
typedef int (*op_fn)(unpickler *u, uint8_t op);

#define NEED(k) do { if ((uint64_t)(k) > (uint64_t)(u->end - u->p)) return fail(u->e, "data.pkl is truncated"); } while (0)

static val mark_val = {.kind = V_MARK};   /* every MARK pushes this one value */

/* PROTO, FRAME: the protocol number and frame length are not needed. */
static int op_frame(unpickler *u, uint8_t op)
{
    uint64_t k = op == 0x80 ? 1 : 8;
    NEED(k);
    u->p += k;
    return 0;
}

/* MARK */
static int op_mark(unpickler *u, uint8_t op)
{
    (void)op;
    return push(u, &mark_val);
}

/* NONE, NEWTRUE, NEWFALSE */
static int op_const(unpickler *u, uint8_t op)
{
    val *a = new_val(u, op == 'N' ? V_NONE : V_BOOL);
    if (push(u, a)) return -1;
    a->i = op == 0x88;
    return 0;
}

/* BININT1, BININT2 (unsigned), BININT (signed 32-bit) */
static int op_int(unpickler *u, uint8_t op)
{
    int w = op == 'K' ? 1 : op == 'M' ? 2 : 4;
    NEED(w);
    val *a = new_val(u, V_INT);
    if (push(u, a)) return -1;
    a->i = op == 'J' ? (int64_t)(int32_t)rd(u->p, 4) : (int64_t)rd(u->p, w);
    u->p += w;
    return 0;
}

/* LONG1: a little-endian two's complement integer of up to 8 bytes. */
static int op_long1(unpickler *u, uint8_t op)
{
    (void)op;
    NEED(1);
    uint64_t n = *u->p++;
    NEED(n);
    if (n > 8) return fail(u->e, "integer too large in data.pkl");
    uint64_t v = n ? rd(u->p, (int)n) : 0;
    if (n && n < 8 && (u->p[n - 1] & 0x80)) v |= ~0ULL << (8 * n);
    val *a = new_val(u, V_INT);
    if (push(u, a)) return -1;
    a->i = (int64_t)v;
    u->p += n;
    return 0;
}

/* BINFLOAT: no float a state dict needs, so only its place on the stack is kept. */
static int op_float(unpickler *u, uint8_t op)
{
    (void)op;
    NEED(8);
    if (push(u, new_val(u, V_FLOAT))) return -1;
    u->p += 8;
    return 0;
}

/* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, SHORT_BINSTRING, BINSTRING, BINBYTES,
 * SHORT_BINBYTES: a length of 1, 4 or 8 bytes, then the bytes; all become strings. */
static int op_string(unpickler *u, uint8_t op)
{
    int w = op == 0x8c || op == 'U' || op == 'C' ? 1 : op == 0x8d ? 8 : 4;
    NEED(w);
    uint64_t n = rd(u->p, w);
    u->p += w;
    NEED(n);
    if (push(u, new_str(u, V_STR, u->p, n))) return -1;
    u->p += n;
    return 0;
}

/* GLOBAL "module\nname\n", kept as "module.name" */
static int op_global(unpickler *u, uint8_t op)
{
    (void)op;
    const uint8_t *p = u->p, *end = u->end;
    const uint8_t *nl1 = memchr(p, '\n', (size_t)(end - p));
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    if (!nl2) return fail(u->e, "data.pkl is truncated");
    val *a = new_str(u, V_GLOBAL, p, (size_t)(nl2 - p));
    if (push(u, a)) return -1;
    a->s[nl1 - p] = '.';
    u->p = nl2 + 1;
    return 0;
}

/* STACK_GLOBAL: module and name strings from the stack, kept as "module.name" */
static int op_stack_global(unpickler *u, uint8_t op)
{
    (void)op;
    val *b = pop(u), *a = pop(u), *c;
    if (!a || !b || a->kind != V_STR || b->kind != V_STR) return fail(u->e, "bad STACK_GLOBAL in data.pkl");
    if (!(c = new_val(u, V_GLOBAL)) || !(c->s = malloc(a->slen + b->slen + 2))) return fail(u->e, "out of memory");
    snprintf(c->s, a->slen + b->slen + 2, "%s.%s", a->s, b->s);
    return push(u, c);
}

/* BINPUT, LONG_BINPUT (index of 1 or 4 bytes), MEMOIZE (the next index): memo the stack top. */
static int op_memo_put(unpickler *u, uint8_t op)
{
    if (op == 0x94) return u->sp ? memo_put(u, u->n_memo, u->stack[u->sp - 1]) : fail(u->e, "bad MEMOIZE");
    int w = op == 'q' ? 1 : 4;
    NEED(w);
    if (!u->sp) return fail(u->e, op == 'q' ? "bad BINPUT" : "bad LONG_BINPUT");
    if (memo_put(u, rd(u->p, w), u->stack[u->sp - 1])) return -1;
    u->p += w;
    return 0;
}

/* BINGET, LONG_BINGET */
static int op_memo_get(unpickler *u, uint8_t op)
{
    int w = op == 'h' ? 1 : 4;
    NEED(w);
    uint64_t n = rd(u->p, w);
    u->p += w;
    if (n >= u->cap_memo || !u->memo[n]) return fail(u->e, "bad memo reference in data.pkl");
    return push(u, u->memo[n]);
}

/* EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT */
static int op_empty(unpickler *u, uint8_t op)
{
    return push(u, new_val(u, op == ')' ? V_TUPLE : op == ']' ? V_LIST : V_DICT));
}

/* TUPLE, LIST, DICT: the values above the topmost MARK, which goes too */
static int op_from_mark(unpickler *u, uint8_t op)
{
    long mk = find_mark(u);
    if (mk < 0) return fail(u->e, "missing MARK in data.pkl");
    /* a dict's items are key, value pairs: an odd count would leave a key without its value */
    if (op == 'd' && (u->sp - (size_t)mk - 1) % 2) return fail(u->e, "DICT with an odd number of items in data.pkl");
    val *a = make_seq(u, op == 't' ? V_TUPLE : op == 'l' ? V_LIST : V_DICT, mk + 1);
    u->sp--; /* the MARK */
    return push(u, a);
}

/* TUPLE1, TUPLE2, TUPLE3: the top 1..3 values */
static int op_tuple_n(unpickler *u, uint8_t op)
{
    long k = op - 0x84;
    if ((long)u->sp < k) return fail(u->e, "stack underflow in data.pkl");
    return push(u, make_seq(u, V_TUPLE, (long)u->sp - k));
}

/* APPEND: the top value onto the list below it */
static int op_append(unpickler *u, uint8_t op)
{
    (void)op;
    val *b = pop(u);
    if (!b || !u->sp || add_item(u->stack[u->sp - 1], b)) return fail(u->e, "bad APPEND");
    return 0;
}

/* APPENDS, SETITEMS: the values above the topmost MARK onto the container below it (a dict's
 * items are kept as key, value, key, value ...) */
static int op_extend(unpickler *u, uint8_t op)
{
    long mk = find_mark(u);
    if (mk < 1) return fail(u->e, "missing MARK in data.pkl");
    val *target = u->stack[mk - 1];
    if (op == 'u' && (target->kind != V_DICT || (u->sp - (size_t)mk - 1) % 2))
        return fail(u->e, "SETITEMS %s in data.pkl", target->kind != V_DICT ? "onto a value that is no dict" : "with an odd number of items");
    for (size_t i = (size_t)mk + 1; i < u->sp; i++)
        if (add_item(target, u->stack[i])) return fail(u->e, "out of memory");
    u->sp = (size_t)mk;
    return 0;
}

/* SETITEM: key and value onto the dict below them */
static int op_setitem(unpickler *u, uint8_t op)
{
    (void)op;
    val *b = pop(u), *a = pop(u);
    if (!a || !b || !u->sp || add_item(u->stack[u->sp - 1], a) || add_item(u->stack[u->sp - 1], b))
        return fail(u->e, "bad SETITEM");
    return 0;
}

/* REDUCE: see reduce() */
static int op_reduce(unpickler *u, uint8_t op)
{
    (void)op;
    val *b = pop(u), *a = pop(u), *c;
    if (!a || !b) return fail(u->e, "stack underflow in data.pkl");
    if (!(c = reduce(u, a, b))) return e_is_set(u) ? -1 : fail(u->e, "out of memory");
    return push(u, c);
}

/* NEWOBJ: an opaque object */
static int op_newobj(unpickler *u, uint8_t op)
{
    (void)op;
    val *b = pop(u), *a = pop(u);
    if (!a || !b) return fail(u->e, "stack underflow in data.pkl");
    return push(u, new_val(u, V_OBJ));
}

/* BUILD: the state is ignored */
static int op_build(unpickler *u, uint8_t op)
{
    (void)op;
    return !pop(u) || !u->sp ? fail(u->e, "bad BUILD") : 0;
}

/* BINPERSID: a torch storage, see persistent_load() */
static int op_persid(unpickler *u, uint8_t op)
{
    (void)op;
    return persistent_load(u, pop(u));
}

/* POP */
static int op_pop(unpickler *u, uint8_t op)
{
    (void)op;
    pop(u);
    return 0;
}

/* The opcodes torch.save emits for state dicts; any other is refused by name. */
static const op_fn OPS[256] = {
    [0x80] = op_frame, [0x95] = op_frame, ['('] = op_mark,
    ['N'] = op_const, [0x88] = op_const, [0x89] = op_const,
    ['K'] = op_int, ['M'] = op_int, ['J'] = op_int, [0x8a] = op_long1, ['G'] = op_float,
    ['X'] = op_string, [0x8c] = op_string, [0x8d] = op_string, ['U'] = op_string, ['T'] = op_string,
    ['B'] = op_string, ['C'] = op_string,
    ['c'] = op_global, [0x93] = op_stack_global,
    ['q'] = op_memo_put, ['r'] = op_memo_put, [0x94] = op_memo_put, ['h'] = op_memo_get, ['j'] = op_memo_get,
    [')'] = op_empty, [']'] = op_empty, ['}'] = op_empty,
    ['t'] = op_from_mark, ['l'] = op_from_mark, ['d'] = op_from_mark,
    [0x85] = op_tuple_n, [0x86] = op_tuple_n, [0x87] = op_tuple_n,
    ['a'] = op_append, ['e'] = op_extend, ['u'] = op_extend, ['s'] = op_setitem,
    ['R'] = op_reduce, [0x81] = op_newobj, ['b'] = op_build, ['Q'] = op_persid, ['0'] = op_pop,
};

/* Runs data.pkl's opcodes up to STOP; *root is the value STOP finds on the stack. The dispatch is
 * the OPS table, so the loop itself only knows STOP. */
static int unpickle(unpickler *u, const uint8_t *p, const uint8_t *end, val **root)
{
    u->p = p;
    u->end = end;
    while (u->p < u->end) {
        uint8_t op = *u->p++;
        if (op == '.') {   /* STOP */
            *root = pop(u);
            return *root ? 0 : fail(u->e, "empty pickle");
        }
        if (!OPS[op]) return fail(u->e, "unsupported pickle opcode 0x%02x in data.pkl", op);
        if (OPS[op](u, op)) return -1;
    }
    return fail(u->e, "data.pkl has no STOP opcode (truncated?)");
}

#undef NEED

/* ---- state dict --------------------------------------------------------------------------------- */

static int is_tensor_dict(const val *d)
{
    if (!d || d->kind != V_DICT || d->n == 0 || d->n % 2) return 0;
    for (size_t i = 0; i < d->n; i += 2)
        if (d->items[i]->kind != V_STR || d->items[i + 1]->kind != V_TENSOR) return 0;
    return 1;
}

static int collect(const val *root, const zdir *z, const char *prefix, ws_pt_file *f, errbuf *e)
{
    const val *d = root;
    if (!is_tensor_dict(d) && d->kind == V_DICT)
        for (size_t i = 0; i + 1 < d->n; i += 2)
            if (is_tensor_dict(d->items[i + 1])) { d = d->items[i + 1]; break; }
    if (!is_tensor_dict(d)) return fail(e, "not a state dict (expected a dict of name -> tensor)");
    f->tensors = calloc(d->n / 2 + 1, sizeof *f->tensors);
    if (!f->tensors) return fail(e, "out of memory");
    for (size_t i = 0; i < d->n; i += 2) {
        const val *t = d->items[i + 1], *s = t->storage;
        ws_pt_tensor *o = &f->tensors[f->n];
        char entry[512];
        snprintf(entry, sizeof entry, "%s/data/%s", prefix, s->s);
        const zentry *ze = zip_find(z, entry);
        size_t es = ws_at_dtype_size(s->dtype);
        if (!ze) return fail(e, "tensor '%s': storage %s is missing (truncated?)", d->items[i]->s, entry);
        int64_t numel = (int64_t)(ze->size / es), last = t->offset;
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] == 0) { last = -1; break; }
            last += (t->shape[k] - 1) * t->stride[k];
        }
        if (last >= numel) return fail(e, "tensor '%s' reaches past its storage (truncated?)", d->items[i]->s);
        o->name = strdup(d->items[i]->s);
        o->dtype = s->dtype;
        o->ndim = t->ndim;
        memcpy(o->shape, t->shape, sizeof o->shape);
        memcpy(o->stride, t->stride, sizeof o->stride);
        o->offset = t->offset;
        o->data = ze->data;
        o->storage_numel = numel;
        f->n++;
    }
    return 0;
}

static void free_unpickler(unpickler *u)
{
    for (size_t i = 0; i < u->n_all; i++) {
        free(u->all[i]->s);
        free(u->all[i]->items);
        free(u->all[i]);
    }
    free(u->all);
    free(u->stack);
    free(u->memo);
}

int ws_pt_open(const char *path, ws_pt_file *f, char *err, size_t cap)
{
    errbuf e = {err, cap, path};
    if (cap) err[0] = '\0';
    zdir z = {0};
    unpickler u = {0};
    val *root = NULL;
    struct stat st;
    int rc = -1;
    memset(f, 0, sizeof *f);
    u.e = &e;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail(&e, "cannot open for reading");
    if (fstat(fd, &st) != 0 || st.st_size < 22) { close(fd); return fail(&e, "not a zip checkpoint (file too small)"); }
    f->map_len = (size_t)st.st_size;
    f->map = mmap(NULL, f->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) { f->map = NULL; return fail(&e, "cannot map the file"); }
    if (zip_read(f->map, f->map_len, &z, &e)) goto done;
    const zentry *pkl = NULL;
    for (size_t i = 0; i < z.n && !pkl; i++) {
        const zentry *c = &z.e[i];
        if (c->name_len >= 9 && !memcmp(c->name + c->name_len - 9, "/data.pkl", 9)) pkl = c;
    }
    if (!pkl) { fail(&e, "zip has no data.pkl: not a torch.save file"); goto done; }
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(pkl->name_len - 9), pkl->name);
    if (unpickle(&u, pkl->data, pkl->data + pkl->size, &root)) goto done;
    rc = collect(root, &z, prefix, f, &e);
done:
    free(z.e);
    free_unpickler(&u);
    if (rc) ws_pt_close(f);
    return rc;
}

void ws_pt_close(ws_pt_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    if (f->map) munmap(f->map, f->map_len);
    memset(f, 0, sizeof *f);
}
