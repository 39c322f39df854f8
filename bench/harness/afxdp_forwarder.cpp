#include "bench/harness/afxdp_forwarder.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "bpf/brisk_xdp_abi.h"

namespace bench {
namespace {

constexpr std::uint32_t kFwdFrames = 2048;
constexpr std::uint32_t kFwdChunk = 2048;
constexpr std::uint32_t kFwdRing = 1024;
constexpr std::uint32_t kFwdBatch = 32;  // = what one copy-mode sendto() transmits

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

struct FwdSide {
  std::string dev;
  int ifindex = 0;
  bpf_object* obj = nullptr;
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{}, comp{};
  xsk_ring_prod tx{}, fill{};
  int fd = -1;
  bool attached = false;
  std::uint32_t tx_outstanding = 0;  // submitted to TX, not yet seen on COMPLETION
};

bool load_prog(FwdSide& s, const std::string& path) {
  s.ifindex = static_cast<int>(if_nametoindex(s.dev.c_str()));
  if (s.ifindex == 0) {
    std::fprintf(stderr, "afxdp-forwarder: no device %s\n", s.dev.c_str());
    return false;
  }
  s.obj = bpf_object__open_file(path.c_str(), nullptr);
  if (s.obj == nullptr || libbpf_get_error(s.obj) != 0 || bpf_object__load(s.obj) != 0) {
    std::fprintf(stderr, "afxdp-forwarder: cannot load %s\n", path.c_str());
    s.obj = nullptr;
    return false;
  }
  bpf_program* p = bpf_object__find_program_by_name(s.obj, BRISK_XDP_PROG_NAME);
  if (p == nullptr) return false;
  int rc = bpf_xdp_attach(s.ifindex, bpf_program__fd(p), XDP_FLAGS_DRV_MODE, nullptr);
  if (rc != 0) {
    std::fprintf(stderr, "afxdp-forwarder: attach XDP to %s: %s\n", s.dev.c_str(), strerror(-rc));
    return false;
  }
  s.attached = true;
  return true;
}

// Moves up to kFwdBatch frames from in's RX ring to out's TX ring; recycles out's completions
// into in's FILL ring.
inline void forward(FwdSide& in, FwdSide& out) {
  std::uint32_t idx_c;
  std::uint32_t done = xsk_ring_cons__peek(&out.comp, kFwdRing, &idx_c);
  if (done != 0) {
    std::uint32_t idx_f;
    // FILL has room for every chunk of this direction, so this reserve cannot fall short.
    while (xsk_ring_prod__reserve(&in.fill, done, &idx_f) != done) {
      if (g_stop) return;
    }
    for (std::uint32_t i = 0; i < done; ++i)
      *xsk_ring_prod__fill_addr(&in.fill, idx_f + i) =
          *xsk_ring_cons__comp_addr(&out.comp, idx_c + i);
    xsk_ring_prod__submit(&in.fill, done);
    xsk_ring_cons__release(&out.comp, done);
    out.tx_outstanding -= done;
  }

  std::uint32_t idx_r;
  std::uint32_t n = xsk_ring_cons__peek(&in.rx, kFwdBatch, &idx_r);
  if (n == 0) {
    if (xsk_ring_prod__needs_wakeup(&in.fill))
      recvfrom(in.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    // Copy mode sends at most 32 frames per sendto(): kick again while some wait.
    if (out.tx_outstanding != 0 && xsk_ring_prod__needs_wakeup(&out.tx))
      sendto(out.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
    return;
  }
  std::uint32_t idx_t;
  std::uint32_t room = xsk_ring_prod__reserve(&out.tx, n, &idx_t);
  for (std::uint32_t i = 0; i < room; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&in.rx, idx_r + i);
    xdp_desc* t = xsk_ring_prod__tx_desc(&out.tx, idx_t + i);
    t->addr = d->addr;
    t->len = d->len;
    t->options = 0;
  }
  if (room != 0) {
    xsk_ring_prod__submit(&out.tx, room);
    out.tx_outstanding += room;
  }
  if (room < n) {  // TX full: drop the rest, chunks back to FILL
    std::uint32_t idx_f;
    std::uint32_t k = n - room;
    while (xsk_ring_prod__reserve(&in.fill, k, &idx_f) != k) {
      if (g_stop) return;
    }
    for (std::uint32_t i = 0; i < k; ++i)
      *xsk_ring_prod__fill_addr(&in.fill, idx_f + i) =
          xsk_ring_cons__rx_desc(&in.rx, idx_r + room + i)->addr;
    xsk_ring_prod__submit(&in.fill, k);
  }
  xsk_ring_cons__release(&in.rx, n);
  if (out.tx_outstanding != 0 && xsk_ring_prod__needs_wakeup(&out.tx))
    sendto(out.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
}

}  // namespace

int afxdp_forwarder_main(const std::string& dev_a, const std::string& dev_b, int cpu,
                         const std::string& bpf_object) {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
  }
  FwdSide a, b;
  a.dev = dev_a;
  b.dev = dev_b;
  int status = 1;
  void* area = MAP_FAILED;
  xsk_umem* umem = nullptr;
  do {
    if (!load_prog(a, bpf_object) || !load_prog(b, bpf_object)) break;
    std::size_t size = std::size_t{kFwdFrames} * kFwdChunk;
    area = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) break;
    xsk_umem_config uc{};
    uc.fill_size = kFwdRing;
    uc.comp_size = kFwdRing;
    uc.frame_size = kFwdChunk;
    uc.frame_headroom = 0;
    if (int rc = xsk_umem__create(&umem, area, size, &a.fill, &a.comp, &uc); rc != 0) {
      std::fprintf(stderr, "afxdp-forwarder: umem: %s\n", strerror(-rc));
      umem = nullptr;
      break;
    }
    xsk_socket_config sc{};
    sc.rx_size = kFwdRing;
    sc.tx_size = kFwdRing;
    sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    sc.bind_flags = XDP_USE_NEED_WAKEUP;
    if (int rc = xsk_socket__create_shared(&a.xsk, a.dev.c_str(), 0, umem, &a.rx, &a.tx, &a.fill,
                                           &a.comp, &sc);
        rc != 0) {
      std::fprintf(stderr, "afxdp-forwarder: socket on %s: %s\n", a.dev.c_str(), strerror(-rc));
      a.xsk = nullptr;
      break;
    }
    if (int rc = xsk_socket__create_shared(&b.xsk, b.dev.c_str(), 0, umem, &b.rx, &b.tx, &b.fill,
                                           &b.comp, &sc);
        rc != 0) {
      std::fprintf(stderr, "afxdp-forwarder: socket on %s: %s\n", b.dev.c_str(), strerror(-rc));
      b.xsk = nullptr;
      break;
    }
    bool ok = true;
    for (FwdSide* s : {&a, &b}) {
      s->fd = xsk_socket__fd(s->xsk);
      bpf_map* m = bpf_object__find_map_by_name(s->obj, "brisk_xsks");
      if (m == nullptr || xsk_socket__update_xskmap(s->xsk, bpf_map__fd(m)) != 0) ok = false;
    }
    if (!ok) break;
    // Half the chunks to each side's FILL ring.
    for (std::uint32_t side = 0; side < 2; ++side) {
      FwdSide& s = side == 0 ? a : b;
      std::uint32_t idx;
      std::uint32_t n = kFwdFrames / 2;
      if (xsk_ring_prod__reserve(&s.fill, n, &idx) != n) {
        ok = false;
        break;
      }
      for (std::uint32_t i = 0; i < n; ++i)
        *xsk_ring_prod__fill_addr(&s.fill, idx + i) = std::uint64_t{side * n + i} * kFwdChunk;
      xsk_ring_prod__submit(&s.fill, n);
    }
    if (!ok) break;
    std::fprintf(stderr, "afxdp-forwarder: %s <-> %s on CPU %d\n", a.dev.c_str(), b.dev.c_str(),
                 cpu);
    while (!g_stop) {
      forward(a, b);
      forward(b, a);
    }
    status = 0;
    for (FwdSide* s : {&a, &b}) {  // the kernel's view, for the log
      xdp_statistics st{};
      socklen_t len = sizeof(st);
      if (getsockopt(s->fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0)
        std::fprintf(stderr,
                     "afxdp-forwarder: %s: rx_dropped %llu rx_ring_full %llu fill_ring_empty %llu "
                     "tx_ring_empty %llu\n",
                     s->dev.c_str(), static_cast<unsigned long long>(st.rx_dropped),
                     static_cast<unsigned long long>(st.rx_ring_full),
                     static_cast<unsigned long long>(st.rx_fill_ring_empty_descs),
                     static_cast<unsigned long long>(st.tx_ring_empty_descs));
    }
  } while (false);

  if (a.xsk != nullptr) xsk_socket__delete(a.xsk);
  if (b.xsk != nullptr) xsk_socket__delete(b.xsk);
  if (umem != nullptr) xsk_umem__delete(umem);
  if (area != MAP_FAILED) munmap(area, std::size_t{kFwdFrames} * kFwdChunk);
  for (FwdSide* s : {&a, &b}) {
    if (s->attached) bpf_xdp_detach(s->ifindex, XDP_FLAGS_DRV_MODE, nullptr);
    if (s->obj != nullptr) bpf_object__close(s->obj);
  }
  return status;
}

}  // namespace bench
