// XdpFastpath's tunnels (datapath/xdp_fastpath.hpp, "Tunnels"): the outer headers of each
// accelerated VXLAN tunnel in brisk_fp_tuns, its decapsulation key in brisk_fp_tunrx, and
// brisk's program on the underlay devices.
#include <bpf/bpf.h>
#include <net/if.h>
#include <syslog.h>

#include <cstring>
#include <exception>

#include "bpf/brisk_xdp_abi.h"
#include "datapath/underlay_resolver.hpp"
#include "datapath/xdp_fastpath.hpp"

namespace brisk {

namespace {

brisk_fp_tunnel value_of(const UnderlayPath& p, std::uint32_t remote, std::uint32_t vni) {
  brisk_fp_tunnel v{};
  std::memcpy(v.dmac, p.dmac, 6);
  std::memcpy(v.smac, p.smac, 6);
  v.saddr = p.saddr;
  v.daddr = remote;
  v.vni = vni;
  v.ifindex = static_cast<std::uint32_t>(p.ifindex);
  v.mtu = p.mtu;
  return v;
}

}  // namespace

void XdpFastpath::publish_tunnel(PortId id, const FastpathPortConf& c) {
  TunnelState& t = tunnels_[id];
  t.conf = c;
  brisk_fp_tunkey k{c.remote, c.vni};
  std::uint32_t v = id;
  bpf_map_update_elem(tunrx_fd_, &k, &v, BPF_ANY);
  refresh_tunnel(id);
}

void XdpFastpath::drop_tunnel(PortId id) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return;
  TunnelState& t = it->second;
  brisk_fp_tunkey k{t.conf.remote, t.conf.vni};
  bpf_map_delete_elem(tunrx_fd_, &k);
  std::uint32_t key = id;
  bpf_map_delete_elem(tunnels_fd_, &key);
  if (t.underlay != 0) release_underlay(t.underlay);
  tunnels_.erase(it);
}

// Re-resolve the tunnel's underlay; update its entry and its underlay's program. Returns
// whether anything changed.
bool XdpFastpath::refresh_tunnel(PortId id) {
  TunnelState& t = tunnels_.at(id);
  UnderlayPath p = resolve_underlay(t.conf.remote);
  const int want = p.route ? p.ifindex : 0;
  bool changed = false;
  if (want != t.underlay) {
    if (want != 0) use_underlay(want);
    if (t.underlay != 0) release_underlay(t.underlay);
    t.underlay = want;
    changed = true;
  }
  std::uint32_t key = id;
  if (p.resolved()) {
    const brisk_fp_tunnel v = value_of(p, t.conf.remote, t.conf.vni);
    if (!t.in_map || std::memcmp(&v, &t.value, sizeof(v)) != 0) {
      t.in_map = bpf_map_update_elem(tunnels_fd_, &key, &v, BPF_ANY) == 0;
      t.value = v;
      changed = true;
    }
  } else if (t.in_map) {
    bpf_map_delete_elem(tunnels_fd_, &key);
    t.in_map = false;
    changed = true;
  }
  if (p.why != t.path.why && !p.why.empty())
    syslog(LOG_INFO, "XDP fast path: tunnel port %u: %s; its frames go through userspace",
           static_cast<unsigned>(id), p.why.c_str());
  t.path = p;
  return changed;
}

void XdpFastpath::use_underlay(int ifindex) {
  Underlay& u = underlays_[ifindex];
  if (u.users++ > 0) return;
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return;
  u.name = name;
  bool our_port = false;  // an AF_PACKET port of this briskd: its tc filter is live
  for (const PortState& st : ports_) {
    if (!st.published || st.conf.ifindex != ifindex) continue;
    our_port = true;
    if (st.conf.xdp_program) u.port = true;
  }
  if (u.port) return;  // its own program decapsulates
  const std::string who = "XDP fast path: underlay " + u.name;
  try {
    u.obj = std::make_unique<XdpObject>(obj_path_, who);
    XdpPrograms programs;
    programs.tc = true;
    u.obj->prepare(programs, &shared_);
    u.obj->load();
    // What a killed briskd left: its XDP program, and its tc filter unless a port of ours
    // runs that filter on the device now.
    if (our_port ? detach_stale_brisk_xdp(u.name) : detach_stale_brisk_programs(u.name))
      syslog(LOG_INFO, "%s: detached a stale brisk program", who.c_str());
    u.att = xdp_attach(*u.obj, u.name, ifindex, underlay_mode_, who);
    // Super-frames and partial checksums (which XDP cannot carry) are decapsulated by the tc
    // program. A clsact filter of brisk's already there (this briskd's AF_PACKET port on the
    // device) is left alone: those skbs then go through userspace.
    const int tc_fd = u.obj->program_fd(BRISK_TC_PROG_NAME);
    if (tc_fd >= 0) u.tc = tc_attach(ifindex, tc_fd);
    syslog(LOG_INFO, "%s: VXLAN decapsulation in XDP (%s mode)%s", who.c_str(),
           u.att.native() ? "native" : "generic", u.tc.attached ? " and tc" : "");
  } catch (const std::exception& e) {
    syslog(LOG_WARNING, "%s: no decapsulation in XDP, tunnel packets go through userspace: %s",
           who.c_str(), e.what());
    u.obj.reset();
  }
}

void XdpFastpath::release_underlay(int ifindex) {
  auto it = underlays_.find(ifindex);
  if (it == underlays_.end()) return;
  if (--it->second.users <= 0) underlays_.erase(it);  // ~Underlay detaches
}

// A tunnel's egress: its outer headers are known and its underlay device takes redirects.
bool XdpFastpath::egress_for(PortId id, const FastpathPortConf& c) const {
  if (!c.tunnel) return egress_of(c);
  auto it = tunnels_.find(id);
  if (it == tunnels_.end() || !it->second.in_map || !c.accelerated) return false;
  const std::int64_t feat = xdp_features(it->second.path.ifindex);
  return feat > 0 && (static_cast<std::uint64_t>(feat) & kXdpActNdoXmit);
}

FastpathTunnelState XdpFastpath::tunnel_state(PortId id) const {
  FastpathTunnelState s;
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return s;
  const TunnelState& t = it->second;
  s.resolved = t.in_map;
  s.why = t.path.why;
  auto u = underlays_.find(t.underlay);
  if (u != underlays_.end()) {
    s.underlay = u->second.name;
    s.decap = u->second.att.flags != 0 || u->second.port;
  }
  return s;
}

}  // namespace brisk
