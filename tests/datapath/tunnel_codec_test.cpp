// VXLAN / GRE encapsulation and decapsulation (datapath/tunnel_codec.hpp), golden bytes, and
// the tunnel rules of the pipeline (split horizon, trunk tagging) through the real control model.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "datapath/tunnel_codec.hpp"
#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

TunnelKey vxlan(const char* remote, std::uint32_t vni) {
  return TunnelKey{TunnelType::kVxlan, be_ip(remote), vni, true};
}
TunnelKey gre(const char* remote, std::optional<std::uint32_t> key) {
  return TunnelKey{TunnelType::kGre, be_ip(remote), key.value_or(0), key.has_value()};
}

Bytes udp_vxlan(std::uint32_t vni, const Bytes& inner, std::uint8_t flags = 0x08,
                std::uint16_t dport = kVxlanUdpPort) {
  Bytes u = {0x12, 0x34, static_cast<std::uint8_t>(dport >> 8), static_cast<std::uint8_t>(dport), 0, 0, 0, 0};
  Bytes vx = {flags, 0, 0, 0, static_cast<std::uint8_t>(vni >> 16), static_cast<std::uint8_t>(vni >> 8),
              static_cast<std::uint8_t>(vni), 0};
  u.insert(u.end(), vx.begin(), vx.end());
  u.insert(u.end(), inner.begin(), inner.end());
  u[4] = static_cast<std::uint8_t>(u.size() >> 8);
  u[5] = static_cast<std::uint8_t>(u.size());
  return u;
}

