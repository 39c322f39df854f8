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
// Features: brisk switches whole, checksummed Ethernet frames between every kind of port, so
// the checksum and segmentation offloads (CSUM, GUEST_CSUM, HOST/GUEST TSO4/TSO6/ECN/UFO)
// are withdrawn from negotiation: the guest sends complete frames up to its MTU and receives
// complete frames. Mergeable receive buffers, indirect descriptors, packed rings and
// multiqueue (up to kMaxQueuePairs queue pairs) are offered as the library offers them.
//
// Threads and ownership
// ---------------------
// * Control thread: constructor (starts the EAL if needed, registers the socket, creates
//   the mbuf pool) and destructor (unregisters the socket, which tears down a connected
//   device synchronously, then frees the pool).
// * The library's vhost-events thread: runs the callbacks below. new_device() publishes the
//   device id (vid_, release store) after reading the queue count; destroy_device() stores
//   -1 and then takes and releases every queue's rx and tx lock, so no worker can still be
//   inside the library with the old id when the callback returns (the library's rule: the
//   application must not touch a device after destroy_device returns; the library calls
//   destroy_device without holding its per-vring access_locks, so waiting is safe there).
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
//   loads vid_ (acquire), rte_vhost_dequeue_burst() into mbufs from the port's pool, copies
//   each frame into a Frame from the worker's pool, frees the mbufs. Frames longer than
//   kMaxFrameLen are dropped and counted (`oversize`).
// * tx_burst() (any worker, concurrently): the library's enqueue on one virtqueue must not
//   run from two threads at once, so each queue has a tx spinlock taken once per burst. A
//   sender takes the first enabled guest receive queue whose lock is free (several workers
//   spread over several queues), spinning on the first enabled one only when all are busy.
//   Under the lock: copy up to kBurst frames into the queue's own preallocated mbufs (the
//   802.1Q tag pushed on the way), rte_vhost_enqueue_burst() (which copies into guest
//   buffers and leaves the mbufs with the caller), reset them for the next burst. No mempool
//   operation on the transmit path. Frames the guest has no room for are refused (returned
//   count smaller; the caller counts tx_error) and counted in tx_refused().
// * No frame is kept after rx_burst()/tx_burst() return; brisk Frames never alias mbufs.
// * Nothing in rx_burst()/tx_burst() allocates, logs or throws. The kick towards the guest
//   (an eventfd write when the guest wants interrupts) is the port's own I/O.
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

class VhostPort final : public Port {
 public:
  static constexpr std::uint32_t kMaxQueuePairs = 8;
  static constexpr std::uint32_t kBurst = 32;

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

  // Library callbacks (vhost-events thread); public for the C trampolines in vhost_port.cpp.
  void on_new_device(int vid) noexcept;
  void on_destroy_device(int vid) noexcept;
  void on_vring_state(int vid, std::uint16_t vring, bool enable) noexcept;

 private:
  struct alignas(64) Queue {
    std::atomic_flag rx_lock = ATOMIC_FLAG_INIT;
    alignas(64) std::atomic_flag tx_lock = ATOMIC_FLAG_INIT;
    std::atomic<bool> rx_enabled{false};  // the guest's receive vring (2q) is enabled
    rte_mbuf* tx_mbufs[kBurst] = {};      // owned by the holder of tx_lock
  };

  void quiesce_all() noexcept;
  std::uint32_t tx_on_queue(std::uint32_t q, const TxItem* items, std::uint32_t n) noexcept;

  VhostOptions opts_;
  rte_mempool* pool_ = nullptr;
  bool registered_ = false;
  std::atomic<int> vid_{-1};
  std::atomic<std::uint32_t> nq_{0};
  std::uint32_t rx_next_ = 0;  // rx worker only: queue pair to start polling at
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> tx_refused_{0};
  Queue q_[kMaxQueuePairs];
};

}  // namespace brisk
