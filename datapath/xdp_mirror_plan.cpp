#include "datapath/xdp_mirror_plan.hpp"

#include <algorithm>

#include "datapath/mirror.hpp"

namespace brisk {

namespace {

// The pair (in, out) of `bridge`'s mirrors: its value and devices, or false when the kernel
// cannot make its copies (none selected, too many, a device without a known MTU).
bool plan_pair(const std::vector<FastpathMirror>& mirrors, std::uint32_t bridge,
               const MirrorPlanPort& in, const MirrorPlanPort& out,
               const std::function<std::uint32_t(std::uint32_t)>& mtu, brisk_fp_mgroup& g,
               std::vector<std::uint32_t>& devs) {
  g = brisk_fp_mgroup{};
  devs.assign(1, static_cast<std::uint32_t>(out.ifindex));
  for (const FastpathMirror& m : mirrors) {
    if (m.bridge != bridge || !mirror_selects(m.src, in.id, out.id)) continue;
    if (g.ncopies == BRISK_FP_MAX_COPIES) return false;
    g.dst_port[g.ncopies] = m.dst;
    g.slot[g.ncopies] = m.slot;
    g.dst_mode[g.ncopies] = m.dst_mode;
    g.dst_native[g.ncopies] = m.dst_native;
    ++g.ncopies;
    devs.push_back(static_cast<std::uint32_t>(m.dst_ifindex));
  }
  if (g.ncopies == 0) return false;
  if (in.mode == BRISK_VLAN_ACCESS || out.mode == BRISK_VLAN_ACCESS) {
    // Every frame of the pair is in one VLAN: the tags must agree for it.
    const VlanId v = in.mode == BRISK_VLAN_ACCESS ? in.access_vlan : out.access_vlan;
    const bool tag_out = brisk_vlan_egress_tag(out.mode, out.native_vlan, v) != 0;
    for (std::uint16_t i = 0; i < g.ncopies; ++i)
      if ((brisk_vlan_egress_tag(g.dst_mode[i], g.dst_native[i], v) != 0) != tag_out) return false;
  }
  std::uint32_t max_len = BRISK_FP_MAX_FRAME;
  for (std::uint32_t ifi : devs) {
    const std::uint32_t m = mtu(ifi);
    if (m == 0) return false;
    max_len = std::min(max_len, m + 18);
  }
  g.max_len = static_cast<std::uint16_t>(max_len);
  std::sort(devs.begin(), devs.end());
  return true;
}

}  // namespace

MirrorPlan plan_mirrors(const std::vector<FastpathMirror>& mirrors,
                        const std::vector<MirrorPlanPort>& ports,
                        const MirrorPlanDevices& devices) {
  MirrorPlan plan;
  std::map<std::uint32_t, std::uint32_t> mtus;  // asked once per device
  auto mtu = [&](std::uint32_t ifi) {
    auto it = mtus.find(ifi);
    if (it == mtus.end()) it = mtus.emplace(ifi, devices.mtu(ifi)).first;
    return it->second;
  };
  std::set<PortId> dsts;
  std::set<std::uint32_t> bridges;
  for (const FastpathMirror& m : mirrors) {
    dsts.insert(m.dst);
    bridges.insert(m.bridge);
    if (m.dst_ifindex > 0) plan.dsts[static_cast<std::uint32_t>(m.dst_ifindex)] = m.slot;
  }
  for (std::uint32_t b : bridges) {
    std::vector<MirrorPlanPort> ps;
    for (const MirrorPlanPort& p : ports)
      if (p.bridge == b && !dsts.count(p.id)) ps.push_back(p);
    // Mirrors whose copies the kernel cannot make hold their ports in userspace.
    for (const FastpathMirror& m : mirrors) {
      if (m.bridge != b || (m.dst_ifindex > 0 && devices.dst_ready(m.dst_ifindex))) continue;
      for (const MirrorPlanPort& p : ps)
        if (mirror_covers(m.src, p.id)) plan.held.insert(p.id);
    }
    for (const MirrorPlanPort& in : ps) {
      for (const MirrorPlanPort& out : ps) {
        if (in.id == out.id || plan.held.count(in.id) || plan.held.count(out.id)) continue;
        brisk_fp_mgroup g;
        std::vector<std::uint32_t> devs;
        if (!plan_pair(mirrors, b, in, out, mtu, g, devs)) continue;
        if (plan.pairs.size() >= BRISK_FP_MAX_PAIRS) continue;
        const std::uint64_t key = mirror_pair_key(in.id, out.id);
        plan.pairs[key] = g;
        plan.devs[key] = std::move(devs);
      }
    }
  }
  return plan;
}

}  // namespace brisk
