// VhostPort: a VM's virtio-net device over vhost-user shared memory, through DPDK's vhost
// library (librte_vhost). brisk is the vhost back end; QEMU (or DPDK's virtio-user) is the
// front end and owns the guest memory, which it shares with brisk over the socket.
//
// Modes
//   * client (default): the front end serves the Unix socket (QEMU `-chardev
//     socket,...,server=on`); brisk connects, and when the peer goes away (VM shut down,
//     QEMU or testpmd restarted) the library's reconnect thread retries once a second, so a
//     restarted guest gets its port back with no command (RTE_VHOST_USER_CLIENT, reconnect
//     on). The socket need not exist when the port is created.
//   * server: brisk creates and listens on the socket (a stale socket file that nobody
//     listens on is removed first); the front end connects, and reconnects after a brisk
//     restart if it was started with `reconnect=N`.
//
// Features: the checksum and TCP segmentation offloads are negotiated (CSUM, GUEST_CSUM,
// HOST_TSO4/6, GUEST_TSO4/6); ECN and UFO are withdrawn (brisk's Offload cannot say them the
// way the library reports them). A guest's partial checksums and TSO super-frames (up to
// 64 KiB) come in whole, their virtio_net_hdr mapped to Frame::off (datapath/vhost_offload.hpp);
// toward the guest, tx_caps() says what it negotiated, so the transmit path (TxQueues) hands
// over super-frames whole to a guest with GUEST_TSO and segments or completes them for one
// without. Mergeable receive buffers, indirect descriptors, packed rings and multiqueue (up
// to kMaxQueuePairs queue pairs) are offered as the library offers them.
//
// Threads and ownership
// ---------------------
// * Control thread: constructor (starts the EAL if needed, registers the socket, creates
//   the mbuf pool) and destructor (unregisters the socket, which tears down a connected
//   device synchronously, then frees the pool).
// * The library's vhost-events thread: runs the callbacks below. new_device() reads what the
//   guest negotiated (rte_vhost_get_negotiated_features, its MTU if it has VIRTIO_NET_F_MTU),
//   stores the features (features_) and the port's tx_caps()/tx_max() (datapath/port.hpp:
//   relaxed atomics) and then publishes the device id (vid_, release store), after reading
//   the queue count. A worker that loads vid_ (acquire) sees that device's features_, and
//   checks every frame against them under its queue's lock: a frame TxQueues prepared under
//   the previous guest's tx_caps() (a reconnect while it was flushing) that this guest did not
//   negotiate ends the burst there (returned count smaller, counted in tx_refused()).
//   destroy_device() stores -1 and then takes and releases every queue's rx and tx lock, so
//   no worker can still be inside the library with the old id when the callback returns (the
//   library's rule: the application must not touch a device after destroy_device returns;
//   the library calls destroy_device without holding its per-vring access_locks, so waiting
//   is safe there); it leaves tx_caps() 0 until the next device.
//   vring_state_changed() only records which guest receive queues are enabled (a hint for
//   spreading transmissions): the library calls it with every vring's access_lock held,
//   while a worker inside rte_vhost_enqueue_burst() may hold a tx lock and wait for that
//   access_lock, so it must not wait for a tx lock; the
//   library itself refuses enqueues to a disabled vring.
//   Callbacks find their port through a registry (socket path -> VhostPort*) guarded by a
//   mutex held during the callback; the destructor unregisters the socket first (which runs
//   destroy_device itself for a connected device, on the calling thread) and removes the
//   registry entry afterwards, never holding the mutex while calling the library.
// * rx_burst() (the one worker the snapshot assigns): for each queue pair, try-locks its rx
//   lock (uncontended except during destroy_device; a held lock means "skip this round"),
//   loads vid_ (acquire), rte_vhost_dequeue_burst() into mbufs from the port's pool. The
//   library puts a frame longer than an mbuf's room into one external buffer it allocates
//   (RTE_VHOST_USER_EXTBUF_SUPPORT; freed with the mbuf), or into a chain of mbufs when that
//   buffer would exceed 64 KiB. Then per mbuf:
//     - up to kMaxFrameLen bytes: copied into a Frame of the worker's pool, mbuf freed;
//     - longer, in one segment: lent, not copied: the Frame's data points into the mbuf,
//       Frame::ext is this port (BufferOwner) with the mbuf as handle, and the mbuf goes back
//       to the port's pool (rte_pktmbuf_free, which also frees an external buffer) when the
//       frame returns to the worker's pool, on that worker, before its next quiescent point:
//       so before the port can be destroyed (QSBR). The mempool is multi-producer and the
//       library's external buffers are rte_malloc'ed: both safe from any thread;
//     - longer, chained: gathered into a big buffer (FramePool::alloc_big), mbuf freed.
//   Its metadata becomes Frame::off (offload_from_mbuf); a frame with metadata brisk cannot
//   carry is dropped (bad_offload), one longer than kMaxBigFrameLen or empty as oversize.
// * tx_burst() (any worker, concurrently): the library's enqueue on one virtqueue must not
//   run from two threads at once, so each queue has a tx spinlock taken once per burst. A
//   sender takes the first enabled guest receive queue whose lock is free (several workers
//   spread over several queues), spinning on the first enabled one only when all are busy.
//   Under the lock, per frame, into the queue's own preallocated mbufs (owned by the lock's
//   holder): a frame of up to kTxCopyMax wire bytes is copied whole (the 802.1Q tag pushed
//   or popped on the way); a longer one gets its first kTxHead wire bytes copied into the head
//   mbuf and the rest attached, not copied, as external buffers of the queue's tail mbufs
//   (rte_pktmbuf_attach_extbuf, a no-op free callback) pointing into the Frame's data, which
//   the library only reads. The frame's metadata becomes the head mbuf's TX offload fields
//   (offload_to_mbuf): the library writes the guest's virtio_net_hdr and the pseudo-header
//   sum into the head copy, never into the shared Frame; a partial checksum the guest did not
//   negotiate, or one the library cannot describe, is completed into the copy. Then
//   rte_vhost_enqueue_burst(), which copies into guest buffers synchronously and leaves every
//   mbuf with the caller: the tails are detached before the lock is released, so nothing
//   refers to a Frame after tx_burst() returns. No mempool operation on the transmit path.
//   Frames the guest has no room for are refused (returned count smaller; the caller counts
//   tx_error) and counted in tx_refused().
// * Nothing in rx_burst()/tx_burst() allocates brisk memory, logs or throws (the library may
//   rte_malloc an external buffer on receive). The kick towards the guest (an eventfd write
//   when the guest wants interrupts) is the port's own I/O.
//
// wait_fd() is -1: the library offers no descriptor that covers every queue across
// reconnects, so a worker with a vhost-user port keeps polling (with sched_yield) rather
// than sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "datapath/port.hpp"

