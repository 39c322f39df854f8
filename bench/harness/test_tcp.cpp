// The tcp test of the comparison (measure.hpp): iperf3 (iperf.hpp) from the generator to the
// sink namespace through the switch for --tcp-duration seconds, one stream, default offloads,
// with the sink's program detached meanwhile (and attached again afterwards, also on
// failure). A failed run counts as 0 Gbit/s, with iperf3's error (or its exit status) kept for
// the report.
#include "bench/harness/iperf.hpp"
#include "bench/harness/measure.hpp"

namespace bench {

void test_tcp(Bench& b, SwitchUnderTest& /*sw*/, Sample& s) {
  const Options& o = b.options();
  const Topology& t = b.topology();
  std::string sink = b.sink();
  b.detach_sink();
  IperfResult r;
  try {
    r = iperf3(IperfRun{t.gen_ns, t.sink_ns, t.sink_ip, 1, o.tcp_duration, t.workdir});
  } catch (...) {
    b.attach_sink(sink);
    throw;
  }
  b.attach_sink(sink);
  s.tcp_gbps = r.gbps;
  s.tcp_failed = !r.ok();
  s.tcp_error = r.error;
}

}  // namespace bench
