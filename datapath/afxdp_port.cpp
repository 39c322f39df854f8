#include "datapath/afxdp_port.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "datapath/csum.hpp"
#include "datapath/xdp_fastpath.hpp"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#ifndef BRISK_BPF_OBJ_PATH
#define BRISK_BPF_OBJ_PATH "brisk_xdp.o"
#endif

namespace brisk {

namespace {

constexpr const char* kBpfObjectName = "brisk_xdp.o";
constexpr const char* kProgName = "brisk_xdp_rx";
constexpr const char* kXskMapName = "brisk_xsks";

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// libbpf/libxdp return -errno, or -1 with errno set; normalise to a positive errno.
int err_of(int rc) { return rc < -1 ? -rc : (errno != 0 ? errno : EINVAL); }

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

// Everything libbpf/libxdp. Heap-allocated once, so the ring structs have stable addresses
// (libxdp remembers &fill and &comp). RX-side and TX-side fields sit on separate cache lines:
// the RX worker and the transmitting workers do not share lines on the fast path.
struct AfXdpPort::Xsk {
  // ---- RX side: the worker that polls this port ----
  alignas(64) xsk_ring_cons rx{};
  xsk_ring_prod fill{};
  std::unique_ptr<std::uint64_t[]> fill_stash;  // chunks waiting for room in the FILL ring
  std::uint32_t stash_n = 0;
  std::uint8_t* area = nullptr;  // UMEM (read by both sides, written before sharing)
  int fd = -1;

  // ---- TX side: under the port's tx spinlock ----
  alignas(64) xsk_ring_prod tx{};
  xsk_ring_cons comp{};
  std::unique_ptr<std::uint64_t[]> tx_free;  // free TX chunks (a stack)
  std::uint32_t tx_free_n = 0;

