// test_tcp_ports: the TCP matrix (--tests tcp-ports, or any of --tcp-ports, --tcp-streams,
// --tcp-mtus without --tests). For each port kind, MTU and stream count: iperf3 (iperf.hpp)
// from the generator namespace to the sink namespace, default offloads, through brisk with
// that kind of port and through the Linux bridge on the same namespaces, in the same round:
// Gbit/s, and CPU per GByte = the busy CPU time of the whole machine over the run (every
// CPU: user, nice, system, irq, softirq of /proc/stat) / GBytes received. The same accounting
// for brisk and the bridge: senders, receivers and switch alike, wherever they run.
//
// Port kinds (tcp_port_kinds()):
//   veth-afxdp     brisk: the testbed's veths' host ends <P>g1 and <P>s1 as system ports,
//                  `port add <dev> vlan 1 driver afxdp` (brisk's default; XDP fast path on)
//   veth-afpacket  the same with `driver afpacket`
//   tap            brisk: two host taps of its own (`tap create 1`) moved into the generator
//                  and sink namespaces (198.18.2.1 and .2), the veths unattached
// The bridge's side is the same for every kind: a Linux bridge of <P>g1 and <P>s1 with no
// XDP program on any port (the comparison's bench_pass on <P>g1 would turn TSO off on
// <P>g0). For taps its reference is therefore veths. No sink program runs anywhere: the
// sink namespace is an ordinary TCP receiver.
//
// Per round, per kind and MTU: all four veth ends get the MTU (Testbed::set_mtu; brisk's taps
// get it too), then brisk and the bridge one after the other (the order alternates between
// rounds), each started, its path checked with a ping, iperf3 once per stream count, stopped.
// A switch that fails to start for a kind and MTU is recorded with its error and skipped in
// later rounds; a failed iperf3 run counts 0 Gbit/s with its error. The switch's own named
// drops over its iperf3 runs (SwitchUnderTest::counters(): brisk's) are kept, to say what
// a slow or failed cell lost. Main thread only.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "bench/harness/iperf.hpp"
#include "bench/harness/switches.hpp"

namespace bench {

struct Options;

struct TcpPortKind {
  const char* name;         // as --tcp-ports names it
  const char* brisk_ports;  // SwitchConfig::brisk_ports
  const char* bridge_ref;   // what the bridge's figures of this kind are measured on
};
const std::vector<TcpPortKind>& tcp_port_kinds();
std::vector<std::string> tcp_port_kind_names();
// The switches of the matrix, in the order of the report.
const std::vector<std::string>& tcp_port_switches();

// One cell of the matrix.
struct TcpCell {
  std::string kind;
  unsigned mtu = 1500, streams = 1;
  auto operator<=>(const TcpCell&) const = default;
};

// What the matrix gathered.
struct TcpPortResults {
  // cell -> switch ("brisk", "bridge") -> one result per round it ran
  std::map<TcpCell, std::map<std::string, std::vector<IperfResult>>> runs;
  // tcp_ports_label() -> why the switch failed to start, or describe() of the running switch
  std::map<std::string, std::string> errors, described;
  // tcp_ports_label() -> the switch's named drops by reason over its runs, summed (brisk)
  std::map<std::string, std::map<std::string, std::uint64_t>> drops;
};

// "veth-afxdp MTU 9000 brisk": a switch's setup for one kind and MTU, in the log and the maps.
std::string tcp_ports_label(const std::string& kind, unsigned mtu, const std::string& sw);
// The configuration of switch sw for a kind and MTU, from the comparison's.
SwitchConfig tcp_ports_config(const SwitchConfig& base, const TcpPortKind& kind, unsigned mtu,
                              const std::string& sw);
// The running switch sw (named `name`), set up for a kind and MTU: a ping until the path
// answers, then iperf3 once per stream count of o.tcp_streams into res, and its drops.
void measure_tcp_ports(const Options& o, const Topology& t, const TcpPortKind& kind, unsigned mtu,
                       const std::string& name, SwitchUnderTest& sw, TcpPortResults& res);

}  // namespace bench
