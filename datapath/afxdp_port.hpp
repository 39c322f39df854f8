// AfXdpPort: an existing kernel netdev (a NIC, a veth end) driven through AF_XDP, the
// "system" port kind. brisk attaches its own XDP program (bpf/brisk_xdp.c) to the device and
// binds one AF_XDP socket (XSK) to one of its receive queues; the program redirects every
// frame arriving on that queue into the socket's RX ring, and frames brisk sends go out
// through the socket's TX ring. The device itself is not created, configured or removed.
//
// Setup (control thread, in the constructor)
//   * XDP program: brisk_xdp.o loaded and attached by datapath/xdp_loader.hpp (path:
//     AfXdpOptions::bpf_object, else find_bpf_object() of datapath/bpf_objects.hpp:
//     $BRISK_BPF_DIR, next to the binary, the install directory), in native (driver) or
//     generic (SKB) mode by AfXdpOptions::xdp_mode (kAuto: generic on a veth, native
//     elsewhere falling back to generic). A device that already runs an XDP program
//     (another brisk, xdp-loader, ...) is refused rather than taken over. libxdp's
//     multi-program dispatcher is not used (it does not work on every kernel).
//   * UMEM (datapath/umem_pool.hpp): with AfXdpOptions::umems set, the port joins the UMEM
//     its worker's AF_XDP ports share (UmemRegistry, one per worker and mode, 8 MiB): the
//     first member registers it, later ones bind with XDP_SHARED_UMEM and their own FILL and
//     COMPLETION rings. Without umems, or when sharing is refused, the port has a UMEM of its
//     own (AfXdpOptions::frames chunks, half receive, half transmit). Fallback
//     order: the worker's zero-copy pool (native XDP, zero_copy wanted), the worker's
//     copy-mode pool, an own UMEM in zero-copy then copy mode. A shared pool is refused when
//     all its slots are taken or still retiring, when its mode does not fit the driver (a
//     shared bind inherits the first member's zero-copy or copy mode), or when the driver
//     refuses the shared bind. umem_shared() says which one the port got.
//   * Sockets are created with raw system calls (socket, setsockopt, mmap, bind) rather than
//     libxdp's xsk_socket__create_shared(), which binds later members to the first member's
//     socket and keeps that socket bound to its queue until the UMEM is deleted: a deleted
//     first member's queue could not be bound again. libxdp's ring helpers (xsk.h) are used.
//   * Zero-copy bind (XDP_ZEROCOPY) when the program runs in native mode and the driver
//     supports it, else copy mode (XDP_COPY); always XDP_USE_NEED_WAKEUP. mode() says
//     which combination was achieved ("native/zerocopy", "native/copy", "generic/copy").
//   * Fast path: with AfXdpOptions::fastpath_maps set, the program instance reuses those
//     shared brisk_fp_* maps (XdpFastpath::shared_maps(), datapath/xdp_fastpath.hpp) instead
//     of creating its own, so the control thread can let it forward learned unicast in the kernel.
//     Without it the program's own (empty) maps send every frame to the socket. With it, the same
//     object's tc program (BRISK_TC_PROG) is attached at the device's clsact ingress too
//     (the clsact qdisc created if missing, and then removed again by the destructor): the
//     fast path's half for what XDP cannot carry (xdp_fastpath.hpp, "Frames XDP cannot
//     carry"). A device where that fails (tc_attached() false) keeps the XDP half alone.
//   * The program is frags-aware (SEC("xdp.frags")): the kernel lets a veth peer's MTU go
//     above a page (9000) under it. Frames longer than a chunk still go no further than the
//     program (below).
//
// RX (the owner worker, the one that polls the port and every other member of its UMEM): a
// batched peek on the RX ring; each frame is lent to a Frame of the worker's pool without a
// copy (Frame::ext = the UMEM pool, data inside the chunk; the chunk returns to the pool's
// free stack when the Frame is released). Then, once per burst, the FILL ring is topped up
// from the pool's free stack to the member's target depth, as far as the pool allows
// (UmemPool::rx_allowance: never what other members are owed). The target follows the load:
// it starts at the pool's base (96 chunks), doubles when a receiving poll finds the FILL ring
// (nearly) empty (the kernel ran out of buffers), up to 2048, and halves after 1024 polls in a
// row that found more than half of it left; a port with an own UMEM keeps 2048. So
// a port that sees a trickle (TCP ACKs) never hoards the chunks a busy one needs.
// A frame longer than a UMEM chunk takes (2048 bytes less the kernel's 256 bytes of headroom:
// 1792) is dropped by brisk's XDP program and counted as the port's `oversize` drop (read
// from the program's brisk_oversize map, mmap()ed). TCP/UDP frames
// whose checksum field holds only the pseudo-header sum (a peer with checksum offload: XDP
// has no CHECKSUM_PARTIAL flag) are completed in software (complete_partial_l4, counted), in
// place. When the kernel asks for a wakeup on the FILL ring, rx_burst() kicks it with a
// non-blocking recvfrom(). Before receiving, rx_burst() returns this port's completed
// zero-copy chunks to the pool (a try-lock of the tx lock, only when some are outstanding),
// kicks a TX ring that the last kick left unfinished (tx_stalled_), and lets the pool reclaim
// the chunks of deleted members (UmemPool::service()). A member that joins a pool already in
// use starts with an empty FILL ring: the owner fills it on its first poll (the worker polls
// every port right after a new snapshot is published).
//
// TX (any worker, concurrently): the TX ring is shared by all workers, so it is guarded by a
// small spinlock (std::atomic_flag), taken once per burst, not per frame (Open vSwitch guards
// its shared AF_XDP tx queues the same way). Under the lock: reap the COMPLETION ring (copy
// chunks to the port's free stack, shared chunks to its done list), reserve TX descriptors,
// and per frame either
//   * zero copy: the frame's buffer is a chunk of this port's UMEM, the item hands it over
//     (TxItem::handover: the frame's last destination) and the pool has room for another
//     zero-copy transmission (UmemPool::zc_room(): copy-mode devices complete a frame only
//     when the receiver frees its skb). Its address goes into the TX ring as it is (an
//     802.1Q tag is pushed into the 256 bytes of headroom in front of the frame, popped by
//     moving the MAC addresses over it, or replaced, in place); the chunk is tagged as this
//     member's until its completion comes back. Only the
//     owner worker holds such frames, so only it does this, and only it moves the done list
//     back to the pool's free stack (in this tx_burst or in its next rx_burst);
//   * copy: into a free chunk of the port's own copy chunks (tx_copy(): the tag pushed or
//     popped on the way): frames from taps, tunnels, other workers, other UMEMs, every
//     destination of a flood but the last.
// Then submit. The lock is released before the kick (a sendto() when the ring asks for a
// wakeup), so no worker spins behind another's system call. tx_burst() returns the number of
// frames accepted: fewer when no copy chunk or TX entry is free (completions outstanding).
//
// TX through the device's qdisc: the XSK's transmit (and XDP redirects into the device) hand
// frames to the driver directly, past the qdisc layer; a qdisc someone installed on the device
// (tc qdisc replace dev D root tbf ..., minimega's `qos add`) would not see them. While the
// control thread says the device has one (set_tx_via_qdisc(true): Switch checks every second,
// control/netdev.hpp installed_qdiscs()), tx_burst() sends through an AF_PACKET socket bound
// to the device instead (afpacket::send_frames: sendmmsg, dev_queue_xmit, the qdisc), copying
// every frame (no zero copy, the tx lock and the TX ring are not touched). Frames already in
// the TX ring when the path switches still leave through it.
//   Thread-safety: the packet socket is opened by the control thread on the first switch to
//   the qdisc path and stays open until the destructor; its descriptor (qdisc_fd_) is written
//   before via_qdisc_ is first stored true (release) and never changes after, so a worker that
//   loads via_qdisc_ true (acquire) sees it. via_qdisc_ is written only by the control thread;
//   a worker may finish a burst on the path it loaded after the flag changed (harmless: both
//   paths deliver). tx_via_qdisc_frames() counts the frames sent this way (relaxed).
//
// Errors: a device that does not exist throws std::system_error "no such device: NAME". A
// device that disappears later unbinds the socket: the next kick (sendto/recvfrom) fails with
// ENXIO and the port marks itself failed; the control thread removes it. rx_burst() also
// probes the socket once every kLivenessPolls empty polls, so an idle port notices too.
// ENETDOWN (link administratively down) is not fatal: frames wait in the ring.
//
// rx_burst() and tx_burst() never throw, allocate or log. The destructor (control thread,
// after the QSBR grace period) closes the socket (unmapping its rings first, so the close
// releases it at once), detaches the XDP program (only if it is still the one brisk attached)
// and retires its slot in the UMEM pool: the chunks in its custody return to the pool's free
// stack after UmemPool::kRetireDelayNs (umem_pool.hpp). The last member frees the UMEM.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "datapath/counters.hpp"
#include "datapath/port.hpp"
#include "datapath/xdp_loader.hpp"

