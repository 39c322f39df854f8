// Snapshot: the immutable configuration workers forward with, and its publication.
//
// The control thread builds a complete new Snapshot for every configuration change and
// publishes it with SnapshotExchange::publish(); workers load the current pointer once per
// loop iteration and never see a half-applied change. A snapshot keeps the ports and tables it
// names alive (shared_ptr), so a deleted port is closed only when the last snapshot naming it
// is reclaimed after a QSBR grace period: never under a worker's feet.
//
// Thread-safety: Snapshot objects are never written after publish(). SnapshotExchange is used
// by the control thread only (publish, reclaim); workers only call current().
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "bpf/brisk_vlan.h"
#include "brisk/types.hpp"
#include "datapath/capture.hpp"
#include "datapath/mac_table.hpp"
#include "datapath/policer.hpp"
#include "datapath/port.hpp"
#include "datapath/port_security.hpp"
#include "datapath/qsbr.hpp"

namespace brisk {

// How a port maps frames to VLANs (datapath/vlan.hpp has the ingress and egress rules):
//   kAccess       one VLAN (access_vlan); frames leave with no 802.1Q tag
//   kTrunk        the VLANs in `allowed`, tagged except native_vlan
//   kDot1qTunnel  QinQ customer port (OVS vlan_mode=dot1q-tunnel): one service VLAN
//                 (access_vlan) for every frame, whose own 802.1Q tag (the customer tag) is
//                 kept as payload in both directions
// The rules themselves are bpf/brisk_vlan.h's, shared with the XDP fast path: the values are
// its BRISK_VLAN_* modes.
enum class VlanMode : std::uint8_t {
  kAccess = BRISK_VLAN_ACCESS,
  kTrunk = BRISK_VLAN_TRUNK,
  kDot1qTunnel = BRISK_VLAN_DOT1Q_TUNNEL
};
using VlanSet = std::bitset<kVlanCount>;
// A mode as bpf/brisk_vlan.h's functions take it.
constexpr std::uint8_t vlan_mode(VlanMode m) { return static_cast<std::uint8_t>(m); }

struct PortConf {
  Port* port = nullptr;  // nullptr: this id is unused
  std::uint16_t bridge = 0;
  VlanMode mode = VlanMode::kAccess;
  VlanId access_vlan = 0;          // access and dot1q-tunnel ports: the port's VLAN
  VlanId native_vlan = 0;          // trunk ports: VLAN of untagged frames
  const VlanSet* allowed = nullptr;  // trunk ports: VLANs carried (never null for a trunk)
  bool flood_unknown = true;       // receive unknown-unicast floods
  const PortSecurity* sec = nullptr;  // bindings checked on ingress (nullptr: open port)
  bool sec_egress = false;         // copies toward this port are checked (bindings list IPs)
  std::uint32_t storm_pps = 0;     // ingress broadcast/multicast/unknown-unicast limit (0: off)
  bool tunnel = false;             // a VXLAN/GRE tunnel: never forwards to another tunnel
  bool mirror_dst = false;         // a mirror destination: its input is dropped (kMirrorDst),
                                   // it is in no flood list and FDB hits on it count as unknown
  std::uint16_t mirror_slot = 0;   // mirror_dst: WorkerCounters::mirror[] slot of its mirror
  // Userspace rate limits (datapath/policer.hpp; nullptr: none): what the port sends is
  // policed before anything else (kPoliced, on this port); what is sent to it is limited at
  // transmit (kEgressLimit, on this port).
  Policer* police_in = nullptr;
  Policer* limit_out = nullptr;

