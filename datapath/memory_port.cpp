#include "datapath/memory_port.hpp"

#include <cstring>

namespace brisk {

MemoryPort::MemoryPort(std::string name, std::size_t rx_capacity)
    : Port(std::move(name), PortKind::kMemory), rx_(rx_capacity) {}

bool MemoryPort::inject(std::vector<std::uint8_t> frame, Offload off) {
  return rx_.push(Injected{std::move(frame), off});
}

std::vector<std::vector<std::uint8_t>> MemoryPort::take_sent() {
  std::lock_guard<std::mutex> g(tx_mu_);
  return std::exchange(sent_, {});
}

std::vector<Offload> MemoryPort::take_sent_offloads() {
  std::lock_guard<std::mutex> g(tx_mu_);
  return std::exchange(sent_off_, {});
}

std::size_t MemoryPort::sent_count() const {
  std::lock_guard<std::mutex> g(tx_mu_);
  return sent_.size();
}

std::size_t MemoryPort::handovers() const {
  std::lock_guard<std::mutex> g(tx_mu_);
  return handovers_;
}

std::uint32_t MemoryPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  std::uint32_t n = 0;
  while (n < max && rx_.read_available() > 0) {
    const Injected& src = rx_.front();
    if (src.bytes.size() > kMaxBigFrameLen) {
      driver_drop(Drop::kOversize);
      rx_.pop();
      continue;
    }
    const auto len = static_cast<std::uint32_t>(src.bytes.size());
    Frame* f = pool.alloc_for(len);
    if (f == nullptr) break;  // leave the frame queued: the pool refills after transmit
    // An empty vector's data() may be null, and memcpy from null is undefined even for 0 bytes.
    if (len != 0) std::memcpy(f->data, src.bytes.data(), len);
    f->off = src.off;
    rx_.pop();
    out[n++] = f;
  }
  return n;
}

std::uint32_t MemoryPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  std::lock_guard<std::mutex> g(tx_mu_);
  for (std::uint32_t i = 0; i < n; ++i) {
    handovers_ += items[i].handover;
    std::vector<std::uint8_t> out(tx_wire_len(items[i]));
    tx_copy(out.data(), items[i]);
    sent_.push_back(std::move(out));
    sent_off_.push_back(items[i].frame->off);
  }
  return n;
}

}  // namespace brisk