struct rte_mempool;
struct rte_mbuf;

namespace brisk {

struct VhostOptions {
  std::string socket;   // Unix socket path
  bool server = false;  // false: client mode with reconnect
};

class VhostPort final : public Port, private BufferOwner {
 public:
  static constexpr std::uint32_t kMaxQueuePairs = 8;
  static constexpr std::uint32_t kBurst = 32;
  // Transmit: frames up to kTxCopyMax wire bytes are copied whole into an mbuf (its data
  // room); longer ones have their first kTxHead bytes copied and the rest attached in pieces
  // of up to kTxPiece bytes (an mbuf's data_len is 16 bits), from kTxTails tail mbufs per queue.
  static constexpr std::uint32_t kTxCopyMax = 2048;
  static constexpr std::uint32_t kTxHead = 256;
  static constexpr std::uint32_t kTxPiece = 60 * 1024;
  static constexpr std::uint32_t kTxTails = 2 * kBurst;

  // Throws std::runtime_error with a one-line message (EAL failure, bad socket path,
  // registration failure).
  VhostPort(const std::string& name, const VhostOptions& opts);
  ~VhostPort() override;

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;

  const std::string& socket() const { return opts_.socket; }
  bool server() const { return opts_.server; }
  // A front end is connected and its rings are ready.
  bool connected() const { return vid_.load(std::memory_order_acquire) >= 0; }
  std::uint32_t queue_pairs() const { return nq_.load(std::memory_order_acquire); }
  // Devices that became ready over the port's life (1 after the first connection, 2 after
  // a reconnect, ...).
  std::uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  std::uint64_t rx_oversize() const { return driver_drops(Drop::kOversize); }
  std::uint64_t tx_refused() const { return tx_refused_.load(std::memory_order_relaxed); }
  // What the connected guest negotiated (0: none connected yet).
  std::uint64_t features() const { return features_.load(std::memory_order_acquire); }
  // Frames received whole with offload metadata (rx worker writes, relaxed) and frames lent
  // from an mbuf rather than copied.
  std::uint64_t rx_offloaded() const { return rx_offloaded_.get(); }
  std::uint64_t rx_lent() const { return rx_lent_.get(); }
  PortInfo info() const override { return {"vhost-user"}; }
  // The connection, what the guest negotiated and how its offloads fared.
  void describe(DriverFigures& out) const override;
  // The guest's MTU when it negotiated VIRTIO_NET_F_MTU, else 0 (no limit but tx_max()).
  std::uint32_t read_mtu() override { return guest_mtu_.load(std::memory_order_relaxed); }

