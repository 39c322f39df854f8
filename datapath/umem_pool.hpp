// UmemPool: one AF_XDP UMEM shared by the AF_XDP ports (datapath/afxdp_port.hpp) one worker
// polls, so a frame received on one of them and forwarded to another is transmitted from the
// buffer it arrived in: no memcpy in brisk (copy-mode drivers such as veth still copy inside
// the kernel, once on receive and once on transmit, as they do for every AF_XDP socket).
//
// Kernel side (Documentation/networking/af_xdp.rst, "XDP_SHARED_UMEM bind flag"; kernel >= 5.10
// shares a UMEM between different devices and queues): the first member's socket registers the
// UMEM (XDP_UMEM_REG) and binds normally; every further member creates its own FILL and
// COMPLETION rings (as well as RX and TX) and binds with XDP_SHARED_UMEM naming any bound
// member's socket. A shared bind takes no mode flags: zero-copy or copy mode and need_wakeup are
// inherited from the UMEM's first bind, so copy-mode and zero-copy ports never share a pool
// (UmemRegistry keeps one pool per worker and mode). Any bound member can be the one new
// members name, so the first member may leave first: the kernel keeps the UMEM while any
// socket uses it.
//
// Layout: `frames` chunks of kChunkSize bytes (aligned mode, no extra headroom: the kernel puts
// a received frame XDP_PACKET_HEADROOM = 256 bytes into its chunk).
//   [0, shared)                      the shared chunks: receive buffers of every member, and
//                                    buffers in flight between members (zero copy)
//   [shared + s*copy, +copy)         member slot s's copy chunks: frames that are not in this
//                                    UMEM (from taps, tunnels, other workers' ports, floods)
//                                    are copied into these for transmission
// shared = frames - max_ports * copy. The shared default (UmemGeometry::shared()) is 4096
// chunks = 8 MiB, the host's locked-memory limit (TESTBED.md; root's CAP_IPC_LOCK exempts it,
// but one pool per worker must not depend on that): 8 member slots with 128 copy chunks each,
// 3072 shared chunks. The memory is 2 MiB aligned and advised for transparent huge pages.
//
// Receive buffers: a member may keep up to rx_max() = 2048 chunks on its receive side (FILL
// and RX rings), the depth of an own UMEM, so a worker that loses its CPU for a while (a busy
// host) finds as much waiting as with one. But idle or lightly loaded members must never hold
// the chunks a busy or a new member needs, and a FILL ring cannot be taken back. So:
//   * every slot is owed a base of rx_base() = shared / (4 * max_ports) = 96 chunks, and a
//     member may take chunks beyond its base only from what the free stack holds above the
//     sum of what the other slots (live, free or retiring) are still owed (rx_allowance()):
//     every member, present or future, can always fill its base;
//   * each member aims at a target depth that follows its load (AfXdpPort: it starts at the
//     base, doubles when the kernel (nearly) ran out of its buffers, halves when they stay
//     unused), so a port that sees a trickle does not sit on 2048 chunks;
//   * zero-copy transmissions in flight are limited to zc_limit() = shared / 4 (see there).
//
// Ownership of a shared chunk, recorded in its tag (set_tag(); one relaxed atomic byte per
// chunk, so census() may scan them from the control thread):
//   free      on the pool's free stack (owner worker)
//   slot s    in member s's custody: its FILL or RX ring (receive side), or its TX or
//             COMPLETION ring or its completed-but-not-yet-returned list (transmit side)
//   frame     in a Frame of the owner worker's pipeline (Frame::ext == this pool)
// and its path:   free --take()--> FILL(A) --kernel--> RX(A) --rx_burst--> Frame
//   Frame --flush, last destination B in this pool (TxItem::handover)--> TX(B) --kernel-->
//   COMPLETION(B) --reap--> B's done list --owner--> free
//   Frame --dropped, or copied to every destination--> released --recycle()--> free
// Floods and mirrors: the last destination of a frame in this pool takes its buffer (TxQueues
// flushes a frame's queues in turn; TxItem::handover marks the item whose transmission holds
// the frame's last reference), every earlier destination gets a copy. No per-chunk reference
// counts: a chunk is in exactly one place.
//
// Threads
// * Owner worker (the one that polls every member): take(), pop(), put(), recycle(),
//   service(), set_rx_held(), rx_allowance(), zc_*(), the free stack and every tag write. A
//   member's FILL and RX rings are the owner's alone. All members of a pool are polled by one
//   worker (UmemRegistry is keyed by worker, and brisk never moves a port to another worker), so
//   each pool has exactly one owner thread.
// * Any worker: transmitting to a member (copies into its copy chunks, under the member's tx
//   lock; see afxdp_port.hpp). Only the owner can hold a Frame of this pool, so only the owner
//   ever hands a shared chunk to a TX ring; another worker that reaps a member's COMPLETION
//   ring under the tx lock leaves shared chunks on the member's done list for the owner.
// * Control thread: construction, slots (reserve_slot / member_bound / cancel_slot /
//   retire_slot), share_fd(), census(). Before a pool's first member is bound no worker
//   knows the pool, so the control thread may take() to fill that member's FILL ring.
//
// A member leaves (port deleted, after the QSBR grace period: no worker can reach it): its
// socket is closed first (the kernel stops using its rings; xsk_release synchronises with the
// receive path), then retire_slot() marks the slot retiring. Every chunk still tagged with the
// slot (in its rings, done list, anywhere in its custody) is returned to the free stack by the
// owner worker's service() once kRetireDelayNs has passed (copy mode is done with a chunk once
// sendto() has copied it into an skb, but zero-copy drivers release a closed socket's buffers
// in deferred work), and only then is the slot (and its copy chunks) free
// for a new member. Memory order: retire_slot() stores the deadline and then the state with
// release; service() loads the state with acquire, scans the tags (relaxed: the owner wrote
// them itself; tags of a retired slot are no longer written by anyone), and publishes the free
// slot with a release store that reserve_slot() loads with acquire.
//
// A pool dies with its last member (members hold it by shared_ptr; UmemRegistry by weak_ptr).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "datapath/frame.hpp"