namespace brisk {

struct XdpSharedMaps;
class UmemPool;
class UmemRegistry;

struct AfXdpOptions {
  using XdpMode = brisk::XdpMode;  // datapath/xdp_loader.hpp
  std::uint32_t queue_id = 0;      // receive queue to bind (veth: 0)
  std::uint32_t frames = 4096;     // own UMEM: chunks, a power of two >= 64: half RX, half TX
  // Shared UMEMs (not owned; must outlive the port): the port joins the pool of `worker`, the
  // worker that will poll it. nullptr: an own UMEM.
  UmemRegistry* umems = nullptr;
  unsigned worker = 0;
  // kAuto: generic on a veth (native XDP on a veth turns its peer's TSO off, the kernel's rule
  // in veth_xdp_set; generic leaves the peer alone), native elsewhere, falling back to generic.
  XdpMode xdp_mode = XdpMode::kAuto;
  bool zero_copy = true;   // try a zero-copy bind (native mode only)
  std::string bpf_object;  // empty: xdp_object_path()'s search (datapath/xdp_loader.hpp)
  // The fast path's shared maps to reuse (XdpFastpath::shared_maps(); not owned, must
  // outlive the port). nullptr: no fast path (the program's own, empty, maps).
  const XdpSharedMaps* fastpath_maps = nullptr;
};

// Kernel socket statistics (XDP_STATISTICS), read on the control thread. What each counts
// (net/xdp/xsk.c, xsk_buff_pool.c):
//   rx_dropped          received frames the socket refused: longer than a chunk (ENOSPC,
//                       without XDP_USE_SG), and in copy mode also those that found the FILL
//                       ring empty (ENOMEM; counted in rx_fill_ring_empty too)
//   rx_ring_full        received frames lost because the RX ring was full (not in rx_dropped)
//   rx_fill_ring_empty  times the kernel looked for a buffer in the FILL ring and found none:
//                       in copy mode one lost frame each; a zero-copy driver retries
//   rx_invalid_descs    FILL ring entries with a bad address (skipped; not frames)
//   tx_invalid_descs    TX descriptors the kernel refused (bad address or length): lost frames
//   tx_ring_empty       times the kernel found the TX ring empty when it looked (not frames)
struct AfXdpStats {
  std::uint64_t rx_dropped = 0;
  std::uint64_t rx_invalid_descs = 0;
  std::uint64_t tx_invalid_descs = 0;
  std::uint64_t rx_ring_full = 0;
  std::uint64_t rx_fill_ring_empty = 0;
  std::uint64_t tx_ring_empty = 0;
};

// The frames behind the kernel's counters, as brisk's named drops (datapath/counters.hpp):
// each lost frame under exactly one reason. kXskNoBuffer: FILL ring empty (copy mode; a
// zero-copy driver's empty-ring count is an event, not a frame, and stays out); kXskRxRefused:
// the rest of rx_dropped (too long); kXskRxRingFull; kXskTxInvalid. 0 for any other reason.
std::uint64_t xsk_drops(const AfXdpStats& s, bool zero_copy, Drop d);

class AfXdpPort final : public Port {
 public:
  static constexpr std::uint32_t kChunkSize = 2048;  // = UmemPool::kChunkSize
  // The most descriptors one received frame spans on a multi-buffer socket (XDP_USE_SG): a big
  // buffer's worth of chunks' data (kChunkSize less the kernel's 256 bytes of headroom).
  static constexpr std::uint32_t kMaxRxDescs = (kMaxBigFrameLen + 1791) / 1792;
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
  // brisk's tc program runs at the device's clsact ingress (with AfXdpOptions::fastpath_maps).
  bool tc_attached() const;
  int ifindex() const override { return ifindex_; }
  PortInfo info() const override {
    return {"afxdp", QdiscPath::kSwitchable, tx_via_qdisc(), true, true, native(), tc_attached()};
  }
  // mode, UMEM, zero-copy and qdisc-path counts, the socket's kernel counters ("xsk") and a
  // census of its UMEM ("umem").
  void describe(DriverFigures& out) const override;
  std::uint32_t queue_id() const { return queue_id_; }
  // Frames too long for a UMEM chunk (dropped by brisk's XDP program) or for a Frame, dropped:
  // the port's `oversize` drops.
  std::uint64_t rx_oversize() const { return driver_drops(Drop::kOversize); }
  // Also the frames the kernel refused to hand over or take (xsk_drops() of kernel_stats()).
  std::uint64_t driver_drops(Drop d) const override;
  // Partial TCP/UDP checksums completed in software.
  std::uint64_t rx_csum_completed() const {
    return csum_completed_.load(std::memory_order_relaxed);
  }
  // Frames received in several chunks (a multi-buffer socket) and gathered into big buffers.
  std::uint64_t rx_gathered() const { return rx_gathered_.load(std::memory_order_relaxed); }
  // The socket takes frames longer than a chunk (XDP_USE_SG; the UMEM's first member's mode).
  bool multi_buffer() const;
  // Frames tx_burst() refused for lack of a free TX chunk or because they did not fit one.
  std::uint64_t tx_refused() const { return tx_refused_.load(std::memory_order_relaxed); }
  // Frames transmitted from the buffer they were received in (no copy in brisk).
  std::uint64_t tx_zero_copy() const { return tx_zero_copy_.load(std::memory_order_relaxed); }
  // Control thread: send through the device's qdisc (on) or the XSK (off); see "TX through
  // the device's qdisc". Returns "" or why the packet socket could not be opened (the port
  // then keeps sending through the XSK).
  std::string set_tx_via_qdisc(bool on) override;
  bool tx_via_qdisc() const { return via_qdisc_.load(std::memory_order_relaxed); }
  std::uint64_t tx_via_qdisc_frames() const { return tx_qdisc_.load(std::memory_order_relaxed); }
  // The UMEM: shared with the worker's other AF_XDP ports, or the port's own.
  bool umem_shared() const;
  const UmemPool& umem() const;
  std::uint32_t umem_slot() const;
  AfXdpStats kernel_stats() const;