  // The trunk's allowed set holds v (bpf/brisk_vlan.h's `carried`; read only for a trunk,
  // so only a trunk's set is looked at).
  bool allows(VlanId v) const {
    return brisk_vlan_uses_allowed(vlan_mode(mode)) && allowed != nullptr && allowed->test(v);
  }
  bool carries(VlanId v) const {
    return brisk_vlan_carries(vlan_mode(mode), access_vlan, v, allows(v));
  }
  // The 802.1Q tag to push when a frame of VLAN v leaves this port (0: none).
  VlanId egress_tag(VlanId v) const {
    return brisk_vlan_egress_tag(vlan_mode(mode), native_vlan, v);
  }
  // Whether a frame that still carries an 802.1Q tag after ingress classification (a
  // customer tag: from a dot1q-tunnel port, or the inner tag of a double-tagged frame from a
  // trunk) leaves this port without it. Access ports emit no 802.1Q header at all, as Open
  // vSwitch's access ports do with other_config:vlan-limit=2 (datapath/vlan.hpp).
  bool pops_inner_tag() const { return brisk_vlan_pops_inner(vlan_mode(mode)) != 0; }
};

// One mirror (`tap mirror`) or capture (`capture pcap`) of a bridge; see datapath/mirror.hpp.
struct MirrorConf {
  PortId src = kInvalidPort;  // frames entering or leaving src; kInvalidPort: every frame
                              // entering any port of the bridge (select-all)
  PortId dst = kInvalidPort;  // output port, or kInvalidPort when `capture` is set
  Capture* capture = nullptr;
  PortId tag_as = kInvalidPort;  // copies carry tag_as's egress tag for the frame's VLAN;
                                 // kInvalidPort: tagged with any VLAN but 0
  std::uint16_t slot = 0;        // WorkerCounters::mirror[slot]
  const VlanSet* vlans = nullptr;  // copy only frames of these VLANs (nullptr: every VLAN)
};

struct BridgeConf {
  std::string name;
  MacTable* fdb = nullptr;
  std::uint32_t ageing_s = kMacEntryDefaultAgeSec;  // 0: hub mode, learn nothing
  // Members of VLAN v: flood_ports[flood_offs[v] .. flood_offs[v + 1]).
  std::vector<std::uint32_t> flood_offs;
  std::vector<PortId> flood_ports;
  std::vector<MirrorConf> mirrors;  // empty on an unmirrored bridge (the fast path)

  const PortId* members_begin(VlanId v) const { return flood_ports.data() + flood_offs[v]; }
  const PortId* members_end(VlanId v) const { return flood_ports.data() + flood_offs[v + 1]; }
};

struct Snapshot {
  std::uint64_t version = 0;
  std::vector<PortConf> ports = std::vector<PortConf>(kMaxPorts);
  std::vector<BridgeConf> bridges;
  std::vector<std::vector<PortId>> rx_by_worker;  // ports each worker polls

  // Keep-alive references; workers use the raw pointers above.
  std::vector<std::shared_ptr<Port>> port_refs;
  std::vector<std::shared_ptr<MacTable>> table_refs;
  std::vector<std::shared_ptr<const VlanSet>> vlan_sets;
  std::vector<std::shared_ptr<const PortSecurity>> security;
  std::vector<std::shared_ptr<Capture>> captures;
  std::vector<std::shared_ptr<Policer>> policers;
};

class SnapshotExchange {
 public:
  explicit SnapshotExchange(Qsbr& qsbr) : qsbr_(qsbr) {}
  ~SnapshotExchange() {
    delete cur_.load(std::memory_order_relaxed);
    for (auto& r : retired_) delete r.snap;
  }
  const Snapshot* current() const noexcept { return cur_.load(std::memory_order_acquire); }
  // Control thread: make `s` current; the old one is freed by a later reclaim().
  void publish(std::unique_ptr<Snapshot> s) {
    const Snapshot* old = cur_.exchange(s.release(), std::memory_order_acq_rel);
    if (old != nullptr) retired_.push_back({old, qsbr_.retire()});
  }
  // Control thread: free retired snapshots no worker can hold any more. `before_free` runs
  // after the grace period is established and before anything is freed (the learn rings are
  // drained there, so no request naming a freed table is left). Returns how many remain.
  template <typename F>
  std::size_t reclaim(F&& before_free) {
    std::size_t k = 0;
    while (k < retired_.size() && qsbr_.safe(retired_[k].epoch)) ++k;
    if (k == 0) return retired_.size();
    before_free();
    for (; k > 0; --k) {
      delete retired_.front().snap;
      retired_.pop_front();
    }
    return retired_.size();
  }
  std::size_t reclaim() {
    return reclaim([] {});
  }
  std::size_t pending() const { return retired_.size(); }

 private:
  struct Retired {
    const Snapshot* snap;
    std::uint64_t epoch;
  };
  Qsbr& qsbr_;
  std::atomic<const Snapshot*> cur_{nullptr};
  std::deque<Retired> retired_;
};

}  // namespace brisk