namespace brisk {

struct UmemGeometry {
  std::uint32_t frames = 4096;      // chunks, a power of two >= 64
  std::uint32_t max_ports = 8;      // member slots, 1..64
  std::uint32_t copy_frames = 128;  // copy chunks per slot, a power of two >= 32
  std::uint32_t rx_most = 2048;     // receive chunks one member may hold at most

  std::uint32_t shared_frames() const { return frames - max_ports * copy_frames; }
  // Receive chunks (FILL + RX) every slot is owed, and the most one member may hold.
  std::uint32_t rx_base() const { return shared_frames() / (4 * max_ports); }
  std::uint32_t rx_max() const { return shared_frames() < rx_most ? shared_frames() : rx_most; }
  // What UmemRegistry gives each worker: 8 MiB, 8 members.
  static UmemGeometry shared() { return UmemGeometry{}; }
  // A port's own pool (no sharing): half receive, half transmit.
  static UmemGeometry single(std::uint32_t frames) {
    return UmemGeometry{frames, 1, frames / 2, frames / 2};
  }
  // Empty when usable, else what is wrong.
  const char* check() const;
};

class UmemPool final : public BufferOwner {
 public:
  static constexpr std::uint32_t kChunkSize = 2048;
  static constexpr std::uint32_t kChunkShift = 11;
  static constexpr std::uint64_t kChunkMask = ~std::uint64_t{kChunkSize - 1};
  static constexpr std::uint8_t kTagFree = 0xff;
  static constexpr std::uint8_t kTagFrame = 0xfe;
  static constexpr std::uint64_t kRetireDelayNs = 100'000'000;  // 100 ms

  // Allocates the memory (page-aligned, anonymous; registered with the kernel by the first
  // member). Throws std::system_error.
  explicit UmemPool(const UmemGeometry& g);
  ~UmemPool();
  UmemPool(const UmemPool&) = delete;
  UmemPool& operator=(const UmemPool&) = delete;

  const UmemGeometry& geometry() const { return g_; }
  bool zero_copy() const { return zero_copy_; }
  // Bound with XDP_USE_SG: the kernel hands over a frame longer than a chunk in several
  // descriptors (XDP_PKT_CONTD on all but the last). Members inherit it from the first.
  bool multi_buffer() const { return multi_buffer_; }
  std::uint8_t* area() const { return area_; }
  std::size_t area_size() const { return area_size_; }
  std::uint32_t rx_base() const { return g_.rx_base(); }
  std::uint32_t rx_max() const { return g_.rx_max(); }
  std::uint32_t shared_frames() const { return shared_; }
  bool is_shared(std::uint64_t addr) const { return (addr >> kChunkShift) < shared_; }
  // First chunk address of slot s's copy chunks.
  std::uint64_t copy_base(std::uint32_t slot) const {
    return (std::uint64_t{shared_} + std::uint64_t{slot} * g_.copy_frames) << kChunkShift;
  }

  // ---- control thread ----
  // A free slot for a new member, nullopt when every slot is in use or still retiring.
  std::optional<std::uint32_t> reserve_slot();
  // The member in `slot` is bound; `fd` (its socket) may be named by later members. The
  // first member's mode (zero_copy, multi_buffer) is the pool's.
  void member_bound(std::uint32_t slot, int fd, bool zero_copy, bool multi_buffer = false);
  // A reserved slot whose member never bound (nothing was lent to it).
  void cancel_slot(std::uint32_t slot);
  // The member's socket is closed; its chunks come back after kRetireDelayNs (service()).
  void retire_slot(std::uint32_t slot);
  // A bound member's socket for XDP_SHARED_UMEM, or -1: the next member registers the UMEM.
  int share_fd() const;
  std::uint32_t members() const { return members_; }