  // ---- setup and teardown (control thread) ----
  alignas(64) std::size_t area_size = 0;
  std::uint32_t rx_frames = 0;
  std::uint32_t tx_frames = 0;
  xsk_umem* umem = nullptr;
  xsk_socket* xsk = nullptr;
  bpf_object* obj = nullptr;
  int prog_fd = -1;
  int map_fd = -1;
  std::uint32_t attach_flags = 0;  // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE once attached
  bool attached = false;
};

std::string AfXdpPort::default_bpf_object() {
  if (const char* dir = std::getenv("BRISK_BPF_DIR"); dir != nullptr && *dir != '\0')
    return std::string(dir) + "/" + kBpfObjectName;
  return BRISK_BPF_OBJ_PATH;
}

AfXdpPort::AfXdpPort(const std::string& ifname, const AfXdpOptions& opts)
    : Port(ifname, PortKind::kSystem), x_(std::make_unique<Xsk>()), queue_id_(opts.queue_id) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) fail(EINVAL, "bad interface name '" + ifname + "'");
  if (opts.frames < 64 || (opts.frames & (opts.frames - 1)) != 0 || opts.frames > (1u << 20))
    fail(EINVAL, "AF_XDP port " + ifname + ": frames must be a power of two in 64..1048576");
  ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex_ == 0) fail(ENODEV, "no such device: " + ifname);

  Xsk& x = *x_;
  try {
    // 1. The XDP program, loaded but not attached yet.
    std::string path = opts.bpf_object.empty() ? default_bpf_object() : opts.bpf_object;
    if (::access(path.c_str(), R_OK) != 0)
      fail(errno, "AF_XDP port " + ifname + ": cannot read XDP object " + path +
                      " (set BRISK_BPF_DIR to the directory holding " + kBpfObjectName + ")");
    errno = 0;
    x.obj = bpf_object__open_file(path.c_str(), nullptr);
    if (x.obj == nullptr) fail(err_of(-1), "AF_XDP port " + ifname + ": open XDP object " + path);
    bpf_map* map = bpf_object__find_map_by_name(x.obj, kXskMapName);
    bpf_program* prog = bpf_object__find_program_by_name(x.obj, kProgName);
    if (map == nullptr || prog == nullptr)
      fail(ENOENT, "AF_XDP port " + ifname + ": " + path + " lacks map " + kXskMapName +
                       " or program " + kProgName);
    // The mirror transmit counter is XdpFastpath's (bpf/brisk_xdp.c), never a port's.
    if (bpf_program* tp = bpf_object__find_program_by_name(x.obj, "brisk_devmap_xmit"))
      bpf_program__set_autoload(tp, false);
    if (opts.queue_id >= bpf_map__max_entries(map)) {
      int rc = bpf_map__set_max_entries(map, opts.queue_id + 1);
      if (rc != 0) fail(err_of(rc), "AF_XDP port " + ifname + ": resize " + kXskMapName);
    }
    if (opts.fastpath != nullptr) {
      if (int rc = opts.fastpath->reuse_maps(x.obj); rc != 0)
        fail(err_of(rc), "AF_XDP port " + ifname + ": reuse the XDP fast path's maps");
    }
    errno = 0;
    if (int rc = bpf_object__load(x.obj); rc != 0)
      fail(err_of(rc), "AF_XDP port " + ifname + ": load XDP program from " + path);
    x.prog_fd = bpf_program__fd(prog);
    x.map_fd = bpf_map__fd(map);

    // 2. Attach: native first, then generic. Never replace someone else's program.
    using XdpMode = AfXdpOptions::XdpMode;
    int native_err = 0;
    if (opts.xdp_mode != XdpMode::kGeneric) {
      int rc = bpf_xdp_attach(ifindex_, x.prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
                              nullptr);
      if (rc == 0) {
        x.attach_flags = XDP_FLAGS_DRV_MODE;
        x.attached = true;
      } else {
        native_err = err_of(rc);
      }
    }
    if (native_err == EBUSY || native_err == EEXIST)
      fail(EBUSY, "AF_XDP port " + ifname + ": the device already has an XDP program attached");
    if (!x.attached && opts.xdp_mode == XdpMode::kNative)
      fail(native_err, "AF_XDP port " + ifname + ": native XDP attach");
    if (!x.attached) {
      int rc = bpf_xdp_attach(ifindex_, x.prog_fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
                              nullptr);
      if (rc != 0) {
        int e = err_of(rc);
        if (e == EBUSY || e == EEXIST)
          fail(EBUSY, "AF_XDP port " + ifname + ": the device already has an XDP program attached");
        fail(e, "AF_XDP port " + ifname + ": XDP attach (native: " +
                    std::string(native_err != 0 ? std::strerror(native_err) : "not tried") +
                    "; generic)");
      }
      x.attach_flags = XDP_FLAGS_SKB_MODE;
      x.attached = true;
    }
    const bool native = x.attach_flags == XDP_FLAGS_DRV_MODE;

    // 3. UMEM and socket: zero-copy when possible, else copy.
    x.rx_frames = opts.frames / 2;
    x.tx_frames = opts.frames - x.rx_frames;
    x.area_size = std::size_t{opts.frames} * kChunkSize;
    void* area = ::mmap(nullptr, x.area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    if (area == MAP_FAILED) fail(errno, "AF_XDP port " + ifname + ": allocate UMEM");
    x.area = static_cast<std::uint8_t*>(area);

    xsk_umem_config uc{};
    uc.fill_size = x.rx_frames;
    uc.comp_size = x.tx_frames;
    uc.frame_size = kChunkSize;
    uc.frame_headroom = 0;
    uc.flags = 0;
    bool zc = native && opts.zero_copy;
    int busy_retries = 25;  // x 20 ms
    for (;;) {
      if (int rc = xsk_umem__create(&x.umem, x.area, x.area_size, &x.fill, &x.comp, &uc); rc != 0) {
        x.umem = nullptr;
        fail(err_of(rc), "AF_XDP port " + ifname + ": create UMEM (" +
                             std::to_string(x.area_size >> 10) + " KiB)");
      }
      xsk_socket_config sc{};
      sc.rx_size = x.rx_frames;
      sc.tx_size = x.tx_frames;
      sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
      sc.xdp_flags = x.attach_flags;
      sc.bind_flags = static_cast<std::uint16_t>(XDP_USE_NEED_WAKEUP | (zc ? XDP_ZEROCOPY : XDP_COPY));
      int rc = xsk_socket__create(&x.xsk, ifname.c_str(), opts.queue_id, x.umem, &x.rx, &x.tx, &sc);
      if (rc == 0) break;
      x.xsk = nullptr;
      int e = err_of(rc);
      // libxdp (1.3) has unmapped the rings of a failed socket; only the UMEM is left.
      xsk_umem__delete(x.umem);
      x.umem = nullptr;
      x.fill = {};
      x.comp = {};
      if (e == EBUSY && busy_retries-- > 0) {
        // The kernel frees a queue's socket slot in deferred work after the previous socket
        // on it closed (a port re-added at once): wait briefly, same mode.
        ::usleep(20000);
        continue;
      }
      if (zc) {  // no zero-copy support in this driver: copy mode
        zc = false;
        continue;
      }
      fail(e, "AF_XDP port " + ifname + ": create AF_XDP socket on queue " +
                  std::to_string(opts.queue_id) +
                  (e == EBUSY ? " (another AF_XDP socket is bound to it)" : ""));
    }
    x.fd = xsk_socket__fd(x.xsk);
    mode_ = std::string(native ? "native" : "generic") + (zc ? "/zerocopy" : "/copy");

    // 4. RX chunks into the FILL ring, TX chunks onto the free stack.
    x.fill_stash = std::make_unique<std::uint64_t[]>(x.rx_frames);
    x.tx_free = std::make_unique<std::uint64_t[]>(x.tx_frames);
    std::uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&x.fill, x.rx_frames, &idx) != x.rx_frames)
      fail(ENOSPC, "AF_XDP port " + ifname + ": populate FILL ring");
    for (std::uint32_t i = 0; i < x.rx_frames; ++i)
      *xsk_ring_prod__fill_addr(&x.fill, idx + i) = std::uint64_t{i} * kChunkSize;
    xsk_ring_prod__submit(&x.fill, x.rx_frames);
    for (std::uint32_t i = 0; i < x.tx_frames; ++i)
      x.tx_free[i] = std::uint64_t{x.rx_frames + i} * kChunkSize;
    x.tx_free_n = x.tx_frames;

    // 5. Publish the socket to the program: from now on the queue's frames reach brisk.
    if (int rc = xsk_socket__update_xskmap(x.xsk, x.map_fd); rc != 0)
      fail(err_of(rc), "AF_XDP port " + ifname + ": insert socket into " + kXskMapName);
  } catch (...) {
    close_all();
    throw;
  }
}

