// The learn + forward pipeline, driven through the real control model over memory ports.
#include <gtest/gtest.h>

#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

std::size_t drops(Harness& h, const std::string& port, Drop d) {
  return h.totals(port).drops[static_cast<std::size_t>(d)];
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.cmd("tap create 10 name p1").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name p2").ok);
    ASSERT_TRUE(h.cmd("tap create 20 name p3").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name p4").ok);
    h.sent();  // nothing yet
  }
  std::optional<FdbEntry> entry(VlanId vlan, const char* m) {
    std::optional<FdbEntry> found;
    h.sw().bridges().at("tbr0").fdb->for_each([&](const FdbEntry& e) {
      if (e.vlan == vlan && e.mac == mac(m)) found = e;
    });
    return found;
  }
  PortId id(const std::string& p) { return h.sw().ports().at(p).id; }
  Harness h;
};

TEST_F(PipelineTest, UnknownUnicastFloodsWithinVlanOnly) {
  h.send("p1", FrameBuilder().to(kB).from(kA).build());
  auto out = h.sent();
  EXPECT_EQ(out["p2"].size(), 1u);
  EXPECT_EQ(out["p4"].size(), 1u);
  EXPECT_EQ(out.count("p1"), 0u) << "never back out of the ingress port";
  EXPECT_EQ(out.count("p3"), 0u) << "VLAN 20 must not see VLAN 10";
  // The bridge's own interface is a trunk of every VLAN with native 0: it gets the frame tagged.
  ASSERT_EQ(out["tbr0"].size(), 1u);
  EXPECT_EQ(vlan_of(out["tbr0"][0]), 10);
  EXPECT_EQ(vlan_of(out["p2"][0]), -1) << "access ports send untagged";
}

// TxQueues::flush marks the item holding a frame's last reference (TxItem::handover): a flood
// hands over to exactly one destination and copies to the others; a unicast hands over.
TEST_F(PipelineTest, OnlyTheLastDestinationGetsTheBuffer) {
  h.send("p1", FrameBuilder().to(kB).from(kA).build());  // floods: p2, p4, tbr0
  auto out = h.sent();
  ASSERT_EQ(out["p2"].size() + out["p4"].size() + out["tbr0"].size(), 3u);
  EXPECT_EQ(h.port("p2").handovers() + h.port("p4").handovers() + h.port("tbr0").handovers(), 1u);
  h.send("p2", FrameBuilder().to(kA).from(kB).build());  // known: unicast to p1
  ASSERT_EQ(h.sent()["p1"].size(), 1u);
  EXPECT_EQ(h.port("p1").handovers(), 1u);
}

TEST_F(PipelineTest, LearnsSourceAndForwardsUnicast) {
  h.send("p1", FrameBuilder().to(kB).from(kA).build());
  auto e = entry(10, kA);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->port, id("p1"));
  h.sent();
  h.send("p2", FrameBuilder().to(kA).from(kB).build());
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u) << "known destination: unicast only";
  EXPECT_EQ(out["p1"].size(), 1u);
  h.send("p1", FrameBuilder().to(kB).from(kA).build());
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["p2"].size(), 1u);
}

TEST_F(PipelineTest, MacMoveRedirectsTraffic) {
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());
  h.send("p2", FrameBuilder().to(kBcast).from(kB).build());
  ASSERT_EQ(entry(10, kA)->port, id("p1"));
  h.send("p4", FrameBuilder().to(kBcast).from(kA).build());  // A moved to p4
  EXPECT_EQ(entry(10, kA)->port, id("p4"));
  EXPECT_EQ(h.sw().bridges().at("tbr0").fdb->stats().moved, 1u);
  h.sent();
  h.send("p2", FrameBuilder().to(kA).from(kB).build());
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["p4"].size(), 1u);
}

