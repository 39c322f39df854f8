// Port mirroring (`tap mirror`) and captures driven through the real control model and the real
// pipeline over memory ports (tests/support/harness.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "datapath/mirror.hpp"
#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

constexpr const char* kM = "02:00:00:00:00:0e";

// The selection rule the mirror stage and the XDP fast path's pairs share.
TEST(MirrorSelection, SourceIsInOrOutBridgeWideIsEveryIngress) {
  EXPECT_TRUE(mirror_covers(kInvalidPort, 3)) << "bridge-wide: every port's frames";
  EXPECT_TRUE(mirror_covers(3, 3));
  EXPECT_FALSE(mirror_covers(3, 4));
  EXPECT_TRUE(mirror_selects(3, 3, 4)) << "entering the source";
  EXPECT_TRUE(mirror_selects(4, 3, 4)) << "leaving the source";
  EXPECT_FALSE(mirror_selects(5, 3, 4)) << "not touching the source";
  EXPECT_TRUE(mirror_selects(kInvalidPort, 3, 4));
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.cmd("tap create 10 name a").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name b").ok);
    ASSERT_TRUE(h.cmd("tap create 0 name mon").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name c").ok);
    // Learn a and b so that a <-> b is unicast.
    h.send("a", FrameBuilder().to(kBcast).from(kA).build());
    h.send("b", FrameBuilder().to(kBcast).from(kB).build());
    h.sent();
  }
  std::uint64_t drops(const std::string& port, Drop d) {
    return h.totals(port).drops[static_cast<std::size_t>(d)];
  }
  MirrorCounts counts(const std::string& dst) {
    for (const auto& m : h.sw().mirrors())
      if (m.dst == dst) return h.sw().mirror_counts(m);
    ADD_FAILURE() << "no mirror to " << dst;
    return {};
  }
  Harness h;
};

TEST_F(MirrorTest, BothDirectionsOfTheSourceReachTheDestination) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  auto ab = FrameBuilder().to(kB).from(kA).length(100).build();
  auto ba = FrameBuilder().to(kA).from(kB).length(90).build();
  h.send("a", ab);  // enters a
  h.send("b", ba);  // leaves a
  auto out = h.sent();
  ASSERT_EQ(out["b"].size(), 1u);
  ASSERT_EQ(out["a"].size(), 1u);
  ASSERT_EQ(out["mon"].size(), 2u);
  EXPECT_EQ(out["mon"][0], ab) << "an access destination gets the frame untagged, unchanged";
  EXPECT_EQ(out["mon"][1], ba);
  MirrorCounts c = counts("mon");
  EXPECT_EQ(c.mirrored, 2u);
  EXPECT_EQ(c.delivered, 2u);
  EXPECT_EQ(c.dropped, 0u);
}

TEST_F(MirrorTest, FloodsFromAndToTheSourceAreMirroredOnce) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  h.send("a", FrameBuilder().to(kBcast).from(kA).build());
  h.send("c", FrameBuilder().to(kBcast).from("02:00:00:00:00:0c").build());
  auto out = h.sent();
  EXPECT_EQ(out["mon"].size(), 2u);
  EXPECT_EQ(counts("mon").mirrored, 2u);
}

TEST_F(MirrorTest, TrafficNotTouchingTheSourceIsNotMirrored) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  h.send("b", FrameBuilder().to("02:00:00:00:00:0c").from(kB).build());  // floods b -> a, c
  h.sent();
  h.send("c", FrameBuilder().to(kB).from("02:00:00:00:00:0c").build());  // c -> b unicast
  auto out = h.sent();
  EXPECT_EQ(out.count("mon"), 0u);
  EXPECT_EQ(counts("mon").mirrored, 1u) << "only the flood that left a";
}

TEST_F(MirrorTest, DestinationReceivesOnlyMirroredFramesAndItsInputIsDropped) {
  // mon learned nothing yet; give it a static entry and a dynamic one before mirroring.
  h.send("mon", FrameBuilder().to(kBcast).from(kM).build());
  ASSERT_TRUE(h.cmd("fdb add tbr0 0 02:00:00:00:00:0f mon").ok);
  h.sent();
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  // Frames from mon are counted and go nowhere.
  h.send("mon", FrameBuilder().to(kA).from(kM).build());
  h.send("mon", FrameBuilder().to(kBcast).from(kM).build());
  auto out = h.sent();
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(drops("mon", Drop::kMirrorDst), 2u);
  // Floods on mon's VLAN (0: the bridge's own interface is a trunk with native 0) skip mon.
  h.send("tbr0", FrameBuilder().to(kBcast).from("02:00:00:00:00:01").build());
  out = h.sent();
  EXPECT_EQ(out.count("mon"), 0u);
  // Unicast to mon's learned and static addresses is treated as unknown: flooded, not to mon.
  h.send("tbr0", FrameBuilder().to(kM).from("02:00:00:00:00:01").build());
  h.send("tbr0", FrameBuilder().to("02:00:00:00:00:0f").from("02:00:00:00:00:01").build());
  out = h.sent();
  EXPECT_EQ(out.count("mon"), 0u);
}

