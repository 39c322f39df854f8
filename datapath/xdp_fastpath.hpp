// XdpFastpath: the userspace owner of the XDP fast path's shared BPF maps (bpf/brisk_xdp.c).
//
// brisk's XDP program runs on every AF_XDP system port (one program instance per port). It
// can forward a learned unicast frame between two accelerated ports itself (bpf_redirect),
// reading four maps that must be THE SAME for every instance: brisk_fp_ifs (ifindex ->
// PortId), brisk_fp_ports (PortId -> VLAN mode, bridge, flags), brisk_fp_fdb ((bridge, VLAN,
// MAC) -> PortId, last-seen) and brisk_fp_stats (per-CPU counters by PortId). An XdpFastpath
// creates them once, by loading brisk_xdp.o itself (never attached; datapath/xdp_loader.hpp),
// and every AfXdpPort built with AfXdpOptions::fastpath_maps = shared_maps() reuses them
// (bpf_map__reuse_fd before its own load).
// Nothing is pinned.
//
// Userspace stays the switch of record
// ------------------------------------
// * The MacTable of each bridge is the truth. XdpFastpath mirrors into brisk_fp_fdb the
//   entries that point at accelerated ports, through MacTableObserver: the table calls the
//   observer BEFORE it makes a change visible to its readers (see datapath/mac_table.hpp), so
//   a moved, aged, flushed, evicted or deleted address leaves the BPF map first.
// * Port configuration: Switch computes, per port, whether it is accelerated (an AF_XDP port
//   in native XDP mode, with the fast path on, without port security or MAC limits, in a
//   bridge that learns, and anything later features exclude: captures, mirror destinations,
//   tunnels; mirror sources stay accelerated, see "Mirrors") and calls
//   set_port() for every port before it publishes a new Snapshot to the workers.
//
// Ordering guarantees (the fast path never uses state userspace has already left behind)
// --------------------------------------------------------------------------------------
// 1. Restricting changes reach the maps before the userspace datapath changes behaviour:
//    set_port()/clear_port() run before Datapath::publish() of the snapshot that carries the
//    change, and MacTable calls the observer before its own store. A port losing the fast
//    path (removed, security or capture added, VLAN change, bridge put in hub mode) first gets
//    its brisk_fp_ports element rewritten with flags 0 (one atomic element update: from then
//    on no frame enters or leaves the fast path through it), then its brisk_fp_fdb entries
//    are deleted, then userspace proceeds.
// 2. Within one element the kernel's map update is atomic for the program (hash maps swap
//    the element; array elements are written by one copy, which a concurrently running
//    program may see half-written: brisk_fp_ports updates that only clear flags are safe,
//    and the fields a program compares (bridge, VLAN) are never changed on a port that keeps
//    BRISK_FP_IN/OUT set in the same update: set_port() clears the flags first, then writes
//    the new configuration).
// 3. A frame already inside the program when a change lands may still be forwarded under the
//    old state (a few microseconds; the same window the userspace path has between a
//    snapshot publish and the workers' next loop). A mirror added while traffic flows sees
//    every frame that reaches the program after sync_fastpath() returned (see "Mirrors").
// 4. Egress capability (BRISK_FP_OUT): a device can take redirected frames only when its
//    driver has ndo_xdp_xmit ready (for a veth: its peer has an XDP program or GRO on). The
//    kernel reports it as NETDEV_XDP_ACT_NDO_XMIT in the netdev genetlink family;
//    refresh_egress() re-reads it (the control thread calls it once a second) and a port
//    without it is still an accelerated ingress, but frames to it go through userspace.
//    A port whose device has a qdisc someone installed (FastpathPortConf::qdisc) loses
//    BRISK_FP_OUT the same way: a redirect (ndo_xdp_xmit) would pass the qdisc by, so its
//    frames go through userspace, whose AF_XDP driver then sends through the qdisc
//    (datapath/afxdp_port.hpp). Likewise Switch gives a mirror whose destination has such a
//    qdisc no dst_ifindex: its copies are made in userspace.
//
// Mirrors
// -------
// Port mirrors (`tap mirror`, not captures) are served in the kernel too. Switch publishes,
// per port, whether frames entering or leaving it are mirrored (FastpathPortConf::mirrored:
// a mirror's source, or every port of a bridge with a bridge-wide mirror) and the list of
// port mirrors (set_mirrors()). The program forwards a frame of a port with BRISK_FP_MIRROR
// only through the (in, out) pair's entry in brisk_fp_mpairs: a group index into
// brisk_fp_mdevs (ARRAY_OF_MAPS of DEVMAP_HASH, holding the out device and every copy's
// device; groups are interned by device set, so pairs share them) and the copies' counter
// slots, destination ports and egress tagging. bpf_redirect_map(group, 0, BPF_F_BROADCAST)
// sends one frame to every device (the kernel clones it for all but the last:
// dev_map_enqueue_multi in kernel/bpf/devmap.c). Selection is mirror_stage's, the same function
// (mirror_selects() of datapath/mirror.hpp): mirrors whose source is in or out, plus
// bridge-wide mirrors (frames entering any port: every fast-path frame); each copies a frame
// once. Which pairs exist, with which devices and values, and which ports are held in
// userspace is a pure plan (plan_mirrors(), datapath/xdp_mirror_plan.hpp, with its rules);
// apply_mirrors() computes it and publishes it (publish_mirrors(): the map writes in the
// order below).
// * Identical bytes go to every device, so the program takes a group only when every
//   destination's egress tag decision for the frame's VLAN equals the out port's (access
//   destination: untagged; trunk: tagged unless its native VLAN), and the frame fits every
//   device's MTU (+ 18). Else, or without a pair entry, the frame goes to userspace.
// * A destination is never accelerated (its input is not forwarded) but must take
//   redirected frames (NETDEV_XDP_ACT_NDO_XMIT) and be up, re-read by refresh_egress();
//   while it cannot, the mirror's ports are held in userspace (accelerated() is false for
//   them). A broadcast skips such a device without a trace until then: when a slot's copies
//   leave the kernel (no pair names it any more), apply_mirrors() makes the kernel wait for
//   running programs (a write to brisk_fp_mdevs, an ARRAY_OF_MAPS, waits for RCU readers,
//   and a copy is flushed in the NAPI poll that made it) and counts the slot's mirrored -
//   sent - dropped as skipped, reported as dropped from then on.
// * Ordering. A mirror added on an accelerated port: sync_fastpath() calls set_mirrors()
//   BEFORE set_port() (the pairs and groups exist first), then set_port() sets
//   BRISK_FP_MIRROR (one flags-word update), then set_mirrors() again for ports that became
//   accelerated in the same sync; all before the snapshot with the mirror is published. From
//   the flag on, every frame of the port is either forwarded with its copies or goes up.
//   A mirror removed: BRISK_FP_MIRROR is cleared (set_port) and the pairs are replaced or
//   deleted (set_mirrors) before the snapshot without the mirror is published; a group's
//   devmap leaves brisk_fp_mdevs only after no pair names it (apply_mirrors()).
// * Counters. Per mirror slot, per CPU (brisk_fp_mstats): `mirrored` is counted by the XDP
//   program for every copy it sends on its way; `sent` and `dropped` by brisk_devmap_xmit, a
//   program on the xdp:xdp_devmap_xmit tracepoint, which reports, per bulk transmit to a
//   device, how many frames its ndo_xdp_xmit took and refused (a veth peer's full ring, an
//   MTU, a peer without NAPI). A destination gets nothing else by redirect, so its device's
//   counts are its mirror's (brisk_fp_mdsts: (network namespace, ifindex) -> slot; the
//   tracepoint sees redirects in every namespace, where ifindexes repeat). Switch adds them to the
//   mirror's mirrored/delivered/dropped. Copies in flight (mirrored, not yet flushed) show as
//   `queued` for a NAPI poll. Copies lost without a trace (a destination the broadcast
//   skipped, see above; a broadcast that failed as a whole, the clone's page allocation
//   failing: the kernel's xdp_redirect_err) are counted as dropped (skipped_) when the
//   mirror's copies leave the kernel, and while they stay, once the mirror made no copy for
//   a second (settle_idle_mirrors()).
//   The copies also count as transmissions of the destination port (brisk_fp_stats).
//   The tracepoint program is attached only while some mirror has its copies in the kernel
//   (before the first destination enters brisk_fp_mdsts, detached after the last left it):
//   xdp:xdp_devmap_xmit fires for every bulk of every XDP redirect on the host, and without
//   mirrors nothing needs it.
// * Without the tracepoint program (mirrors_supported() false: it did not load, or did not
//   attach when XdpFastpath was built) no copies are made in the kernel and mirrored ports
//   stay off the fast path.
//
// Frames XDP cannot carry
// ------------------------
// An XDP redirect loses what an skb knows: a partial checksum (CHECKSUM_PARTIAL from a peer
// with checksum offload), GSO (a super-frame), and it needs an output device that takes XDP
// redirects (NETDEV_XDP_ACT_NDO_XMIT: a veth whose peer has GRO or XDP). For such frames the
// fast path has a second half: brisk's tc program (SEC("tc") in the same object, the same
// maps, ABI and lookup code), attached by AfXdpPort at the clsact ingress of every port with
// the fast path (FastpathPortConf::skb -> BRISK_FP_SKB). The XDP program makes its decision,
// and where it cannot redirect passes the frame up (XDP_PASS); the tc program makes the same
// decision on the skb and bpf_redirect()s it to the output port's device, whose qdisc (and
// software segmentation where the device cannot take the super-frame) it passes like any
// transmission. Untagged frames between ports that send them untagged, unmirrored ports only;
// everything else as before (XDP redirect or userspace). (A frame whose state changes between
// the two programs goes on to the stack and is lost there: the same microseconds a change
// takes to reach an XDP redirect.) A frame longer than the output device's MTU
// (bpf_check_mtu: any segment of a super-frame) is dropped and counted (`oversize`). So
// ports whose peers take no XDP redirects (`xdp-in`) are still reached by the fast path, and
// TCP from peers with default offloads stays in the kernel.
//
// Tunnels
// -------
// A VXLAN tunnel port (IPv4 underlay) is accelerated like a device port (FastpathPortConf::
// tunnel: no ifindex of its own, so it is never in brisk_fp_ifs). Its outer headers live in
// brisk_fp_tuns (PortId -> struct brisk_fp_tunnel: next hop's and the underlay device's
// MACs, local and remote address, VNI, underlay ifindex and route MTU), resolved from the
// kernel's route and neighbour tables by resolve_underlay() (datapath/underlay_resolver.hpp)
// when the port is published and again once a second (refresh_egress()); the entry exists only
// while both are resolved, so an unresolved next hop sends the tunnel's frames through its
// kernel socket, which makes the kernel resolve it. BRISK_FP_OUT on a tunnel: the entry exists
// and the underlay device takes XDP redirects (a native-mode program's redirect needs it; a
// generic-mode program's works on any device).
// Decapsulation: brisk_fp_tunrx maps (remote, VNI) to the tunnel's PortId, and brisk's program
// runs on the underlay device: an instance of brisk_xdp.o (the shared maps, no AF_XDP socket,
// so whatever is not a tunnel's passes to the kernel untouched) attached in the AF_XDP ports'
// mode (set_underlay_mode(); kAuto: generic on a veth) to the route's output device for as
// long as a tunnel uses it, detached when the last one leaves or the route moves, and when
// XdpFastpath goes. A stale brisk program left on it by a killed briskd is detached first
// (detach_stale_brisk_xdp()); a device that is a port of brisk already runs the program; one
// that runs someone else's keeps it, and the tunnel's packets are decapsulated in userspace.
// Ordering as for ports: the tunnel's entries exist before its flags are set, and its flags
// are cleared before its entries go.
//
// Ageing: the program writes seen_ns (CLOCK_MONOTONIC, the datapath clock's base) into the
// source's entry, at most once a second. MacTable::age() asks the observer (fdb_seen) about
// every entry before expiring it, so a source forwarded only by the fast path stays alive.
//
// Counters: the program counts frames and bytes per port in a per-CPU array; counters()
// sums the CPUs. Switch adds them into the port's totals (`port`, `stats`).
//
// Threads: every method is for the control thread only (the single writer of the maps from
// userspace).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bpf/brisk_xdp_abi.h"
#include "brisk/types.hpp"
#include "datapath/counters.hpp"
#include "datapath/mac_table.hpp"
#include "datapath/underlay_resolver.hpp"
#include "datapath/xdp_loader.hpp"
#include "datapath/xdp_mirror_plan.hpp"

