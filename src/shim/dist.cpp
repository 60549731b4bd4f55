// dist.cpp - libtorch's c10d behind the C API of dist.h: a TCPStore held by rank 0, a Gloo
// process group (NCCL in CUDA builds), and the collectives wsseed uses.
//
// Every entry point catches every exception. Before each collective a rank records how far it got
// ("ws/seq/<rank>" in the store); when a collective fails (a peer closed its connection or the
// timeout passed), the others read those counters to say which rank never arrived, instead of
// Gloo's "connection closed by peer 127.0.0.1:41234".
#include "shim/dist.h"

#include <config.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#if WS_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if WS_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace {
thread_local char g_err[1024];

void set_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
}

// c10d messages carry a C++ backtrace after the first line; the first line is the cause.
std::string first_line(const char *s)
{
    std::string m(s);
    size_t nl = m.find('\n');
    return nl == std::string::npos ? m : m.substr(0, nl);
}
}  // namespace

extern "C" const char *ws_dist_last_error(void) { return g_err; }

#if WS_HAVE_GLOO

// What a backend (Gloo, NCCL) is: a ProcessGroup itself in libtorch 1.x; from 2.0 a c10d::Backend that
// a ProcessGroup dispatches to. wsseed talks to the backend directly, so only its type differs.
#if WS_TORCH_VERSION_MAJOR >= 2
using ws_pg = c10d::Backend;
#else
using ws_pg = c10d::ProcessGroup;
#endif

struct ws_dist_opaque {
    int rank = 0, world = 1, backend = WS_DIST_GLOO, cuda_index = 0;
    std::chrono::milliseconds timeout{0};
    int64_t seq = 0;   // collectives this rank has entered
    bool broken = false;   // a collective failed: peers may be gone
    std::string addr;   // MASTER_ADDR: a patient group over the same ranks binds like the first
    ws_dist_opaque *parent = nullptr;   // a patient group's first group: a peer lost here is lost there too
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<ws_pg> pg;
};

