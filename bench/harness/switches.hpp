// The switches the harness measures, all on the same topology (testbed.hpp). The default
// ("switch") topology:
//
//   gen ns: <P>g0 ==veth== <P>g1  [switch]  <P>s1 ==veth== <P>s0 :sink ns
//
// The "vxlan" topology (--topology vxlan) puts a VXLAN tunnel between two switches, each in a
// namespace of its own, joined by an underlay veth pair:
//
//   gen ns: <P>g0 == <P>g1 [switch A] <P>u0 198.18.1.1 ==underlay== 198.18.1.2 <P>u1 [switch B]
//           <P>s1 == <P>s0 :sink ns          (A in <P>-a, B in <P>-b; VNI 42, UDP 4789)
//
// Each SwitchUnderTest attaches the two host ends <P>g1 and <P>s1 (and on the vxlan topology
// makes its tunnel endpoints) in start() and releases them in stop(), leaving the veths as it
// found them (no XDP program, no master). One switch runs at a time; stop() is called on
// every path, also after a failed start().
//
//   brisk   build/briskd, private socket and state, worker pinned to the switch CPU
//           (`--cpus`), ports added with `port add <dev> vlan 1 driver afxdp` (or another
//           driver, or host taps instead: SwitchConfig::brisk_ports), fdb-limit raised so the
//           100K-MAC test fits. vxlan: two briskd, one per namespace (A's
//           worker on the switch CPU, B's on --switch-b-cpu), `port add <dev> vlan 0` (VLAN 0
//           travels untagged in the tunnel, as through the kernel's device) and
//           `bridge tunnel vxlan <br> <other end> 42`.
//   bridge  the Linux bridge <P>br; it runs in softirq context on whichever CPU receives
//           (the generator's); bench_pass is attached to <P>g1 so the veth accepts the
//           generator's XDP frames (the other switches attach their own XDP programs), unless
//           SwitchConfig::pass_prog_fd is -1 (the TCP matrix: no XDP program anywhere).
//           vxlan: a bridge and a kernel vxlan device (<P>vx, VNI 42, dstport 4789) in each
//           namespace.
//   ovs     Open vSwitch's userspace datapath: ovsdb-server and ovs-vswitchd started from a
//           private directory (database, sockets, pid and log files there; OVS_RUNDIR etc.
//           point there), datapath_type=netdev, type=afxdp ports, one PMD thread on the switch
//           CPU (pmd-cpu-mask), mac-table-size raised like brisk's fdb-limit. Switch topology
//           only.
//   afxdp   the bare AF_XDP forwarder (afxdp_forwarder.hpp) on the switch CPU. Switch topology
//           only.
//
// pids(): the processes whose CPU time counts as the switch's (empty for the bridge).
//
// Mirror test (--mirrors, test_mirror.hpp): the testbed adds destination veths
//
//   <P>d0..<P>d<N-1> ==veth== <P>m0..<P>m<N-1> in namespace <P>-mir (XDP: count, drop)
//
// and a switch with can_mirror() attaches the first SwitchConfig::mirror_ports of them as
// ports too (brisk: access ports of VLAN 1, AF_XDP like the others), whether or not a mirror
// uses them, so rows with 0, 1 and 4 mirrors run on the same ports. set_mirrors(n) makes the
// switch copy every frame entering or leaving <P>g1 to <P>d0..<P>d<n-1> (n mirrors, one per
// destination) and removes the others. counters() reads the switch's own counters for the
// loss accounting (named drops, and per mirror: copies made, delivered, dropped).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bench {