struct bpf_object;
struct bpf_link;
struct bpf_program;

namespace brisk {

// What the fast path needs to know about a port.
struct FastpathPortConf {
  int ifindex = 0;
  std::uint32_t bridge = 0;  // XdpFastpath::bridge_id()
  bool trunk = false;
  VlanId access_vlan = 0;
  VlanId native_vlan = 0;
  std::array<std::uint64_t, 64> allowed{};  // trunk: carried VLANs
  bool accelerated = false;                  // frames in and (if the device can) out
  // Frames entering or leaving the port are copied by a port mirror (its source, or any port
  // of a bridge with a bridge-wide port mirror): BRISK_FP_MIRROR, see "Mirrors" above.
  bool mirrored = false;
  // The device has a qdisc that must see every frame sent to it: never BRISK_FP_OUT.
  bool qdisc = false;
  // brisk's tc program runs on the device (AfXdpPort::tc_attached(),
  // AfPacketPort::tc_attached()): BRISK_FP_SKB, see "Frames XDP cannot carry" above.
  bool skb = false;
  // brisk's XDP program runs on the device (an AF_XDP port; an AF_PACKET port has none).
  bool xdp_program = false;
  // A VXLAN tunnel port (ifindex 0): remote (network order) and VNI, see "Tunnels" above.
  bool tunnel = false;
  std::uint32_t remote = 0, vni = 0;
  friend bool operator==(const FastpathPortConf&, const FastpathPortConf&) = default;
};

struct FastpathCounters {
  std::uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0;
  // Frames the tc program found longer than the output device's MTU (struct
  // brisk_fp_counters), charged to the ingress port as Drop::kOversize.
  std::uint64_t oversize = 0;
  // A tunnel port's frames encapsulated / decapsulated by the XDP program.
  std::uint64_t encap = 0, decap = 0;
};

// What the fast path knows of a tunnel port's underlay (for `port`).
struct FastpathTunnelState {
  bool resolved = false;  // brisk_fp_tuns has its outer headers
  std::string underlay;   // the route's output device ("" unknown)
  bool decap = false;     // brisk's program runs on it
  std::string why;        // unresolved: what is missing
};

// A mirror's copies made by the fast path: mirrored = sent + dropped once the devices'
// transmit queues are flushed (end of the NAPI poll).
struct FastpathMirrorCounters {
  std::uint64_t mirrored = 0, sent = 0, dropped = 0;
};

class XdpFastpath {
 public:
  // Loads `bpf_object` (empty: xdp_object_path()'s search, datapath/xdp_loader.hpp) to
  // create the shared maps. Throws std::system_error with a one-line reason (no permission,
  // missing object...).
  explicit XdpFastpath(const std::string& bpf_object = "");
  ~XdpFastpath();
  XdpFastpath(const XdpFastpath&) = delete;
  XdpFastpath& operator=(const XdpFastpath&) = delete;