TEST_F(PipelineTest, SameAddressInTwoVlansIsTwoEntries) {
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());
  h.send("p3", FrameBuilder().to(kBcast).from(kA).build());
  EXPECT_EQ(entry(10, kA)->port, id("p1"));
  EXPECT_EQ(entry(20, kA)->port, id("p3"));
  h.sent();
  h.send("p2", FrameBuilder().to(kA).from(kB).build());
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["p1"].size(), 1u);
}

TEST_F(PipelineTest, DestinationOnIngressPortIsDroppedAndCounted) {
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());
  h.send("p1", FrameBuilder().to(kBcast).from(kB).build());
  h.sent();
  h.send("p1", FrameBuilder().to(kA).from(kB).build());
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops(h, "p1", Drop::kSamePort), 1u);
}

TEST_F(PipelineTest, TaggedFrameOnAccessPortIsDropped) {
  h.send("p1", FrameBuilder().to(kB).from(kA).tagged(10).build());
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops(h, "p1", Drop::kTaggedOnAccess), 1u);
  // A priority tag (VID 0) is accepted as untagged.
  h.send("p1", FrameBuilder().to(kB).from(kA).tagged(0).build());
  auto out = h.sent();
  ASSERT_EQ(out["p2"].size(), 1u);
  EXPECT_EQ(vlan_of(out["p2"][0]), -1);
  EXPECT_EQ(out["p2"][0].size(), 60u) << "the priority tag is stripped";
}

TEST_F(PipelineTest, TrunkTagsClassifyAndAreStrippedTowardAccessPorts) {
  // From the bridge's own interface (trunk, native 0): tagged VLAN 20 reaches p3 untagged.
  h.send("tbr0", FrameBuilder().to(kBcast).from(kC).tagged(20).build());
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out["p3"].size(), 1u);
  EXPECT_EQ(vlan_of(out["p3"][0]), -1);
  EXPECT_EQ(entry(20, kC)->port, id("tbr0"));
  // Untagged frames from the trunk belong to native VLAN 0, where nobody else is.
  h.send("tbr0", FrameBuilder().to(kBcast).from(kC).build());
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops(h, "tbr0", Drop::kNoDestination), 1u);
}

TEST_F(PipelineTest, MalformedFramesAreCountedNotForwarded) {
  h.send("p1", std::vector<std::uint8_t>(10, 0xab));
  EXPECT_EQ(drops(h, "p1", Drop::kRunt), 1u);
  h.send("p1", FrameBuilder().to(kB).from(kA).tagged(10).length(16).build());
  EXPECT_EQ(drops(h, "p1", Drop::kRunt), 2u);
  h.send("p1", FrameBuilder().to(kB).from("01:00:5e:00:00:01").build());
  EXPECT_EQ(drops(h, "p1", Drop::kBadSrcMac), 1u);
  h.send("p1", FrameBuilder().to(kB).from("00:00:00:00:00:00").build());
  EXPECT_EQ(drops(h, "p1", Drop::kBadSrcMac), 2u);
  // Longer than any buffer: the port drops it (never received, never cut).
  h.send("p1", FrameBuilder().to(kB).from(kA).length(kMaxBigFrameLen + 100).build());
  EXPECT_EQ(drops(h, "p1", Drop::kOversize), 1u);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.sw().bridges().at("tbr0").fdb->size(), 0u);
  EXPECT_EQ(h.totals("p1").rx_frames, 4u);
}

// Found by tests/fuzz/fuzz_pipeline: an empty frame made the memory port memcpy from a null
// pointer (UBSan: nonnull attribute). It is a runt like any other.
TEST_F(PipelineTest, EmptyFrameIsARunt) {
  h.send("p1", {});
  EXPECT_EQ(drops(h, "p1", Drop::kRunt), 1u);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.totals("p1").rx_frames, 1u);
}

