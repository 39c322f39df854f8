// AfXdpPort: an existing kernel netdev (a NIC, a veth end) driven through AF_XDP, the
// "system" port kind. brisk attaches its own XDP program (bpf/brisk_xdp.c) to the device and
// binds one AF_XDP socket (XSK) to one of its receive queues; the program redirects every
// frame arriving on that queue into the socket's RX ring, and frames brisk sends go out
// through the socket's TX ring. The device itself is not created, configured or removed.
//
// Setup (control thread, in the constructor)
//   * XDP program: loaded with libbpf from brisk_xdp.o (path: AfXdpOptions::bpf_object, else
//     $BRISK_BPF_DIR/brisk_xdp.o, else the build output BRISK_BPF_OBJ_PATH). Attached in
//     native (driver) mode, falling back to generic (SKB) mode when the driver has no XDP.
//     Attach uses XDP_FLAGS_UPDATE_IF_NOEXIST: a device that already runs an XDP program
//     (another brisk, xdp-loader, ...) is refused rather than taken over. libxdp's
//     multi-program dispatcher is not used (it does not work on every kernel).
//   * UMEM: one per port, `frames` chunks of 2048 bytes, page-aligned anonymous memory. The
//     first half of the chunks serve RX (they circulate through the FILL and RX rings), the
//     second half TX (TX and COMPLETION rings, and a free stack in between). Every ring has
//     as many entries as the chunks that circulate through it, so a ring never overflows.
//   * Socket: zero-copy bind (XDP_ZEROCOPY) when the program runs in native mode and the
//     driver supports it, else copy mode (XDP_COPY); always XDP_USE_NEED_WAKEUP. mode() says
//     which combination was achieved ("native/zerocopy", "native/copy", "generic/copy").
//   * libxdp (xsk.h) creates the UMEM and the socket, with its own program loading inhibited.
//   * Fast path: with AfXdpOptions::fastpath set, the program instance reuses the shared
//     brisk_fp_* maps of that XdpFastpath (datapath/xdp_fastpath.hpp) instead of creating its
//     own, so the control thread can let it forward learned unicast in the kernel. Without
//     it the program's own (empty) maps send every frame to the socket, as before.
//
// RX (one worker): a batched peek on the RX ring, each frame copied into a Frame from the
// worker's pool (the UMEM chunk goes straight back to the FILL ring, so brisk's frames never
// alias UMEM memory and the "ports never keep frames" rule holds without extra bookkeeping).
// Frames longer than kMaxFrameLen are dropped and counted (rx_oversize()). TCP/UDP frames
// whose checksum field holds only the pseudo-header sum (a peer with checksum offload: XDP
// has no CHECKSUM_PARTIAL flag) are completed in software (complete_partial_l4, counted). When the kernel
// asks for a wakeup on the FILL ring, rx_burst() kicks it with a non-blocking recvfrom().
//
// TX (any worker, concurrently): the TX ring is shared by all workers, so it is guarded by a
// small spinlock (std::atomic_flag), taken once per burst, not per frame (Open vSwitch guards
// its shared AF_XDP tx queues the same way). Under the lock: reap the COMPLETION ring into the
// free stack, reserve TX descriptors, copy each frame into a free chunk (pushing the 802.1Q
// tag when asked), submit. The lock is released before the kick (a sendto() when the ring
// asks for a wakeup), so no worker spins behind another's system call. tx_burst() returns the
// number of frames accepted: fewer when no chunk is free (completions outstanding).
//
// Errors: a device that does not exist throws std::system_error "no such device: NAME". A
// device that disappears later unbinds the socket: the next kick (sendto/recvfrom) fails with
// ENXIO and the port marks itself failed; the control thread removes it. rx_burst() also
// probes the socket once every kLivenessPolls empty polls, so an idle port notices too.
// ENETDOWN (link administratively down) is not fatal: frames wait in the ring.
//
// rx_burst() and tx_burst() never throw, allocate or log. The destructor closes the socket,
// detaches the XDP program (only if it is still the one brisk attached) and frees the UMEM.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "datapath/port.hpp"

