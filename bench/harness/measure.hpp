// brisk-bench: the system benchmark harness. Measures brisk, the Linux bridge, Open vSwitch's
// userspace datapath and a bare AF_XDP forwarder on one topology it builds itself, one switch
// at a time, alternating, and prints medians with ratios (a table, or JSON with --json).
//
//   gen ns <P>-gen: <P>g0 198.18.0.1 ==veth== <P>g1 [switch] <P>s1 ==veth== <P>s0 198.18.0.2
//   :<P>-sink
//
// or, with --topology vxlan, two switches joined by a VXLAN tunnel over an underlay veth pair,
// each in a namespace of its own (brisk: two briskd; bridge: a Linux bridge and a kernel vxlan
// device per side), see switches.hpp:
//
//   <P>g0 == <P>g1 [A, ns <P>-a] 198.18.1.1 <P>u0 ==underlay== <P>u1 198.18.1.2 [B, ns <P>-b]
//   <P>s1 == <P>s0
//
// Per round and switch: start it; a ping from the sink namespace teaches it both MACs; then
//   fps      64-byte frames from the generator (generator.hpp) on the generator CPU, one
//            source MAC: offered and delivered frames/s, loss, CPU per frame
//   macs     the same with N source MACs (default 1000 and 100000)
//   latency  a paced run (default 100,000 frames/s, every frame stamped): one-way p50/p99
//   tcp      iperf3 from the generator to the sink namespace, default offloads, sink's XDP
//            program detached meanwhile
// then stop it. CPU per frame = (CPU time of the switch's processes from /proc/<pid>/stat +
// softirq time from /proc/stat on every CPU but the switch's own, whose softirq work the
// tick-based accounting already charges to the running switch process; for the bridge,
// softirq on all CPUs) / delivered frames. It includes the veth receive work of both veth
// ends and the sink's XDP program, for every switch alike; it excludes the generator.
//
// The mirror test (--mirrors 0,1,4; --tests mirror) adds destination veths
//   <P>d<i> ==veth== <P>m<i> in namespace <P>-mir, bench_count_all (own counters) on each <P>m<i>
// and runs brisk with the XDP fast path on and off (--mirror-fastpath), with every destination
// attached as a port in every row. Per mirror count n: n mirrors of <P>g1 (one per
// destination, `tap mirror <P>g1 <P>d<i>`), the fps window (forwarded frames/s at the sink,
// mirrored frames/s at each destination's far end), and a loss account over the whole run,
// from the generator's start until the frames in flight have drained: every offered frame
// reached the sink or was dropped where a counter says so (the ingress veth ring, the AF_XDP
// RX ring, a named drop of the switch, the egress veth ring), and every copy a mirror made
// reached its far end or was counted (the switch's mirror `dropped`, the destination veth's
// ring). What no counter explains is reported as unaccounted.
//
// Everything it creates carries a random prefix (bk + 4 hex digits) or lives in a private
// temp directory, and is removed on exit, on failure and on SIGINT/SIGTERM/SIGHUP; only
// processes it started are stopped, by PID.
//
// This file: the instruments every test shares (Bench: the sinks, the generator's ceiling,
// measurement windows, the switch's CPU time) and the tests of the switch comparison, one
// function each behind CompareTest (fps, macs and latency in measure.cpp, tcp in
// test_tcp.cpp). The mirror test is test_mirror.hpp, the TCP matrix (TCP per port kind)
// test_tcp_ports.hpp; their reports are report.hpp, report_mirror.hpp and
// report_tcp_ports.hpp.
//
// Main thread only; one Bench per harness run.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/harness/generator.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/switches.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {

// A run whose offered rate is at least this share of the generator's ceiling, and which lost
// less than kGenBoundLoss of it, is generator-bound: the switch forwarded what the generator
// could offer and might forward more. (A switch that drops much of a full offer is not.)
constexpr double kGenBound = 0.9;
constexpr double kGenBoundLoss = 0.01;
inline bool generator_bound(double share, double loss) {
  return share >= kGenBound && loss < kGenBoundLoss;
}

// One switch in one round of the comparison: what its tests measured (NaN: not run).
struct Sample {
  // The fps test through the first of --sinks.
  double offered = NAN, delivered = NAN, loss = NAN, cpu_ns = NAN, cpu_pct = NAN;
  double gen_share = NAN;  // offered / the generator's ceiling (generator-bound near 1)
  std::map<std::string, double> sink_delivered;  // every sink of --sinks -> frames/s
  double ovl_p50 = NAN, ovl_p99 = NAN;           // latency under overload (queueing)
  std::map<std::uint32_t, double> macs;          // source MACs -> delivered frames/s
  double lat_p50 = NAN, lat_p99 = NAN, lat_delivered = NAN;
  double tcp_gbps = NAN;
  bool tcp_failed = false;
  std::string tcp_error;
};

