// MemoryPort: an in-process port for unit tests (no kernel device).
//
// inject() (one producer thread: the test) queues a frame for the worker that polls this port;
// the queue is a lock-free SPSC ring, so the worker side never blocks. Frames the switch sends
// out are copied into an internal list guarded by a mutex (tx may come from any worker) and
// read back with take_sent(). Frames up to kMaxBigFrameLen are taken (longer ones are dropped
// and counted as the port's `oversize`), with the Offload metadata they were injected with. Memory ports are for tests and benchmarks only; they never carry
// production traffic, so the mutex on their transmit side is acceptable.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <mutex>
#include <vector>

#include "datapath/port.hpp"

namespace brisk {

class MemoryPort final : public Port {
 public:
  explicit MemoryPort(std::string name, std::size_t rx_capacity = 4096);

  // Test side.
  bool inject(std::vector<std::uint8_t> frame, Offload off = {});
  std::vector<std::vector<std::uint8_t>> take_sent();
  // The Offload metadata of the frames sent, in order, since the last call.
  std::vector<Offload> take_sent_offloads();
  // What the port's transmit path takes (txcap::*; none by default) and its MTU (0: none).
  // Before the port is in use.
  void set_caps(std::uint8_t caps) { set_tx_caps(caps); }
  std::size_t sent_count() const;
  // Items that came with TxItem::handover (the frame's last transmission).
  std::size_t handovers() const;
  std::size_t pending_rx() const { return rx_.read_available(); }

  // Worker side.
  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;

 private:
  struct Injected {
    std::vector<std::uint8_t> bytes;
    Offload off;
  };
  boost::lockfree::spsc_queue<Injected> rx_;
  mutable std::mutex tx_mu_;
  std::vector<std::vector<std::uint8_t>> sent_;
  std::vector<Offload> sent_off_;
  std::size_t handovers_ = 0;
};

}  // namespace brisk