AfXdpPort::~AfXdpPort() { close_all(); }

void AfXdpPort::close_all() noexcept {
  if (!x_) return;
  Xsk& x = *x_;
  if (x.xsk != nullptr) xsk_socket__delete(x.xsk);  // also leaves the XSKMAP
  x.xsk = nullptr;
  x.fd = -1;
  if (x.umem != nullptr) xsk_umem__delete(x.umem);
  x.umem = nullptr;
  if (x.attached) {
    // Only if our program is still the one attached (XDP_FLAGS_REPLACE with old_prog_fd). Fails
    // harmlessly when the device is gone.
    bpf_xdp_attach_opts o{};
    o.sz = sizeof(o);
    o.old_prog_fd = x.prog_fd;
    bpf_xdp_detach(ifindex_, x.attach_flags | XDP_FLAGS_REPLACE, &o);
    x.attached = false;
  }
  if (x.obj != nullptr) bpf_object__close(x.obj);  // closes the program and map fds
  x.obj = nullptr;
  if (x.area != nullptr) ::munmap(x.area, x.area_size);
  x.area = nullptr;
}

int AfXdpPort::wait_fd() const noexcept { return x_->fd; }

bool AfXdpPort::check_fatal(int err) noexcept {
  // ENXIO: the socket was unbound because its device was unregistered.
  if (err == ENXIO || err == ENODEV || err == EBADF || err == EBADFD) {
    mark_failed(err);
    return true;
  }
  return false;  // EAGAIN, EBUSY, ENOBUFS, ENETDOWN (link down): transient
}

AfXdpStats AfXdpPort::kernel_stats() const {
  AfXdpStats s;
  xdp_statistics k{};
  socklen_t len = sizeof(k);
  if (x_->fd >= 0 && ::getsockopt(x_->fd, SOL_XDP, XDP_STATISTICS, &k, &len) == 0) {
    s.rx_dropped = k.rx_dropped;
    s.rx_invalid_descs = k.rx_invalid_descs;
    s.tx_invalid_descs = k.tx_invalid_descs;
    if (len >= sizeof(k)) {
      s.rx_ring_full = k.rx_ring_full;
      s.rx_fill_ring_empty = k.rx_fill_ring_empty_descs;
      s.tx_ring_empty = k.tx_ring_empty_descs;
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------- RX

void AfXdpPort::kick_rx() noexcept {
  if (::recvfrom(x_->fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr) < 0) check_fatal(errno);
}

// Hand stashed RX chunks back to the kernel. The FILL ring has room for every RX chunk, so
// the stash empties at once; it only exists so that a chunk is never lost.
void AfXdpPort::refill() noexcept {
  Xsk& x = *x_;
  std::uint32_t k = xsk_prod_nb_free(&x.fill, x.stash_n);
  k = std::min(k, x.stash_n);
  if (k == 0) return;
  std::uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&x.fill, k, &idx) != k) return;
  for (std::uint32_t i = 0; i < k; ++i)
    *xsk_ring_prod__fill_addr(&x.fill, idx + i) = x.fill_stash[--x.stash_n];
  xsk_ring_prod__submit(&x.fill, k);
}

std::uint32_t AfXdpPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  if (failed()) return 0;
  Xsk& x = *x_;
  std::uint32_t want = static_cast<std::uint32_t>(std::min<std::size_t>(max, pool.available()));
  std::uint32_t idx = 0;
  std::uint32_t got = want != 0 ? xsk_ring_cons__peek(&x.rx, want, &idx) : 0;
  if (got == 0) {
    if (tx_stalled_.load(std::memory_order_relaxed)) kick_tx();
    if (xsk_ring_prod__needs_wakeup(&x.fill) || ++idle_polls_ >= kLivenessPolls) {
      idle_polls_ = 0;
      kick_rx();
    }
    return 0;
  }
  idle_polls_ = 0;
  constexpr std::uint64_t kChunkMask = ~std::uint64_t{kChunkSize - 1};
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < got; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&x.rx, idx + i);
    // Aligned UMEM: addr is the chunk's base plus the offset of the frame's first byte.
    x.fill_stash[x.stash_n++] = d->addr & kChunkMask;
    if (d->len > kMaxFrameLen) {
      rx_oversize_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Frame* f = pool.alloc();  // cannot fail: got <= pool.available()
    f->reset(d->len);
    std::memcpy(f->data, x.area + d->addr, d->len);
    // A veth or tap peer with checksum offload sends TCP/UDP with only the pseudo-header
    // sum, and XDP carries no metadata saying so: finish it (datapath/csum.hpp).
    if (complete_partial_l4(f->data, d->len)) csum_completed_.fetch_add(1, std::memory_order_relaxed);
    out[n++] = f;
  }
  xsk_ring_cons__release(&x.rx, got);
  refill();
  if (xsk_ring_prod__needs_wakeup(&x.fill)) kick_rx();
  return n;
}

