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
#include <vector>

#include "bpf/brisk_xdp_abi.h"
#include "datapath/afpacket_port.hpp"
#include "datapath/bpf_objects.hpp"
#include "datapath/csum.hpp"
#include "datapath/offload.hpp"
#include "datapath/umem_pool.hpp"
#include "datapath/xdp_loader.hpp"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

// Multi-buffer AF_XDP (Linux 6.6), missing from older <linux/if_xdp.h>: the values are the
// kernel's ABI. A kernel without it refuses the bind flag (EINVAL) and the socket is bound
// without.
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

namespace brisk {

namespace {

constexpr const char* kXskMapName = "brisk_xsks";
constexpr const char* kOversizeMapName = "brisk_oversize";
// The program drops what does not fit a chunk after the kernel's XDP headroom (256 bytes).
static_assert(BRISK_XSK_MAX_FRAME + 256 == AfXdpPort::kChunkSize, "one chunk size");

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// libbpf/libxdp return -errno, or -1 with errno set; normalise to a positive errno.
int err_of(int rc) { return rc < -1 ? -rc : (errno != 0 ? errno : EINVAL); }

std::uint32_t pow2_at_least(std::uint32_t v) {
  std::uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// One mmap()ed ring of a socket.
struct RingMap {
  void* addr = MAP_FAILED;
  std::size_t len = 0;
  void unmap() noexcept {
    if (addr != MAP_FAILED) ::munmap(addr, len);
    addr = MAP_FAILED;
  }
};

template <typename Ring>
void init_ring(Ring& r, void* map, const xdp_ring_offset& off, std::uint32_t size, bool producer) {
  auto* base = static_cast<std::uint8_t*>(map);
  r = Ring{};
  r.mask = size - 1;
  r.size = size;
  r.producer = reinterpret_cast<std::uint32_t*>(base + off.producer);
  r.consumer = reinterpret_cast<std::uint32_t*>(base + off.consumer);
  r.flags = reinterpret_cast<std::uint32_t*>(base + off.flags);
  r.ring = base + off.desc;
  r.cached_prod = __atomic_load_n(r.producer, __ATOMIC_ACQUIRE);
  // A producer's cached_cons runs `size` ahead of the consumer (libxdp's convention).
  r.cached_cons = __atomic_load_n(r.consumer, __ATOMIC_ACQUIRE) + (producer ? size : 0);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

// The socket, its rings and its place in the UMEM pool, and the BPF state. Heap-allocated once,
// so the ring structs have stable addresses. RX-side and TX-side fields sit on separate cache
// lines: the owner worker and the transmitting workers do not share lines on the fast path.
struct AfXdpPort::Xsk {
  // ---- RX side: the owner worker (polls this port and the pool's other members) ----
  alignas(64) xsk_ring_cons rx{};
  xsk_ring_prod fill{};
  UmemPool* pool = nullptr;
  std::uint8_t* area = nullptr;  // the pool's memory (read by both sides)
  std::uint32_t rx_held = 0;     // chunks given to FILL and not yet read from RX
  std::uint32_t rx_target = 0;   // how many to hold: rx_base() .. rx_max(), see rx_burst()
  std::uint32_t light_polls = 0;
  std::uint8_t slot = 0;
  int fd = -1;

  // ---- TX side: under the port's tx spinlock ----
  alignas(64) xsk_ring_prod tx{};
  xsk_ring_cons comp{};
  std::unique_ptr<std::uint64_t[]> tx_free;  // free copy chunks (a stack)
  std::uint32_t tx_free_n = 0;
  std::unique_ptr<std::uint64_t[]> zc_done;  // completed shared chunks, for the owner
  std::uint32_t zc_done_n = 0;

  // ---- setup and teardown (control thread) ----
  alignas(64) std::shared_ptr<UmemPool> owner;
  bool bound = false;  // holds a live slot of `owner`
  RingMap m_rx, m_tx, m_fill, m_comp;
  std::uint32_t rx_size = 0, tx_size = 0, fill_size = 0, comp_size = 0;
  std::unique_ptr<XdpObject> obj;  // datapath/xdp_loader.hpp
  int map_fd = -1;
  RingMap m_oversize;  // brisk_oversize (bpf/brisk_xdp.c), read only
  const volatile std::uint64_t* kernel_oversize = nullptr;
  XdpAttachment xdp;
  int tc_prog_fd = -1;  // loaded with the fast path: attached at clsact ingress
  TcAttachment tc;

  void close_socket() noexcept {
    // Unmap first: a mapping holds a reference to the socket, and the close must release it.
    m_rx.unmap();
    m_tx.unmap();
    m_fill.unmap();
    m_comp.unmap();
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

namespace {

// Creates one AF_XDP socket on (ifindex, queue) in `pool`: the UMEM's first member registers it
// (XDP_UMEM_REG) and binds in copy or zero-copy mode, multi-buffer (XDP_USE_SG) if asked;
// later members bind with XDP_SHARED_UMEM to `share_fd` and inherit both. Every member has its
// own FILL and COMPLETION rings. Returns 0, or an errno with nothing left open.
int open_socket(AfXdpPort::Xsk& x, int ifindex, std::uint32_t queue_id, UmemPool& pool,
                int share_fd, bool zero_copy, bool multi_buffer) {
  x.fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (x.fd < 0) {
    int e = errno;
    x.fd = -1;
    return e;
  }
  auto bail = [&x]() {
    int e = errno != 0 ? errno : EINVAL;
    x.close_socket();
    return e;
  };
  errno = 0;
  if (share_fd < 0) {
    xdp_umem_reg mr;
    std::memset(&mr, 0, sizeof(mr));  // padding too: newer kernels read a field there
    mr.addr = reinterpret_cast<std::uintptr_t>(pool.area());
    mr.len = pool.area_size();
    mr.chunk_size = UmemPool::kChunkSize;
    mr.headroom = 0;
    if (::setsockopt(x.fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)) != 0) return bail();
  }
  const int fill = static_cast<int>(x.fill_size), comp = static_cast<int>(x.comp_size);
  const int rx = static_cast<int>(x.rx_size), tx = static_cast<int>(x.tx_size);
  if (::setsockopt(x.fd, SOL_XDP, XDP_UMEM_FILL_RING, &fill, sizeof(fill)) != 0 ||
      ::setsockopt(x.fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &comp, sizeof(comp)) != 0 ||
      ::setsockopt(x.fd, SOL_XDP, XDP_RX_RING, &rx, sizeof(rx)) != 0 ||
      ::setsockopt(x.fd, SOL_XDP, XDP_TX_RING, &tx, sizeof(tx)) != 0)
    return bail();
  xdp_mmap_offsets off{};
  socklen_t optlen = sizeof(off);
  if (::getsockopt(x.fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen) != 0) return bail();
  if (optlen != sizeof(off)) {  // kernels before 5.4 (no ring flags, no need_wakeup)
    errno = EOPNOTSUPP;
    return bail();
  }
  auto map = [&x](RingMap& m, std::size_t len, off_t pgoff) {
    m.len = len;
    m.addr = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, x.fd, pgoff);
    return m.addr != MAP_FAILED;
  };
  if (!map(x.m_rx, off.rx.desc + std::size_t{x.rx_size} * sizeof(xdp_desc), XDP_PGOFF_RX_RING) ||
      !map(x.m_tx, off.tx.desc + std::size_t{x.tx_size} * sizeof(xdp_desc), XDP_PGOFF_TX_RING) ||
      !map(x.m_fill, off.fr.desc + std::size_t{x.fill_size} * sizeof(std::uint64_t),
           XDP_UMEM_PGOFF_FILL_RING) ||
      !map(x.m_comp, off.cr.desc + std::size_t{x.comp_size} * sizeof(std::uint64_t),
           XDP_UMEM_PGOFF_COMPLETION_RING))
    return bail();
  init_ring(x.rx, x.m_rx.addr, off.rx, x.rx_size, false);
  init_ring(x.tx, x.m_tx.addr, off.tx, x.tx_size, true);
  init_ring(x.fill, x.m_fill.addr, off.fr, x.fill_size, true);
  init_ring(x.comp, x.m_comp.addr, off.cr, x.comp_size, false);

  sockaddr_xdp sa{};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_ifindex = static_cast<std::uint32_t>(ifindex);
  sa.sxdp_queue_id = queue_id;
  if (share_fd >= 0) {
    // Mode flags are inherited from the UMEM's first bind; the kernel refuses them here.
    sa.sxdp_flags = XDP_SHARED_UMEM;
    sa.sxdp_shared_umem_fd = static_cast<std::uint32_t>(share_fd);
  } else {
    sa.sxdp_flags =
        static_cast<std::uint16_t>(XDP_USE_NEED_WAKEUP | (zero_copy ? XDP_ZEROCOPY : XDP_COPY) |
                                   (multi_buffer ? XDP_USE_SG : 0));
  }
  if (::bind(x.fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return bail();
  return 0;
}

}  // namespace

AfXdpPort::AfXdpPort(const std::string& ifname, const AfXdpOptions& opts)
    : Port(ifname, PortKind::kSystem), x_(std::make_unique<Xsk>()), queue_id_(opts.queue_id) {
  // One buffer per frame (a UMEM chunk / an mbuf): longer frames are dropped as oversize.
  set_tx_max(kMaxFrameLen + 4);
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    fail(EINVAL, "bad interface name '" + ifname + "'");
  if (opts.frames < 64 || (opts.frames & (opts.frames - 1)) != 0 || opts.frames > (1u << 20))
    fail(EINVAL, "AF_XDP port " + ifname + ": frames must be a power of two in 64..1048576");
  ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex_ == 0) fail(ENODEV, "no such device: " + ifname);
  set_mtu(device_mtu(ifindex_));

  Xsk& x = *x_;
  try {
    // 1. The XDP program (and, with the fast path, the tc program), loaded but not attached
    // yet; with the fast path it uses the shared maps.
    const std::string who = "AF_XDP port " + ifname;
    x.obj = std::make_unique<XdpObject>(xdp_object_path(opts.bpf_object, who), who);
    bpf_map* map = bpf_object__find_map_by_name(x.obj->get(), kXskMapName);
    if (map == nullptr) fail(ENOENT, who + ": " + x.obj->path() + " lacks map " + kXskMapName);
    XdpPrograms programs;
    programs.tc = opts.fastpath_maps != nullptr;
    x.obj->prepare(programs, opts.fastpath_maps);
    if (opts.queue_id >= bpf_map__max_entries(map)) {
      int rc = bpf_map__set_max_entries(map, opts.queue_id + 1);
      if (rc != 0) fail(err_of(rc), who + ": resize " + kXskMapName);
    }
    x.obj->load();
    x.map_fd = bpf_map__fd(map);
    if (programs.tc) x.tc_prog_fd = x.obj->program_fd(BRISK_TC_PROG_NAME);
    // Frames the program drops as too long for a chunk (an older object has no such map).
    if (int fd = x.obj->map_fd(kOversizeMapName); fd >= 0) {
      x.m_oversize.len = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
      x.m_oversize.addr = ::mmap(nullptr, x.m_oversize.len, PROT_READ, MAP_SHARED, fd, 0);
      if (x.m_oversize.addr != MAP_FAILED)
        x.kernel_oversize = static_cast<const volatile std::uint64_t*>(x.m_oversize.addr);
    }

    // 2. Attach (xdp_attach(): native or generic by opts.xdp_mode).
    x.xdp = xdp_attach(*x.obj, ifname, ifindex_, opts.xdp_mode, who);
    const bool native = x.xdp.native();

    // 3. UMEM and socket (see the header for the order of attempts).
    const bool zc_wanted = native && opts.zero_copy;
    struct Attempt {
      std::shared_ptr<UmemPool> pool;
      bool zero_copy;
    };
    std::vector<Attempt> attempts;
    if (opts.umems != nullptr) {
      if (zc_wanted) attempts.push_back({opts.umems->get(opts.worker, true), true});
      attempts.push_back({opts.umems->get(opts.worker, false), false});
    }
    const std::size_t own_from = attempts.size();
    int last_err = 0;
    std::string why;
    for (std::size_t i = 0;; ++i) {
      if (i == own_from) {  // an own UMEM
        auto own = std::make_shared<UmemPool>(UmemGeometry::single(opts.frames));
        if (zc_wanted) attempts.push_back({own, true});
        attempts.push_back({own, false});
      }
      if (i >= attempts.size()) break;
      UmemPool& pool = *attempts[i].pool;
      const bool zc = attempts[i].zero_copy;
      auto slot = pool.reserve_slot();
      if (!slot) continue;  // every slot in use or retiring
      const int share = pool.share_fd();
      const UmemGeometry& g = pool.geometry();
      x.fill_size = x.rx_size = pow2_at_least(g.rx_max());
      // Copies, plus (when members share) frames handed over by the other members.
      x.tx_size = x.comp_size = pow2_at_least(g.copy_frames + (g.max_ports > 1 ? 512 : 0));
      int e = 0;
      // Multi-buffer where the kernel and driver have it (6.6+; copy mode everywhere), so
      // frames longer than a chunk reach userspace; without, they are `oversize`.
      bool sg = share >= 0 ? pool.multi_buffer() : true;
      for (int busy_retries = 25;; --busy_retries) {  // x 20 ms
        e = open_socket(x, ifindex_, opts.queue_id, pool, share, zc, sg);
        if ((e == EINVAL || e == EOPNOTSUPP) && sg && share < 0) {
          sg = false;
          continue;
        }
        // The kernel frees a queue's socket slot in deferred work after the previous socket on
        // it closed (a port re-added at once): wait briefly, same mode.
        if (e != EBUSY || busy_retries == 0) break;
        ::usleep(20000);
      }
      if (e == 0) {
        pool.member_bound(*slot, x.fd, zc, sg);
        x.owner = attempts[i].pool;
        x.bound = true;
        x.slot = static_cast<std::uint8_t>(*slot);
        break;
      }
      pool.cancel_slot(*slot);
      if (e == EBUSY)
        fail(e, "AF_XDP port " + ifname + ": create AF_XDP socket on queue " +
                    std::to_string(opts.queue_id) + " (another AF_XDP socket is bound to it)");
      last_err = e;
      why = std::string(share >= 0 ? "shared" : (zc ? "zerocopy" : "copy")) +
            " bind: " + std::strerror(e);
    }
    if (!x.bound)
      fail(last_err != 0 ? last_err : ENOSPC,
           "AF_XDP port " + ifname + ": create AF_XDP socket on queue " +
               std::to_string(opts.queue_id) + (why.empty() ? "" : " (" + why + ")"));
    UmemPool& pool = *x.owner;
    x.pool = &pool;
    x.area = pool.area();
    mode_ = std::string(native ? "native" : "generic") + (pool.zero_copy() ? "/zerocopy" : "/copy");

    // 4. The slot's copy chunks onto the free stack; the FILL ring is filled now if this is
    // the pool's only member (no worker knows the pool yet), else by the owner's first poll.
    const UmemGeometry& g = pool.geometry();
    x.tx_free = std::make_unique<std::uint64_t[]>(g.copy_frames);
    for (std::uint32_t i = 0; i < g.copy_frames; ++i)
      x.tx_free[i] = pool.copy_base(x.slot) + std::uint64_t{i} * kChunkSize;
    x.tx_free_n = g.copy_frames;
    x.zc_done = std::make_unique<std::uint64_t[]>(pool.shared_frames());
    // An own UMEM keeps its whole receive half in FILL; a member of a shared pool
    // starts at its base and grows with its load.
    x.rx_target = g.max_ports == 1 ? g.rx_max() : g.rx_base();
    if (pool.members() == 1) refill();

    // 5. Publish the socket to the program: from now on the queue's frames reach brisk. A
    // multi-buffer socket takes what a big frame holds (the program's limit, before).
    if (int fd = x.obj->map_fd(kOversizeMapName); fd >= 0 && pool.multi_buffer()) {
      const std::uint32_t k = BRISK_XSK_OVERSIZE_LIMIT;
      const std::uint64_t limit = kMaxBigFrameLen;
      if (int rc = bpf_map_update_elem(fd, &k, &limit, 0); rc != 0)
        fail(err_of(rc), "AF_XDP port " + ifname + ": set the frame limit in " + kOversizeMapName);
    }
    const std::uint32_t key = opts.queue_id;
    if (int rc = bpf_map_update_elem(x.map_fd, &key, &x.fd, 0); rc != 0)
      fail(err_of(rc), "AF_XDP port " + ifname + ": insert socket into " + kXskMapName);

    // 6. The fast path's tc half. The XDP program passes frames to it only once userspace
    // has published BRISK_FP_SKB for the port, which it does only when this succeeded.
    if (x.tc_prog_fd >= 0) x.tc = tc_attach(ifindex_, x.tc_prog_fd);
  } catch (...) {
    close_all();
    throw;
  }
}

AfXdpPort::~AfXdpPort() { close_all(); }

bool AfXdpPort::tc_attached() const { return x_->tc.attached; }

void AfXdpPort::close_all() noexcept {
  if (qdisc_fd_ >= 0) ::close(qdisc_fd_);
  qdisc_fd_ = -1;
  if (!x_) return;
  Xsk& x = *x_;
  tc_detach(x.tc);
  x.close_socket();                           // also leaves the XSKMAP
  if (x.bound) x.owner->retire_slot(x.slot);  // its chunks come back after the retire delay
  x.bound = false;
  xdp_detach(x.xdp);  // only if our program is still the one attached
  x.kernel_oversize = nullptr;
  x.m_oversize.unmap();
  x.obj.reset();  // closes the program and map fds
  x.pool = nullptr;
  x.owner.reset();  // the last member frees the UMEM
}

std::uint64_t xsk_drops(const AfXdpStats& s, bool zero_copy, Drop d) {
  const std::uint64_t no_buffer = zero_copy ? 0 : std::min(s.rx_fill_ring_empty, s.rx_dropped);
  switch (d) {
    case Drop::kXskNoBuffer:
      return no_buffer;
    case Drop::kXskRxRefused:
      return s.rx_dropped - no_buffer;
    case Drop::kXskRxRingFull:
      return s.rx_ring_full;
    case Drop::kXskTxInvalid:
      return s.tx_invalid_descs;
    default:
      return 0;
  }
}

std::uint64_t AfXdpPort::driver_drops(Drop d) const {
  std::uint64_t n = Port::driver_drops(d);
  switch (d) {
    case Drop::kOversize:
      if (x_->kernel_oversize != nullptr) n += *x_->kernel_oversize;
      break;
    case Drop::kXskNoBuffer:
    case Drop::kXskRxRefused:
    case Drop::kXskRxRingFull:
    case Drop::kXskTxInvalid:
      n += xsk_drops(kernel_stats(), x_->pool != nullptr && x_->pool->zero_copy(), d);
      break;
    default:
      break;
  }
  return n;
}

bool AfXdpPort::multi_buffer() const { return x_->pool != nullptr && x_->pool->multi_buffer(); }

bool AfXdpPort::umem_shared() const { return x_->owner->geometry().max_ports > 1; }
const UmemPool& AfXdpPort::umem() const { return *x_->owner; }
std::uint32_t AfXdpPort::umem_slot() const { return x_->slot; }

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

void AfXdpPort::describe(DriverFigures& out) const {
  add_text(out, "", "afxdp_mode", mode());
  add_text(out, "", "afxdp_umem", umem_shared() ? "shared" : "private");
  add_counter(out, "", "tx_zero_copy", tx_zero_copy());
  add_counter(out, "", "tx_via_qdisc", tx_via_qdisc_frames());
  add_flag(out, "", "afxdp_multi_buffer", multi_buffer());
  add_counter(out, "", "rx_gathered", rx_gathered());
  const AfXdpStats k = kernel_stats();
  add_counter(out, "xsk", "rx_dropped", k.rx_dropped);
  add_counter(out, "xsk", "rx_ring_full", k.rx_ring_full);
  add_counter(out, "xsk", "rx_fill_ring_empty", k.rx_fill_ring_empty);
  add_counter(out, "xsk", "rx_invalid_descs", k.rx_invalid_descs);
  add_counter(out, "xsk", "tx_invalid_descs", k.tx_invalid_descs);
  add_counter(out, "xsk", "tx_ring_empty", k.tx_ring_empty);
  add_counter(out, "xsk", "tx_refused", tx_refused());
  const UmemPool::Census c = umem().census();  // a scan of the chunk tags
  add_gauge(out, "umem", "members", umem().members());
  add_gauge(out, "umem", "shared_chunks", umem().shared_frames());
  add_gauge(out, "umem", "free", c.free);
  add_gauge(out, "umem", "in_frames", c.frames);
  add_gauge(out, "umem", "held", c.by_slot[umem_slot()]);
}

// ---------------------------------------------------------------------------------- RX

void AfXdpPort::kick_rx() noexcept {
  if (::recvfrom(x_->fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr) < 0) check_fatal(errno);
}

// Top the FILL ring up to the member's target, as far as UmemPool::rx_allowance() lets it
// (its base is always there; more only while no other slot is owed chunks). One reserve and
// submit per call; small top-ups wait while the ring is well stocked. rx_held is exact: a
// chunk the kernel takes from FILL stays this socket's until it appears on RX.
void AfXdpPort::refill() noexcept {
  constexpr std::uint32_t kBatch = 32;
  Xsk& x = *x_;
  if (x.rx_held >= x.rx_target) return;
  const std::uint32_t k = std::min(x.rx_target - x.rx_held, x.pool->rx_allowance(x.slot));
  if (k == 0 || (k < kBatch && x.rx_held >= kBatch)) return;
  std::uint32_t idx = 0;
  // Cannot fall short: FILL has rx_max() entries and holds at most rx_held of them.
  if (xsk_ring_prod__reserve(&x.fill, k, &idx) != k) return;
  for (std::uint32_t i = 0; i < k; ++i)
    *xsk_ring_prod__fill_addr(&x.fill, idx + i) = x.pool->pop(x.slot);
  xsk_ring_prod__submit(&x.fill, k);
  x.rx_held += k;
  x.pool->set_rx_held(x.slot, x.rx_held);
}

// Owner worker, from rx_burst(): shared chunks this port has finished sending go back to the
// pool (skipped when another worker holds the tx lock: next time), and a TX ring that the
// last kick left unfinished (tx_stalled_) is kicked again.
void AfXdpPort::tx_housekeeping() noexcept {
  if (zc_out_.load(std::memory_order_relaxed) != 0 &&
      !tx_lock_.test_and_set(std::memory_order_acquire)) {
    Xsk& x = *x_;
    reap_completions();
    for (std::uint32_t i = 0; i < x.zc_done_n; ++i) x.pool->put(x.zc_done[i]);
    x.pool->zc_completed(x.slot, x.zc_done_n);
    zc_out_.store(zc_out_.load(std::memory_order_relaxed) - x.zc_done_n, std::memory_order_relaxed);
    x.zc_done_n = 0;
    unlock_tx();
  }
  if (tx_stalled_.load(std::memory_order_relaxed)) kick_tx();
}

// Owner worker: the frame in descriptors [first, first + ndesc) of the RX ring, copied into
// a big buffer (its chunks go back to the pool at once). A TCP super-frame (longer than the
// MTU) and partial checksums are handled as for any received frame (rx_offload). nullptr,
// counted `oversize`, when it is longer than a big buffer or none is free.
Frame* AfXdpPort::rx_gather(FramePool& pool, std::uint32_t first, std::uint32_t ndesc) noexcept {
  Xsk& x = *x_;
  std::uint64_t total = 0;
  for (std::uint32_t k = 0; k < ndesc; ++k) total += xsk_ring_cons__rx_desc(&x.rx, first + k)->len;
  Frame* f = total <= kMaxBigFrameLen ? pool.alloc_for(static_cast<std::uint32_t>(total)) : nullptr;
  std::uint32_t at = 0;
  for (std::uint32_t k = 0; k < ndesc; ++k) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&x.rx, first + k);
    if (f != nullptr) std::memcpy(f->data + at, x.area + d->addr, d->len);
    at += d->len;
    x.pool->put(d->addr & UmemPool::kChunkMask);
  }
  if (f == nullptr) {
    driver_drop(Drop::kOversize);
    return nullptr;
  }
  rx_gathered_.fetch_add(1, std::memory_order_relaxed);
  rx_offload(*f);
  return f;
}

// Owner worker: what XDP carries no metadata for. A TCP frame above the MTU is the peer's
// super-frame (generic XDP hands its GSO skb over as bytes, in one chunk or several): it gets
// the metadata the sender's stack gave it (mark_super_frame). Any other TCP/UDP frame of a peer
// with checksum offload has only the pseudo-header sum: completed (datapath/csum.hpp).
void AfXdpPort::rx_offload(Frame& f) noexcept {
  const std::uint32_t m = mtu();
  if (f.len > m + 14 && mark_super_frame(f, m)) return;
  if (complete_partial_l4(f.data, f.len)) csum_completed_.fetch_add(1, std::memory_order_relaxed);
}

std::uint32_t AfXdpPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  if (failed()) return 0;
  Xsk& x = *x_;
  x.pool->service();
  if (zc_out_.load(std::memory_order_relaxed) != 0 || tx_stalled_.load(std::memory_order_relaxed))
    tx_housekeeping();
  std::uint32_t want = static_cast<std::uint32_t>(std::min<std::size_t>(max, pool.available()));
  std::uint32_t idx = 0;
  // Descriptors: up to `want` frames, one of which may span kMaxRxDescs (multi-buffer).
  std::uint32_t got = want != 0 ? xsk_ring_cons__peek(&x.rx, want + kMaxRxDescs, &idx) : 0;
  if (got == 0) {
    refill();  // a new member's first poll, or chunks came back since the last one
    if (xsk_ring_prod__needs_wakeup(&x.fill) || ++idle_polls_ >= kLivenessPolls) {
      idle_polls_ = 0;
      kick_rx();
    }
    return 0;
  }
  idle_polls_ = 0;
  // The kernel has just written these frames on another CPU: start every first line's miss
  // now, so they overlap instead of stalling one by one in the loop below.
  for (std::uint32_t i = 0; i < got; ++i)
    __builtin_prefetch(x.area + xsk_ring_cons__rx_desc(&x.rx, idx + i)->addr);
  std::uint32_t n = 0, used = 0;
  for (std::uint32_t i = 0; i < got && n < want; i = ++used) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&x.rx, idx + i);
    if (d->options & XDP_PKT_CONTD) {  // a frame in several chunks (a multi-buffer socket)
      std::uint32_t last = i;
      while (last < got && (xsk_ring_cons__rx_desc(&x.rx, idx + last)->options & XDP_PKT_CONTD))
        ++last;
      if (last == got)
        break;  // its end is not in this batch (the kernel publishes whole
                // frames: only when the batch was cut short); next poll
      if (Frame* f = rx_gather(pool, idx + i, last - i + 1)) out[n++] = f;
      used = last;
      continue;
    }
    // Aligned UMEM: addr is the chunk's base plus the offset of the frame's first byte.
    const std::uint64_t chunk = d->addr & UmemPool::kChunkMask;
    if (d->len > kMaxFrameLen) {
      driver_drop(Drop::kOversize);
      x.pool->put(chunk);
      continue;
    }
    Frame* f = pool.alloc();  // cannot fail: got <= pool.available()
    f->reset(d->len);
    f->data = x.area + d->addr;  // lent, not copied
    f->ext = x.pool;
    f->ext_handle = chunk;
    x.pool->set_tag(chunk, UmemPool::kTagFrame);
    rx_offload(*f);
    out[n++] = f;
  }
  if (used < got) xsk_ring_cons__cancel(&x.rx, got - used);
  xsk_ring_cons__release(&x.rx, used);
  x.rx_held -= used;
  x.pool->set_rx_held(x.slot, x.rx_held);
  // The receive side's depth follows the load: when a poll finds the FILL ring (nearly) used
  // up, the kernel ran out of buffers or almost did: hold twice as many, up to rx_max(). After
  // 1024 polls in a row that found more than half of it left, half as many, down to the base.
  // A port that sees a trickle (TCP ACKs, ARP) never hoards what a busy one needs. (One read
  // of the FILL consumer index per poll that received something.)
  const std::uint32_t in_fill = x.fill.size - xsk_prod_nb_free(&x.fill, x.fill.size);
  if (in_fill < x.rx_target / 8) {
    x.light_polls = 0;
    x.rx_target = std::min(x.pool->rx_max(), 2 * x.rx_target);
  } else if (in_fill > x.rx_target / 2 && ++x.light_polls >= 1024) {
    x.light_polls = 0;
    x.rx_target = std::max(x.pool->rx_base(), x.rx_target / 2);
  }
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

// Under the tx lock: chunks the kernel has finished sending. Copy chunks go back to the free
// stack, shared chunks (zero copy) to the done list, which only the owner worker empties.
void AfXdpPort::reap_completions() noexcept {
  Xsk& x = *x_;
  std::uint32_t idx = 0;
  std::uint32_t done = xsk_ring_cons__peek(&x.comp, x.comp.size, &idx);
  if (done == 0) return;
  for (std::uint32_t i = 0; i < done; ++i) {
    const std::uint64_t chunk = *xsk_ring_cons__comp_addr(&x.comp, idx + i) & UmemPool::kChunkMask;
    if (x.pool->is_shared(chunk)) {
      x.zc_done[x.zc_done_n++] = chunk;
    } else {
      x.tx_free[x.tx_free_n++] = chunk;
    }
  }
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

std::string AfXdpPort::set_tx_via_qdisc(bool on) {
  if (on && qdisc_fd_ < 0) {
    const int fd = afpacket::open_sender(ifindex_);
    if (fd < 0) return "AF_PACKET socket on " + name() + ": " + std::strerror(-fd);
    qdisc_fd_ = fd;
  }
  via_qdisc_.store(on, std::memory_order_release);
  return "";
}

std::uint32_t AfXdpPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  if (failed() || n == 0) return 0;
  if (via_qdisc_.load(std::memory_order_acquire)) {
    int err = 0;
    const std::uint32_t sent = afpacket::send_frames(qdisc_fd_, items, n, err);
    if (err != 0) check_fatal(err);
    tx_qdisc_.fetch_add(sent, std::memory_order_relaxed);
    return sent;
  }
  Xsk& x = *x_;
  lock_tx();
  reap_completions();
  std::uint32_t room = std::min(n, xsk_prod_nb_free(&x.tx, n));
  std::uint32_t idx = 0;
  if (room != 0 && xsk_ring_prod__reserve(&x.tx, room, &idx) != room) room = 0;
  std::uint32_t used = 0, zc = 0;
  bool owner = false;  // a frame of this port's pool: the caller is its owner worker
  for (std::uint32_t i = 0; i < n && used < room; ++i) {
    Frame* f = items[i].frame;
    const std::uint32_t len = tx_wire_len(items[i]);
    xdp_desc* d = xsk_ring_prod__tx_desc(&x.tx, idx + used);
    if (f->ext == x.pool) {
      owner = true;
      // In place: the frame's buffer becomes this member's until its completion comes back.
      // A pushed tag goes into the headroom in front of the frame (256 bytes on receive), a
      // popped one is closed up by moving the MAC addresses over it.
      std::uint64_t off = static_cast<std::uint64_t>(f->data - x.area);
      const bool fits = tx_as_is(items[i]) || items[i].pop_tag || off - f->ext_handle >= 4;
      if (items[i].handover && fits && x.pool->zc_room()) {
        if (!tx_as_is(items[i])) {
          const VlanId vlan = items[i].push_vlan;
          if (vlan != 0 && items[i].pop_tag) {
            write_vlan_tag(x.area + off + 12, vlan);  // the tag replaced
          } else if (vlan != 0) {
            off -= 4;
            std::memmove(x.area + off, x.area + off + 4, 12);
            write_vlan_tag(x.area + off + 12, vlan);
          } else {
            std::memmove(x.area + off + 4, x.area + off, 12);
            off += 4;
          }
        }
        x.pool->set_tag(f->ext_handle, x.slot);
        x.pool->zc_sent(x.slot);
        f->ext = nullptr;  // the buffer is no longer the frame's
        d->addr = off;
        d->len = len;
        d->options = 0;
        ++used;
        ++zc;
        continue;
      }
    }
    if (len > kChunkSize || x.tx_free_n == 0) continue;  // refused
    const std::uint64_t chunk = x.tx_free[--x.tx_free_n];
    tx_copy(x.area + chunk, items[i]);  // the tag pushed or popped on the way
    d->addr = chunk;
    d->len = len;
    d->options = 0;
    ++used;
  }
  // Give back reserved entries that refused frames did not use (libxdp has no cancel for
  // producer rings; cached_prod is only ours).
  x.tx.cached_prod -= room - used;
  if (used != 0) xsk_ring_prod__submit(&x.tx, used);
  std::uint32_t out = zc_out_.load(std::memory_order_relaxed) + zc;
  if (owner) {  // only the owner returns shared chunks to the pool
    for (std::uint32_t i = 0; i < x.zc_done_n; ++i) x.pool->put(x.zc_done[i]);
    x.pool->zc_completed(x.slot, x.zc_done_n);
    out -= x.zc_done_n;
    x.zc_done_n = 0;
  }
  zc_out_.store(out, std::memory_order_relaxed);
  unlock_tx();
  if (used != 0 && xsk_ring_prod__needs_wakeup(&x.tx)) kick_tx();
  if (zc != 0) tx_zero_copy_.fetch_add(zc, std::memory_order_relaxed);
  if (used != n) tx_refused_.fetch_add(n - used, std::memory_order_relaxed);
  return used;
}

}  // namespace brisk
