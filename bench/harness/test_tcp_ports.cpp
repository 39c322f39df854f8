#include "bench/harness/test_tcp_ports.hpp"

#include "bench/harness/options.hpp"
#include "bench/harness/proc.hpp"
#include "bench/harness/text.hpp"

namespace bench {

const std::vector<TcpPortKind>& tcp_port_kinds() {
  static const std::vector<TcpPortKind> kinds = {
      {"veth-afxdp", "afxdp", "veths"},
      {"veth-afpacket", "afpacket", "veths"},
      {"tap", "tap", "veths (a kernel bridge of the same veths: no process holds a tap for it)"},
  };
  return kinds;
}

std::vector<std::string> tcp_port_kind_names() {
  std::vector<std::string> v;
  for (const auto& k : tcp_port_kinds()) v.emplace_back(k.name);
  return v;
}

const std::vector<std::string>& tcp_port_switches() {
  static const std::vector<std::string> v = {"brisk", "bridge"};
  return v;
}

std::string tcp_ports_label(const std::string& kind, unsigned mtu, const std::string& sw) {
  return kind + " MTU " + std::to_string(mtu) + " " + sw;
}

SwitchConfig tcp_ports_config(const SwitchConfig& base, const TcpPortKind& kind, unsigned mtu,
                              const std::string& sw) {
  SwitchConfig c = base;
  c.mirror_ports = 0;
  c.pass_prog_fd = -1;    // the bridge: no XDP program on its ports
  c.xdp_senders = false;  // iperf3 sends skbs: brisk's default attach mode
  if (sw == "brisk") {
    c.brisk_ports = kind.brisk_ports;
    c.tap_mtu = mtu;
  }
  return c;
}

namespace {

// The switch's named drops now (none when it has no counters the harness can read).
std::map<std::string, std::uint64_t> drops_of(SwitchUnderTest& sw) {
  try {
    return sw.counters().drops;
  } catch (const std::runtime_error& e) {
    log(std::string("warning: ") + e.what());
    return {};
  }
}

}  // namespace

void measure_tcp_ports(const Options& o, const Topology& t, const TcpPortKind& kind, unsigned mtu,
                       const std::string& name, SwitchUnderTest& sw_ut, TcpPortResults& res) {
  const std::string& sw = name;
  const bool taps = sw == "brisk" && std::string(kind.brisk_ports) == "tap";
  const std::string& server_ip = taps ? t.sink_tap_ip : t.sink_ip;
  // The path answers before iperf3 starts (a tap comes up, the switch learns both MACs).
  bool up = false;
  for (int i = 0; i < 10 && !up; ++i)
    up = run({"ip", "netns", "exec", t.gen_ns, "ping", "-c", "1", "-W", "1", server_ip}, nullptr,
             5) == 0;
  if (!up)
    log("warning: " + tcp_ports_label(kind.name, mtu, sw) + ": ping " + server_ip +
        " through the switch got no answer");
  std::map<std::string, std::uint64_t> d0 = drops_of(sw_ut);
  for (unsigned n : o.tcp_streams) {
    IperfResult r = iperf3(IperfRun{t.gen_ns, t.sink_ns, server_ip, n, o.tcp_duration, t.workdir});
    res.runs[TcpCell{kind.name, mtu, n}][sw].push_back(r);
    log(tcp_ports_label(kind.name, mtu, sw) + ", " + std::to_string(n) +
        (n == 1 ? " stream: " : " streams: ") +
        (r.ok() ? fmt(r.gbps, 2) + " Gbit/s, " + fmt(r.cpu_s_per_gbyte(), 2) + " CPU s/GB, " +
                      fmt(r.retransmits, 0) + " retransmits"
                : "failed (" + r.error + ")"));
  }
  std::map<std::string, std::uint64_t>& sum = res.drops[tcp_ports_label(kind.name, mtu, sw)];
  for (const auto& [reason, n] : drops_of(sw_ut))
    if (n > d0[reason]) sum[reason] += n - d0[reason];
}

}  // namespace bench
