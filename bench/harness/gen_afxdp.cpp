#include "bench/harness/gen_afxdp.hpp"

#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/harness/netns.hpp"
#include "bench/harness/xdp_traffic.hpp"
#include "bpf/brisk_bench_abi.h"

namespace bench {
namespace {

constexpr std::uint32_t kFrames = 2048;  // UMEM chunks (4 MiB), all of them TX buffers
constexpr std::uint32_t kChunk = 2048;
constexpr std::uint32_t kRing = 2048;  // TX and COMPLETION ring sizes
constexpr std::uint32_t kBatch = 64;   // frames put on the TX ring per loop turn

std::uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

// A TX-only XDP socket in copy mode on one device, with its UMEM; every chunk holds the
// template. One thread at a time.
class XskTx {
 public:
  XskTx(const std::string& dev, const std::vector<std::uint8_t>& frame) {
    std::size_t size = std::size_t{kFrames} * kChunk;
    area_ = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area_ == MAP_FAILED) throw std::runtime_error("UMEM: " + std::string(strerror(errno)));
    xsk_umem_config uc{};
    uc.fill_size = 64;  // unused: the socket receives nothing
    uc.comp_size = kRing;
    uc.frame_size = kChunk;
    if (int rc = xsk_umem__create(&umem_, area_, size, &fill_, &comp_, &uc); rc != 0) {
      umem_ = nullptr;
      throw std::runtime_error("AF_XDP UMEM on " + dev + ": " + strerror(-rc));
    }
    xsk_socket_config sc{};
    sc.tx_size = kRing;
    sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // transmit only: no XDP program
    sc.bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
    if (int rc = xsk_socket__create(&xsk_, dev.c_str(), 0, umem_, nullptr, &tx_, &sc); rc != 0) {
      xsk_ = nullptr;
      throw std::runtime_error("AF_XDP socket on " + dev + ": " + strerror(-rc));
    }
    fd_ = xsk_socket__fd(xsk_);
    free_.reserve(kFrames);
    for (std::uint32_t i = 0; i < kFrames; ++i) {
      std::uint64_t addr = std::uint64_t{i} * kChunk;
      std::memcpy(chunk(addr), frame.data(), frame.size());
      free_.push_back(addr);
    }
    len_ = static_cast<std::uint32_t>(frame.size());
  }
  ~XskTx() {
    if (xsk_ != nullptr) xsk_socket__delete(xsk_);
    if (umem_ != nullptr) xsk_umem__delete(umem_);
    if (area_ != MAP_FAILED) munmap(area_, std::size_t{kFrames} * kChunk);
  }
  XskTx(const XskTx&) = delete;
  XskTx& operator=(const XskTx&) = delete;

  std::uint8_t* chunk(std::uint64_t addr) { return static_cast<std::uint8_t*>(area_) + addr; }

  // Chunks the kernel has finished with go back to the free list; returns how many.
  std::uint32_t reclaim() {
    std::uint32_t idx;
    std::uint32_t n = xsk_ring_cons__peek(&comp_, kRing, &idx);
    for (std::uint32_t i = 0; i < n; ++i)
      free_.push_back(*xsk_ring_cons__comp_addr(&comp_, idx + i));
    if (n != 0) xsk_ring_cons__release(&comp_, n);
    return n;
  }

  // Puts up to n frames on the TX ring, each written by fill(frame) first; returns how many.
  template <typename Fill>
  std::uint32_t push(std::uint32_t n, Fill&& fill) {
    if (n > free_.size()) n = static_cast<std::uint32_t>(free_.size());
    std::uint32_t idx;
    n = xsk_ring_prod__reserve(&tx_, n, &idx);
    for (std::uint32_t i = 0; i < n; ++i) {
      std::uint64_t addr = free_.back();
      free_.pop_back();
      fill(chunk(addr));
      xdp_desc* d = xsk_ring_prod__tx_desc(&tx_, idx + i);
      d->addr = addr;
      d->len = len_;
      d->options = 0;
    }
    if (n != 0) xsk_ring_prod__submit(&tx_, n);
    return n;
  }

  bool busy() const { return free_.size() != kFrames; }

