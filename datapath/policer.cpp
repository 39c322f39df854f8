#include "datapath/policer.hpp"

#include <algorithm>

namespace brisk {

namespace {

// units per byte in 32.32 fixed point: 16e9 / rate * 2^32, computed in 128 bits.
std::uint64_t per_byte_fixed(std::uint64_t rate) {
  const unsigned __int128 num = static_cast<unsigned __int128>(16'000'000'000ull) << 32;
  return static_cast<std::uint64_t>(num / std::max<std::uint64_t>(rate, 1));
}

}  // namespace

Policer::Policer(std::uint64_t rate_bytes, std::uint64_t depth_bytes) noexcept
    : rate_(std::max<std::uint64_t>(rate_bytes, 1)),
      depth_(depth_bytes),
      tau_(static_cast<std::uint64_t>(
          (static_cast<unsigned __int128>(depth_bytes) * per_byte_fixed(rate_)) >> 32)),
      per_byte_fp_(per_byte_fixed(rate_)) {}

std::uint64_t Policer::cost(std::uint32_t bytes) const noexcept {
  // Rounded to the nearest unit.
  return static_cast<std::uint64_t>(
      (static_cast<unsigned __int128>(bytes) * per_byte_fp_ + (1ull << 31)) >> 32);
}

bool Policer::admit(std::uint32_t bytes, std::uint64_t now_ns) noexcept {
  const std::uint64_t now = now_ns * kUnitsPerNs;
  const std::uint64_t c = cost(bytes);
  std::uint64_t tat = tat_.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t next = std::max(tat, now) + c;
    if (next - now > tau_) return false;
    if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed, std::memory_order_relaxed))
      return true;
  }
}

}  // namespace brisk
