// The XDP fast path's mirror plan: which (in, out) pairs of accelerated ports the kernel
// forwards with their mirror copies, through which device group, and which ports mirrors hold
// in userspace. A pure function of the mirrors, the accelerated ports and two facts about
// devices (whether a destination takes redirected frames, a device's MTU); XdpFastpath
// (datapath/xdp_fastpath.hpp, "Mirrors") computes it and then publishes it into the BPF maps
// in the order the program needs (XdpFastpath::apply_mirrors). Unit-tested without root
// (tests/datapath/xdp_mirror_plan_test.cpp).
//
// Rules (each failing case leaves the pair out: its frames go to userspace, which mirrors them):
//   * selection is the userspace mirror stage's (mirror_selects(), datapath/mirror.hpp);
//   * a mirror whose destination is not an AF_XDP device (dst_ifindex 0) or cannot take
//     redirected frames holds every port it covers in userspace (MirrorPlan::held): no pair
//     names them;
//   * at most BRISK_FP_MAX_COPIES copies per pair;
//   * every device of the group (out + destinations) has a known MTU; the group's max_len is
//     the smallest MTU + 18 (and at most BRISK_FP_MAX_FRAME);
//   * at most BRISK_FP_MAX_PAIRS pairs.
//   * every destination tags the frame's VLAN as the out port does (all devices get the same
//     bytes). When the pair's VLAN is fixed (the in or the out port is an access port) the
//     plan decides it: a mismatch leaves the pair out. Otherwise (trunk to trunk) the program
//     decides it per frame from dst_mode / dst_native in the pair's value.
//
// Threads: none of its own; XdpFastpath calls it on the control thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "bpf/brisk_xdp_abi.h"
#include "brisk/types.hpp"

namespace brisk {

// A port mirror as the fast path sees it (captures never reach the fast path).
struct FastpathMirror {
  std::uint32_t bridge = 0;   // XdpFastpath::bridge_id()
  PortId src = kInvalidPort;  // kInvalidPort: every frame entering a port of the bridge
  PortId dst = kInvalidPort;
  int dst_ifindex = 0;  // 0: copies stay in userspace (not an AF_XDP device, or a
                        // device with a qdisc that must see them)
  std::uint8_t dst_mode = BRISK_VLAN_ACCESS;  // the destination's VLAN mode and native VLAN:
  VlanId dst_native = 0;                      // its egress tagging (bpf/brisk_vlan.h)
  std::uint16_t slot = 0;                     // WorkerCounters::mirror[slot]; also brisk_fp_mstats
  friend bool operator==(const FastpathMirror&, const FastpathMirror&) = default;
};

// An accelerated port as the plan needs it.
struct MirrorPlanPort {
  PortId id = kInvalidPort;
  std::uint32_t bridge = 0;
  int ifindex = 0;
  std::uint8_t mode = BRISK_VLAN_ACCESS;  // bpf/brisk_vlan.h
  VlanId access_vlan = 0, native_vlan = 0;
};

// Facts about devices, asked lazily (only for what a pair needs).
struct MirrorPlanDevices {
  std::function<bool(int ifindex)> dst_ready;               // takes redirected frames and is up
  std::function<std::uint32_t(std::uint32_t ifindex)> mtu;  // 0: unknown
};

struct MirrorPlan {
  std::map<std::uint32_t, std::uint32_t> dsts;  // brisk_fp_mdsts: destination ifindex -> slot
  // (in << 32 | out) -> the pair's value (group not yet set) and its sorted device set.
  std::map<std::uint64_t, brisk_fp_mgroup> pairs;
  std::map<std::uint64_t, std::vector<std::uint32_t>> devs;
  std::set<PortId> held;  // accelerated ports a mirror keeps in userspace
};

inline std::uint64_t mirror_pair_key(PortId in, PortId out) {
  return std::uint64_t{in} << 32 | out;
}

// `ports`: the published accelerated ports (any order); mirror destinations among them are
// skipped (they are never accelerated, but the plan does not rely on it).
MirrorPlan plan_mirrors(const std::vector<FastpathMirror>& mirrors,
                        const std::vector<MirrorPlanPort>& ports, const MirrorPlanDevices& devices);

}  // namespace brisk