  // The shared maps, for every program instance to reuse (AfXdpOptions::fastpath_maps).
  const XdpSharedMaps& shared_maps() const { return shared_; }

  // ---- bridges ----
  // A stable id for a bridge name (allocated on first use), and the observer to attach to
  // that bridge's MacTable. attach_table() attaches it, and when the bridge's table object
  // changed (fdb-limit rebuilds it) drops the old table's entries and mirrors the new one's.
  std::uint32_t bridge_id(const std::string& name);
  void attach_table(const std::string& name, MacTable& table);
  // Forget bridges not in `live` (their entries leave the map).
  void retain_bridges(const std::vector<std::string>& live);

  // ---- ports ----
  // Publish a port's configuration (see the ordering rules above). `table` is the port's
  // bridge's MacTable, scanned to mirror the port's entries when it becomes accelerated.
  void set_port(PortId id, const FastpathPortConf& conf, const MacTable& table);
  // The port is gone: unpublished, its entries and counters dropped.
  void clear_port(PortId id);
  // Accelerated, and not held in userspace by a mirror whose copies the kernel cannot make.
  bool accelerated(PortId id) const { return ports_[id].conf.accelerated && !ports_[id].held; }
  // Accelerated, its device can take redirected frames, and no qdisc is in the way.
  bool egress_ready(PortId id) const { return ports_[id].egress; }
  // Re-read the devices' XDP features (NDO_XMIT) of accelerated ports; update the maps.
  void refresh_egress();

