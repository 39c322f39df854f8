// Switch: the control thread's model of bridges and ports, and the snapshot builder.
//
// Every operation validates its arguments completely before changing anything, so a refused
// command (Reply::ok == false) leaves the model, the kernel devices and the datapath as they
// were. A successful change rebuilds an immutable Snapshot and publishes it to the workers.
//
// Thread-safety: a Switch is used by one thread only (the control thread). It is the single
// writer of every bridge's MacTable and the consumer of every worker's learn ring (tick()).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/caller.hpp"
#include "control/netdev.hpp"
#include "control/qos.hpp"
#include "control/result.hpp"
#include "datapath/afxdp_port.hpp"
#include "datapath/counters.hpp"
#include "datapath/mac_table.hpp"
#include "datapath/port.hpp"
#include "datapath/snapshot.hpp"
#include "datapath/tunnel_codec.hpp"
#include "datapath/umem_pool.hpp"
#include "datapath/worker.hpp"
#include "datapath/xdp_fastpath.hpp"

namespace brisk {

// What the control plane asks a port factory for.
struct PortSpec {
  std::string name;     // interface name (created for taps, existing for system ports)
  PortKind kind;        // kTap / kInternal (created by brisk) or kSystem (attached)
  std::string driver;   // kSystem: "afxdp", "afpacket" or "dpdk"; kVhost: "client" or "server"
  TunnelKey tunnel;     // kTunnel: type, remote, key
  std::string devargs;  // kSystem with driver "dpdk": the device string; kVhost: socket path
  unsigned worker = 0;  // the worker that will poll the port (AF_XDP: whose UMEM it joins)
};

struct SwitchOptions {
  std::string default_bridge = "mega_bridge";
  std::string tap_prefix = "mega_tap";
  // Create each bridge's own interface (a host tap named after the bridge).
  bool bridge_interface = true;
  // The XDP fast path (datapath/xdp_fastpath.hpp): AF_XDP ports in native mode forward
  // learned unicast between each other in the kernel. briskd turns it on by default
  // (--xdp-fastpath on|off); when its maps cannot be created it stays off, with a log line.
  bool xdp_fastpath = false;
  // AF_XDP ports polled by one worker share one UMEM (datapath/umem_pool.hpp): frames between
  // them are forwarded without a copy. false: every AF_XDP port has its own UMEM (copies).
  // briskd: --afxdp-umem shared|private.
  bool afxdp_shared_umem = true;
  // How AF_XDP ports attach brisk's XDP program (AfXdpOptions::XdpMode). auto: generic (skb)
  // mode on veths, whose peer keeps its TSO (a veth under a native program loses it: the
  // kernel's veth_xdp_set), the tc half of the fast path carrying its super-frames; native on
  // other devices. briskd: --afxdp-xdp auto|native|generic.
  AfXdpOptions::XdpMode afxdp_xdp = AfXdpOptions::XdpMode::kAuto;
  // fdb-limit of new bridges (`bridge config <b> fdb-limit=N` changes one bridge).
  std::uint32_t fdb_limit = kMacTableDefaultLimit;
  // Makes ports; tests substitute memory ports. Throws std::exception with a one-line message
  // on failure (no such device, no permission...).
  std::function<std::shared_ptr<Port>(const PortSpec&)> make_port;
};

// A trunk's VLANs: "all", or a list like "10,20,30-40". nullopt if malformed.
std::optional<VlanSet> parse_vlan_list(const std::string& s);
std::string format_vlan_list(const VlanSet& v);

// "access", "trunk", "dot1q-tunnel" (the names of `port`, `port vlan` and the state file).
std::string_view vlan_mode_name(VlanMode m);
std::optional<VlanMode> parse_vlan_mode(std::string_view s);

// Which front end made an object. Native objects (brisk commands, the state file) are kept in
// brisk's state file; kOvsdb objects live in the Open vSwitch database (control/ovsdb_vswitch.hpp)
// and are made again from it, so the state file leaves them out.
enum class Owner : std::uint8_t { kNative, kOvsdb };
std::string_view owner_name(Owner o);

// Passed as the VLAN to tap_create() when `alias` is new and must be allocated (from 101).
inline constexpr VlanId kNewAliasVlan = 0xffff;

struct TapView;
struct BridgeView;
struct PortView;
struct StatsView;
struct MirrorView;

struct PortModel {
  PortId id = kInvalidPort;
  std::string name;
  PortKind kind = PortKind::kTap;
  std::shared_ptr<Port> port;
  std::string bridge;
  VlanMode mode = VlanMode::kAccess;
  VlanId vlan = 0;    // access VLAN; dot1q-tunnel: the service VLAN
  VlanId native = 0;  // trunk native VLAN
  std::shared_ptr<const VlanSet> allowed;
  std::string vlan_alias;  // minimega VLAN alias the tap was created with, if any
  std::string ip;          // "" | cidr | "dhcp"
  std::string driver;      // system ports: the driver in use; tunnels: vxlan | gre
  TunnelKey tunnel;        // tunnels: what identifies its traffic
  std::string devargs;     // dpdk: the device string; vhost: the socket path
  bool flood_unknown = true;
  std::shared_ptr<const PortSecurity> security;  // nullptr: no bindings
  std::uint32_t mac_limit = 0;                   // learned MACs on this port (0: no limit)
  std::uint32_t storm_pps = 0;                   // flood rate limit (0: off)
  pid_t dhcp_pid = 0;
  PortTotals base;  // counters at creation (port ids are reused)
  // The worker that polls this port, fixed for the port's life: moving a port between
  // workers would let the old and the new worker poll it at once during a snapshot change.
  unsigned worker = 0;
  // AF_XDP and AF_PACKET system ports: the qdisc someone installed on the device (none:
  // !present()), checked at attach and once a second (control/switch_qdisc.cpp).
  Qdisc qdisc;
  // Inbound policing and the outbound limit (control/qos.hpp, control/switch_qos.cpp).
  PortQos qos;
  Owner owner = Owner::kNative;
};

// A port mirror (`tap mirror`) or a pcap capture (`capture pcap`); see control/mirror.cpp.
struct MirrorModel {
  std::string bridge;
  std::string src;                   // source port; "" = every port of the bridge (select-all)
  std::string dst;                   // destination port; "" for a capture
  std::shared_ptr<const VlanSet> vlans;  // port mirrors: only these VLANs (nullptr: all)
  std::shared_ptr<Capture> capture;  // captures only
  std::uint32_t capture_id = 0;      // captures: the id `capture` lists
  std::uint16_t slot = 0;            // WorkerCounters::mirror[slot]
  Owner owner = Owner::kNative;
  // What the slot held at creation (slot reuse), by who counts: the workers and the XDP
  // fast path (xdp_fastpath.hpp, "Mirrors").
  struct Tally {
    std::uint64_t mirrored = 0, delivered = 0, dropped = 0;
  } base_workers, base_kernel;
};

struct MirrorCounts {
  std::uint64_t mirrored = 0, delivered = 0, dropped = 0, queued = 0;
  MirrorModel::Tally kernel;  // the share of the copies the XDP fast path made (included above)
};

struct BridgeModel {
  std::string name;
  std::shared_ptr<MacTable> fdb;
  std::uint32_t ageing = kMacEntryDefaultAgeSec;
  std::uint32_t fdb_limit = kMacTableDefaultLimit;
  bool preexisting = false;
  std::string self_port;  // name of the bridge's own interface ("" if none)
  Owner owner = Owner::kNative;
};

class Switch {
 public:
  Switch(Datapath& dp, SwitchOptions opts);
  ~Switch();

