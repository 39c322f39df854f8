// Bench-only ports: a replaying receive side and a counting transmit sink.
//
// ReplayPort plays back a fixed list of pre-built 64-byte frame templates forever: every
// rx_burst() takes `max` frames from the worker's pool and copies the next templates into them,
// the way a NIC DMA-writes received frames into posted buffers, cycling through the list. It
// never runs dry, so poll_port() always sees full batches.
//
// SinkPort accepts every frame and only counts it (a NIC with an infinitely fast wire). Frames
// are never touched, so the pipeline cost is measured without any driver cost on transmit.
//
// Both honour the Port contract: nothing is kept after tx_burst() returns. Neither is safe for
// concurrent rx (one worker polls a port), which is all the benchmarks need.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "datapath/frame.hpp"
#include "datapath/port.hpp"

namespace brisk::bench {

inline constexpr std::uint32_t kReplayFrameLen = 64;

struct alignas(64) FrameTemplate {
  std::uint8_t b[kReplayFrameLen];
};

// An untagged 64-byte IPv4-typed Ethernet frame from `src` to `dst` (48-bit MACs, first wire
// byte most significant). The payload is zeros: the pipeline never looks past the header.
inline FrameTemplate make_template(std::uint64_t dst, std::uint64_t src) {
  FrameTemplate t{};
  for (int i = 0; i < 6; ++i) {
    t.b[i] = static_cast<std::uint8_t>(dst >> (40 - 8 * i));
    t.b[6 + i] = static_cast<std::uint8_t>(src >> (40 - 8 * i));
  }
  t.b[12] = 0x08;
  t.b[13] = 0x00;
  return t;
}

class ReplayPort final : public Port {
 public:
  ReplayPort(std::string name, const std::vector<FrameTemplate>* templates)
      : Port(std::move(name), PortKind::kMemory), tpl_(templates) {}

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override {
    const FrameTemplate* t = tpl_->data();
    const std::size_t count = tpl_->size();
    std::uint32_t n = 0;
    for (; n < max; ++n) {
      Frame* f = pool.alloc();
      if (f == nullptr) break;
      f->reset(kReplayFrameLen);
      std::memcpy(f->data, t[next_].b, kReplayFrameLen);
      if (++next_ == count) next_ = 0;
      out[n] = f;
    }
    received_ += n;
    return n;
  }
  std::uint32_t tx_burst(const TxItem*, std::uint32_t n) noexcept override {
    sent_ += n;
    return n;
  }

  void set_templates(const std::vector<FrameTemplate>* templates) {
    tpl_ = templates;
    next_ = 0;
  }
  std::uint64_t received() const { return received_; }
  std::uint64_t sent() const { return sent_; }

 private:
  const std::vector<FrameTemplate>* tpl_;
  std::size_t next_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t sent_ = 0;
};

class SinkPort final : public Port {
 public:
  explicit SinkPort(std::string name) : Port(std::move(name), PortKind::kMemory) {}
  std::uint32_t rx_burst(FramePool&, Frame**, std::uint32_t) noexcept override { return 0; }
  std::uint32_t tx_burst(const TxItem*, std::uint32_t n) noexcept override {
    sent_ += n;
    ++bursts_;
    return n;
  }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t bursts() const { return bursts_; }

 private:
  std::uint64_t sent_ = 0;
  std::uint64_t bursts_ = 0;
};

}  // namespace brisk::bench