namespace brisk {

class XdpFastpath;

struct AfXdpOptions {
  enum class XdpMode : std::uint8_t { kAuto, kNative, kGeneric };
  std::uint32_t queue_id = 0;      // receive queue to bind (veth: 0)
  std::uint32_t frames = 4096;     // UMEM chunks, a power of two >= 64: half RX, half TX
  XdpMode xdp_mode = XdpMode::kAuto;  // kAuto: native, falling back to generic
  bool zero_copy = true;           // try a zero-copy bind (native mode only)
  std::string bpf_object;          // empty: default_bpf_object()
  // Shared fast-path maps to reuse (not owned; must outlive the port). nullptr: none.
  const XdpFastpath* fastpath = nullptr;
};

// Kernel socket statistics (XDP_STATISTICS), read on the control thread.
struct AfXdpStats {
  std::uint64_t rx_dropped = 0;           // frames the kernel dropped (no room, too long)
  std::uint64_t rx_invalid_descs = 0;
  std::uint64_t tx_invalid_descs = 0;
  std::uint64_t rx_ring_full = 0;
  std::uint64_t rx_fill_ring_empty = 0;
  std::uint64_t tx_ring_empty = 0;
};

class AfXdpPort final : public Port {
 public:
  static constexpr std::uint32_t kChunkSize = 2048;
  // rx_burst() probes an idle socket for a vanished device once per this many empty polls.
  static constexpr std::uint32_t kLivenessPolls = 1024;

  // Attaches to the existing device `ifname`. Throws std::system_error whose what() names the
  // device and the step that failed ("no such device: veth9", "... already has an XDP
  // program", missing BPF object, bind errors).
  AfXdpPort(const std::string& ifname, const AfXdpOptions& opts = {});
  ~AfXdpPort() override;

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;
  // The XSK: POLLIN when the RX ring holds frames.
  int wait_fd() const noexcept override;

  // "native/zerocopy", "native/copy" or "generic/copy".
  const std::string& mode() const { return mode_; }
  bool native() const { return mode_.rfind("native", 0) == 0; }
  int ifindex() const { return ifindex_; }
  std::uint32_t queue_id() const { return queue_id_; }
  // Frames received longer than kMaxFrameLen and dropped.
  std::uint64_t rx_oversize() const { return rx_oversize_.load(std::memory_order_relaxed); }
  // Partial TCP/UDP checksums completed in software.
  std::uint64_t rx_csum_completed() const { return csum_completed_.load(std::memory_order_relaxed); }
  // Frames tx_burst() refused for lack of a free TX chunk or because they did not fit one.
  std::uint64_t tx_refused() const { return tx_refused_.load(std::memory_order_relaxed); }
  AfXdpStats kernel_stats() const;

  // Where the XDP object is looked for when AfXdpOptions::bpf_object is empty:
  // $BRISK_BPF_DIR/brisk_xdp.o if BRISK_BPF_DIR is set, else the build output.
  static std::string default_bpf_object();

 private:
  struct Xsk;  // libbpf/libxdp state: rings, UMEM, socket, BPF object (afxdp_port.cpp)

  void close_all() noexcept;
  void lock_tx() noexcept;
  void unlock_tx() noexcept { tx_lock_.clear(std::memory_order_release); }
  void kick_rx() noexcept;
  void kick_tx() noexcept;
  void refill() noexcept;
  void reap_completions() noexcept;
  bool check_fatal(int err) noexcept;

  std::unique_ptr<Xsk> x_;
  std::string mode_;
  int ifindex_ = 0;
  std::uint32_t queue_id_ = 0;
  std::uint32_t idle_polls_ = 0;  // rx worker only
  std::atomic<std::uint64_t> rx_oversize_{0};
  std::atomic<std::uint64_t> csum_completed_{0};
  alignas(64) std::atomic_flag tx_lock_ = ATOMIC_FLAG_INIT;
  std::atomic<std::uint64_t> tx_refused_{0};
  // Set by kick_tx() when it gave up with descriptors still in the TX ring (the kernel kept
  // answering EAGAIN/EBUSY), cleared when a kick drains it. The rx worker kicks again while
  // it is set, so frames counted as sent never wait in the ring for the port's next
  // transmission. Any thread may write it; relaxed: it only asks for one more sendto().
  std::atomic<bool> tx_stalled_{false};
};

}  // namespace brisk
