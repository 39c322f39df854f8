// Port security: the seed's ARP-spoofing man in the middle, stopped by bindings; IP source
// guard; the egress rule; per-port MAC limits; flood off; storm control; deny log events.
#include <arpa/inet.h>
#include "datapath/port_security.hpp"

#include <gtest/gtest.h>

#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

// kali3 (victim), kali4 (attacker), kali5 (victim) as in the seed, on VLAN 10.
constexpr const char* k3mac = "52:54:00:00:00:13";
constexpr const char* k4mac = "52:54:00:00:00:14";
constexpr const char* k5mac = "52:54:00:00:00:15";
constexpr const char* bcast = "ff:ff:ff:ff:ff:ff";
constexpr const char* zero = "00:00:00:00:00:00";

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.cmd("tap create 10 name vk63").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name vk64").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name vk65").ok);
    h.sent();
  }
  void secure_all() {
    ASSERT_TRUE(h.cmd(std::string("port security vk63 mac ") + k3mac + " ip 198.18.50.13").ok);
    ASSERT_TRUE(h.cmd(std::string("port security vk64 mac ") + k4mac + " ip 198.18.50.14").ok);
    ASSERT_TRUE(h.cmd(std::string("port security vk65 mac ") + k5mac + " ip 198.18.50.15").ok);
  }
  std::size_t drops(const std::string& p, Drop d) {
    return h.totals(p).drops[static_cast<std::size_t>(d)];
  }
  // kali4 tells kali3 "198.18.50.15 is at kali4's MAC" (arpspoof's poisoning reply).
  std::vector<std::uint8_t> poison() {
    return arp_frame(k3mac, k4mac, 2, k4mac, "198.18.50.15", k3mac, "198.18.50.13");
  }
  Harness h{"tsbr0"};
};

TEST_F(SecurityTest, UnprotectedPortLetsThePoisonThrough) {
  h.send("vk63", FrameBuilder().to(bcast).from(k3mac).build());  // kali3 is known on vk63
  h.sent();
  h.send("vk64", poison());
  auto out = h.sent();
  ASSERT_EQ(out["vk63"].size(), 1u) << "without bindings the spoofed reply reaches the victim";
}

TEST_F(SecurityTest, BindingsStopArpSpoofingAndCountIt) {
  secure_all();
  h.send("vk63", arp_frame(bcast, k3mac, 1, k3mac, "198.18.50.13", zero, "198.18.50.15"));
  auto out = h.sent();
  ASSERT_EQ(out["vk65"].size(), 1u) << "a legitimate request reaches its target";
  EXPECT_EQ(out.count("vk64"), 0u) << "the egress rule keeps kali4 from hearing it";
  EXPECT_EQ(drops("vk64", Drop::kSecEgress), 1u);
  h.send("vk65", arp_frame(k3mac, k5mac, 2, k5mac, "198.18.50.15", k3mac, "198.18.50.13"));
  out = h.sent();
  ASSERT_EQ(out["vk63"].size(), 1u) << "the legitimate reply";
  // The attack: a reply claiming kali5's IP, with kali4's own MAC.
  h.send("vk64", poison());
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("vk64", Drop::kSecArp), 1u);
  // Forging the Ethernet source too does not help.
  h.send("vk64", arp_frame(k3mac, k5mac, 2, k5mac, "198.18.50.15", k3mac, "198.18.50.13"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("vk64", Drop::kSecSrcMac), 1u);
  // Each refusal became a log event for the control thread (drained by tick()).
  EXPECT_EQ(h.dp().context(0).counters.worker.events_dropped.get(), 0u);
}

