#include "datapath/memory_port.hpp"

#include <cstring>

namespace brisk {

std::string_view port_kind_name(PortKind k) {
  switch (k) {
    case PortKind::kTap: return "tap";
    case PortKind::kInternal: return "internal";
    case PortKind::kMemory: return "memory";
    case PortKind::kSystem: return "system";
    case PortKind::kTunnel: return "tunnel";
    case PortKind::kVhost: return "vhost";
  }
  return "?";
}

MemoryPort::MemoryPort(std::string name, std::size_t rx_capacity)
    : Port(std::move(name), PortKind::kMemory), rx_(rx_capacity) {}

bool MemoryPort::inject(std::vector<std::uint8_t> frame) { return rx_.push(std::move(frame)); }

std::vector<std::vector<std::uint8_t>> MemoryPort::take_sent() {
  std::lock_guard<std::mutex> g(tx_mu_);
  return std::exchange(sent_, {});
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
    Frame* f = pool.alloc();
    if (f == nullptr) break;  // leave the frame queued: the pool refills after transmit
    const std::vector<std::uint8_t>& src = rx_.front();
    std::size_t len = src.size() > kMaxFrameLen ? kMaxFrameLen + 1 : src.size();
    f->reset(static_cast<std::uint32_t>(len));
    // An empty vector's data() may be null, and memcpy from null is undefined even for 0 bytes.
    if (len != 0) std::memcpy(f->data, src.data(), len > kMaxFrameLen ? kMaxFrameLen : len);
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
  }
  return n;
}

}  // namespace brisk
