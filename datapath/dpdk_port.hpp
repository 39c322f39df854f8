// DpdkPort: a NIC bound to a DPDK-capable driver (vfio-pci, uio) or any DPDK virtual device
// (net_af_xdp, net_pcap, net_ring, net_null, net_tap, ...), driven through DPDK's ethdev API.
// It is a "system" port with driver "dpdk": `port add <pci address|vdev string> ... driver
// dpdk`. The port's name is the device name: the PCI address in full form
// ("0000:03:00.0") or the vdev string up to its first comma ("net_pcap0" for
// "net_pcap0,iface=veth1").
//
// Setup (control thread, constructor): starts the EAL if needed (dpdk_env.hpp), hot-plugs
// the device (rte_dev_probe), configures one receive and one transmit queue (1024
// descriptors each, adjusted to the driver's limits) with no offloads, an mbuf pool of its
// own, promiscuous mode on (a switch port receives every frame), starts it. The destructor
// stops, closes and unplugs the device (rte_dev_remove), which returns a NIC to its
// unbound-but-bound-to-vfio state and removes a vdev, then frees the pool.
//
// Threads
// * rx_burst(): one worker (the one the snapshot assigns). rte_eth_rx_burst() on queue 0,
//   each mbuf (chains gathered) copied into a Frame from the worker's pool, mbufs freed.
//   Frames longer than kMaxFrameLen are dropped and counted (`oversize`). At most as many
//   frames as the worker's pool has free are taken.
// * tx_burst(): any worker. An ethdev transmit queue is not thread-safe, so a spinlock
//   guards queue 0, taken once per burst. Under it: mbufs allocated from the pool (a
//   multi-producer/multi-consumer mempool without per-lcore caches: the driver frees
//   completed mbufs on whichever thread transmits next, and some vdevs, like net_ring, free
//   them on the receiving side), each frame copied in (802.1Q tag pushed when asked),
//   rte_eth_tx_burst(), unsent mbufs freed. Returns the number accepted; refusals (queue
//   full, pool empty) are counted in tx_refused().
// * brisk's workers are non-EAL threads (see dpdk_env.hpp); nothing here needs an lcore id.
// * No frame is kept after rx_burst()/tx_burst() return; Frames never alias mbufs.
//
// wait_fd() is -1 (poll mode): a worker with a DPDK port polls instead of sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "datapath/port.hpp"

struct rte_mempool;

namespace brisk {

class DpdkPort final : public Port {
 public:
  static constexpr std::uint32_t kBurst = 32;

  // The port name a device string gets ("net_pcap0,iface=x" -> "net_pcap0", "03:00.0" ->
  // "0000:03:00.0"); empty if `devargs` is not a plausible device string.
  static std::string device_name(const std::string& devargs);

  // Throws std::runtime_error with a one-line message (EAL failure, no such device/driver,
  // configuration failure).
  explicit DpdkPort(const std::string& devargs);
  ~DpdkPort() override;

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;

  PortInfo info() const override { return {"dpdk"}; }
  // The DPDK driver's name and the frames tx_burst() refused.
  void describe(DriverFigures& out) const override;
  const std::string& devargs() const { return devargs_; }
  std::uint16_t port_id() const { return port_id_; }
  const std::string& driver_name() const { return driver_name_; }
  std::uint64_t rx_oversize() const { return driver_drops(Drop::kOversize); }
  std::uint64_t tx_refused() const { return tx_refused_.load(std::memory_order_relaxed); }

 private:
  void teardown() noexcept;

  std::string devargs_;
  std::string driver_name_;
  rte_mempool* pool_ = nullptr;
  std::uint16_t port_id_ = 0;
  bool probed_ = false;   // we hot-plugged the device (remove it on destruction)
  bool started_ = false;
  alignas(64) std::atomic_flag tx_lock_ = ATOMIC_FLAG_INIT;
  std::atomic<std::uint64_t> tx_refused_{0};
};

}  // namespace brisk