  // ---- tunnels ----
  // The XDP mode of the programs attached to underlay devices (the AF_XDP ports' mode).
  void set_underlay_mode(XdpMode m) { underlay_mode_ = m; }
  FastpathTunnelState tunnel_state(PortId id) const;

  // ---- mirrors ----
  // Whether the fast path can make mirror copies (the map-in-map devmaps exist and the
  // xdp_devmap_xmit tracepoint program is attached). When false, Switch keeps every mirror's
  // ports off the fast path.
  bool mirrors_supported() const { return mirrors_ok_; }
  // The port mirrors now configured. Call it before AND after set_port() of every port in
  // one sync (see "Mirrors" above): the first call publishes the groups of ports that are
  // already accelerated before their flags change, the second the groups of the final state.
  void set_mirrors(const std::vector<FastpathMirror>& mirrors);
  FastpathMirrorCounters mirror_counters(std::uint16_t slot) const;
  // (in, out) pairs and device groups published (for `stats` and tests).
  std::size_t mirror_pairs() const { return pairs_.size(); }
  std::size_t mirror_groups() const { return groups_.size(); }

  FastpathCounters counters(PortId id) const;
  // Entries in brisk_fp_fdb (pointing at `port`, or all): walks the map, for `stats`/tests.
  std::size_t fdb_count(PortId port = kInvalidPort) const;
  // Updates of brisk_fp_fdb the kernel refused (map full): those addresses go through
  // userspace.
  std::uint64_t fdb_map_errors() const { return fdb_errors_; }