TEST_F(PipelineTest, EveryFrameIsDeliveredOrCountedAsDropped) {
  // Conservation over a mixed stream: rx == frames that left at least once + drops.
  std::vector<std::vector<std::uint8_t>> frames = {
      FrameBuilder().to(kB).from(kA).build(),            // flood
      FrameBuilder().to(kA).from(kB).build(),            // unicast (after learning)
      std::vector<std::uint8_t>(5, 1),                   // runt
      FrameBuilder().to(kB).from(kA).tagged(7).build(),  // tagged on access
      FrameBuilder().to(kA).from(kC).build(),            // unicast back to ingress p1: same_port
  };
  h.send("p1", frames[0]);
  h.send("p2", frames[1]);
  h.send("p1", frames[2]);
  h.send("p1", frames[3]);
  h.send("p1", frames[4]);
  std::uint64_t rx = 0, dropped = 0;
  for (const auto& [name, p] : h.sw().ports()) {
    PortTotals t = h.totals(name);
    rx += t.rx_frames;
    dropped += t.dropped();
  }
  EXPECT_EQ(rx, 5u);
  EXPECT_EQ(dropped, 3u);  // runt, tagged_on_access, same_port
}

TEST_F(PipelineTest, AgeingRemovesIdleEntriesWithInjectedClock) {
  ASSERT_TRUE(h.cmd("bridge ageing tbr0 5").ok);
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());
  ASSERT_TRUE(entry(10, kA));
  h.advance(4);
  EXPECT_TRUE(entry(10, kA)) << "younger than the ageing time";
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());  // refreshes last-seen
  h.advance(4);
  EXPECT_TRUE(entry(10, kA)) << "refreshed by traffic";
  h.advance(1);
  EXPECT_FALSE(entry(10, kA)) << "idle for the ageing time";
  EXPECT_EQ(h.sw().bridges().at("tbr0").fdb->stats().aged, 1u);
}

TEST_F(PipelineTest, AgeingZeroIsHubMode) {
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());
  ASSERT_TRUE(h.cmd("bridge ageing tbr0 0").ok);
  EXPECT_EQ(h.sw().bridges().at("tbr0").fdb->size(), 0u) << "hub mode forgets dynamic entries";
  h.sent();
  h.send("p2", FrameBuilder().to(kA).from(kB).build());
  auto out = h.sent();
  EXPECT_EQ(out["p1"].size(), 1u);
  EXPECT_EQ(out["p4"].size(), 1u) << "hub mode floods unicast";
  EXPECT_EQ(h.sw().bridges().at("tbr0").fdb->size(), 0u) << "and learns nothing";
}

TEST_F(PipelineTest, StaticEntriesForwardAndNeverMoveOrAge) {
  ASSERT_TRUE(h.cmd(std::string("fdb add tbr0 10 ") + kA + " p4").ok);
  h.send("p1", FrameBuilder().to(kBcast).from(kA).build());  // A shows up elsewhere
  EXPECT_EQ(entry(10, kA)->port, id("p4"));
  EXPECT_TRUE(entry(10, kA)->is_static);
  h.advance(10000);
  ASSERT_TRUE(entry(10, kA));
  h.sent();
  h.send("p2", FrameBuilder().to(kA).from(kB).build());
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["p4"].size(), 1u);
  ASSERT_TRUE(h.cmd(std::string("fdb del tbr0 10 ") + kA).ok);
  EXPECT_FALSE(entry(10, kA));
}

TEST_F(PipelineTest, FullTableEvictsFromTheBusiestPortOnly) {
  ASSERT_TRUE(h.cmd("bridge config tbr0 fdb-limit=8").ok);
  h.send("p2", FrameBuilder().to(kBcast).from(kB).build());  // p2's one quiet entry
  for (int i = 0; i < 100; ++i) {
    char m[18];
    std::snprintf(m, sizeof(m), "02:aa:00:00:%02x:%02x", i / 256, i % 256);
    h.send("p1", FrameBuilder().to(kBcast).from(m).build());
  }
  auto& fdb = *h.sw().bridges().at("tbr0").fdb;
  EXPECT_EQ(fdb.size(), 8u);
  EXPECT_TRUE(entry(10, kB)) << "a flood of MACs on p1 must not evict p2's entry";
  EXPECT_EQ(fdb.dynamic_count(id("p1")), 7u);
  EXPECT_GE(fdb.stats().evicted, 92u);
}