  // Library callbacks (vhost-events thread); public for the C trampolines in vhost_port.cpp.
  void on_new_device(int vid) noexcept;
  void on_destroy_device(int vid) noexcept;
  void on_vring_state(int vid, std::uint16_t vring, bool enable) noexcept;

 private:
  struct alignas(64) Queue {
    std::atomic_flag rx_lock = ATOMIC_FLAG_INIT;
    alignas(64) std::atomic_flag tx_lock = ATOMIC_FLAG_INIT;
    std::atomic<bool> rx_enabled{false};  // the guest's receive vring (2q) is enabled
    // Owned by the holder of tx_lock: head mbufs, tail mbufs for attached pieces and their
    // rte_mbuf_ext_shared_info (opaque here; its size is checked in vhost_port.cpp).
    rte_mbuf* tx_mbufs[kBurst] = {};
    rte_mbuf* tx_tails[kTxTails] = {};
    alignas(8) unsigned char tx_shinfo[kTxTails][32] = {};
  };
  enum class Fill : std::uint8_t { kOk, kFull, kRefuse };

  void quiesce_all() noexcept;
  std::uint32_t tx_on_queue(std::uint32_t q, const TxItem* items, std::uint32_t n) noexcept;
  Fill fill_mbuf(Queue& q, rte_mbuf* m, const TxItem& it, std::uint8_t caps,
                 std::uint32_t& tails) noexcept;
  std::uint32_t take_mbufs(rte_mbuf** m, std::uint16_t n, FramePool& pool, Frame** out) noexcept;
  void recycle(std::uint64_t handle) noexcept override;  // a lent mbuf returns
  void free_mbufs() noexcept;

  VhostOptions opts_;
  rte_mempool* pool_ = nullptr;
  bool registered_ = false;
  std::atomic<int> vid_{-1};
  std::atomic<std::uint32_t> nq_{0};
  std::uint32_t rx_next_ = 0;  // rx worker only: queue pair to start polling at
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> tx_refused_{0};
  std::atomic<std::uint64_t> features_{0};
  std::atomic<std::uint32_t> guest_mtu_{0};
  Counter rx_offloaded_, rx_lent_;
  Queue q_[kMaxQueuePairs];
};

}  // namespace brisk
