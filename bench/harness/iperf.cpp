#include "bench/harness/iperf.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/harness/proc.hpp"

namespace bench {
namespace {

constexpr const char* kPort = "5201";

// Until the server in ns listens on kPort (at most `timeout_s`); false if it never did.
bool wait_listening(const std::string& ns, pid_t srv, double timeout_s) {
  const double end = now_s() + timeout_s;
  while (now_s() < end) {
    std::string out;
    run({"ip", "netns", "exec", ns, "ss", "-Hltn", std::string("sport = :") + kPort}, &out, 5);
    if (out.find("LISTEN") != std::string::npos) return true;
    if (!alive(srv)) return false;
    sleep_s(0.05);
  }
  return false;
}

// The client's JSON output into res; the error when there is one.
void read_client(const std::string& out, int rc, IperfResult& res) {
  try {
    nlohmann::json j = nlohmann::json::parse(out);
    if (j.contains("error")) res.error = j["error"].get<std::string>();
    const nlohmann::json& sum = j.at("end").at("sum_received");
    res.bytes = sum.at("bytes").get<double>();
    res.seconds = sum.at("seconds").get<double>();
    res.gbps = sum.at("bits_per_second").get<double>() / 1e9;
    res.retransmits = j.at("end").at("sum_sent").value("retransmits", NAN);
  } catch (...) {
  }
  if ((rc != 0 || !(res.gbps > 0)) && res.error.empty())
    res.error = rc == -1 ? "timeout" : rc != 0 ? "exit " + std::to_string(rc) : "nothing received";
  if (!res.ok()) {
    res.gbps = 0;
    res.bytes = 0;
  }
}

}  // namespace

IperfResult iperf3(const IperfRun& r) {
  IperfResult res;
  pid_t srv = spawn(
      {"ip", "netns", "exec", r.server_ns, "iperf3", "-s", "-1", "-B", r.server_ip, "-p", kPort},
      {r.log_dir + "/iperf3-server.log", {}});
  try {
    if (!wait_listening(r.server_ns, srv, 5)) {
      res.error = "the iperf3 server did not listen";
      res.gbps = 0;
    } else {
      const int secs = static_cast<int>(std::ceil(r.seconds));
      std::string out;
      double c0 = busy_cpu_s(), t0 = now_s();
      int rc = run({"ip", "netns", "exec", r.client_ns, "iperf3", "-c", r.server_ip, "-p", kPort,
                    "-t", std::to_string(secs), "-P", std::to_string(r.streams), "-J",
                    "--connect-timeout", "3000"},
                   &out, secs + 15);
      res.busy_cpu_s = busy_cpu_s() - c0;
      res.wall_s = now_s() - t0;
      res.busy_share =
          res.busy_cpu_s / (static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)) * res.wall_s);
      read_client(out, rc, res);
    }
  } catch (...) {
    stop(srv, 2);
    throw;
  }
  stop(srv, 2);
  return res;
}

}  // namespace bench
