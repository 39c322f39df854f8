// bpf/brisk_vlan.h, the VLAN rules the pipeline (datapath/vlan.hpp) and the XDP fast path
// (bpf/brisk_xdp.c) both apply, called directly from C++: the cases of the pipeline's VLAN
// tests (pipeline_test.cpp, vlan_test.cpp) as decisions, without frames.
#include <gtest/gtest.h>

#include "bpf/brisk_vlan.h"
#include "datapath/snapshot.hpp"

namespace brisk::test {
namespace {

constexpr std::uint8_t kAccess = BRISK_VLAN_ACCESS;
constexpr std::uint8_t kTrunk = BRISK_VLAN_TRUNK;
constexpr std::uint8_t kTunnel = BRISK_VLAN_DOT1Q_TUNNEL;

// The mode numbers are the C++ enum's (the BPF map carries them).
static_assert(vlan_mode(VlanMode::kAccess) == kAccess);
static_assert(vlan_mode(VlanMode::kTrunk) == kTrunk);
static_assert(vlan_mode(VlanMode::kDot1qTunnel) == kTunnel);

TEST(VlanRules, AccessPortTakesUntaggedAndPriorityTaggedIntoItsVlan) {
  // PipelineTest.TaggedFrameOnAccessPortIsDropped: VLAN 1 access port.
  EXPECT_EQ(brisk_vlan_of(kAccess, 1, 0, 0), 1);
  EXPECT_EQ(brisk_vlan_admit(kAccess, 0, 0, 0), BRISK_VLAN_OK) << "untagged / priority tag";
  EXPECT_EQ(brisk_vlan_admit(kAccess, 10, 0, 0), BRISK_VLAN_TAGGED_ON_ACCESS);
  // VlanIngress.TrunkStripsTheOuterTagOnly...: a priority tag around a tagged frame.
  EXPECT_EQ(brisk_vlan_admit(kAccess, 0, 1, 0), BRISK_VLAN_TAGGED_ON_ACCESS);
  // `carried` means nothing to an access port.
  EXPECT_EQ(brisk_vlan_admit(kAccess, 0, 0, 1), BRISK_VLAN_OK);
  EXPECT_TRUE(brisk_vlan_strips_tag(kAccess));
}

TEST(VlanRules, TrunkKeepsCarriedVidsAndPutsTheRestInItsNativeVlan) {
  // Trunk.AllowedListNativeVlanAndEgressTags: trunk 10,20 native 10.
  EXPECT_EQ(brisk_vlan_of(kTrunk, 0, 10, 20), 20);
  EXPECT_EQ(brisk_vlan_of(kTrunk, 0, 10, 0), 10) << "untagged: native";
  EXPECT_EQ(brisk_vlan_of(kTrunk, 0, 10, 30), 30);
  EXPECT_EQ(brisk_vlan_admit(kTrunk, 20, 0, 1), BRISK_VLAN_OK);
  EXPECT_EQ(brisk_vlan_admit(kTrunk, 30, 0, 0), BRISK_VLAN_NOT_ALLOWED);
  EXPECT_EQ(brisk_vlan_admit(kTrunk, 0, 0, 0), BRISK_VLAN_NOT_ALLOWED) << "native not carried";
  // A double-tagged frame (outer 100, inner 7) is in VLAN 100 and keeps its inner tag.
  EXPECT_EQ(brisk_vlan_of(kTrunk, 0, 0, 100), 100);
  EXPECT_EQ(brisk_vlan_admit(kTrunk, 100, 1, 1), BRISK_VLAN_OK);
  EXPECT_TRUE(brisk_vlan_strips_tag(kTrunk));
}

TEST(VlanRules, Dot1qTunnelTakesEveryFrameAndKeepsItsTag) {
  // VlanIngress.Dot1qTunnelTakesEveryFrame...: service VLAN 100, any customer tag.
  for (__u16 vid : {0, 7, 4094}) {
    EXPECT_EQ(brisk_vlan_of(kTunnel, 100, 0, vid), 100);
    EXPECT_EQ(brisk_vlan_admit(kTunnel, vid, 0, 0), BRISK_VLAN_OK);
    EXPECT_EQ(brisk_vlan_admit(kTunnel, vid, 1, 0), BRISK_VLAN_OK);
  }
  EXPECT_FALSE(brisk_vlan_strips_tag(kTunnel));
}

TEST(VlanRules, CarriesEgressTagAndInnerTagPop) {
  EXPECT_TRUE(brisk_vlan_carries(kAccess, 10, 10, 0));
  EXPECT_FALSE(brisk_vlan_carries(kAccess, 10, 20, 1));
  EXPECT_TRUE(brisk_vlan_carries(kTrunk, 0, 20, 1));
  EXPECT_FALSE(brisk_vlan_carries(kTrunk, 20, 20, 0)) << "a trunk goes by its allowed set";
  EXPECT_TRUE(brisk_vlan_carries(kTunnel, 100, 100, 0));
  // Toward trunk 10,20 native 10: VLAN 20 tagged, native 10 untagged.
  EXPECT_EQ(brisk_vlan_egress_tag(kTrunk, 10, 20), 20);
  EXPECT_EQ(brisk_vlan_egress_tag(kTrunk, 10, 10), 0);
  EXPECT_EQ(brisk_vlan_egress_tag(kTrunk, 10, 0), 0) << "VLAN 0 has no tag";
  EXPECT_EQ(brisk_vlan_egress_tag(kAccess, 0, 20), 0);
  EXPECT_EQ(brisk_vlan_egress_tag(kTunnel, 0, 100), 0) << "a service VLAN is never pushed";
  // QinQ.CustomerTaggedFrameLeavesEachKindOfPort...: only an access port pops the customer tag.
  EXPECT_TRUE(brisk_vlan_pops_inner(kAccess));
  EXPECT_FALSE(brisk_vlan_pops_inner(kTrunk));
  EXPECT_FALSE(brisk_vlan_pops_inner(kTunnel));
}

// PortConf's methods are the header's rules over the snapshot's VlanSet.
TEST(VlanRules, PortConfAppliesThem) {
  VlanSet set;
  set.set(10);
  set.set(20);
  PortConf tr;
  tr.mode = VlanMode::kTrunk;
  tr.native_vlan = 10;
  tr.allowed = &set;
  EXPECT_TRUE(tr.carries(20));
  EXPECT_FALSE(tr.carries(30));
  EXPECT_EQ(tr.egress_tag(20), 20);
  EXPECT_EQ(tr.egress_tag(10), 0);
  PortConf ac;
  ac.access_vlan = 10;
  EXPECT_TRUE(ac.carries(10)) << "no allowed set needed";
  EXPECT_FALSE(ac.carries(20));
  EXPECT_TRUE(ac.pops_inner_tag());
  EXPECT_FALSE(tr.pops_inner_tag());
}

}  // namespace
}  // namespace brisk::test
