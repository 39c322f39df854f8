// Per-worker counters and the table of drop reasons.
//
// Thread-safety: each Counter has exactly one writer (the worker that owns the WorkerCounters)
// which adds with a relaxed load + store (a plain add on x86, no lock prefix); the control
// thread reads with relaxed loads and sums over workers. Counters are cache-line aligned per
// port so two workers never write the same line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "brisk/types.hpp"

namespace brisk {

// Every frame that does not leave through a port is counted under exactly one reason.
// Declared once here; names appear in `stats` and in the JSON output.
#define BRISK_DROP_REASONS(X)                                                  \
  X(kRunt, "runt", "shorter than an Ethernet header")                          \
  X(kOversize, "oversize", "longer than a receive buffer or the output port's MTU (never cut)") \
  X(kBadOffload, "bad_offload", "offload metadata brisk cannot honour (UFO, unknown GSO, malformed super-frame)") \
  X(kBadSrcMac, "bad_src_mac", "multicast or all-zero source MAC")             \
  X(kTaggedOnAccess, "tagged_on_access", "802.1Q tagged frame on an access port") \
  X(kVlanNotAllowed, "vlan_not_allowed", "VLAN not carried by the ingress trunk") \
  X(kSamePort, "same_port", "destination learned on the ingress port")         \
  X(kNoDestination, "no_destination", "no other port in the VLAN")             \
  X(kTxError, "tx_error", "output port refused the frame")                     \
  X(kPortDown, "port_down", "output port's device is gone")                    \
  X(kXskRxRefused, "xsk_rx_refused", "AF_XDP socket refused it (longer than a chunk)") \
  X(kXskNoBuffer, "xsk_no_buffer", "AF_XDP fill ring empty: no buffer to receive into") \
  X(kXskRxRingFull, "xsk_rx_ring_full", "AF_XDP receive ring full")             \
  X(kXskTxInvalid, "xsk_tx_invalid", "AF_XDP transmit descriptor refused by the kernel") \
  X(kTunnelTruncated, "tunnel_truncated", "encapsulated frame shorter than its headers") \
  X(kTunnelMalformed, "tunnel_malformed", "bad VXLAN/GRE header (flags, version)") \
  X(kSplitHorizon, "split_horizon", "tunnel to tunnel (never forwarded)")      \
  X(kMirrorDst, "mirror_dst", "sent by a mirror destination port (not forwarded)") \
  X(kPoliced, "policed", "over the ingress port's policing rate (OVS ingress_policing_rate)") \
  X(kEgressLimit, "egress_limit", "over the output port's QoS max-rate, limited in userspace") \
  X(kSecSrcMac, "sec_src_mac", "source MAC not bound to the secured port")      \
  X(kSecArp, "sec_arp", "ARP sender not bound to the secured port")            \
  X(kSecIp, "sec_ip", "source IP not bound to the secured port")               \
  X(kSecNd, "sec_nd", "IPv6 neighbour discovery not matching the binding")     \
  X(kSecEgress, "sec_egress", "copy toward a secured port for an IP not its own") \
  X(kStorm, "storm_control", "broadcast/multicast/unknown unicast over the port's rate")

enum class Drop : std::uint8_t {
#define BRISK_X(id, name, help) id,
  BRISK_DROP_REASONS(BRISK_X)
#undef BRISK_X
      kCount
};
inline constexpr std::size_t kDropCount = static_cast<std::size_t>(Drop::kCount);

inline constexpr std::array<std::string_view, kDropCount> kDropNames = {
#define BRISK_X(id, name, help) name,
    BRISK_DROP_REASONS(BRISK_X)
#undef BRISK_X
};
inline constexpr std::array<std::string_view, kDropCount> kDropHelp = {
#define BRISK_X(id, name, help) help,
    BRISK_DROP_REASONS(BRISK_X)
#undef BRISK_X
};

struct Counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n) noexcept {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

struct alignas(64) PortCounters {
  Counter rx_frames, rx_bytes, tx_frames, tx_bytes;
  // Drops are charged to the port the frame came in on, except kTxError, kPortDown,
  // kXskTxInvalid, kSecEgress, kEgressLimit, and kOversize/kBadOffload found on the way out
  // (above the output port's MTU, a super-frame that cannot be segmented), which are charged
  // to the output port (and count copies, not frames).
  std::array<Counter, kDropCount> drops;
  // Frames the output port could not take as they were, finished by brisk in software:
  // super-frames cut into segments (tx_frames counts the segments) and partial checksums
  // completed (datapath/offload.hpp).
  Counter tx_segmented, tx_csum_completed;
};

// Worker-wide counters that belong to no port.
struct alignas(64) WorkerStats {
  Counter batches, frames, learn_requests, learn_ring_full, idle_sleeps, events_dropped;
};

// Drop reasons worth a log line (security and storm control); see datapath/events.hpp.
constexpr bool drop_is_logged(Drop d) { return d >= Drop::kSecSrcMac; }

// Per mirror (and per capture), written by the worker that made the copies:
//   mirrored   copies the mirror stage made (datapath/mirror.hpp)
//   delivered  copies a destination port accepted (TxQueues::flush)
//   dropped    copies a destination port refused (tx error, device gone) or a capture ring had
//              no room for
// Once traffic stops, mirrored == delivered + dropped for a port mirror. For a capture,
// delivered is counted by the writer (Capture::written) and the rest is still queued.
inline constexpr std::size_t kMaxMirrors = 64;
struct alignas(64) MirrorCounters {
  Counter mirrored, delivered, dropped;
};

struct WorkerCounters {
  std::unique_ptr<PortCounters[]> port{new PortCounters[kMaxPorts]};
  std::unique_ptr<MirrorCounters[]> mirror{new MirrorCounters[kMaxMirrors]};
  WorkerStats worker;
};

// Plain (non-atomic) totals for the control plane.
struct PortTotals {
  std::uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0;
  std::uint64_t tx_segmented = 0, tx_csum_completed = 0;
  std::array<std::uint64_t, kDropCount> drops{};
  std::uint64_t dropped() const {
    std::uint64_t t = 0;
    for (auto d : drops) t += d;
    return t;
  }
  void add(const PortCounters& c) {
    rx_frames += c.rx_frames.get();
    rx_bytes += c.rx_bytes.get();
    tx_frames += c.tx_frames.get();
    tx_bytes += c.tx_bytes.get();
    tx_segmented += c.tx_segmented.get();
    tx_csum_completed += c.tx_csum_completed.get();
    for (std::size_t i = 0; i < kDropCount; ++i) drops[i] += c.drops[i].get();
  }
  void subtract(const PortTotals& base) {
    rx_frames -= base.rx_frames;
    rx_bytes -= base.rx_bytes;
    tx_frames -= base.tx_frames;
    tx_bytes -= base.tx_bytes;
    tx_segmented -= base.tx_segmented;
    tx_csum_completed -= base.tx_csum_completed;
    for (std::size_t i = 0; i < kDropCount; ++i) drops[i] -= base.drops[i];
  }
};

}  // namespace brisk