TEST_F(MirrorTest, TrunkDestinationSeesTheVlanTag) {
  ASSERT_TRUE(h.cmd("tap mirror a tbr0").ok);  // the bridge's own interface: trunk, native 0
  auto ab = FrameBuilder().to(kB).from(kA).build();
  h.send("a", ab);
  auto out = h.sent();
  ASSERT_EQ(out["tbr0"].size(), 1u);
  EXPECT_EQ(vlan_of(out["tbr0"][0]), 10);
}

TEST_F(MirrorTest, ClearStopsMirroringAndRestoresForwarding) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  ASSERT_TRUE(h.cmd("clear tap mirror mon").ok);
  h.send("a", FrameBuilder().to(kB).from(kA).build());
  auto out = h.sent();
  EXPECT_EQ(out.count("mon"), 0u);
  // mon forwards again.
  h.send("mon", FrameBuilder().to(kBcast).from(kM).build());
  out = h.sent();
  EXPECT_EQ(out["tbr0"].size(), 1u);
  EXPECT_EQ(drops("mon", Drop::kMirrorDst), 0u);
}

TEST_F(MirrorTest, ClearAllAndListing) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  ASSERT_TRUE(h.cmd("tap mirror b c").ok);
  Reply l = h.cmd("tap mirror");
  ASSERT_TRUE(l.ok);
  EXPECT_NE(l.text.find("destination"), std::string::npos);
  EXPECT_EQ(l.data.size(), 2u);
  ASSERT_TRUE(h.cmd("clear tap mirror").ok);
  EXPECT_TRUE(h.sw().mirrors().empty());
  EXPECT_EQ(h.cmd("tap mirror").data.size(), 0u);
}

TEST_F(MirrorTest, ErrorsAreMinimegasAndChangeNothing) {
  EXPECT_EQ(h.cmd("tap mirror a a").text, "cannot mirror tap to itself");
  EXPECT_EQ(h.cmd("tap mirror nope mon").text, "source tap is not on bridge");
  EXPECT_EQ(h.cmd("tap mirror a nope").text, "destination tap is not on bridge");
  ASSERT_TRUE(h.cmd("tap create 10 name other bridge br2").ok);
  EXPECT_EQ(h.cmd("tap mirror a other").text, "destination tap is not on bridge");
  EXPECT_EQ(h.cmd("tap mirror a mon br9").text, "no such bridge: br9");
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  EXPECT_EQ(h.cmd("tap mirror b mon").text, "destination tap is already a mirror");
  EXPECT_FALSE(h.cmd("tap mirror mon c").ok) << "a destination cannot be a source";
  EXPECT_FALSE(h.cmd("tap mirror b a").ok) << "a source cannot become a destination";
  EXPECT_EQ(h.cmd("clear tap mirror b").text, "tap is not a mirror on bridge tbr0: b");
  EXPECT_FALSE(h.cmd("tap mirror a").ok);
  EXPECT_FALSE(h.cmd("clear tap mirror a b").ok);
  EXPECT_EQ(h.sw().mirrors().size(), 1u);
}

TEST_F(MirrorTest, SourceOnAnotherBridgeIsRefused) {
  ASSERT_TRUE(h.cmd("tap create 10 name x bridge br2").ok);
  ASSERT_TRUE(h.cmd("tap create 10 name y bridge br2").ok);
  EXPECT_EQ(h.cmd("tap mirror x mon").text, "source tap is not on bridge");
  EXPECT_TRUE(h.cmd("tap mirror x y br2").ok);
}

TEST_F(MirrorTest, SelectAllMirrorsEveryFrameOnce) {
  ASSERT_TRUE(h.cmd("tap mirror all mon").ok);
  h.send("a", FrameBuilder().to(kB).from(kA).build());
  h.send("b", FrameBuilder().to(kA).from(kB).build());
  h.send("c", FrameBuilder().to(kBcast).from("02:00:00:00:00:0c").build());
  auto out = h.sent();
  EXPECT_EQ(out["mon"].size(), 3u);
  MirrorCounts c = counts("mon");
  EXPECT_EQ(c.mirrored, 3u);
  EXPECT_EQ(c.delivered, 3u);
}