struct Topology {
  std::string prefix;  // random, e.g. "bk3f2a"
  bool vxlan = false;  // --topology vxlan
  std::string gen_ns, sink_ns;
  std::string gen_dev, gen_port, sink_port, sink_dev;  // <P>g0 <P>g1 <P>s1 <P>s0
  // The namespaces of <P>g1 and <P>s1: "" (the host's) on the switch topology, the tunnel
  // ends' <P>-a and <P>-b on the vxlan topology.
  std::string gen_port_ns, sink_port_ns;
  std::uint8_t gen_mac[6], sink_mac[6];
  std::string gen_ip = "198.18.0.1", sink_ip = "198.18.0.2";
  // The addresses of brisk's host taps when they stand in for the veths (SwitchConfig::
  // brisk_ports "tap"): in the generator and the sink namespace, beside <P>g0 and <P>s0.
  std::string gen_tap_ip = "198.18.2.1", sink_tap_ip = "198.18.2.2";
  // vxlan topology: the underlay veth <P>u0 (in <P>-a) == <P>u1 (in <P>-b). Its MTU leaves
  // room for 1500-byte inner frames plus VXLAN's 50 bytes, so neither switch fragments.
  std::string under_a, under_b;
  std::string under_a_ip = "198.18.1.1", under_b_ip = "198.18.1.2";
  std::uint32_t vni = 42;
  int underlay_mtu = 1600;
  // The generator's ceiling: <P>c0 (gen ns) ==veth== <P>c1 (sink ns), no switch between.
  std::string ceil_gen_dev, ceil_sink_dev;
  // The loop generator's veth pair <P>l0 == <P>l1, both in the generator namespace.
  std::string loop_a, loop_b;
  std::string workdir;  // private temp directory
  int gen_cpu = 0, switch_cpu = 1;
  int switch_b_cpu = 1;  // vxlan topology: CPU of switch B's forwarding thread (brisk)
  // Mirror test only (empty otherwise): <P>-mir, host ends <P>d<i>, far ends <P>m<i>.
  std::string mirror_ns;
  std::vector<std::string> mirror_ports, mirror_devs;
};

struct SwitchConfig {
  std::string briskd, brisk;             // binaries
  std::vector<std::string> briskd_args;  // extra briskd options
  std::string brisk_xdp_obj;             // for the bare forwarder
  std::string self_exe;                  // this program, for the forwarder subcommand
  int pass_prog_fd = -1;                 // bench_pass
  std::uint32_t max_macs = 262144;       // FDB size to configure (brisk, OVS)
  int nice = 0;                          // nice value of the switch's processes
  unsigned mirror_ports = 0;             // destination ports to attach (mirror test)
  // The frame tests' generators send XDP frames into brisk's veths, which only a native XDP
  // program on them receives: brisk gets `--afxdp-xdp native` unless briskd_args choose.
  bool xdp_senders = false;
  // brisk's ports (switch topology): "afxdp" or "afpacket", the driver of `port add` for the
  // host ends <P>g1 and <P>s1; or "tap": two host taps from `tap create 1`, moved into the
  // generator and sink namespaces (Topology::gen_tap_ip, sink_tap_ip) with MTU tap_mtu
  // (0: the kernel's), the veths left unattached. start() returns once brisk sees that MTU.
  std::string brisk_ports = "afxdp";
  unsigned tap_mtu = 0;
};

// A switch's own counters, for the mirror test's loss accounting. valid = false: the switch
// has none the harness can read (its drops stay unaccounted).
struct SwitchCounters {
  bool valid = false;
  // Named drops on every port that is not a mirror destination, by reason (summed over ports).
  std::map<std::string, std::uint64_t> drops;
  // Per destination port (index into Topology::mirror_ports), while a mirror uses it.
  struct Mirror {
    std::uint64_t mirrored = 0, delivered = 0, dropped = 0;
    friend bool operator==(const Mirror&, const Mirror&) = default;
  };
  std::vector<Mirror> mirrors;
};

class SwitchUnderTest {
 public:
  virtual ~SwitchUnderTest() = default;
  virtual std::string name() const = 0;
  virtual void start() = 0;
  virtual void stop() noexcept = 0;
  virtual std::vector<pid_t> pids() const { return {}; }
  // A line about how it runs (mode, pinning), for the report.
  virtual std::string describe() const { return {}; }
  // Mirror test, see above.
  virtual bool can_mirror() const { return false; }
  virtual void set_mirrors(unsigned /*n*/) {}
  virtual SwitchCounters counters() { return {}; }
};

// The registry (switches.cpp; one switch_<name>.cpp per switch).
//
// name: brisk, brisk-noxdp (brisk with --xdp-fastpath off), bridge, ovs or afxdp (vxlan
// topology: brisk or bridge). Throws for an unknown name.
std::unique_ptr<SwitchUnderTest> make_switch(const std::string& name, const Topology& topo,
                                             const SwitchConfig& cfg);
// Every switch's name, in the registry's order (the default --switches); those with a vxlan
// topology (the default --switches of --topology vxlan).
std::vector<std::string> switch_names();
std::vector<std::string> vxlan_switch_names();
bool switch_known(const std::string& name);
bool switch_has_vxlan(const std::string& name);

}  // namespace bench
