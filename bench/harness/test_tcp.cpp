// The tcp test of the comparison (measure.hpp): iperf3 from the generator to the sink
// namespace through the switch for --tcp-duration seconds, default offloads, with the sink's
// program detached meanwhile (and attached again afterwards, also on failure). A failed run
// counts as 0 Gbit/s, with iperf3's error (or its exit status) kept for the report.
#include <cmath>
#include <nlohmann/json.hpp>

#include "bench/harness/measure.hpp"
#include "bench/harness/proc.hpp"

namespace bench {

void test_tcp(Bench& b, SwitchUnderTest& /*sw*/, Sample& s) {
  const Options& o = b.options();
  const Topology& t = b.topology();
  std::string sink = b.sink();
  b.detach_sink();
  std::string port = "5201";
  pid_t srv =
      spawn({"ip", "netns", "exec", t.sink_ns, "iperf3", "-s", "-1", "-B", t.sink_ip, "-p", port},
            {t.workdir + "/iperf3-server.log", {}});
  try {
    sleep_s(0.3);
    std::string out;
    int rc = run({"ip", "netns", "exec", t.gen_ns, "iperf3", "-c", t.sink_ip, "-p", port, "-t",
                  std::to_string(static_cast<int>(std::ceil(o.tcp_duration))), "-J",
                  "--connect-timeout", "3000"},
                 &out, o.tcp_duration + 15);
    double bps = NAN;
    try {
      nlohmann::json j = nlohmann::json::parse(out);
      if (j.contains("error")) s.tcp_error = j["error"].get<std::string>();
      bps = j.at("end").at("sum_received").at("bits_per_second").get<double>();
    } catch (...) {
    }
    if (rc != 0 || !(bps > 0)) {
      s.tcp_failed = true;
      s.tcp_gbps = 0;
      if (s.tcp_error.empty()) s.tcp_error = rc == -1 ? "timeout" : "exit " + std::to_string(rc);
    } else {
      s.tcp_gbps = bps / 1e9;
    }
  } catch (...) {
    stop(srv, 2);
    b.attach_sink(sink);
    throw;
  }
  stop(srv, 2);
  b.attach_sink(sink);
}

}  // namespace bench