Bytes gre_pkt(std::uint16_t flags, std::optional<std::uint32_t> key, const Bytes& inner,
              std::uint16_t proto = kGreProtoTeb) {
  Bytes g = {static_cast<std::uint8_t>(flags >> 8), static_cast<std::uint8_t>(flags),
             static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
  if (flags & 0x8000) g.insert(g.end(), {0xab, 0xcd, 0, 0});  // checksum + reserved1
  if (key) g.insert(g.end(), {static_cast<std::uint8_t>(*key >> 24), static_cast<std::uint8_t>(*key >> 16),
                              static_cast<std::uint8_t>(*key >> 8), static_cast<std::uint8_t>(*key)});
  if (flags & 0x1000) g.insert(g.end(), {0, 0, 0, 9});  // sequence number
  g.insert(g.end(), inner.begin(), inner.end());
  return g;
}

const Bytes kInner = FrameBuilder().to("02:00:00:00:00:0b").from("02:00:00:00:00:0a").tagged(10).build();

TEST(TunnelCodec, VxlanHeaderGolden) {
  std::uint8_t h[kMaxTunnelHeaderLen];
  ASSERT_EQ(tunnel_header(vxlan("198.18.0.2", 0x123456), h), 8u);
  EXPECT_EQ(Bytes(h, h + 8), (Bytes{0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0}));
  ASSERT_EQ(tunnel_header(vxlan("198.18.0.2", 0), h), 8u);
  EXPECT_EQ(Bytes(h, h + 8), (Bytes{0x08, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(TunnelCodec, GreHeaderGolden) {
  std::uint8_t h[kMaxTunnelHeaderLen];
  ASSERT_EQ(tunnel_header(gre("198.18.0.2", std::nullopt), h), 4u);
  EXPECT_EQ(Bytes(h, h + 4), (Bytes{0x00, 0x00, 0x65, 0x58}));
  ASSERT_EQ(tunnel_header(gre("198.18.0.2", 0xdeadbeef), h), 8u);
  EXPECT_EQ(Bytes(h, h + 8), (Bytes{0x20, 0x00, 0x65, 0x58, 0xde, 0xad, 0xbe, 0xef}));
}

TEST(TunnelCodec, VxlanRoundTrip) {
  auto t = vxlan("198.18.0.2", 42);
  std::uint8_t h[kMaxTunnelHeaderLen];
  std::size_t n = tunnel_header(t, h);
  Bytes l4 = {0x12, 0x34, 0x12, 0xb5, 0, 0, 0, 0};
  l4.resize(8 + n);  // not insert(): GCC 12 -Warray-bounds misfires on it under TSan
  std::memcpy(l4.data() + 8, h, n);
  l4.insert(l4.end(), kInner.begin(), kInner.end());
  l4[5] = static_cast<std::uint8_t>(l4.size());
  Bytes p = ipv4("198.18.0.2", kIpProtoUdp, l4);
  DecapResult d = tunnel_decap(t, p.data(), p.size());
  ASSERT_EQ(d.status, DecapStatus::kOk);
  EXPECT_EQ(Bytes(p.begin() + d.offset, p.end()), kInner) << "the inner frame keeps its 802.1Q tag";
}

TEST(TunnelCodec, VxlanWithIpOptions) {
  Bytes p = ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(42, kInner), 8);
  DecapResult d = tunnel_decap(vxlan("198.18.0.2", 42), p.data(), p.size());
  ASSERT_EQ(d.status, DecapStatus::kOk);
  EXPECT_EQ(d.offset, 28u + 16u);
}

TEST(TunnelCodec, VxlanForeignTrafficIsIgnored) {
  auto t = vxlan("198.18.0.2", 42);
  Bytes other_vni = ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(43, kInner));
  Bytes other_src = ipv4("198.18.0.3", kIpProtoUdp, udp_vxlan(42, kInner));
  Bytes other_port = ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(42, kInner, 0x08, 53));
  Bytes gre_proto = ipv4("198.18.0.2", kIpProtoGre, udp_vxlan(42, kInner));
  for (const Bytes* p : {&other_vni, &other_src, &other_port, &gre_proto})
    EXPECT_EQ(tunnel_decap(t, p->data(), p->size()).status, DecapStatus::kForeign);
}

TEST(TunnelCodec, VxlanMalformedAndTruncatedAreDropped) {
  auto t = vxlan("198.18.0.2", 42);
  auto expect_drop = [&](const Bytes& p, Drop why, const char* what) {
    DecapResult d = tunnel_decap(t, p.data(), p.size());
    EXPECT_EQ(d.status, DecapStatus::kDrop) << what;
    EXPECT_EQ(d.reason, why) << what;
  };
  expect_drop(ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(42, kInner, 0x00)), Drop::kTunnelMalformed,
              "I flag clear");
  // Inner frame shorter than an Ethernet header.
  expect_drop(ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(42, Bytes(kInner.begin(), kInner.begin() + 13))),
              Drop::kTunnelTruncated, "13-byte inner frame");
  expect_drop(ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(42, {})), Drop::kTunnelTruncated, "no inner frame");
  // VXLAN header cut short.
  Bytes full = udp_vxlan(42, {});
  Bytes cut(full.begin(), full.begin() + 12);
  cut[5] = 12;
  expect_drop(ipv4("198.18.0.2", kIpProtoUdp, cut), Drop::kTunnelTruncated, "4 bytes of VXLAN header");
  // UDP length says more than the packet holds; IPv4 total length says more than was received.
  Bytes bad_udp_len = udp_vxlan(42, kInner);
  bad_udp_len[5] = static_cast<std::uint8_t>(bad_udp_len[5] + 10);
  expect_drop(ipv4("198.18.0.2", kIpProtoUdp, bad_udp_len), Drop::kTunnelTruncated, "UDP length");
  Bytes p = ipv4("198.18.0.2", kIpProtoUdp, udp_vxlan(42, kInner));
  expect_drop(Bytes(p.begin(), p.end() - 5), Drop::kTunnelTruncated, "IPv4 total length");
  expect_drop(Bytes(p.begin(), p.begin() + 10), Drop::kTunnelTruncated, "half an IPv4 header");
  // Every prefix of a good packet is rejected, never decapsulated.
  for (std::size_t n = 0; n < p.size(); ++n) {
    DecapResult d = tunnel_decap(t, p.data(), n);
    EXPECT_NE(d.status, DecapStatus::kOk) << "prefix of " << n << " bytes";
  }
}

