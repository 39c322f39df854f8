// The VXLAN source port from a hash of the inner flow (bpf/brisk_flow_hash.h through
// vxlan_source_port(), datapath/tunnel_codec.hpp): one port per flow whatever else changes in
// its frames, different flows spread evenly over 32768..60999, and the fallbacks (fragments,
// non-IP frames) hash what they have.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "datapath/tunnel_codec.hpp"

namespace brisk::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Flow {
  std::uint8_t proto = 6;
  std::uint32_t src = 0xc6120001, dst = 0xc6120002;  // 198.18.0.1 -> 198.18.0.2
  std::uint16_t sport = 40000, dport = 5201;
  std::uint8_t ttl = 64;
  std::uint16_t ip_id = 1;
  std::uint16_t frag = 0;  // flags + offset word
  int vlan = -1;
  std::size_t payload = 20;
  std::uint8_t src_mac_last = 0x0a;
};

void put16(Bytes& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}

Bytes ipv4_frame(const Flow& f) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, f.src_mac_last};
  if (f.vlan >= 0)
    b.insert(b.end(), {0x81, 0x00, static_cast<std::uint8_t>(f.vlan >> 8),
                       static_cast<std::uint8_t>(f.vlan)});
  b.insert(b.end(), {0x08, 0x00});
  const std::size_t l3 = b.size();
  b.resize(l3 + 20 + 8 + f.payload, 0);
  b[l3] = 0x45;
  put16(b, l3 + 2, 20 + 8 + f.payload);
  put16(b, l3 + 4, f.ip_id);
  put16(b, l3 + 6, f.frag);
  b[l3 + 8] = f.ttl;
  b[l3 + 9] = f.proto;
  put32(b, l3 + 12, f.src);
  put32(b, l3 + 16, f.dst);
  put16(b, l3 + 20, f.sport);
  put16(b, l3 + 22, f.dport);
  for (std::size_t i = 0; i < f.payload; ++i)
    b[l3 + 28 + i] = static_cast<std::uint8_t>(i * 7 + f.ttl);
  return b;
}

std::uint16_t port_of(const Bytes& b) { return vxlan_source_port(b.data(), b.size()); }

TEST(FlowHash, OnePortPerFlowWhateverElseChanges) {
  const Flow base;
  const std::uint16_t p = port_of(ipv4_frame(base));
  Flow f = base;
  f.ttl = 3;
  f.ip_id = 999;
  f.payload = 900;
  f.src_mac_last = 0x77;  // a routed flow keeps its port across next hops
  EXPECT_EQ(port_of(ipv4_frame(f)), p);
  f = base;
  f.vlan = 300;  // the tag the tunnel carries does not split a flow
  EXPECT_EQ(port_of(ipv4_frame(f)), p);
  // Every field of the 5-tuple moves it.
  for (int field = 0; field < 5; ++field) {
    f = base;
    if (field == 0) f.src ^= 1;
    if (field == 1) f.dst ^= 1;
    if (field == 2) f.sport ^= 1;
    if (field == 3) f.dport ^= 1;
    if (field == 4) f.proto = 17;
    EXPECT_NE(port_of(ipv4_frame(f)), p) << "field " << field;
  }
}

TEST(FlowHash, SpreadsFlowsOverTheEphemeralRange) {
  constexpr int kFlows = 28232;  // one per port of the range, on average
  constexpr int kBuckets = 16;
  std::set<std::uint16_t> seen;
  int bucket[kBuckets] = {};
  for (int i = 0; i < kFlows; ++i) {
    Flow f;
    f.sport = static_cast<std::uint16_t>(1024 + i);
    const std::uint16_t p = port_of(ipv4_frame(f));
    ASSERT_GE(p, 32768);
    ASSERT_LE(p, 60999);
    seen.insert(p);
    ++bucket[(p - 32768) * kBuckets / (61000 - 32768)];
  }
  // Random ports would fill 1 - 1/e of the range (63%); a poor hash far fewer.
  EXPECT_GT(seen.size(), kFlows * 55 / 100);
  for (int b = 0; b < kBuckets; ++b) {
    EXPECT_GT(bucket[b], kFlows / kBuckets * 85 / 100) << "bucket " << b;
    EXPECT_LT(bucket[b], kFlows / kBuckets * 115 / 100) << "bucket " << b;
  }
}

TEST(FlowHash, FragmentsHashAddressesOnly) {
  Flow a;
  a.frag = 0x2000;  // more fragments, offset 0: the first piece
  Flow b = a;
  b.sport = 1;
  b.frag = 0x00b9;  // a later piece: its "ports" are payload
  EXPECT_EQ(port_of(ipv4_frame(a)), port_of(ipv4_frame(b)));
}

TEST(FlowHash, NonIpFramesHashTheirMacs) {
  Bytes arp = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x06};
  arp.resize(60, 0);
  const std::uint16_t p = port_of(arp);
  EXPECT_GE(p, 32768);
  arp[11] = 0x0b;
  EXPECT_NE(port_of(arp), p);
  // Truncated frames are hashed too, never read past their end.
  EXPECT_GE(port_of(Bytes(arp.begin(), arp.begin() + 10)), 32768);
  Flow f;
  Bytes cut = ipv4_frame(f);
  cut.resize(14 + 12);  // an IPv4 header cut short: MACs and EtherType
  EXPECT_GE(port_of(cut), 32768);
}

TEST(FlowHash, Ipv6FlowsUseAddressesAndPorts) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd};
  b.resize(14 + 40 + 8, 0);
  b[14] = 0x60;
  b[14 + 6] = 6;  // TCP
  b[14 + 8 + 15] = 1;
  b[14 + 24 + 15] = 2;
  b[54] = 0x9c;  // source port
  const std::uint16_t p = port_of(b);
  b[55] = 1;
  EXPECT_NE(port_of(b), p);
  b[55] = 0;
  b[14 + 7] = 3;  // hop limit
  EXPECT_EQ(port_of(b), p);
}

TEST(FlowHash, UdpHeaderGolden) {
  std::uint8_t h[8];
  vxlan_udp_header(h, 0xabcd, 8 + 60);
  const std::uint8_t want[8] = {0xab, 0xcd, 0x12, 0xb5, 0x00, 76, 0, 0};
  EXPECT_EQ(Bytes(h, h + 8), Bytes(want, want + 8));
}

}  // namespace
}  // namespace brisk::test
