// Shared helpers for the datapath micro-benchmarks (bench-only, never linked into briskd).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <ctime>

namespace brisk::bench {

// The i-th of a deterministic sequence of distinct, unicast, nonzero 48-bit MAC addresses that
// look random (consecutive indices land on unrelated hash slots). i must be < 2^47 - 1.
// A 47-bit bijection (odd multiply + xor-shift mod 2^47) is spread over the 48 MAC bits with
// the multicast bit (bit 40 = I/G bit of the first byte) left clear.
constexpr std::uint64_t mac_at(std::uint64_t i) {
  constexpr std::uint64_t kM47 = (std::uint64_t{1} << 47) - 1;
  std::uint64_t x = (i + 1) & kM47;  // +1: index 0 never maps to the all-zero address
  x = (x * 0x9E3779B97F4A7C15ull) & kM47;
  x ^= x >> 23;
  x = (x * 0xD6E8FEB86659FD93ull) & kM47;
  x ^= x >> 21;
  if (x == 0) x = kM47;  // x == 0 only for i + 1 == 0 mod 2^47, outside the domain
  const std::uint64_t low40 = x & ((std::uint64_t{1} << 40) - 1);
  const std::uint64_t high7 = x >> 40;
  return low40 | (high7 << 41);
}

// Report `items` processed in total: items/s (Google Benchmark's items_per_second) and the
// inverse, time per item, under `name`. A kIsRate counter is divided by the measured CPU
// seconds and kInvert turns items/s into seconds/item: the console shows it with an SI prefix
// ("24.8ns"), JSON holds plain seconds (2.48e-08).
inline void report_items(benchmark::State& state, std::uint64_t items,
                         const char* name = "ns_per_item") {
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters[name] = benchmark::Counter(static_cast<double>(items),
                                            benchmark::Counter::kIsRate |
                                                benchmark::Counter::kInvert);
}

// Seconds of a monotonic coarse clock: what the control thread publishes as the datapath clock
// (a worker reads it once per loop iteration).
inline std::uint32_t coarse_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint32_t>(ts.tv_sec);
}

}  // namespace brisk::bench