TEST(TunnelCodec, GreKeyedAndKeyless) {
  Bytes keyed = ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x2000, 7, kInner));
  Bytes keyless = ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x0000, std::nullopt, kInner));
  DecapResult d = tunnel_decap(gre("198.18.0.2", 7), keyed.data(), keyed.size());
  ASSERT_EQ(d.status, DecapStatus::kOk);
  EXPECT_EQ(d.offset, 28u);
  EXPECT_EQ(Bytes(keyed.begin() + d.offset, keyed.end()), kInner);
  d = tunnel_decap(gre("198.18.0.2", std::nullopt), keyless.data(), keyless.size());
  ASSERT_EQ(d.status, DecapStatus::kOk);
  EXPECT_EQ(d.offset, 24u);
  // Key mismatch, key where none is expected, none where one is: another tunnel's traffic.
  EXPECT_EQ(tunnel_decap(gre("198.18.0.2", 8), keyed.data(), keyed.size()).status, DecapStatus::kForeign);
  EXPECT_EQ(tunnel_decap(gre("198.18.0.2", std::nullopt), keyed.data(), keyed.size()).status,
            DecapStatus::kForeign);
  EXPECT_EQ(tunnel_decap(gre("198.18.0.2", 0), keyless.data(), keyless.size()).status,
            DecapStatus::kForeign);
  // IP-in-GRE (protocol 0x0800) is not Ethernet.
  Bytes ip_in_gre = ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x2000, 7, kInner, 0x0800));
  EXPECT_EQ(tunnel_decap(gre("198.18.0.2", 7), ip_in_gre.data(), ip_in_gre.size()).status,
            DecapStatus::kForeign);
}

TEST(TunnelCodec, GreChecksumAndSequenceFieldsAreSkipped) {
  Bytes p = ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x8000 | 0x2000 | 0x1000, 7, kInner));
  DecapResult d = tunnel_decap(gre("198.18.0.2", 7), p.data(), p.size());
  ASSERT_EQ(d.status, DecapStatus::kOk);
  EXPECT_EQ(d.offset, 20u + 16u);
  EXPECT_EQ(Bytes(p.begin() + d.offset, p.end()), kInner);
}

TEST(TunnelCodec, GreMalformedAndTruncatedAreDropped) {
  auto t = gre("198.18.0.2", 7);
  auto reason = [&](const Bytes& p) {
    DecapResult d = tunnel_decap(t, p.data(), p.size());
    return d.status == DecapStatus::kDrop ? d.reason : Drop::kCount;
  };
  EXPECT_EQ(reason(ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x2001, 7, kInner))), Drop::kTunnelMalformed)
      << "version 1 (PPTP)";
  EXPECT_EQ(reason(ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x6000, 7, kInner))), Drop::kTunnelMalformed)
      << "routing present";
  EXPECT_EQ(reason(ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x2100, 7, kInner))), Drop::kTunnelMalformed)
      << "recursion control";
  EXPECT_EQ(reason(ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x2000, 7, Bytes(10, 0)))), Drop::kTunnelTruncated)
      << "10-byte inner frame";
  Bytes p = ipv4("198.18.0.2", kIpProtoGre, gre_pkt(0x2000, 7, kInner));
  Bytes head(p.begin(), p.begin() + 26);  // GRE header cut inside the key
  head[3] = 26;
  EXPECT_EQ(reason(head), Drop::kTunnelTruncated);
  for (std::size_t n = 0; n < p.size(); ++n)
    EXPECT_NE(tunnel_decap(t, p.data(), n).status, DecapStatus::kOk) << "prefix of " << n << " bytes";
}

// ---- tunnels in the switch: commands, listing, split horizon (memory ports stand in) ----