TEST_F(PipelineTest, DeletingAPortForgetsItsAddressesAndStopsFloods) {
  h.send("p4", FrameBuilder().to(kBcast).from(kC).build());
  ASSERT_TRUE(entry(10, kC));
  ASSERT_TRUE(h.cmd("tap delete p4").ok);
  EXPECT_FALSE(entry(10, kC));
  h.sent();
  h.send("p1", FrameBuilder().to(kC).from(kA).build());
  auto out = h.sent();
  EXPECT_EQ(out.count("p4"), 0u);
  EXPECT_EQ(out["p2"].size(), 1u);
}

TEST_F(PipelineTest, CountersTrackFramesAndBytes) {
  h.send("p1", FrameBuilder().to(kB).from(kA).length(100).build());
  PortTotals t1 = h.totals("p1"), t2 = h.totals("p2"), tb = h.totals("tbr0");
  EXPECT_EQ(t1.rx_frames, 1u);
  EXPECT_EQ(t1.rx_bytes, 100u);
  EXPECT_EQ(t2.tx_frames, 1u);
  EXPECT_EQ(t2.tx_bytes, 100u);
  EXPECT_EQ(tb.tx_bytes, 104u) << "tagged copy to the trunk";
}

TEST_F(PipelineTest, ManyFramesInOneBurstAreBatched) {
  for (int i = 0; i < 200; ++i) h.port("p1").inject(FrameBuilder().to(kB).from(kA).build());
  h.pump();
  auto out = h.sent();
  EXPECT_EQ(out["p2"].size(), 200u);
  EXPECT_EQ(h.totals("p1").rx_frames, 200u);
  EXPECT_EQ(h.dp().context(0).pool.available(), h.dp().context(0).pool.capacity())
      << "every frame returned to the pool";
}

}  // namespace
}  // namespace brisk::test

namespace brisk::test {
namespace {

TEST(Trunk, AllowedListNativeVlanAndEgressTags) {
  Harness h("trbr0");
  ASSERT_TRUE(h.cmd("port add tr1 trunk 10,20 native 10").ok);
  ASSERT_TRUE(h.cmd("tap create 10 name a10").ok);
  ASSERT_TRUE(h.cmd("tap create 20 name a20").ok);
  ASSERT_TRUE(h.cmd("tap create 30 name a30").ok);
  h.sent();
  // Tagged 20 from the trunk reaches the VLAN 20 access port untagged.
  h.send("tr1", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:01:01").tagged(20).build());
  auto out = h.sent();
  ASSERT_EQ(out["a20"].size(), 1u);
  EXPECT_EQ(vlan_of(out["a20"][0]), -1);
  EXPECT_EQ(out.count("a10"), 0u);
  // Untagged from the trunk is the native VLAN 10.
  h.send("tr1", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:01:02").build());
  out = h.sent();
  EXPECT_EQ(out["a10"].size(), 1u);
  EXPECT_EQ(out.count("a20"), 0u);
  // VLAN 30 is not carried: dropped and counted.
  h.send("tr1", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:01:03").tagged(30).build());
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.totals("tr1").drops[static_cast<std::size_t>(Drop::kVlanNotAllowed)], 1u);
  // Toward the trunk: VLAN 20 leaves tagged, native VLAN 10 untagged, VLAN 30 not at all.
  h.send("a20", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:02:01").build());
  h.send("a10", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:02:02").build());
  h.send("a30", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:02:03").build());
  out = h.sent();
  ASSERT_EQ(out["tr1"].size(), 2u);
  EXPECT_EQ(vlan_of(out["tr1"][0]), 20);
  EXPECT_EQ(vlan_of(out["tr1"][1]), -1);
}

}  // namespace
}  // namespace brisk::test
