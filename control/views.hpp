// Views: the switch's listings as typed values, and their renderers. One set of values feeds
// every front end:
//   * the Switch builds them (Switch::tap_views(), bridge_views(), port_views(),
//     mirror_views(), stats_view(); control/switch_views.cpp, control/mirror.cpp) from its model,
//     the workers' counters and what each port's driver says about itself (Port::info() and
//     describe(), datapath/port.hpp);
//   * the control socket's text tables and JSON render them (render_*() below,
//     control/view_render.cpp);
//   * the Prometheus metrics render them too (control/metrics.cpp).
// No front end parses another's output.
//
// Threads and ownership: a view is built on the control thread (the only one that may read the
// Switch; counters are read with relaxed loads, as `stats` reads them, so the figures are each
// a moment old and not one consistent cut). Once built, it is a plain value owned by whoever
// asked: it holds no pointer into the model (shared_ptr<const VlanSet>: immutable sets), and may
// be moved to and rendered on any thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/result.hpp"
#include "control/switch.hpp"

namespace brisk {

// `tap`: one host tap.
struct TapView {
  std::string name, bridge;
  VlanMode mode = VlanMode::kAccess;
  VlanId vlan = 0, native = 0;
  std::shared_ptr<const VlanSet> allowed;  // trunks
  std::string alias;                       // minimega VLAN alias, if any
  std::string ip;                          // "" | cidr | "dhcp"
};

// `bridge` (and the FDB part of `stats`): one bridge.
struct BridgeView {
  std::string name;
  bool preexisting = false;
  std::set<VlanId> vlans;            // access and dot1q-tunnel VLANs of its ports
  std::vector<std::string> trunks;   // system ports that are trunks
  std::vector<std::string> tunnels;  // tunnel ports
  std::uint32_t ageing = 0, fdb_limit = 0;
  std::uint64_t fdb_entries = 0;
  MacTableStats fdb;  // what learning did
};

// The qdisc someone installed on a port's device (control/switch_qdisc.cpp).
struct QdiscView {
  std::string kind, handle;  // "tbf", "8001:"
  bool root = false;
  bool through = false;  // the port's output passes it
};

// A port's rate limits (control/qos.hpp) as realised.
struct QosView {
  std::uint64_t police_kbit = 0, police_burst_kbit = 0;  // police_kbit 0: not policed
  std::uint64_t police_depth_bytes = 0;
  EgressQos egress;
  PortQos::Via via = PortQos::Via::kNone;  // kNone: no outbound limit
  std::string why_userspace;
};

// `port`: one port, with its driver's own figures.
struct PortView {
  std::string name, bridge;
  PortId id = kInvalidPort;
  PortKind kind = PortKind::kTap;
  std::string
      driver;     // the model's: afxdp | afpacket | dpdk (system), vxlan | gre, client | server
  PortInfo info;  // the driver's (datapath/port.hpp)
  VlanMode mode = VlanMode::kAccess;
  VlanId vlan = 0, native = 0;
  std::shared_ptr<const VlanSet> allowed;  // trunks
  std::optional<TunnelKey> tunnel;
  std::string devargs;
  unsigned worker = 0;
  std::uint32_t mtu = 0;  // 0: none known
  PortTotals totals;
  bool xdp_fastpath = false;  // accelerated by the XDP fast path
  bool xdp_egress = false;    // ... which also redirects frames to it
  bool tc_fastpath = false;   // ... with brisk's tc program on its device
  FastpathCounters fastpath;
  std::optional<FastpathTunnelState> fastpath_tunnel;  // an accelerated VXLAN tunnel's
  std::optional<QdiscView> qdisc;
  QosView qos;
  Owner owner = Owner::kNative;
  DriverFigures figures;  // Port::describe()
};

// `stats`: a port's counters.
struct PortStatsView {
  std::string name, bridge;
  PortTotals totals;
  struct Fastpath {
    bool accelerated = false;
    FastpathCounters counters;
    std::optional<std::uint64_t> fdb_entries;  // `stats <port>` only (a walk of the BPF map)
  };
  std::optional<Fastpath> fastpath;  // with the fast path on
};

// `tap mirror`, `capture` and `stats`: a port mirror or a pcap capture, and its copies.
struct MirrorView {
  std::string bridge;
  std::string src;                       // the source port; "": every port of the bridge
  std::string dst;                       // the destination port; a capture: its file
  std::shared_ptr<const VlanSet> vlans;  // port mirrors: only these VLANs (nullptr: all)
  bool capture = false;
  std::uint32_t capture_id = 0, snaplen = 0;  // captures
  MirrorCounts counts;
};

// `stats [port]`.
struct StatsView {
  std::string port;  // "" : every port, and the switch-wide figures below
  std::vector<PortStatsView> ports;
  std::array<std::uint64_t, kDropCount> drops{};  // the ports' drops summed
  // Switch-wide (port == ""):
  std::uint64_t learn_requests = 0, learn_ring_full = 0, learn_applied = 0;
  std::uint64_t deny_log_lines = 0, deny_events_not_logged = 0;
  bool xdp_fastpath = false;
  std::optional<std::uint64_t> fastpath_fdb_entries;  // when asked for (a walk of the BPF map)
  std::uint64_t fastpath_fdb_errors = 0;
  std::vector<BridgeView> bridges;
  std::vector<MirrorView> mirrors;
};

// The control socket's replies: a minimega-style table as text, the same as JSON.
Reply render_taps(const std::vector<TapView>& v);
Reply render_bridges(const std::vector<BridgeView>& v);
Reply render_ports(const std::vector<PortView>& v);
Reply render_mirrors(const std::vector<MirrorView>& v);   // the port mirrors among them
Reply render_captures(const std::vector<MirrorView>& v);  // the captures among them
Reply render_stats(const StatsView& v);

}  // namespace brisk