// ---------------------------------------------------------------------------------- TX

void AfXdpPort::lock_tx() noexcept {
  while (tx_lock_.test_and_set(std::memory_order_acquire)) {
    while (tx_lock_.test(std::memory_order_relaxed)) cpu_relax();
  }
}

// Under the tx lock: chunks the kernel has finished sending go back to the free stack.
void AfXdpPort::reap_completions() noexcept {
  Xsk& x = *x_;
  std::uint32_t idx = 0;
  std::uint32_t done = xsk_ring_cons__peek(&x.comp, x.tx_frames, &idx);
  if (done == 0) return;
  for (std::uint32_t i = 0; i < done; ++i)
    x.tx_free[x.tx_free_n++] = *xsk_ring_cons__comp_addr(&x.comp, idx + i);
  xsk_ring_cons__release(&x.comp, done);
}

// Copy mode sends at most one batch (32 frames) per sendto() and answers EAGAIN while more
// wait in the ring, so kick until the ring is drained, within a bound.
// EBUSY: the device dropped one frame (a veth whose peer's ring is full; the descriptor is
// completed and counted by the kernel) and the sendto() stopped there: the rest still wait, so
// keep kicking. When the bound is reached, tx_stalled_ makes rx_burst() kick again.
void AfXdpPort::kick_tx() noexcept {
  constexpr unsigned kMaxKicks = 8;
  for (unsigned i = 0; i < kMaxKicks; ++i) {
    if (::sendto(x_->fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) {
      tx_stalled_.store(false, std::memory_order_relaxed);
      return;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == EBUSY) continue;
    check_fatal(e);
    return;
  }
  tx_stalled_.store(true, std::memory_order_relaxed);
}

std::uint32_t AfXdpPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  if (failed() || n == 0) return 0;
  Xsk& x = *x_;
  lock_tx();
  reap_completions();
  std::uint32_t room = std::min(n, x.tx_free_n);
  std::uint32_t idx = 0;
  // The TX ring has an entry for every TX chunk, so reserving `room` entries succeeds.
  if (room != 0 && xsk_ring_prod__reserve(&x.tx, room, &idx) != room) room = 0;
  std::uint32_t used = 0;
  for (std::uint32_t i = 0; i < n && used < room; ++i) {
    const std::uint32_t len = tx_wire_len(items[i]);
    if (len > kChunkSize) continue;  // refused below
    const std::uint64_t chunk = x.tx_free[--x.tx_free_n];
    tx_copy(x.area + chunk, items[i]);  // the tag pushed or popped on the way
    xdp_desc* d = xsk_ring_prod__tx_desc(&x.tx, idx + used);
    d->addr = chunk;
    d->len = len;
    d->options = 0;
    ++used;
  }
  // Give back reserved entries that refused frames did not use (libxdp has no cancel for
  // producer rings; cached_prod is only ours).
  x.tx.cached_prod -= room - used;
  if (used != 0) xsk_ring_prod__submit(&x.tx, used);
  unlock_tx();
  if (used != 0 && xsk_ring_prod__needs_wakeup(&x.tx)) kick_tx();
  if (used != n) tx_refused_.fetch_add(n - used, std::memory_order_relaxed);
  return used;
}

}  // namespace brisk