  // The device's XDP feature bits (NETDEV_XDP_ACT_*) from the netdev genetlink family, or -1
  // when the kernel cannot tell.
  static std::int64_t xdp_features(int ifindex);
  static constexpr std::uint64_t kXdpActNdoXmit = 1u << 2;

 private:
  class Observer;
  struct PortState {
    FastpathPortConf conf;
    bool published = false;  // in brisk_fp_ifs / brisk_fp_ports
    bool egress = false;
    bool held = false;  // mirrored, but a copy cannot be made in the kernel: all frames go up
  };
  struct Group {
    std::uint32_t index = 0;
    int fd = -1;
  };
  struct BridgeState {
    std::uint32_t id = 0;
    MacTable* table = nullptr;
    std::unique_ptr<Observer> observer;
  };

  struct TunnelState {
    FastpathPortConf conf;
    UnderlayPath path;
    bool in_map = false;  // brisk_fp_tuns has `value`
    brisk_fp_tunnel value{};
    int underlay = 0;  // the underlay device this tunnel holds in underlays_ (0: none)
  };
  // brisk's program on one underlay device, for as long as a tunnel routes through it.
  struct Underlay {
    int users = 0;
    bool port = false;  // an AF_XDP port of brisk: its own XDP program decapsulates
    std::string name;
    std::unique_ptr<XdpObject> obj;  // null: the device is a port of brisk, or attaching failed
    XdpAttachment att;
    TcAttachment tc;  // the tc program: decapsulates skbs XDP could not (brisk_tc_rx, tc_decap)
    Underlay() = default;
    Underlay(const Underlay&) = delete;
    Underlay& operator=(const Underlay&) = delete;
    ~Underlay() {
      if (tc.attached) tc_detach(tc);
      if (att.flags != 0) xdp_detach(att);
    }
  };