namespace {

std::string key(const char *kind, int r) { return std::string("ws/") + kind + "/" + std::to_string(r); }

void put_i64(c10d::Store &s, const std::string &k, int64_t v)
{
    std::string t = std::to_string(v);
    s.set(k, std::vector<uint8_t>(t.begin(), t.end()));
}

// -1 when the key is absent.
int64_t get_i64(c10d::Store &s, const std::string &k)
{
    if (!s.check({k})) return -1;
    std::vector<uint8_t> v = s.get(k);
    return std::stoll(std::string(v.begin(), v.end()));
}

// After a failed collective: which ranks did not reach it? Ranks that recorded an error ("ws/fail")
// are named with their message; the store itself may be gone when rank 0 died.
std::string who_failed(ws_dist_opaque *d)
{
    std::string out;
    try {
        for (int r = 0; r < d->world; r++) {
            if (r == d->rank) continue;
            int64_t s = get_i64(*d->store, key("seq", r));
            if (s < d->seq)
                out += (out.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + " did not arrive (it entered " +
                       std::to_string(s < 0 ? 0 : s) + " of " + std::to_string(d->seq) + " collectives: it died or is stuck)";
        }
    } catch (const std::exception &) {
        return d->rank == 0 ? "the store is unreachable" : "rank 0 (which holds the store) is unreachable: it died";
    }
    return out.empty() ? "no rank is missing: a network or timeout problem" : out;
}

// Runs one collective: records progress, waits for the work, and on failure names the culprit.
template <class F>
int collective(ws_dist_opaque *d, const char *what, F make_work)
{
    try {
        d->seq++;
        put_i64(*d->store, key("seq", d->rank), d->seq);
        c10::intrusive_ptr<c10d::Work> w = make_work();
        w->wait(d->timeout);
        return 0;
    } catch (const std::exception &e) {
        std::string cause = first_line(e.what());
        std::string who = who_failed(d);
        d->broken = true;
        if (d->parent) d->parent->broken = true;   // so its goodbye does not wait for the lost rank either
        set_err("rank %d of %d: %s failed: %s [%s]", d->rank, d->world, what, who.c_str(), cause.c_str());
        return WS_DIST_ERR;
    } catch (...) {
        set_err("rank %d of %d: %s failed: unknown C++ exception", d->rank, d->world, what);
        return WS_DIST_ERR;
    }
}

// Every rank announces itself; each then waits for the others, naming those missing at the timeout.
void join(ws_dist_opaque *d)
{
    put_i64(*d->store, key("join", d->rank), 1);
    put_i64(*d->store, key("seq", d->rank), 0);
    auto until = std::chrono::steady_clock::now() + d->timeout;
    for (;;) {
        std::string missing;
        for (int r = 0; r < d->world; r++)
            if (!d->store->check({key("join", r)})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        if (missing.empty()) return;
        if (std::chrono::steady_clock::now() > until)
            throw std::runtime_error("rank(s) " + missing + " did not join within " + std::to_string(d->timeout.count() / 1000) +
                                     " s (not started, crashed, or given another MASTER_ADDR/MASTER_PORT/WORLD_SIZE)");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// TCPStoreOptions::useLibUV (libtorch 2.2+, true by default from 2.4) asks for the libuv server, which
// Debian's libtorch is built without ("use_libuv was requested but PyTorch was build without libuv
// support"); the classic server serves the few keys wsseed's ranks exchange as well. Older libtorch
// has no such field: the overload for it does nothing.
template <class O> auto classic_store(O &o, int) -> decltype(o.useLibUV = false, void()) { o.useLibUV = false; }
template <class O> void classic_store(O &, long) {}

bool is_loopback(const std::string &a) { return a == "localhost" || a.rfind("127.", 0) == 0; }

c10::intrusive_ptr<ws_pg> make_gloo(ws_dist_opaque *d)
{
    auto opts = c10d::ProcessGroupGloo::Options::create(d->timeout);
    // Loopback jobs bind to 127.0.0.1; on a cluster GLOO_SOCKET_IFNAME picks the interface as in
    // PyTorch, else the address the host name resolves to.
    const char *ifname = getenv("GLOO_SOCKET_IFNAME");
    if (is_loopback(d->addr)) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else if (ifname && *ifname) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    auto pstore = c10::make_intrusive<c10d::PrefixStore>("gloo", d->store);
    return c10::make_intrusive<c10d::ProcessGroupGloo>(pstore, d->rank, d->world, opts);
}

c10::intrusive_ptr<ws_pg> make_pg(ws_dist_opaque *d)
{
    if (d->backend == WS_DIST_GLOO) return make_gloo(d);
#if WS_HAVE_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = d->timeout;
    auto pstore = c10::make_intrusive<c10d::PrefixStore>("nccl", d->store);
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(pstore, d->rank, d->world, opts);
#else
    throw std::runtime_error("this libtorch has no NCCL: use the gloo backend or a CUDA build of libtorch");
#endif
}

// The tensor a collective works on: the host buffer itself (Gloo) or a copy on the rank's GPU.
at::Tensor wrap(ws_dist_opaque *d, void *buf, int64_t n, at::ScalarType st)
{
    at::Tensor t = at::from_blob(buf, {n}, at::TensorOptions().dtype(st));
    if (d->backend == WS_DIST_NCCL) return t.to(at::Device(at::kCUDA, (c10::DeviceIndex)d->cuda_index));
    return t;
}

void unwrap(ws_dist_opaque *d, const at::Tensor &t, void *buf, int64_t n, at::ScalarType st)
{
    if (d->backend != WS_DIST_NCCL) return;   // Gloo worked in place
    at::from_blob(buf, {n}, at::TensorOptions().dtype(st)).copy_(t.cpu());
}

int allreduce(ws_dist d, void *x, size_t n, at::ScalarType st, const char *what)
{
    if (!d || (n && !x)) { set_err("ws_dist_allreduce: NULL argument (%s)", what); return WS_DIST_ERR; }
    if (d->world == 1 || n == 0) return 0;
    at::Tensor t;
    int rc = collective(d, what, [&] {
        std::vector<at::Tensor> v{t = wrap(d, x, (int64_t)n, st)};
        c10d::AllreduceOptions o;
        o.reduceOp = c10d::ReduceOp::SUM;
        return d->pg->allreduce(v, o);
    });
    if (!rc) {
        try { unwrap(d, t, x, (int64_t)n, st); }
        catch (const std::exception &e) { set_err("%s: %s", what, first_line(e.what()).c_str()); return WS_DIST_ERR; }
    }
    return rc;
}

}  // namespace

extern "C" int ws_dist_available(int backend)
{
#if WS_HAVE_NCCL
    if (backend == WS_DIST_NCCL) return 1;
#endif
    return backend == WS_DIST_GLOO;
}

extern "C" int ws_dist_open(const ws_dist_opts *o, ws_dist *out)
{
    if (!o || !out || o->world < 1 || o->rank < 0 || o->rank >= o->world || !o->addr || o->port <= 0 || o->port > 65535) {
        set_err("ws_dist_open: bad options (rank %d, world %d, port %d)", o ? o->rank : -1, o ? o->world : -1,
                o ? o->port : -1);
        return WS_DIST_ERR;
    }
    ws_dist_opaque *d = new (std::nothrow) ws_dist_opaque;
    if (!d) { set_err("out of memory"); return WS_DIST_ERR; }
    d->rank = o->rank, d->world = o->world, d->backend = o->backend, d->cuda_index = o->cuda_index;
    d->timeout = std::chrono::milliseconds(o->timeout_ms > 0 ? o->timeout_ms : 300000);
    const char *stage = "reaching the rank-0 store";
    try {
        c10d::TCPStoreOptions so;
        so.port = (uint16_t)o->port;
        so.isServer = o->rank == 0;
        so.waitWorkers = false;   // join() waits instead, so that it can name the missing ranks
        so.timeout = d->timeout;
        classic_store(so, 0);
        d->store = c10::make_intrusive<c10d::TCPStore>(o->addr, so);
        stage = "joining";
        join(d);
        stage = "forming the process group";
        d->addr = o->addr;
        d->pg = make_pg(d);
    } catch (const std::exception &e) {
        set_err("rank %d of %d: %s at %s:%d failed: %s", o->rank, o->world, stage, o->addr, o->port, first_line(e.what()).c_str());
        delete d;
        return WS_DIST_ERR;
    }
    *out = d;
    return 0;
}

// Rank 0 holds the store: leaving before the others have finished their last store access would
// make them fail at the very end. So every rank says goodbye and rank 0 waits for all goodbyes
// (not after a failure: then a dead peer would only delay the exit).
static void farewell(ws_dist_opaque *d)
{
    put_i64(*d->store, key("bye", d->rank), 1);
    if (d->rank != 0 || d->broken) return;
    auto until = std::chrono::steady_clock::now() + std::min(d->timeout, std::chrono::milliseconds(60000));
    for (int r = 1; r < d->world; r++)
        while (!d->store->check({key("bye", r)}) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

extern "C" int ws_dist_open_patient(ws_dist d, int timeout_ms, const char *name, ws_dist *out)
{
    if (!d || !out || !name || !*name || timeout_ms <= 0) { set_err("ws_dist_open_patient: bad argument"); return WS_DIST_ERR; }
    ws_dist_opaque *p = new (std::nothrow) ws_dist_opaque;
    if (!p) { set_err("out of memory"); return WS_DIST_ERR; }
    p->rank = d->rank, p->world = d->world, p->backend = d->backend, p->cuda_index = d->cuda_index, p->addr = d->addr;
    p->parent = d;
    p->timeout = std::chrono::milliseconds(timeout_ms);
    try {
        // Its own key space in the same store: its progress counters and goodbyes are its own.
        p->store = c10::make_intrusive<c10d::PrefixStore>(std::string("ws-") + name, d->store);
        put_i64(*p->store, key("seq", p->rank), 0);
        // Gloo's address exchange goes through the store, whose waits keep the first group's timeout.
        p->pg = make_pg(p);
    } catch (const std::exception &e) {
        set_err("rank %d of %d: forming the %s group failed: %s", d->rank, d->world, name, first_line(e.what()).c_str());
        delete p;
        return WS_DIST_ERR;
    }
    *out = p;
    return 0;
}

extern "C" void ws_dist_free(ws_dist d)
{
    if (!d) return;
    try { farewell(d); } catch (...) {}
    try { delete d; } catch (...) {}
}

extern "C" int ws_dist_barrier(ws_dist d, const char *what)
{
    // A one-element all-reduce, not pg->barrier(): Gloo's barrier takes no per-call timeout, and the
    // all-reduce fails the same way when a rank is missing.
    int64_t one = 1;
    return allreduce(d, &one, 1, at::kLong, what);
}

extern "C" int ws_dist_allreduce_f32(ws_dist d, float *x, size_t n, const char *what)
{
    return allreduce(d, x, n, at::kFloat, what);
}

extern "C" int ws_dist_allreduce_f64(ws_dist d, double *x, size_t n, const char *what)
{
    return allreduce(d, x, n, at::kDouble, what);
}

extern "C" int ws_dist_allreduce_i64(ws_dist d, int64_t *x, size_t n, const char *what)
{
    return allreduce(d, x, n, at::kLong, what);
}

extern "C" int ws_dist_broadcast(ws_dist d, void *buf, size_t nbytes, int root, const char *what)
{
    if (!d || (nbytes && !buf) || root < 0 || (d && root >= d->world)) {
        set_err("ws_dist_broadcast: bad argument (%s)", what);
        return WS_DIST_ERR;
    }
    if (d->world == 1 || nbytes == 0) return 0;
    at::Tensor t;
    int rc = collective(d, what, [&] {
        std::vector<at::Tensor> v{t = wrap(d, buf, (int64_t)nbytes, at::kByte)};
        c10d::BroadcastOptions o;
        o.rootRank = root;
        return d->pg->broadcast(v, o);
    });
    if (!rc) {
        try { unwrap(d, t, buf, (int64_t)nbytes, at::kByte); }
        catch (const std::exception &e) { set_err("%s: %s", what, first_line(e.what()).c_str()); return WS_DIST_ERR; }
    }
    return rc;
}

extern "C" int ws_dist_allgather_i64(ws_dist d, int64_t v, int64_t *out, const char *what)
{
    // Each rank fills its own slot of a zeroed vector; the sum over ranks is the gathered vector.
    if (!d || !out) { set_err("ws_dist_allgather_i64: NULL argument (%s)", what); return WS_DIST_ERR; }
    for (int r = 0; r < d->world; r++) out[r] = r == d->rank ? v : 0;
    return allreduce(d, out, (size_t)d->world, at::kLong, what);
}

#else   // no c10d Gloo in this build: single-process wsseed still works; forming a group says why not

struct ws_dist_opaque { int unused; };

static int no_gloo(void)
{
    set_err("this wsseed was built without c10d Gloo (install Debian's libgloo-dev and run ./configure again)");
    return WS_DIST_ERR;
}

extern "C" int ws_dist_available(int) { return 0; }
extern "C" int ws_dist_open(const ws_dist_opts *, ws_dist *) { return no_gloo(); }
extern "C" int ws_dist_open_patient(ws_dist, int, const char *, ws_dist *) { return no_gloo(); }
extern "C" void ws_dist_free(ws_dist) {}
extern "C" int ws_dist_barrier(ws_dist, const char *) { return no_gloo(); }
extern "C" int ws_dist_allreduce_f32(ws_dist, float *, size_t, const char *) { return no_gloo(); }
extern "C" int ws_dist_allreduce_i64(ws_dist, int64_t *, size_t, const char *) { return no_gloo(); }
extern "C" int ws_dist_allreduce_f64(ws_dist, double *, size_t, const char *) { return no_gloo(); }
extern "C" int ws_dist_broadcast(ws_dist, void *, size_t, int, const char *) { return no_gloo(); }
extern "C" int ws_dist_allgather_i64(ws_dist, int64_t, int64_t *, const char *) { return no_gloo(); }

#endif