  // ---- bridges ----
  Reply ensure_bridge(const std::string& name);
  Reply destroy_bridge(const std::string& name);
  Reply set_ageing(const std::string& bridge, std::uint32_t seconds);
  Reply set_fdb_limit(const std::string& bridge, std::uint32_t limit);
  Reply nuke();

  // ---- ports ----
  // Create a host tap on `bridge` in VLAN `vlan` (access). name "" picks the next free
  // <tap_prefix><N>. ip: "" | "<cidr>" | "dhcp". vlan == kNewAliasVlan allocates `alias`.
  Reply tap_create(const std::string& bridge, VlanId vlan, const std::string& alias,
                   std::string name, const std::string& ip);
  Reply tap_delete(const std::string& name);  // "all" deletes every tap
  // Attach an existing netdev. Access: mode kAccess + vlan. Trunk: mode kTrunk + allowed +
  // native (added to allowed). QinQ: mode kDot1qTunnel + vlan. driver "" tries afxdp, then
  // afpacket (saying so in the reply).
  Reply port_add(const std::string& iface, const std::string& bridge, VlanMode mode, VlanId vlan,
                 const VlanSet& allowed, VlanId native, const std::string& driver);
  Reply port_delete(const std::string& name);
  // `port vlan`: change the VLAN mode of an existing port in place (host tap, system port,
  // vhost-user port): kAccess + vlan, kTrunk + allowed + native (added to allowed), or
  // kDot1qTunnel + vlan (QinQ, datapath/vlan.hpp). The port keeps its device, counters and
  // settings; the addresses it had learned are forgotten (they were learned in the old
  // VLANs). Tunnels (always trunks of every VLAN) and bridges' own interfaces are refused.
  Reply port_vlan(const std::string& name, VlanMode mode, VlanId vlan, const VlanSet& allowed,
                  VlanId native);
  // A vhost-user port (datapath/vhost_port.hpp) on an access VLAN. name "" picks the next
  // free vhost<N>. server: brisk listens on `socket`; else it connects (and reconnects).
  Reply vhost_create(const std::string& bridge, VlanId vlan, std::string name,
                     const std::string& socket, bool server);
  // minimega: `bridge trunk <b> <iface>` attaches iface as a trunk of every VLAN, native 0.
  Reply bridge_trunk(const std::string& bridge, const std::string& iface);
  Reply bridge_notrunk(const std::string& bridge, const std::string& iface);
  // minimega: `bridge tunnel <vxlan|gre> <b> <remote ip> [key]` adds a tunnel port (a trunk of
  // every VLAN, native 0) named from the tap name generator; prints its name. One tunnel per
  // (type, remote, key) on the host. `bridge notunnel <b> <iface>` removes it.
  // `name` (state replay): the port's name instead of the next free tap name.
  Reply bridge_tunnel(TunnelType type, const std::string& bridge, const std::string& remote,
                      std::optional<std::uint32_t> key, const std::string& name = "");
  Reply bridge_notunnel(const std::string& bridge, const std::string& iface);