  // Asks the kernel to transmit what is on the TX ring; "" or the error that ends the run.
  std::string kick() {
    if (sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return {};
    switch (errno) {
      case EAGAIN:   // the device is busy: the frames stay on the ring
      case EBUSY:    // a frame was dropped by the device (completed, counted there)
      case ENOBUFS:  // no skb now
      case EINTR:
        return {};
      default:
        return std::string("AF_XDP transmit: ") + strerror(errno);
    }
  }

 private:
  void* area_ = MAP_FAILED;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{}, tx_{};
  xsk_ring_cons comp_{};
  int fd_ = -1;
  std::uint32_t len_ = 0;
  std::vector<std::uint64_t> free_;  // chunks neither on the TX ring nor in the kernel
};

namespace {

// Writes the per-frame fields bench_gen writes (bpf/brisk_bench_abi.h).
class FrameStamper {
 public:
  explicit FrameStamper(const GenSettings& s)
      : nmacs_(s.nmacs == 0 ? 1 : s.nmacs), mask_(s.stamp_mask) {}
  void operator()(std::uint8_t* p) {
    p[BENCH_OFF_SRC_MAC_LOW] = static_cast<std::uint8_t>(mac_ >> 16);
    p[BENCH_OFF_SRC_MAC_LOW + 1] = static_cast<std::uint8_t>(mac_ >> 8);
    p[BENCH_OFF_SRC_MAC_LOW + 2] = static_cast<std::uint8_t>(mac_);
    mac_ = mac_ + 1 >= nmacs_ ? 0 : mac_ + 1;
    std::uint32_t magic = BENCH_MAGIC;
    std::uint64_t ts = 0;
    if ((seq_++ & mask_) == 0) {
      magic = BENCH_MAGIC_TS;
      ts = mono_ns();
    }
    std::memcpy(p + BENCH_OFF_MAGIC, &magic, sizeof(magic));
    std::memcpy(p + BENCH_OFF_STAMP, &ts, sizeof(ts));
  }

 private:
  std::uint32_t nmacs_, mask_, mac_ = 0;
  std::uint64_t seq_ = 0;
};

// Paced runs: how many frames are due now (at most one batch), bench_gen's rule.
class Pacer {
 public:
  explicit Pacer(double fps)
      : gap_ns_(fps > 0 ? 1e9 / fps : 0), next_(static_cast<double>(mono_ns())) {}
  std::uint32_t due(std::uint32_t max) {
    if (gap_ns_ == 0) return max;
    double now = static_cast<double>(mono_ns());
    if (now - next_ > BENCH_GEN_CATCH_UP * gap_ns_) next_ = now;
    std::uint32_t n = 0;
    while (n < max && next_ <= now) {
      next_ += gap_ns_;
      ++n;
    }
    return n;
  }

 private:
  double gap_ns_, next_;
};

}  // namespace

AfXdpGenerator::AfXdpGenerator() = default;
AfXdpGenerator::~AfXdpGenerator() { stop(); }

void AfXdpGenerator::start(const GenPlace& where, const GenSettings& what) {
  stop();
  std::unique_ptr<XskTx>& xsk = sockets_[where.ns + "/" + where.dev];
  if (xsk == nullptr) {
    try {
      NetnsScope scope(where.ns);
      xsk = std::make_unique<XskTx>(where.dev, where.frame);
    } catch (const std::exception& e) {
      sockets_.erase(where.ns + "/" + where.dev);
      throw std::runtime_error(std::string("generator: ") + e.what());
    }
  }
  thread_.start([this, &x = *xsk, where, what](GenThread& t) { loop(t, x, where, what); });
}

void AfXdpGenerator::loop(GenThread& t, XskTx& xsk, const GenPlace& where,
                          const GenSettings& what) {
  pin_thread(where.cpu, where.nice);
  FrameStamper stamp(what);
  Pacer pacer(what.rate_fps);
  // The first batch is sent before the run counts as started, so a device that refuses the
  // socket's frames fails start() at once.
  if (xsk.push(pacer.due(kBatch), stamp) == 0)
    return t.fail("AF_XDP TX ring refused the first frames");
  if (std::string e = xsk.kick(); !e.empty()) return t.fail(e);
  t.running();
  while (!t.stopping()) {
    if (std::uint32_t n = xsk.reclaim(); n != 0) offered_.fetch_add(n, std::memory_order_relaxed);
    xsk.push(pacer.due(kBatch), stamp);
    if (xsk.busy())
      if (std::string e = xsk.kick(); !e.empty()) return t.fail(e);
  }
  // Let the kernel finish what is on the ring, so the count is complete (bounded: 100 ms).
  for (std::uint64_t end = mono_ns() + 100'000'000; xsk.busy() && mono_ns() < end;) {
    (void)xsk.kick();
    offered_.fetch_add(xsk.reclaim(), std::memory_order_relaxed);
  }
}

}  // namespace bench
