// gen_afxdp: the "afxdp" TrafficGenerator (generator.hpp), for kernels that refuse XDP live
// frames. A TX-only AF_XDP socket in copy mode on the generator veth end (no XDP program of
// its own: the socket only transmits) with a UMEM of 2 KiB chunks, each holding a copy of
// the template, made by the first run from that device and kept until the generator is
// destroyed (a socket closed and another bound to the same queue at once can find the queue
// still busy: the kernel releases the first one's buffer pool later, EBUSY). Each run is one
// thread, pinned to the place's CPU inside its namespace, that uses the socket.
//
// The loop: take back completed chunks (COMPLETION ring, counted as offered), write the next
// batch's per-frame fields into free chunks (the source MAC's low 24 bits cycling through
// nmacs, the marker, a CLOCK_MONOTONIC stamp on every (stamp_mask + 1)-th frame: the clock
// bpf_ktime_get_ns() reads, so the sink's latency histogram works as with bench_gen), put
// them on the TX ring and kick with sendto(); in copy mode the kernel turns each into an skb
// and hands it to the veth (__dev_direct_xmit, no qdisc), at most 32 per call. Paced runs
// release a frame when its time has come and catch up at most BENCH_GEN_CATCH_UP frames after
// a stall, like bench_gen.
//
// offered() counts completed frames: the kernel has taken them, and a frame the veth's peer
// ring refused shows in that veth's tx_dropped (the mirror test's ingress account reads it).
//
// Ownership: during a run its thread owns the socket, the UMEM and every chunk (handed over
// by thread start and join); the main thread reads offered_ (relaxed: a count, no data
// behind it); GenThread orders the error.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "bench/harness/generator.hpp"

namespace bench {

class XskTx;

class AfXdpGenerator final : public TrafficGenerator {
 public:
  AfXdpGenerator();
  ~AfXdpGenerator() override;
  std::string name() const override { return "AF_XDP TX (copy mode)"; }
  GenKind kind() const override { return GenKind::afxdp; }
  void start(const GenPlace& where, const GenSettings& what) override;
  void stop() noexcept override { thread_.stop(); }
  std::string error() const override { return thread_.error(); }
  std::uint64_t offered() const override { return offered_.load(std::memory_order_relaxed); }

 private:
  void loop(GenThread& t, XskTx& xsk, const GenPlace& where, const GenSettings& what);
  std::map<std::string, std::unique_ptr<XskTx>> sockets_;  // by "<ns>/<dev>"
  std::atomic<std::uint64_t> offered_{0};
  GenThread thread_;  // last: it stops (and joins) before the sockets go
};

}  // namespace bench
