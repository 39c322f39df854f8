// The XDP fast path's mirror plan (datapath/xdp_mirror_plan.hpp), without root and without
// BPF: which (in, out) pairs get copies in the kernel, with which devices and values, and
// which ports mirrors hold in userspace.
#include "datapath/xdp_mirror_plan.hpp"

#include <gtest/gtest.h>

namespace brisk::test {
namespace {

constexpr std::uint32_t kBridge = 1;

MirrorPlanPort access_port(PortId id, int ifindex, VlanId vlan = 10) {
  return {id, kBridge, ifindex, BRISK_VLAN_ACCESS, vlan, 0};
}
MirrorPlanPort trunk_port(PortId id, int ifindex, VlanId native = 1) {
  return {id, kBridge, ifindex, BRISK_VLAN_TRUNK, 0, native};
}
FastpathMirror mirror(PortId src, PortId dst, int dst_ifindex, std::uint16_t slot) {
  FastpathMirror m;
  m.bridge = kBridge;
  m.src = src;
  m.dst = dst;
  m.dst_ifindex = dst_ifindex;
  m.slot = slot;
  return m;
}

// Every device takes redirects and has MTU 1500, unless told otherwise.
struct Devices {
  std::set<int> not_ready;
  std::map<std::uint32_t, std::uint32_t> mtu;
  int asked_mtu = 0;
  MirrorPlanDevices get() {
    return {[this](int ifi) { return !not_ready.count(ifi); },
            [this](std::uint32_t ifi) {
              ++asked_mtu;
              auto it = mtu.find(ifi);
              return it == mtu.end() ? 1500u : it->second;
            }};
  }
};

// Ports 1, 2, 3 (ifindexes 101..103), access VLAN 10; port 9 the destination (ifindex 109).
std::vector<MirrorPlanPort> three_ports() {
  return {access_port(1, 101), access_port(2, 102), access_port(3, 103)};
}

TEST(MirrorPlan, SourceMirrorGetsThePairsInAndOutOfItsSource) {
  Devices d;
  MirrorPlan p = plan_mirrors({mirror(1, 9, 109, 4)}, three_ports(), d.get());
  // (1,2), (1,3), (2,1), (3,1); not (2,3) nor (3,2).
  ASSERT_EQ(p.pairs.size(), 4u);
  for (auto [in, out] : {std::pair{1, 2}, {1, 3}, {2, 1}, {3, 1}})
    EXPECT_TRUE(p.pairs.count(mirror_pair_key(in, out))) << in << "->" << out;
  const brisk_fp_mgroup& g = p.pairs.at(mirror_pair_key(2, 1));
  EXPECT_EQ(g.ncopies, 1);
  EXPECT_EQ(g.dst_port[0], 9);
  EXPECT_EQ(g.slot[0], 4);
  EXPECT_EQ(g.max_len, 1500 + 18);
  EXPECT_EQ(p.devs.at(mirror_pair_key(2, 1)), (std::vector<std::uint32_t>{101, 109}));
  EXPECT_EQ(p.dsts, (std::map<std::uint32_t, std::uint32_t>{{109, 4}}));
  EXPECT_TRUE(p.held.empty());
}

TEST(MirrorPlan, BridgeWideMirrorGetsEveryPairAndEachMirrorCopiesOnce) {
  Devices d;
  MirrorPlan p =
      plan_mirrors({mirror(kInvalidPort, 9, 109, 0), mirror(2, 8, 108, 1)}, three_ports(), d.get());
  ASSERT_EQ(p.pairs.size(), 6u);
  EXPECT_EQ(p.pairs.at(mirror_pair_key(1, 3)).ncopies, 1) << "only the bridge-wide mirror";
  const brisk_fp_mgroup& g = p.pairs.at(mirror_pair_key(1, 2));
  ASSERT_EQ(g.ncopies, 2) << "both mirrors, once each";
  EXPECT_EQ(p.devs.at(mirror_pair_key(1, 2)), (std::vector<std::uint32_t>{102, 108, 109}));
  // The smallest MTU of the group's devices decides its longest frame.
  d.mtu[108] = 1400;
  p = plan_mirrors({mirror(kInvalidPort, 9, 109, 0), mirror(2, 8, 108, 1)}, three_ports(), d.get());
  EXPECT_EQ(p.pairs.at(mirror_pair_key(1, 2)).max_len, 1400 + 18);
  EXPECT_EQ(p.pairs.at(mirror_pair_key(1, 3)).max_len, 1500 + 18);
}

TEST(MirrorPlan, TagMismatchLeavesThePairOut) {
  Devices d;
  // Access ports in VLAN 10; a trunk destination with native 1 tags VLAN 10, the access out
  // port does not: the devices cannot get the same bytes.
  FastpathMirror m = mirror(1, 9, 109, 0);
  m.dst_mode = BRISK_VLAN_TRUNK;
  m.dst_native = 1;
  MirrorPlan p = plan_mirrors({m}, three_ports(), d.get());
  EXPECT_TRUE(p.pairs.empty());
  EXPECT_TRUE(p.held.empty()) << "the frames go up one by one; the ports stay accelerated";
  // With native VLAN 10 it sends VLAN 10 untagged too: pairs.
  m.dst_native = 10;
  EXPECT_EQ(plan_mirrors({m}, three_ports(), d.get()).pairs.size(), 4u);
  // Trunk to trunk: the VLAN varies per frame, the program decides (the pair is there).
  std::vector<MirrorPlanPort> trunks{trunk_port(1, 101), trunk_port(2, 102)};
  m.dst_native = 1;
  p = plan_mirrors({m}, trunks, d.get());
  ASSERT_EQ(p.pairs.size(), 2u);
  EXPECT_EQ(p.pairs.at(mirror_pair_key(1, 2)).dst_mode[0], BRISK_VLAN_TRUNK);
  EXPECT_EQ(p.pairs.at(mirror_pair_key(1, 2)).dst_native[0], 1);
}

TEST(MirrorPlan, MoreThanEightCopiesLeavesThePairOut) {
  Devices d;
  std::vector<FastpathMirror> ms;
  for (int i = 0; i < BRISK_FP_MAX_COPIES; ++i)
    ms.push_back(mirror(1, static_cast<PortId>(20 + i), 120 + i, static_cast<std::uint16_t>(i)));
  MirrorPlan p = plan_mirrors(ms, three_ports(), d.get());
  ASSERT_EQ(p.pairs.size(), 4u);
  EXPECT_EQ(p.pairs.at(mirror_pair_key(1, 2)).ncopies, BRISK_FP_MAX_COPIES);
  ms.push_back(mirror(kInvalidPort, 30, 130, 8));  // a ninth copy for every pair of port 1
  p = plan_mirrors(ms, three_ports(), d.get());
  for (auto key : {mirror_pair_key(1, 2), mirror_pair_key(2, 1), mirror_pair_key(1, 3)})
    EXPECT_FALSE(p.pairs.count(key));
  EXPECT_EQ(p.pairs.at(mirror_pair_key(2, 3)).ncopies, 1) << "only the bridge-wide one there";
}

TEST(MirrorPlan, DestinationNotAnAfXdpDeviceHoldsItsPortsInUserspace) {
  Devices d;
  // dst_ifindex 0: a tap (or a device whose qdisc must see the copies).
  MirrorPlan p = plan_mirrors({mirror(1, 9, 0, 0)}, three_ports(), d.get());
  EXPECT_TRUE(p.pairs.empty());
  EXPECT_TRUE(p.dsts.empty());
  EXPECT_EQ(p.held, (std::set<PortId>{1}));
  // A bridge-wide one holds every port.
  p = plan_mirrors({mirror(kInvalidPort, 9, 0, 0)}, three_ports(), d.get());
  EXPECT_EQ(p.held, (std::set<PortId>{1, 2, 3}));
  // An AF_XDP destination that cannot take redirected frames (or is down) does the same.
  d.not_ready.insert(109);
  p = plan_mirrors({mirror(1, 9, 109, 0)}, three_ports(), d.get());
  EXPECT_TRUE(p.pairs.empty());
  EXPECT_EQ(p.held, (std::set<PortId>{1}));
  EXPECT_EQ(p.dsts.size(), 1u) << "its transmits are still counted";
}

TEST(MirrorPlan, UnknownMtuOtherBridgesAndDestinationsAmongThePorts) {
  Devices d;
  d.mtu[102] = 0;  // cannot be read
  std::vector<MirrorPlanPort> ports = three_ports();
  ports.push_back({5, 2, 105, BRISK_VLAN_ACCESS, 10, 0});  // another bridge
  ports.push_back(access_port(9, 109));                    // the destination itself
  MirrorPlan p = plan_mirrors({mirror(1, 9, 109, 0)}, ports, d.get());
  // The group's devices are the out port and the destinations: (1,2) is out, (2,1) is in.
  EXPECT_EQ(p.pairs.size(), 3u) << "(1,3), (3,1), (2,1): not to 102, nor via 5 or 9";
  EXPECT_FALSE(p.pairs.count(mirror_pair_key(1, 2)));
  for (auto key : {mirror_pair_key(1, 3), mirror_pair_key(3, 1), mirror_pair_key(2, 1)})
    EXPECT_TRUE(p.pairs.count(key));
  EXPECT_EQ(d.asked_mtu, 4) << "each device's MTU asked once: 101, 102, 103, 109";
  EXPECT_TRUE(plan_mirrors({}, ports, d.get()).pairs.empty());
}

}  // namespace
}  // namespace brisk::test
