// Policer: a byte-rate token bucket for a port's traffic in userspace. It polices what brisk
// receives from a port (OVS Interface ingress_policing_rate/burst) and limits what brisk
// sends to a port whose device has no qdisc to shape it (OVS Port qos on a brisk host tap,
// or on a device whose kernel has no htb): control/switch_qos.cpp decides which.
//
// A frame of L bytes passes when the bucket holds at least L bytes, and then takes them; the
// bucket fills at `rate` bytes per second up to `depth` bytes and starts full. A frame longer
// than the depth never passes (callers make the depth at least one largest frame).
//
// It is kept as one number, the bucket's "theoretical arrival time" (GCRA, the virtual
// scheduling form of a token bucket): tat is the time at which the bucket would be full again.
// A frame of cost c (its bytes in time units) at time now passes when
//   max(tat, now) + c - now <= tau   (tau: the depth in time units)
// and sets tat = max(tat, now) + c. The time unit is 1/16 ns and a frame's cost is rounded to
// it: 64-byte frames at 10 Gbit/s are within 0.1% of the rate, 1500-byte frames exact; tat
// wraps only after 36 years.
//
// Threading contract:
//   * rate and depth are const: the control thread makes a Policer (a new one for every new
//     rate) before publishing the snapshot that names it; the snapshot's release/acquire
//     publication (datapath/snapshot.hpp) orders the construction before any worker's use.
//   * admit() may be called by any number of worker threads at once (a port's ingress is
//     polled by one worker, but every worker may send to a port's egress). tat_ is the only
//     mutable state: a compare-and-swap loop with relaxed order (it guards no other memory);
//     a frame that loses the race re-reads tat and decides again, so the bucket never gives
//     out more than it holds.
//   * the control thread reads nothing here but the const configuration.
//   * `now` is each caller's own monotonic clock (WorkerContext::now_ns: CLOCK_MONOTONIC
//     read once per loop iteration). Callers' clocks may lag one another by a loop
//     iteration: a caller whose now is behind tat simply sees less in the bucket.
#pragma once

#include <atomic>
#include <cstdint>

namespace brisk {

class Policer {
 public:
  // rate: bytes per second (> 0); depth: bytes.
  Policer(std::uint64_t rate_bytes, std::uint64_t depth_bytes) noexcept;

  // Take `bytes` from the bucket at time now_ns; false (nothing taken) when it has fewer.
  bool admit(std::uint32_t bytes, std::uint64_t now_ns) noexcept;

  std::uint64_t rate() const noexcept { return rate_; }
  std::uint64_t depth() const noexcept { return depth_; }

 private:
  static constexpr std::uint64_t kUnitsPerNs = 16;
  const std::uint64_t rate_, depth_;
  const std::uint64_t tau_;  // depth in time units
  std::atomic<std::uint64_t> tat_{0};
  // cost(L) = L * 16e9 / rate, by a 32.32 fixed-point factor (units per byte).
  const std::uint64_t per_byte_fp_;
  std::uint64_t cost(std::uint32_t bytes) const noexcept;
};

// OVS's units, as ovs-vswitchd.conf.db(5) and its tc policer read them.
// ingress_policing_rate is in kbit/s (1000 bit/s); ingress_policing_burst in kbit, which OVS
// turns into bytes as kbit * 1024 / 8; a burst of 0 means OVS's default of 8000 kbit.
inline constexpr std::uint64_t kOvsDefaultPolicingBurstKbit = 8000;
inline std::uint64_t ovs_policing_rate_bytes(std::uint64_t kbit) { return kbit * 1000 / 8; }
inline std::uint64_t ovs_policing_burst_bytes(std::uint64_t kbit) {
  return (kbit == 0 ? kOvsDefaultPolicingBurstKbit : kbit) * 1024 / 8;
}

// The deepest frame a port passes to the bucket: a super-frame of 64 KiB plus its headers.
inline constexpr std::uint64_t kPolicerMinDepth = 65536 + 128;

}  // namespace brisk