TEST(TunnelSwitch, CommandsListAndRefuse) {
  Harness h;
  Reply r = h.cmd("bridge tunnel vxlan tbr0 198.18.0.2");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(r.text, "tt0") << "named by the tap name generator";
  r = h.cmd("bridge tunnel gre tbr0 198.18.0.2 7");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(r.text, "tt1");
  EXPECT_NE(h.cmd("bridge").text.find("[tt0 tt1]"), std::string::npos) << h.cmd("bridge").text;
  std::string ports = h.cmd("port").text;
  EXPECT_NE(ports.find("tunnel/vxlan 198.18.0.2"), std::string::npos) << ports;
  EXPECT_NE(ports.find("tunnel/gre 198.18.0.2 key 7"), std::string::npos) << ports;
  EXPECT_EQ(h.cmd("tap").text.find("tt0"), std::string::npos) << "tunnels are not taps";

  for (const char* bad : {"bridge tunnel vxlan tbr0 198.18.0.2",      // duplicate
                          "bridge tunnel vxlan tbr0 198.18.0.2 0",    // same VNI 0
                          "bridge tunnel geneve tbr0 198.18.0.2",     // type
                          "bridge tunnel vxlan nobr 198.18.0.2",      // bridge
                          "bridge tunnel vxlan tbr0 198.18.0",        // address
                          "bridge tunnel vxlan tbr0 fe80::1",         // IPv6
                          "bridge tunnel vxlan tbr0 224.0.0.1",       // multicast
                          "bridge tunnel vxlan tbr0 198.18.0.3 16777216",  // VNI range
                          "bridge tunnel gre tbr0 198.18.0.3 -1",     // key
                          "bridge tunnel gre tbr0 198.18.0.3 7 8",    // extra word
                          "bridge notunnel tbr0 tt9", "bridge notunnel nobr tt0"}) {
    Reply b = h.cmd(bad);
    EXPECT_FALSE(b.ok) << bad;
  }
  EXPECT_EQ(h.sw().ports().size(), 3u) << "refused commands change nothing (tbr0, tt0, tt1)";
  ASSERT_TRUE(h.cmd("bridge tunnel vxlan tbr0 198.18.0.2 5").ok) << "another VNI is another tunnel";
  ASSERT_TRUE(h.cmd("bridge notunnel tbr0 tt0").ok);
  EXPECT_EQ(h.sw().ports().count("tt0"), 0u);
  EXPECT_FALSE(h.cmd("tap delete tt1").ok) << "tap delete does not remove tunnels";
}

TEST(TunnelSwitch, TrunkTaggingAndSplitHorizon) {
  Harness h;
  ASSERT_TRUE(h.cmd("tap create 10 name a").ok);
  ASSERT_TRUE(h.cmd("tap create 0 name z").ok);
  ASSERT_TRUE(h.cmd("bridge tunnel vxlan tbr0 198.18.0.2").ok);  // tt0
  ASSERT_TRUE(h.cmd("bridge tunnel gre tbr0 198.18.0.3").ok);    // tt1
  h.sent();

  // A broadcast from a tap reaches both tunnels, tagged with the tap's VLAN.
  h.send("a", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from(kA).build());
  auto out = h.sent();
  ASSERT_EQ(out["tt0"].size(), 1u);
  ASSERT_EQ(out["tt1"].size(), 1u);
  EXPECT_EQ(vlan_of(out["tt0"][0]), 10);
  // VLAN 0 leaves untagged (native VLAN 0, as OVS does for a port without tag).
  h.send("z", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:0e").build());
  out = h.sent();
  ASSERT_EQ(out["tt0"].size(), 1u);
  EXPECT_EQ(vlan_of(out["tt0"][0]), -1);

  // A broadcast from one tunnel goes to the taps of its VLAN, never into the other tunnel.
  h.send("tt0", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from(kB).tagged(10).build());
  out = h.sent();
  EXPECT_EQ(out["a"].size(), 1u);
  EXPECT_EQ(vlan_of(out["a"][0]), -1);
  EXPECT_EQ(out.count("tt1"), 0u) << "split horizon";
  EXPECT_EQ(out.count("z"), 0u) << "VLAN 10 stays in VLAN 10";

  // Unicast toward a MAC learned behind the other tunnel is dropped and counted.
  h.send("tt1", FrameBuilder().to(kA).from("02:00:00:00:00:0c").tagged(10).build());
  h.sent();
  h.send("tt0", FrameBuilder().to("02:00:00:00:00:0c").from(kB).tagged(10).build());
  out = h.sent();
  EXPECT_EQ(out.count("tt1"), 0u);
  EXPECT_EQ(h.totals("tt0").drops[static_cast<std::size_t>(Drop::kSplitHorizon)], 1u);
  // ...while the tap still reaches it.
  h.send("a", FrameBuilder().to("02:00:00:00:00:0c").from(kA).build());
  out = h.sent();
  EXPECT_EQ(out["tt1"].size(), 1u);
}

}  // namespace
}  // namespace brisk::test
