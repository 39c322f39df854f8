// test_mirror: the mirror test (--mirrors, --tests mirror; measure.hpp's header describes it).
// Per mirror count n on one running switch: n mirrors of <P>g1, one per destination port
// (SwitchUnderTest::set_mirrors), an fps window at the sink and at each destination's far end,
// and a loss account over the whole run, read from the counters of every place a frame or a
// copy can be dropped (netdev_stats.hpp, SwitchUnderTest::counters()). The rows and the
// judgement are report_mirror.hpp's.
//
// Main thread only, through the Bench (measure.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/harness/measure.hpp"

namespace bench {

// One row of the mirror test in one round. Rates are from the measured window; the account
// covers the whole run (generator start to drained), in frames.
struct MirrorSample {
  unsigned mirrors = 0;
  double offered = NAN, forwarded = NAN, cpu_pct = NAN;
  double cpu_ns = NAN;          // CPU time (as in the fps test) per forwarded frame
  std::vector<double> dst_fps;  // per mirror: frames/s its destination's far end received
  // Account of the offered frames: offered_n = sink_n + rx_ring + rx_xsk + sw_drops + tx_lost
  // + unaccounted.
  std::uint64_t offered_n = 0, sink_n = 0;
  std::uint64_t rx_ring = 0;   // <P>g0 -> <P>g1 veth ring full (before the switch saw them)
  std::uint64_t rx_xsk = 0;    // <P>g1's XDP program could not hand them on (AF_XDP RX ring full)
  std::uint64_t sw_drops = 0;  // the switch's named drops (ports other than mirror destinations)
  std::map<std::string, std::uint64_t> drop_reasons;
  std::uint64_t tx_lost = 0;  // <P>s1 -> <P>s0 veth ring full, or refused by <P>s0
  // Not the generator's frames only: an ARP probe of the namespaces' own stacks dropped on the
  // way counts too, so a few frames below zero are possible.
  std::int64_t unaccounted = 0;
  bool sw_counted = false;  // the switch's own counters were read
  // Account of the mirror copies, summed over the mirrors: mirrored = delivered + sw_dropped
  // (the switch's counters), delivered = far_n + wire_lost + mirror_unaccounted.
  std::uint64_t mirrored = 0, delivered = 0, sw_dropped = 0, far_n = 0, wire_lost = 0;
  std::int64_t mirror_unaccounted = 0;
};

// Variant ("brisk fastpath on") -> mirror count -> one sample per round.
using MirrorSamples = std::map<std::string, std::map<unsigned, std::vector<MirrorSample>>>;

// The switches of the mirror test, in report order: brisk per --mirror-fastpath setting, then
// Open vSwitch.
struct MirrorVariant {
  std::string label, sw;
  std::vector<std::string> briskd_args;
};
std::vector<MirrorVariant> mirror_variants(const Options& o);

// The mirror test's row for n mirrors: set them, teach the switch both MACs, one fps window
// (one source MAC), and the loss account from before the generator starts until the frames
// in flight have drained.
MirrorSample measure_mirrors(Bench& b, SwitchUnderTest& sw, unsigned n);

}  // namespace bench