// One measurement window: rates over `seconds`, the switch's CPU time in it, and the sink's
// latency histogram of the frames it counted.
struct Window {
  double fps_offered, fps_delivered, loss, cpu_s, seconds;
  double gen_cpu_softirq_s;  // softirq time on the generator CPU
  std::vector<std::uint64_t> hist;
};

class Bench {
 public:
  // far: one sink per mirror destination (own counters), in the order of t.mirror_devs.
  Bench(const Options& o, const Topology& t, BenchBpf& bpf,
        std::vector<std::unique_ptr<BenchBpf>>& far);

  // The generator every window runs; set before the first measurement, and again when the
  // harness changes it.
  void set_generator(TrafficGenerator& g) { gen_ = &g; }

  // The sink of kind "xdp" or "tc" on the sink veth (the other one removed), and the mirror
  // destinations' far ends.
  void attach_sink(const std::string& kind);
  void detach_sink() noexcept;
  // The sink attached now ("" none).
  const std::string& sink() const { return sink_; }

  // The generator's own ceiling in frames/s: unpaced from <P>c0 straight into <P>c1, whose
  // XDP sink counts, with no switch between (the sink's work, as on the topology, included).
  // With the loop generator, its softirq time per frame there is its own cost, which later
  // windows take off the switch's CPU time.
  double measure_ceiling();
  // The last measure_ceiling()'s result (NaN before).
  double ceiling() const { return ceiling_; }
  double gen_cost_ns() const { return gen_cost_s_ * 1e9; }

  // A ping from the sink namespace: the switch learns both MACs before traffic starts.
  void learn();
  // The switch's CPU time (see this file's header); 0 without a switch.
  double cpu_now(const SwitchUnderTest* sw) const;
  // A run of the generator from `place`: --warmup seconds, then a window of `seconds`.
  // Throws when the generator fails.
  Window window(const SwitchUnderTest* sw, const GenPlace& place, const GenSettings& what,
                double seconds);

  const Options& options() const { return o_; }
  const Topology& topology() const { return t_; }
  BenchBpf& bpf() { return bpf_; }
  TrafficGenerator& generator() { return *gen_; }
  // Where the tests' frames come from: the generator device <P>g0 in the generator namespace.
  const GenPlace& place() const { return place_; }
  // The sink on mirror destination i's far end.
  BenchBpf& far(std::size_t i) { return *far_.at(i); }

 private:
  static constexpr std::uint8_t kGenSrc[6] = {0x06, 0x00, 0xc6, 0x00, 0x00, 0x00};

  double gen_softirq_s() const;

  const Options& o_;
  const Topology& t_;
  BenchBpf& bpf_;
  TrafficGenerator* gen_ = nullptr;
  std::vector<std::unique_ptr<BenchBpf>>& far_;
  GenPlace place_;
  std::string sink_;       // the sink attached now ("" none)
  double ceiling_ = NAN;   // the generator's ceiling, frames/s
  double gen_cost_s_ = 0;  // the loop generator's own softirq time per frame
};

// ---- the tests of the switch comparison

// A test of the comparison: measures the running switch sw and fills its part of s.
struct CompareTest {
  const char* name;  // as --tests names it
  void (*run)(Bench& b, SwitchUnderTest& sw, Sample& s);
};

// fps: a window per sink of --sinks, unpaced or at --rate, one source MAC.
void test_fps(Bench& b, SwitchUnderTest& sw, Sample& s);
// macs: a window per count of --macs, source MACs cycled through.
void test_macs(Bench& b, SwitchUnderTest& sw, Sample& s);
// latency: a window at --latency-rate with every frame stamped.
void test_latency(Bench& b, SwitchUnderTest& sw, Sample& s);
// tcp: iperf3 between the namespaces (test_tcp.cpp).
void test_tcp(Bench& b, SwitchUnderTest& sw, Sample& s);

// The comparison's tests in the order they run on each switch (measure.cpp; a new test is
// its function and a line there).
const std::vector<CompareTest>& compare_tests();
// Every test --tests takes: the comparison's, then "mirror" (test_mirror.hpp) and "tcp-ports"
// (the TCP matrix, test_tcp_ports.hpp).
std::vector<std::string> test_names();

// The comparison's tests of --tests on the running switch sw, after learn().
Sample measure(Bench& b, SwitchUnderTest& sw);

}  // namespace bench
