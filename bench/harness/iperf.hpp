// iperf: one iperf3 TCP run between two namespaces, the one place the harness starts iperf3
// (the comparison's tcp test, test_tcp.cpp, and the TCP matrix, test_tcp_ports.hpp).
//
// A one-off server (`iperf3 -s -1`) in the server's namespace, bound to its address, waited
// for until it listens; the client in the other namespace with -P streams for `seconds`
// (default offloads, iperf3's defaults otherwise), its JSON read. Around the client's run the
// busy CPU time of the whole machine (proc.hpp's busy_cpu_s()) is taken, so a figure of CPU
// per byte counts the senders', the receivers' and the switch's work alike, whoever does it.
// The server is stopped by PID on every path. Main thread only (proc.hpp).
#pragma once

#include <cmath>
#include <string>

namespace bench {

struct IperfRun {
  std::string client_ns, server_ns, server_ip;
  unsigned streams = 1;
  double seconds = 2;
  std::string log_dir;  // the server's log goes here
};

struct IperfResult {
  double gbps = NAN;         // received bits/s / 1e9 (iperf3's sum_received)
  double bytes = 0;          // bytes received
  double seconds = 0;        // iperf3's measured interval
  double retransmits = NAN;  // the senders' TCP retransmissions (iperf3's sum_sent)
  double busy_cpu_s = NAN;   // the machine's busy CPU time over the client's run
  double wall_s = NAN;       // the client's run, start to exit
  double busy_share = NAN;   // busy_cpu_s / (online CPUs x wall_s): near 1, the machine was full
  std::string error;         // "" when it ran; else iperf3's error or how it ended
  bool ok() const { return error.empty(); }
  // CPU seconds per GByte (1e9 bytes) received; NaN when nothing was received.
  double cpu_s_per_gbyte() const { return bytes > 0 ? busy_cpu_s / (bytes / 1e9) : NAN; }
};

// Runs it; never throws for iperf3's own failure (that is in error, gbps 0), only on
// Interrupted and when the server cannot be started.
IperfResult iperf3(const IperfRun& r);

}  // namespace bench