TEST_F(SecurityTest, IpSourceGuardAndEgressRuleForRedirectedTraffic) {
  secure_all();
  // kali4 may send as itself...
  h.send("vk64", ipv4_frame(k3mac, k4mac, "198.18.50.14", "198.18.50.13"));
  EXPECT_EQ(h.sent()["vk63"].size(), 1u);
  // ...but not with kali5's address.
  h.send("vk64", ipv4_frame(k3mac, k4mac, "198.18.50.15", "198.18.50.13"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("vk64", Drop::kSecIp), 1u);
  // A victim whose ARP cache was already poisoned sends kali5-bound traffic to kali4's MAC:
  // the seed's "out via vk64, !dest 198.18.50.14 => DENY".
  h.send("vk63", ipv4_frame(k4mac, k3mac, "198.18.50.13", "198.18.50.15"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("vk64", Drop::kSecEgress), 1u);
  // DHCP discover from 0.0.0.0 to broadcast is allowed.
  h.send("vk63", ipv4_frame(bcast, k3mac, "0.0.0.0", "255.255.255.255"));
  auto out = h.sent();
  EXPECT_EQ(out["vk64"].size(), 1u);
  EXPECT_EQ(out["vk65"].size(), 1u);
}

TEST_F(SecurityTest, MacOnlyBindingAndOff) {
  ASSERT_TRUE(h.cmd(std::string("port security vk64 mac ") + k4mac).ok);
  h.send("vk64", poison());  // MAC-only binding: ARP contents are not inspected
  EXPECT_EQ(h.sent()["vk63"].size(), 1u);
  h.send("vk64", FrameBuilder().to(bcast).from(k5mac).build());
  EXPECT_EQ(drops("vk64", Drop::kSecSrcMac), 1u);
  ASSERT_TRUE(h.cmd("port security vk64 off").ok);
  h.sent();
  h.send("vk64", FrameBuilder().to(bcast).from(k5mac).build());
  auto out = h.sent();
  EXPECT_EQ(out["vk63"].size(), 1u);
  EXPECT_EQ(out["vk65"].size(), 1u);
}

TEST_F(SecurityTest, Ipv6SourceGuardAndNeighbourDiscovery) {
  ASSERT_TRUE(h.cmd(std::string("port security vk64 mac ") + k4mac + " ip 198.18.50.14,2001:db8::14").ok);
  auto v6 = [&](const char* src, std::vector<std::uint8_t> icmp) {
    FrameBuilder fb;
    fb.to("33:33:00:00:00:01").from(k4mac);
    fb.ethertype = ethertype::kIpv6;
    fb.len = 14;
    auto f = fb.build();
    std::uint8_t ip[40] = {0x60, 0, 0, 0, 0, static_cast<std::uint8_t>(icmp.size()), 58, 255};
    inet_pton(AF_INET6, src, ip + 8);
    inet_pton(AF_INET6, "ff02::1", ip + 24);
    f.insert(f.end(), ip, ip + 40);
    f.insert(f.end(), icmp.begin(), icmp.end());
    return f;
  };
  std::vector<std::uint8_t> echo = {128, 0, 0, 0, 0, 1, 0, 1};
  h.send("vk64", v6("2001:db8::14", echo));
  EXPECT_EQ(h.sent()["vk65"].size(), 1u);
  Ipv6 ll = eui64_link_local(mac(k4mac));
  char llstr[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, ll.data(), llstr, sizeof(llstr));
  h.send("vk64", v6(llstr, echo));
  EXPECT_EQ(h.sent()["vk65"].size(), 1u) << "the MAC's own link-local address is allowed";
  h.send("vk64", v6("2001:db8::15", echo));
  EXPECT_EQ(drops("vk64", Drop::kSecIp), 1u);
  // Neighbour advertisement for kali5's address (IPv6's ARP spoofing).
  std::vector<std::uint8_t> na = {136, 0, 0, 0, 0x20, 0, 0, 0};
  std::uint8_t target[16];
  inet_pton(AF_INET6, "2001:db8::15", target);
  na.insert(na.end(), target, target + 16);
  auto m = mac(k4mac);
  na.insert(na.end(), {2, 1});
  na.insert(na.end(), m.b.begin(), m.b.end());
  h.send("vk64", v6("2001:db8::14", na));
  EXPECT_EQ(drops("vk64", Drop::kSecNd), 1u);
  EXPECT_TRUE(h.sent().empty());
}

TEST_F(SecurityTest, MacFloodStopsAtThePortLimit) {
  ASSERT_TRUE(h.cmd("port security vk64 limit 16").ok);
  h.send("vk63", FrameBuilder().to(bcast).from(k3mac).build());
  for (int i = 0; i < 2000; ++i) {
    char m[18];
    std::snprintf(m, sizeof(m), "02:66:00:00:%02x:%02x", i >> 8, i & 0xff);
    h.port("vk64").inject(FrameBuilder().to(bcast).from(m).build());
    if (i % 256 == 255) h.pump();
  }
  h.pump();
  const MacTable& fdb = *h.sw().bridges().at("tsbr0").fdb;
  EXPECT_EQ(fdb.dynamic_count(h.sw().ports().at("vk64").id), 16u);
  EXPECT_EQ(fdb.dynamic_count(h.sw().ports().at("vk63").id), 1u) << "other ports keep learning";
  h.sent();
  h.send("vk65", FrameBuilder().to(k3mac).from(k5mac).build());
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["vk63"].size(), 1u) << "and forwarding";
  // The evictions are visible in `stats` (JSON "fdb" per bridge and a text table).
  Reply st = h.cmd("stats");
  ASSERT_TRUE(st.ok);
  EXPECT_EQ(st.data["fdb"]["tsbr0"]["entries"].get<std::uint64_t>(), fdb.size());
  EXPECT_GE(st.data["fdb"]["tsbr0"]["evicted"].get<std::uint64_t>(), 2000u - 16u);
  EXPECT_NE(st.text.find("evicted"), std::string::npos);
}

// `bridge config <b> fdb-limit=N` builds a new table: the per-port limits must carry over.
// A deleted port's limit must not stay on its id for the next port that gets it.
TEST_F(SecurityTest, PortLimitSurvivesFdbLimitChangeAndDiesWithThePort) {
  ASSERT_TRUE(h.cmd("port security vk65 limit 3").ok);
  const PortId id65 = h.sw().ports().at("vk65").id;
  ASSERT_TRUE(h.cmd("port delete vk65").ok);
  EXPECT_EQ(h.sw().bridges().at("tsbr0").fdb->port_limit(id65), 0u);
  ASSERT_TRUE(h.cmd("port security vk64 limit 4").ok);
  ASSERT_TRUE(h.cmd("bridge config tsbr0 fdb-limit=128").ok);
  const PortId id = h.sw().ports().at("vk64").id;
  EXPECT_EQ(h.sw().bridges().at("tsbr0").fdb->port_limit(id), 4u);
  for (int i = 0; i < 20; ++i) {
    char m[18];
    std::snprintf(m, sizeof(m), "02:67:00:00:00:%02x", i);
    h.port("vk64").inject(FrameBuilder().to(bcast).from(m).build());
  }
  h.pump();
  EXPECT_EQ(h.sw().bridges().at("tsbr0").fdb->dynamic_count(id), 4u);
  ASSERT_TRUE(h.cmd("port delete vk64").ok);
  EXPECT_EQ(h.sw().bridges().at("tsbr0").fdb->port_limit(id), 0u);
}

TEST_F(SecurityTest, FloodOffStopsUnknownUnicastButNotBroadcast) {
  ASSERT_TRUE(h.cmd("port flood vk65 off").ok);
  h.send("vk63", FrameBuilder().to("02:99:99:99:99:99").from(k3mac).build());
  auto out = h.sent();
  EXPECT_EQ(out["vk64"].size(), 1u);
  EXPECT_EQ(out.count("vk65"), 0u);
  h.send("vk63", FrameBuilder().to(bcast).from(k3mac).build());
  EXPECT_EQ(h.sent()["vk65"].size(), 1u);
}

TEST_F(SecurityTest, StormControlCapsFloodsPerSecond) {
  ASSERT_TRUE(h.cmd("port storm vk63 50").ok);
  for (int i = 0; i < 200; ++i) h.port("vk63").inject(FrameBuilder().to(bcast).from(k3mac).build());
  h.pump();
  EXPECT_EQ(h.sent()["vk64"].size(), 50u);
  EXPECT_EQ(drops("vk63", Drop::kStorm), 150u);
  // Known unicast is not storm-limited.
  h.send("vk64", FrameBuilder().to(bcast).from(k4mac).build());
  for (int i = 0; i < 100; ++i) h.port("vk63").inject(FrameBuilder().to(k4mac).from(k3mac).build());
  h.pump();
  EXPECT_EQ(h.sent()["vk64"].size(), 100u);
  h.advance(1);  // a second later the bucket is full again
  for (int i = 0; i < 80; ++i) h.port("vk63").inject(FrameBuilder().to(bcast).from(k3mac).build());
  h.pump();
  EXPECT_EQ(h.sent()["vk64"].size(), 50u);
  ASSERT_TRUE(h.cmd("port storm vk63 off").ok);
}

TEST_F(SecurityTest, CommandsListAndRefuse) {
  ASSERT_TRUE(h.cmd(std::string("port security vk64 mac ") + k4mac + " ip 198.18.50.14").ok);
  ASSERT_TRUE(h.cmd("port security vk64 limit 8").ok);
  Reply r = h.cmd("port security");
  ASSERT_TRUE(r.ok);
  EXPECT_NE(r.text.find("vk64 | 52:54:00:00:00:14 | 198.18.50.14 | 8"), std::string::npos) << r.text;
  for (const char* bad : {"port security nosuch mac 02:00:00:00:00:01", "port security vk64 mac zz",
                          "port security vk64 mac ff:ff:ff:ff:ff:ff", "port security vk64 mac 02:00:00:00:00:01 ip 1.2.3",
                          "port security vk64 limit x", "port security vk64 frob", "port flood vk64 maybe",
                          "port storm vk64 0", "port storm vk64 fast", "port flood nosuch off"}) {
    EXPECT_FALSE(h.cmd(bad).ok) << bad;
  }
}

}  // namespace
}  // namespace brisk::test