  // ---- port security and limits (datapath/port_security.hpp) ----
  Reply security_bind(const std::string& port, const MacAddr& mac, const std::vector<Ipv4>& v4,
                      const std::vector<Ipv6>& v6);
  Reply security_off(const std::string& port);
  Reply security_limit(const std::string& port, std::uint32_t limit);
  Reply show_security(const std::string& port) const;
  Reply set_flood(const std::string& port, bool on);
  Reply set_storm(const std::string& port, std::uint32_t pps);

  // ---- rate limits (control/qos.hpp; control/switch_qos.cpp) ----
  // Police what brisk receives from `port` at rate_kbit kbit/s with a burst of burst_kbit
  // kbit (OVS ingress_policing_rate/burst units; burst 0: OVS's default). rate 0: off.
  Reply port_police(const std::string& port, std::uint64_t rate_kbit, std::uint64_t burst_kbit);
  // Limit what brisk sends to `port` (q.max_rate 0: off). On success the reply's text says
  // how it is realised ("htb on <dev>", or "userspace" and why).
  Reply port_egress_qos(const std::string& port, const EgressQos& q);

  // ---- mirrors and captures (control/mirror.cpp) ----
  // minimega's `tap mirror <src> <dst> [bridge]`; src "all" mirrors every port of the bridge.
  // vlans (OVS select_vlan): only frames of these VLANs are copied (nullptr: every VLAN).
  Reply mirror_add(const std::string& src, const std::string& dst, const std::string& bridge,
                   std::shared_ptr<const VlanSet> vlans = nullptr);
  Reply mirror_clear(const std::string& dst);  // "" clears every port mirror
  Reply list_mirrors() const;
  // kind "tap": frames entering or leaving port `name`; kind "bridge": every frame of bridge
  // `name`. `file` must be an absolute path; it is created for `caller` (an existing file is
  // refused unless `overwrite`, and then only a regular file the caller owns is replaced:
  // control/capture_file.hpp).
  Reply capture_add(const std::string& kind, const std::string& name, const std::string& file,
                    std::uint32_t snaplen, bool overwrite = false,
                    const Caller& caller = Caller::self());
  Reply capture_clear(std::optional<std::uint32_t> id);  // nullopt: every capture
  Reply list_captures() const;
  std::vector<MirrorView> mirror_views() const;  // port mirrors and captures
  MirrorCounts mirror_counts(const MirrorModel& m) const;
  void slot_tallies(const MirrorModel& m, MirrorModel::Tally& workers,
                    MirrorModel::Tally& kernel) const;
  const std::vector<MirrorModel>& mirrors() const { return mirrors_; }