  struct Xsk;  // rings, socket, UMEM pool, BPF object (afxdp_port.cpp)

 private:
  void close_all() noexcept;
  void lock_tx() noexcept;
  void unlock_tx() noexcept { tx_lock_.clear(std::memory_order_release); }
  void kick_rx() noexcept;
  void kick_tx() noexcept;
  void refill() noexcept;
  void reap_completions() noexcept;
  void tx_housekeeping() noexcept;
  bool check_fatal(int err) noexcept;
  Frame* rx_gather(FramePool& pool, std::uint32_t first, std::uint32_t ndesc) noexcept;
  void rx_offload(Frame& f) noexcept;

  std::unique_ptr<Xsk> x_;
  std::string mode_;
  int ifindex_ = 0;
  std::uint32_t queue_id_ = 0;
  std::uint32_t idle_polls_ = 0;  // rx worker only
  std::atomic<std::uint64_t> csum_completed_{0};
  std::atomic<std::uint64_t> rx_gathered_{0};
  alignas(64) std::atomic_flag tx_lock_ = ATOMIC_FLAG_INIT;
  std::atomic<std::uint64_t> tx_refused_{0};
  std::atomic<std::uint64_t> tx_zero_copy_{0};
  // Shared chunks handed to this port's TX ring and not yet back on the pool's free stack.
  // Written under the tx lock; rx_burst() reads it without the lock as a hint.
  std::atomic<std::uint32_t> zc_out_{0};
  // Set by kick_tx() when it gave up with descriptors still in the TX ring (the kernel kept
  // answering EAGAIN/EBUSY), cleared when a kick drains it. The rx worker kicks again while
  // it is set, so frames counted as sent never wait in the ring for the port's next
  // transmission. Any thread may write it; relaxed: it only asks for one more sendto().
  std::atomic<bool> tx_stalled_{false};
  // The qdisc path (see "TX through the device's qdisc"): the packet socket, -1 until first
  // needed; the switch; frames sent through it.
  int qdisc_fd_ = -1;
  std::atomic<bool> via_qdisc_{false};
  std::atomic<std::uint64_t> tx_qdisc_{0};
};

}  // namespace brisk
