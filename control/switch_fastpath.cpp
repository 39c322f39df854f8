// Switch <-> XDP fast path glue (datapath/xdp_fastpath.hpp). Kept apart from switch.cpp so
// that the rules deciding which ports the kernel may forward for (and mirror) live in one place.
//
// sync_fastpath() runs inside rebuild(), after the new Snapshot is built and BEFORE it is
// published: every port's fast-path configuration (and the end of the fast path for a port
// that lost it) reaches the BPF maps first, so the kernel never forwards on configuration the
// userspace datapath has already left behind (see the ordering rules in xdp_fastpath.hpp).
#include <syslog.h>

#include "control/switch.hpp"
#include "datapath/mirror.hpp"

namespace brisk {

// A port is accelerated when the kernel can do for its frames all that the userspace
// pipeline would: an AF_XDP system port in native XDP mode (or generic with brisk's tc
// program on its device) or an AF_PACKET system port with the tc program, in a bridge that learns
// (hub mode floods everything), without port security (bindings and ARP/ND inspection need
// userspace). Policed ports and ports with a userspace outbound limit (control/qos.hpp: the buckets
// see only what userspace forwards), ports a capture reads (every port of a bridge with a bridge
// capture), mirror destinations, and ports the fast path cannot reach
// (PortInfo::fastpath_capable(), datapath/port.hpp: taps, tunnels, vhost-user, DPDK, and AF_XDP
// and AF_PACKET ports without the programs) are never accelerated: add new features' conditions
// here. Port mirror sources (and every port of a bridge with a bridge-wide port mirror) stay
// accelerated: the XDP program makes their copies (a devmap broadcast to the out port and the
// destinations; datapath/xdp_fastpath.hpp "Mirrors"), or
// sends a frame up when it cannot (tagging differs, a destination's device cannot take
// redirected frames, MTU, more than 8 copies) and the userspace mirror stage copies it.
// dot1q-tunnel (QinQ) ports are not accelerated either: the program classifies only access
// and trunk ports (datapath/vlan.hpp has what a dot1q-tunnel port does in userspace).
bool Switch::fastpath_eligible(const PortModel& p) const {
  if (!fp_) return false;
  if (p.kind == PortKind::kTunnel) return fastpath_tunnel_eligible(p);
  if (p.kind != PortKind::kSystem) return false;
  if (p.mode == VlanMode::kDot1qTunnel) return false;
  // AF_XDP: native XDP, or generic XDP with the tc half (what generic XDP would redirect as an
  // skb copy, the tc program sends on as the skb itself). AF_PACKET: the tc program and its
  // socket filter (datapath/afpacket_port.hpp, "Fast path").
  if (!p.port || !p.port->info().fastpath_capable()) return false;
  if (p.security) return false;
  // Userspace rate limits (control/qos.hpp) see only the frames userspace forwards.
  if (p.qos.police_in || p.qos.limit_out) return false;
  // Captures must see every frame of their ports (or of the whole bridge) in userspace. A
  // port mirror's destination receives only copies: its own input is never forwarded. A port
  // mirror's source (or every port of a bridge-wide mirror's bridge) stays accelerated when
  // the fast path can make the copies itself (BRISK_FP_MIRROR; XdpFastpath::set_mirrors);
  // pairs it cannot serve (tag mismatch, a destination that cannot take redirected frames,
  // too many copies) go to userspace frame by frame.
  for (const MirrorModel& m : mirrors_) {
    if (m.bridge != p.bridge) continue;
    if (m.dst == p.name) return false;
    // A mirror of some VLANs only (select_vlan) is made in userspace: the program's copies
    // select by port.
    if ((m.capture || m.vlans || !fp_->mirrors_supported()) && mirror_covers(mirror_src(m), p.id))
      return false;
  }
  auto b = bridges_.find(p.bridge);
  return b != bridges_.end() && b->second.ageing != 0;
}

// A VXLAN tunnel (IPv4 underlay) is accelerated (encapsulation and decapsulation in XDP,
// xdp_fastpath.hpp "Tunnels") in a bridge that learns, without userspace rate limits and
// unless a mirror or capture covers it (its copies are made in userspace). GRE tunnels stay in
// userspace.
bool Switch::fastpath_tunnel_eligible(const PortModel& p) const {
  if (p.tunnel.type != TunnelType::kVxlan) return false;
  if (p.qos.police_in || p.qos.limit_out) return false;
  for (const MirrorModel& m : mirrors_)
    if (m.bridge == p.bridge && (m.dst == p.name || mirror_covers(mirror_src(m), p.id)))
      return false;
  auto b = bridges_.find(p.bridge);
  return b != bridges_.end() && b->second.ageing != 0;
}

FastpathCounters Switch::fastpath_counters(const PortModel& p) const {
  return fp_ ? fp_->counters(p.id) : FastpathCounters{};
}

bool Switch::fastpath_accelerated(const PortModel& p) const {
  return fp_ && fp_->accelerated(p.id);
}

// brisk's tc program runs on the port's device: the fast path reaches it (and forwards its
// frames) also for what XDP cannot carry (xdp_fastpath.hpp, "Frames XDP cannot carry").
bool Switch::fastpath_skb(const PortModel& p) const {
  if (!p.port) return false;
  const PortInfo i = p.port->info();
  return i.fastpath_device && i.tc_attached;
}

// The device the kernel may forward the port's frames from and to (AF_XDP and AF_PACKET system
// ports), or 0.
int Switch::fastpath_ifindex(const PortModel& p) const {
  return p.port && p.port->info().fastpath_device ? p.port->ifindex() : 0;
}

// The device of a port mirror's destination to which the XDP program sends copies itself
// (brisk's XDP program runs on it: AF_XDP), or 0: its copies are made in userspace.
int Switch::fastpath_mirror_ifindex(const PortModel& d) const {
  if (d.qdisc.present()) return 0;  // a qdisc must see the copies
  return d.port && d.port->info().xdp_program ? d.port->ifindex() : 0;
}

// Frames entering or leaving `p` are copied by a port mirror.
bool Switch::fastpath_mirrored(const PortModel& p) const {
  for (const MirrorModel& m : mirrors_)
    if (!m.capture && !m.vlans && m.bridge == p.bridge && mirror_covers(mirror_src(m), p.id))
      return true;
  return false;
}

void Switch::sync_fastpath() {
  if (!fp_) return;
  std::vector<std::string> live;
  for (auto& [name, b] : bridges_) {
    fp_->attach_table(name, *b.fdb);
    live.push_back(name);
  }
  // The port mirrors, published twice: before the ports' flags change (the groups of ports
  // that are already accelerated exist before BRISK_FP_MIRROR tells the program to use them)
  // and after (the groups of ports that became accelerated in this sync).
  std::vector<FastpathMirror> fm;
  for (const MirrorModel& m : mirrors_) {
    if (m.capture || m.vlans) continue;  // made in userspace (fastpath_eligible())
    const PortModel& d = ports_.at(m.dst);
    FastpathMirror f;
    f.bridge = fp_->bridge_id(m.bridge);
    f.src = mirror_src(m);
    f.dst = d.id;
    f.dst_ifindex = fastpath_mirror_ifindex(d);
    f.dst_mode = vlan_mode(d.mode);
    f.dst_native = d.native;
    f.slot = m.slot;
    fm.push_back(f);
  }
  fp_->set_mirrors(fm);
  std::vector<bool> present(kMaxPorts, false);
  for (auto& [name, p] : ports_) {
    present[p.id] = true;
    FastpathPortConf c;
    c.xdp_program = p.port && p.port->info().xdp_program;
    c.ifindex = fastpath_ifindex(p);
    c.bridge = fp_->bridge_id(p.bridge);
    c.trunk = p.mode == VlanMode::kTrunk;
    c.access_vlan = p.vlan;
    c.native_vlan = p.native;
    if (c.trunk && p.allowed)
      for (std::size_t v = 0; v < kVlanCount; ++v)
        if (p.allowed->test(v)) c.allowed[v / 64] |= std::uint64_t{1} << (v % 64);
    c.accelerated = fastpath_eligible(p);
    c.mirrored = c.accelerated && fastpath_mirrored(p);
    c.qdisc = p.qdisc.present();  // control/switch_qdisc.cpp
    c.skb = c.accelerated && fastpath_skb(p);
    if (p.kind == PortKind::kTunnel && c.accelerated) {
      c.tunnel = true;
      c.remote = p.tunnel.remote;
      c.vni = p.tunnel.key;
      c.mirrored = false;
      fp_->set_port(p.id, c, *bridges_.at(p.bridge).fdb);
      continue;
    }
    if (c.ifindex == 0) {  // not a fast-path device nor a tunnel: not in the kernel's view
      fp_->clear_port(p.id);
      continue;
    }
    fp_->set_port(p.id, c, *bridges_.at(p.bridge).fdb);
  }
  for (PortId id = 0; id < kMaxPorts; ++id)
    if (!present[id]) fp_->clear_port(id);
  fp_->set_mirrors(fm);
  fp_->retain_bridges(live);
}

}  // namespace brisk