  // ---- FDB ----
  Reply fdb_add(const std::string& bridge, VlanId vlan, const MacAddr& mac,
                const std::string& port);
  Reply fdb_del(const std::string& bridge, VlanId vlan, const MacAddr& mac);
  Reply fdb_flush(const std::string& bridge, const std::string& port, std::optional<VlanId> vlan);

  // ---- VLAN aliases (minimega): an unknown alias gets the next free VLAN from 101 ----
  std::optional<VlanId> resolve_alias(const std::string& alias, bool allocate);

  // ---- listings: typed views (control/views.hpp), and their text + JSON ----
  std::vector<TapView> tap_views() const;
  std::vector<BridgeView> bridge_views() const;
  std::vector<PortView> port_views() const;
  // port "": every port and the switch-wide figures. fastpath_fdb: count the fast path's FDB
  // entries (a walk of the BPF map): the whole map's, or the one port's.
  StatsView stats_view(const std::string& port, bool fastpath_fdb) const;
  Reply list_taps() const;
  Reply list_bridges() const;
  Reply list_ports() const;
  Reply show_fdb(const std::string& bridge) const;
  Reply show_stats(const std::string& port) const;

  // ---- the control thread's periodic work ----
  // Apply learn requests, age entries once per second of `now`, reclaim old snapshots, remove
  // ports whose device vanished, reap DHCP clients. `now` is the datapath clock (seconds).
  // Returns true when there was work (learn requests, drop events) or work is pending
  // (snapshots or captures waiting for a grace period): the caller ticks again soon.
  bool tick(std::uint32_t now);
  std::uint32_t now() const { return now_; }
  const std::string& default_bridge() const { return opts_.default_bridge; }

  const std::map<std::string, BridgeModel>& bridges() const { return bridges_; }
  // For the state store (control/state.hpp): VLAN aliases, restoring one with its number,
  // and a number that changes whenever the configuration (a new snapshot) changes.
  const std::map<std::string, VlanId>& aliases() const { return aliases_; }
  void restore_alias(const std::string& alias, VlanId vlan) { aliases_[alias] = vlan; }
  // Undoing a command (StateStore::commit): forget an alias it allocated; put back the alias
  // label of a port that port_vlan() cleared.
  void forget_alias(const std::string& alias) { aliases_.erase(alias); }
  void restore_port_alias(const std::string& port, const std::string& alias) {
    if (auto it = ports_.find(port); it != ports_.end()) it->second.vlan_alias = alias;
  }
  std::uint64_t config_version() const { return version_; }
  // Mark who made a bridge, a port or a port mirror (by destination); the verbs make native
  // objects. false: no such object.
  bool set_bridge_owner(const std::string& name, Owner o);
  bool set_port_owner(const std::string& name, Owner o);
  bool set_mirror_owner(const std::string& dst, Owner o);
  const std::map<std::string, PortModel>& ports() const { return ports_; }
  PortTotals totals(const PortModel& p) const;
  // The port's output passes the qdisc on its device (control/switch_qdisc.cpp).
  bool through_qdisc(const PortModel& p) const;
  // The fast path is running (maps created) / this port is accelerated by it.
  bool fastpath_enabled() const { return fp_ != nullptr; }
  bool fastpath_accelerated(const PortModel& p) const;
  // The XDP fast path's counters of the port (zero without the fast path).
  FastpathCounters fastpath_counters(const PortModel& p) const;
  const XdpFastpath* fastpath() const { return fp_.get(); }