TEST_F(MirrorTest, DeletingAPortRemovesItsMirror) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  ASSERT_TRUE(h.cmd("tap delete a").ok);
  EXPECT_TRUE(h.sw().mirrors().empty());
  h.send("mon", FrameBuilder().to(kBcast).from(kM).build());
  EXPECT_EQ(h.sent()["tbr0"].size(), 1u) << "mon forwards again";
}

TEST_F(MirrorTest, SeveralMirrorsOfOneSource) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  ASSERT_TRUE(h.cmd("tap mirror a c").ok);
  h.send("a", FrameBuilder().to(kB).from(kA).build());
  auto out = h.sent();
  EXPECT_EQ(out["mon"].size(), 1u);
  EXPECT_EQ(out["c"].size(), 1u);
  EXPECT_EQ(out["b"].size(), 1u);
}

TEST_F(MirrorTest, StatsShowMirrorCounters) {
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  h.send("a", FrameBuilder().to(kB).from(kA).build());
  Reply s = h.cmd("stats");
  ASSERT_TRUE(s.ok);
  ASSERT_EQ(s.data["mirrors"].size(), 1u);
  EXPECT_EQ(s.data["mirrors"][0]["mirrored"], 1u);
  EXPECT_EQ(s.data["mirrors"][0]["delivered"], 1u);
  EXPECT_NE(s.text.find("mirrored"), std::string::npos);
}

// ------------------------------------------------------------------ captures

std::string temp_path(const char* name) {
  return "/tmp/brisk_test_" + std::to_string(::getpid()) + "_" + name + ".pcap";
}

std::vector<std::uint8_t> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t o) {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (std::uint32_t{b[o + 3]} << 24);
}

// The records of a nanosecond pcap file (checks the file header).
std::vector<std::vector<std::uint8_t>> pcap_records(const std::string& p, std::uint32_t* snaplen,
                                                    std::vector<std::uint32_t>* origlens = nullptr) {
  auto b = read_file(p);
  std::vector<std::vector<std::uint8_t>> out;
  EXPECT_GE(b.size(), 24u);
  if (b.size() < 24) return out;
  EXPECT_EQ(le32(b, 0), 0xa1b23c4du);
  EXPECT_EQ(le32(b, 20), 1u) << "LINKTYPE_ETHERNET";
  *snaplen = le32(b, 16);
  std::size_t o = 24;
  while (o + 16 <= b.size()) {
    std::uint32_t incl = le32(b, o + 8), orig = le32(b, o + 12);
    EXPECT_LT(le32(b, o + 4), 1000000000u);
    EXPECT_LE(incl, orig);
    if (origlens) origlens->push_back(orig);
    o += 16;
    EXPECT_LE(o + incl, b.size());
    out.emplace_back(b.begin() + static_cast<std::ptrdiff_t>(o),
                     b.begin() + static_cast<std::ptrdiff_t>(o + incl));
    o += incl;
  }
  EXPECT_EQ(o, b.size()) << "no truncated record";
  return out;
}

TEST_F(MirrorTest, CaptureOfATapHoldsBothDirections) {
  std::string file = temp_path("tap");
  ASSERT_TRUE(h.cmd("capture pcap tap a " + file).ok);
  auto ab = FrameBuilder().to(kB).from(kA).length(100).build();
  auto ba = FrameBuilder().to(kA).from(kB).length(90).build();
  h.send("a", ab);
  h.send("b", ba);
  auto out = h.sent();
  EXPECT_EQ(out["b"].size(), 1u) << "capturing does not change forwarding";
  EXPECT_EQ(out["a"].size(), 1u);
  Reply l = h.cmd("capture");
  ASSERT_EQ(l.data.size(), 1u);
  EXPECT_EQ(l.data[0]["captured"], 2u);
  Reply r = h.cmd("clear capture");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_NE(r.text.find("2 frames written, 0 dropped"), std::string::npos) << r.text;
  std::uint32_t snaplen = 0;
  auto recs = pcap_records(file, &snaplen);
  EXPECT_EQ(snaplen, kCaptureDefaultSnaplen);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0], ab);
  EXPECT_EQ(recs[1], ba);
  EXPECT_EQ(h.cmd("capture").data.size(), 0u);
  std::remove(file.c_str());
}

