// gen_loop: the "loop" TrafficGenerator (generator.hpp), for kernels that refuse XDP live
// frames: bench_loop and bench_loop_back (bpf/brisk_bench.c) on the two ends of a veth pair
// of the generator namespace keep a few frames going round in the kernel, and each turn
// sends one copy out of the generator device, written as bench_gen writes it (the same
// configuration and per-CPU state maps: offered() is bench_gen_st's sequence count).
//
// A run: the configuration written (loop_stop cleared), the devmap pointed at the loop's own
// end and the run's device, then kSeed template frames sent into the loop through an
// AF_PACKET socket from a thread pinned to the generator CPU. The veths' NAPI runs where
// their frames were sent, so the loop (and the switch's XDP work on the frames it sends,
// as with live frames) stays in softirq on that CPU. start() returns once frames are
// counted, and fails when none come (a kernel without devmap broadcast). stop() sets
// loop_stop and waits until the count stands still.
//
// The loop's softirq time is on the generator CPU, which the harness's CPU-per-frame
// accounting charges to the switch; the harness subtracts the loop's own cost per frame,
// measured in the ceiling run (Bench::measure_ceiling, measure.hpp).
//
// Threads: the main thread calls every method; the seeding thread lives inside start().
#pragma once

#include <string>

#include "bench/harness/generator.hpp"

namespace bench {

class LoopGenerator final : public TrafficGenerator {
 public:
  LoopGenerator(BenchBpf& bpf, LoopDevs devs) : bpf_(bpf), devs_(std::move(devs)) {}
  ~LoopGenerator() override;
  std::string name() const override { return "XDP loop"; }
  GenKind kind() const override { return GenKind::loop; }
  void start(const GenPlace& where, const GenSettings& what) override;
  void stop() noexcept override;
  std::string error() const override { return {}; }
  std::uint64_t offered() const override;

 private:
  void attach();
  BenchBpf& bpf_;
  LoopDevs devs_;
  bool attached_ = false, running_ = false;
};

}  // namespace bench