 private:
  Reply add_port(PortModel pm);
  void remove_port_model(const std::string& name);
  void rebuild();
  std::optional<PortId> alloc_id();
  std::string next_tap_name();
  bool host_name_free(const std::string& name);
  void drain_learning();
  void drain_events();
  void refresh_mtus();
  std::string port_name(PortId id) const;
  // control/switch_fastpath.cpp: mirror the model into the fast path's maps; called by
  // rebuild() BEFORE it publishes (so restrictions reach the kernel first).
  bool fastpath_eligible(const PortModel& p) const;
  bool fastpath_tunnel_eligible(const PortModel& p) const;
  void sync_fastpath();
  // Qdiscs on system ports' devices (control/switch_qdisc.cpp): refresh_qdiscs() once a
  // second, watch_qdisc() for a port being attached (before its first snapshot).
  void refresh_qdiscs();
  void watch_qdisc(PortModel& p);
  void set_tx_path(PortModel& p, const Qdisc& was);
  // Rate limits (control/switch_qos.cpp): undo what brisk installed for a port going away.
  void release_qos(PortModel& p);
  // Mirrors (control/mirror.cpp).
  bool fastpath_mirrored(const PortModel& p) const;
  bool fastpath_skb(const PortModel& p) const;  // control/switch_fastpath.cpp
  int fastpath_ifindex(const PortModel& p) const;
  int fastpath_mirror_ifindex(const PortModel& d) const;
  bool is_mirror_dst(const std::string& port) const;
  bool is_mirror_src(const std::string& port) const;
  // The PortId of a mirror's source (kInvalidPort: bridge-wide); after prune_mirrors().
  PortId mirror_src(const MirrorModel& m) const;
  std::optional<std::uint16_t> alloc_mirror_slot();
  void prune_mirrors();  // drop mirrors whose ports are gone
  void build_mirrors(Snapshot& s, const std::map<std::string, std::uint16_t>& bidx) const;
  bool wait_grace(std::chrono::milliseconds limit);  // every retired snapshot reclaimed
  void finish_closing();                             // close captures no worker can reach
  void close_all_captures();

  Datapath& dp_;
  SwitchOptions opts_;
  std::map<std::string, BridgeModel> bridges_;
  std::map<std::string, PortModel> ports_;
  std::array<bool, kMaxPorts> used_{};
  PortId next_id_ = 0;
  std::map<std::string, VlanId> aliases_;
  // Ports removed in the last second, by name, with when (host_name_free()).
  std::map<std::string, std::chrono::steady_clock::time_point> released_;
  std::uint32_t now_ = 0;
  std::uint32_t last_aged_ = 0;
  std::uint64_t version_ = 0;
  std::uint64_t learn_applied_ = 0;
  // Port id -> the table its learn requests may write (nullptr: unused id or hub mode).
  std::array<MacTable*, kMaxPorts> learn_target_{};
  // Deny-log rate limit: lines written in the current second and suppressed since.
  std::uint32_t log_second_ = 0, logged_this_second_ = 0;
  std::uint64_t log_suppressed_ = 0;
  std::uint64_t denies_logged_ = 0;
  std::unique_ptr<XdpFastpath> fp_;  // nullptr: fast path off
  // Shared UMEMs of AF_XDP ports, per worker (nullptr: each port its own). Used only while
  // a port is constructed; the pools live as long as their ports.
  std::unique_ptr<UmemRegistry> umems_;
  // Mirrors and captures.
  std::vector<MirrorModel> mirrors_;
  std::array<bool, kMaxMirrors> mirror_slot_used_{};
  std::uint16_t next_mirror_slot_ = 0;
  std::uint32_t next_capture_id_ = 1;
  std::unique_ptr<CaptureWriter> capture_writer_;
  std::vector<std::shared_ptr<Capture>> closing_;  // left the snapshot, grace period pending
};

}  // namespace brisk