TEST_F(MirrorTest, BridgeCaptureTagsVlansAndHonoursSnaplen) {
  std::string file = temp_path("bridge");
  ASSERT_TRUE(h.cmd("capture pcap bridge tbr0 " + file + " snaplen 40").ok);
  auto ab = FrameBuilder().to(kB).from(kA).length(100).build();
  h.send("a", ab);
  h.send("mon", FrameBuilder().to(kBcast).from(kM).length(60).build());  // VLAN 0: untagged
  h.sent();
  ASSERT_TRUE(h.cmd("clear capture pcap").ok);
  std::uint32_t snaplen = 0;
  std::vector<std::uint32_t> orig;
  auto recs = pcap_records(file, &snaplen, &orig);
  EXPECT_EQ(snaplen, 40u);
  ASSERT_EQ(recs.size(), 2u);
  ASSERT_EQ(recs[0].size(), 40u);
  EXPECT_EQ(orig[0], 104u) << "VLAN 10 frame with its tag";
  EXPECT_EQ(vlan_of(recs[0]), 10);
  EXPECT_EQ(orig[1], 60u);
  EXPECT_EQ(vlan_of(recs[1]), -1);
  std::remove(file.c_str());
}

TEST_F(MirrorTest, CaptureErrors) {
  EXPECT_EQ(h.cmd("capture pcap tap nope /tmp/x.pcap").text, "no port named nope");
  EXPECT_EQ(h.cmd("capture pcap bridge nope /tmp/x.pcap").text, "no such bridge: nope");
  EXPECT_FALSE(h.cmd("capture pcap tap a relative.pcap").ok);
  EXPECT_FALSE(h.cmd("capture pcap tap a /nonexistent-dir/x.pcap").ok);
  EXPECT_FALSE(h.cmd("capture pcap tap a /tmp/x.pcap snaplen 0").ok);
  EXPECT_FALSE(h.cmd("capture pcap tap a /tmp/x.pcap snaplen").ok);
  EXPECT_FALSE(h.cmd("capture pcap vm a /tmp/x.pcap").ok);
  EXPECT_EQ(h.cmd("clear capture pcap 7").text, "no capture 7");
  ASSERT_TRUE(h.cmd("tap mirror a mon").ok);
  EXPECT_FALSE(h.cmd("capture pcap tap mon /tmp/x.pcap").ok) << "capture the source instead";
  std::string file = temp_path("dup");
  ASSERT_TRUE(h.cmd("capture pcap tap a " + file).ok);
  EXPECT_FALSE(h.cmd("capture pcap tap b " + file).ok) << "one capture per file";
  EXPECT_EQ(h.cmd("capture").data.size(), 1u);
  ASSERT_TRUE(h.cmd("clear capture").ok);
  std::remove(file.c_str());
}

TEST_F(MirrorTest, DeletingTheCapturedTapClosesTheFile) {
  std::string file = temp_path("gone");
  ASSERT_TRUE(h.cmd("capture pcap tap a " + file).ok);
  h.send("a", FrameBuilder().to(kB).from(kA).build());
  ASSERT_TRUE(h.cmd("tap delete a").ok);
  h.advance(1);  // tick: the grace period passed, the file is closed
  EXPECT_EQ(h.cmd("capture").data.size(), 0u);
  std::uint32_t snaplen = 0;
  EXPECT_EQ(pcap_records(file, &snaplen).size(), 1u);
  std::remove(file.c_str());
}

// OVS select_vlan: only the selected VLANs' frames reach the destination (a trunk: tagged).
TEST_F(MirrorTest, SelectVlanCopiesOnlyThoseVlans) {
  ASSERT_TRUE(h.cmd("tap create 20 name d").ok);
  ASSERT_TRUE(h.cmd("tap delete mon").ok);
  ASSERT_TRUE(h.sw().port_add("mon", "tbr0", VlanMode::kTrunk, 0, VlanSet{}.set(), 0, "afxdp").ok);
  auto only10 = std::make_shared<VlanSet>();
  only10->set(10);
  ASSERT_TRUE(h.sw().mirror_add("all", "mon", "tbr0", only10).ok);
  h.sent();
  h.send("a", FrameBuilder().to(kB).from(kA).build());      // VLAN 10
  h.send("d", FrameBuilder().to(kBcast).from(kM).build());  // VLAN 20
  h.send("b", FrameBuilder().to(kA).from(kB).build());      // VLAN 10
  auto out = h.sent();
  ASSERT_EQ(out["mon"].size(), 2u);
  for (auto& f : out["mon"]) EXPECT_EQ(vlan_of(f), 10);
  EXPECT_EQ(counts("mon").mirrored, 2u);
  EXPECT_EQ(counts("mon").delivered, 2u);
}

}  // namespace
}  // namespace brisk::test