  // ---- owner worker (see the contract above) ----
  // Up to n free chunk addresses into out, now in `tag`'s custody. Returns how many.
  std::uint32_t take(std::uint64_t* out, std::uint32_t n, std::uint8_t tag) noexcept {
    std::uint32_t k = n < free_n_ ? n : free_n_;
    for (std::uint32_t i = 0; i < k; ++i) {
      std::uint32_t c = free_[--free_n_];
      tags_[c].store(tag, std::memory_order_relaxed);
      out[i] = std::uint64_t{c} << kChunkShift;
    }
    return k;
  }
  // One free chunk, now in `tag`'s custody; the caller checked free_count() (or rx_allowance()).
  std::uint64_t pop(std::uint8_t tag) noexcept {
    std::uint32_t c = free_[--free_n_];
    tags_[c].store(tag, std::memory_order_relaxed);
    return std::uint64_t{c} << kChunkShift;
  }
  // A shared chunk (any address inside it) back to the free stack.
  void put(std::uint64_t addr) noexcept {
    std::uint32_t c = static_cast<std::uint32_t>(addr >> kChunkShift);
    tags_[c].store(kTagFree, std::memory_order_relaxed);
    free_[free_n_++] = c;
  }
  void set_tag(std::uint64_t addr, std::uint8_t tag) noexcept {
    tags_[addr >> kChunkShift].store(tag, std::memory_order_relaxed);
  }
  // Zero-copy transmissions in flight (shared chunks in TX and COMPLETION rings and done
  // lists): at most zc_limit() = shared / 4. A copy-mode device completes a transmitted frame
  // only when its skb is freed, which a slow receiver can put off (a TCP socket's backlog
  // holds thousands); without a limit, those chunks would starve every receive side. Beyond
  // it, frames are copied (the member's copy chunks), as without sharing.
  std::uint32_t zc_limit() const { return shared_ / 4; }
  bool zc_room() const noexcept { return zc_inflight_ < shared_ / 4; }
  void zc_sent(std::uint32_t slot) noexcept {
    ++zc_inflight_;
    ++zc_by_slot_[slot];
  }
  void zc_completed(std::uint32_t slot, std::uint32_t n) noexcept {
    zc_inflight_ -= n;
    zc_by_slot_[slot] -= n;
  }
  std::uint32_t zc_inflight() const { return zc_inflight_; }  // owner worker, or quiescent
  // Member `slot` holds `held` chunks on its receive side (it reports every change).
  void set_rx_held(std::uint32_t slot, std::uint32_t held) noexcept { rx_held_[slot] = held; }
  // How many free chunks member `slot` may take for its receive side now: up to rx_max() in
  // all, never touching what the other slots are owed of their base (see the header).
  std::uint32_t rx_allowance(std::uint32_t slot) const noexcept;
  // A Frame holding a chunk of this pool was released (FramePool::free).
  void recycle(std::uint64_t handle) noexcept override { put(handle); }
  // Returns the chunks of retired slots whose delay has passed. Cheap when none is retiring.
  void service() noexcept {
    if (retiring_.load(std::memory_order_acquire) != 0) [[unlikely]]
      reclaim_retired();
  }
  // Free chunks (owner worker, or any thread while no worker runs the pool's members).
  std::uint32_t free_count() const { return free_n_; }

  // ---- diagnostics (tests, `port` JSON): a scan of the tags ----
  struct Census {
    std::uint32_t free = 0;
    std::uint32_t frames = 0;  // in Frames
    std::vector<std::uint32_t> by_slot;
  };
  Census census() const;

 private:
  enum SlotState : std::uint8_t { kSlotFree, kSlotReserved, kSlotLive, kSlotRetiring };
  struct Slot {
    std::atomic<std::uint8_t> state{kSlotFree};
    std::atomic<std::uint64_t> deadline_ns{0};
    int fd = -1;  // control thread only
  };
  void reclaim_retired() noexcept;

  UmemGeometry g_;
  bool zero_copy_ = false;
  bool multi_buffer_ = false;
  std::uint32_t shared_;
  std::uint8_t* area_ = nullptr;
  std::size_t area_size_ = 0;
  std::unique_ptr<std::atomic<std::uint8_t>[]> tags_;
  std::unique_ptr<std::uint32_t[]> free_;
  std::uint32_t free_n_ = 0;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<std::uint32_t[]> rx_held_;     // owner worker: per slot, FILL + RX
  std::unique_ptr<std::uint32_t[]> zc_by_slot_;  // owner worker: per slot, zero copy in flight
  std::uint32_t zc_inflight_ = 0;                // owner worker
  std::uint32_t members_ = 0;                    // control thread
  alignas(64) std::atomic<std::uint32_t> retiring_{0};
};

// One shared pool per (worker, zero-copy mode), created on demand and gone with its last
// member. Control thread only.
class UmemRegistry {
 public:
  explicit UmemRegistry(UmemGeometry g = UmemGeometry::shared()) : g_(g) {}
  // The worker's pool for that mode (a new, empty one if it has none). Throws like UmemPool.
  std::shared_ptr<UmemPool> get(unsigned worker, bool zero_copy);
  const UmemGeometry& geometry() const { return g_; }

 private:
  UmemGeometry g_;
  std::map<std::pair<unsigned, bool>, std::weak_ptr<UmemPool>> pools_;
};

}  // namespace brisk