  void write_port(PortId id, const FastpathPortConf& c, bool egress);
  bool egress_for(PortId id, const FastpathPortConf& c) const;
  static bool egress_of(const FastpathPortConf& c);
  void publish_tunnel(PortId id, const FastpathPortConf& c);
  void drop_tunnel(PortId id);
  bool refresh_tunnel(PortId id);
  void use_underlay(int ifindex);
  void release_underlay(int ifindex);
  void fdb_put(std::uint32_t bridge, std::uint64_t key, PortId port);
  void fdb_del(std::uint32_t bridge, std::uint64_t key);
  std::uint32_t fdb_seen(std::uint32_t bridge, std::uint64_t key, PortId port,
                         std::uint32_t now) const;
  void drop_port_entries(PortId id);
  void drop_bridge_entries(std::uint32_t bridge);
  bool mirrored(std::uint32_t bridge, PortId port) const;
  void attach_tracepoint(const std::string& path);
  bool count_transmits(bool on);
  void apply_mirrors();
  void publish_mirrors(MirrorPlan& plan);
  const Group* group_for(const std::vector<std::uint32_t>& devs);
  std::set<std::vector<std::uint32_t>> publish_pairs(MirrorPlan& plan);
  void settle_left_slots(bool waited);
  bool dst_ready(int ifindex);
  bool takes_redirects(int ifindex);
  bool wait_for_programs();
  void settle_idle_mirrors();
  void count_skipped(std::uint16_t slot, std::uint64_t mirrored);
  FastpathMirrorCounters raw_mirror_counters(std::uint16_t slot) const;

  int mpairs_fd_ = -1, mdevs_fd_ = -1, mstats_fd_ = -1, mdsts_fd_ = -1;
  bool mirrors_ok_ = false;
  std::unique_ptr<XdpObject> tp_obj_;  // the tracepoint program's instance
  ::bpf_program* tp_prog_ = nullptr;  // loaded brisk_devmap_xmit (mirrors_ok_)
  ::bpf_link* tp_link_ = nullptr;     // attached while mdsts_ is not empty
  std::uint32_t netns_ = 0;           // own_netns(): the namespace of brisk's devices
  std::vector<FastpathMirror> mirrors_;
  std::map<int, bool> dst_ready_;                       // ifindex -> takes_redirects()
  std::map<std::uint64_t, std::vector<std::uint8_t>> pairs_;  // (in << 32 | out) -> value
  std::map<std::vector<std::uint32_t>, Group> groups_;  // sorted ifindexes -> devmap
  std::vector<std::uint32_t> free_groups_;
  std::map<std::uint32_t, std::uint32_t> mdsts_;        // ifindex -> slot
  // Slots with copies in the kernel (named by a pair), and per slot the copies its broadcasts
  // skipped without a trace, settled when the slot last left the kernel (apply_mirrors, 6.).
  std::set<std::uint16_t> kernel_slots_;
  std::array<std::uint64_t, kMaxMirrors> skipped_{};
  std::array<std::uint64_t, kMaxMirrors> last_mirrored_{};  // settle_idle_mirrors()

  std::unique_ptr<XdpObject> obj_;  // the instance that created the shared maps
  XdpSharedMaps shared_;
  int ifs_fd_ = -1, ports_fd_ = -1, fdb_fd_ = -1, stats_fd_ = -1;
  int ncpus_ = 1;
  std::vector<PortState> ports_ = std::vector<PortState>(kMaxPorts);
  std::map<std::string, BridgeState> bridges_;
  std::string obj_path_;  // brisk_xdp.o, for the underlays' instances
  int tunnels_fd_ = -1, tunrx_fd_ = -1;
  XdpMode underlay_mode_ = XdpMode::kAuto;
  std::map<PortId, TunnelState> tunnels_;
  std::map<int, Underlay> underlays_;  // ifindex -> brisk's program there
  std::uint32_t next_bridge_ = 1;
  std::uint64_t fdb_errors_ = 0;
};

}  // namespace brisk
