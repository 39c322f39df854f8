// The VLAN stage (datapath/vlan.hpp) and QinQ (dot1q-tunnel) ports end to end: ingress
// classification per mode, what leaves each kind of port (golden bytes), the customer tag an
// access port pops, `port vlan`, port security and mirrors past a customer tag.
#include <gtest/gtest.h>

#include "datapath/vlan.hpp"
#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr const char* kCust1 = "02:00:00:00:c1:01";  // behind the dot1q-tunnel port q1
constexpr const char* kCust2 = "02:00:00:00:c2:02";  // behind the trunk
constexpr const char* kHost = "02:00:00:00:a0:01";   // behind the access port

// An 802.1Q tag (TPID 0x8100, priority `pcp`) with VID `vid`.
Bytes tag(int vid, int pcp = 0) {
  return {0x81, 0x00, static_cast<std::uint8_t>((pcp << 5) | ((vid >> 8) & 0x0f)),
          static_cast<std::uint8_t>(vid & 0xff)};
}
// dst, src, the given tags, ethertype 0x0800 and a fixed payload: `len` bytes in all.
Bytes frame(const char* dst, const char* src, const std::vector<Bytes>& tags, std::size_t payload = 46) {
  Bytes f;
  auto d = mac(dst), s = mac(src);
  f.insert(f.end(), d.b.begin(), d.b.end());
  f.insert(f.end(), s.b.begin(), s.b.end());
  for (const auto& t : tags) f.insert(f.end(), t.begin(), t.end());
  f.push_back(0x08);
  f.push_back(0x00);
  for (std::size_t i = 0; i < payload; ++i) f.push_back(static_cast<std::uint8_t>(0xa0 + i));
  return f;
}

// ------------------------------------------------------------------ vlan_ingress, unit level

struct Ingress {
  FramePool pool{4};
  VlanSet all;
  Ingress() { all.set(); }
  // Run vlan_ingress on `in`; returns the drop reason and leaves the normalised frame in `out`.
  Drop run(const PortConf& pc, const Bytes& in, Bytes& out, VlanId& vlan) {
    Frame* f = pool.alloc();
    f->reset(static_cast<std::uint32_t>(in.size()));
    std::copy(in.begin(), in.end(), f->data);
    Drop d = vlan_ingress(f, pc);
    out.assign(f->data, f->data + f->len);
    vlan = f->vlan;
    pool.release(f);
    return d;
  }
  PortConf conf(VlanMode m, VlanId v) {
    PortConf pc;
    pc.mode = m;
    pc.access_vlan = v;
    pc.allowed = &all;
    return pc;
  }
};

TEST(VlanIngress, Dot1qTunnelTakesEveryFrameIntoItsVlanAndKeepsTheCustomerTag) {
  Ingress t;
  PortConf q = t.conf(VlanMode::kDot1qTunnel, 100);
  Bytes out;
  VlanId v = 0;
  for (const Bytes& in : {frame(kBcast, kCust1, {}), frame(kBcast, kCust1, {tag(0, 5)}),
                          frame(kBcast, kCust1, {tag(7)}), frame(kBcast, kCust1, {tag(4094, 3)}),
                          frame(kBcast, kCust1, {tag(7), tag(8)})}) {
    ASSERT_EQ(t.run(q, in, out, v), Drop::kCount);
    EXPECT_EQ(v, 100);
    EXPECT_EQ(out, in) << "a dot1q-tunnel port never strips the customer's tag";
  }
  // A cut-short tag is a runt, as on any port.
  Bytes runt = frame(kBcast, kCust1, {tag(7)});
  runt.resize(16);
  EXPECT_EQ(t.run(q, runt, out, v), Drop::kRunt);
}

TEST(VlanIngress, TrunkStripsTheOuterTagOnlyAndAccessRefusesATagUnderAPriorityTag) {
  Ingress t;
  PortConf tr = t.conf(VlanMode::kTrunk, 0);
  Bytes out;
  VlanId v = 0;
  // Outer 100, inner 7: VLAN 100, the inner tag stays.
  ASSERT_EQ(t.run(tr, frame(kBcast, kCust2, {tag(100), tag(7)}), out, v), Drop::kCount);
  EXPECT_EQ(v, 100);
  EXPECT_EQ(out, frame(kBcast, kCust2, {tag(7)}));
  // The inner tag cut short: a runt (20 bytes: outer tag + 2 bytes of the inner one).
  Bytes cut = frame(kBcast, kCust2, {tag(100), tag(7)});
  cut.resize(20);
  EXPECT_EQ(t.run(tr, cut, out, v), Drop::kRunt);
  // Access: a priority tag is fine, a priority tag around a tagged frame is not.
  PortConf ac = t.conf(VlanMode::kAccess, 10);
  EXPECT_EQ(t.run(ac, frame(kBcast, kHost, {tag(0)}), out, v), Drop::kCount);
  EXPECT_EQ(out, frame(kBcast, kHost, {}));
  EXPECT_EQ(t.run(ac, frame(kBcast, kHost, {tag(0), tag(7)}), out, v), Drop::kTaggedOnAccess);
}

TEST(TxItem, WireBytesForPushPopAndBoth) {
  FramePool pool(2);
  Frame* f = pool.alloc();
  Bytes in = frame(kBcast, kCust1, {tag(7)});
  f->reset(static_cast<std::uint32_t>(in.size()));
  std::copy(in.begin(), in.end(), f->data);
  auto wire = [&](VlanId push, bool pop) {
    TxItem it{f, push, pop};
    Bytes out(tx_wire_len(it));
    EXPECT_EQ(tx_copy(out.data(), it), out.size());
    return out;
  };
  EXPECT_EQ(wire(0, false), in);
  EXPECT_EQ(wire(100, false), frame(kBcast, kCust1, {tag(100), tag(7)}));
  EXPECT_EQ(wire(0, true), frame(kBcast, kCust1, {}));
  EXPECT_EQ(wire(100, true), frame(kBcast, kCust1, {tag(100)})) << "pop, then push: a rewrite";
  EXPECT_EQ(in, Bytes(f->data, f->data + f->len)) << "the shared buffer is never modified";
  pool.release(f);
}

// ------------------------------------------------------------------ QinQ through the pipeline

// Bridge qbr: q1, q2 dot1q-tunnel ports of service VLAN 100, q3 of 200, a trunk tr (every
// VLAN, native 0), an access tap a100 in VLAN 100; the bridge's own interface qbr is a trunk.
class QinQ : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* c : {"tap create 100 name q1", "port vlan q1 dot1q-tunnel 100",
                          "port add q2 dot1q-tunnel 100", "tap create 200 name q3",
                          "port vlan q3 dot1q-tunnel 200", "port add tr trunk",
                          "tap create 100 name a100"}) {
      Reply r = h.cmd(c);
      ASSERT_TRUE(r.ok) << c << ": " << r.text;
    }
    h.sent();
  }
  std::size_t drops(const std::string& p, Drop d) {
    return h.totals(p).drops[static_cast<std::size_t>(d)];
  }
  Harness h{"qbr"};
};

TEST_F(QinQ, CustomerTaggedFrameLeavesEachKindOfPortAsOvsSendsIt) {
  const Bytes in = frame(kBcast, kCust1, {tag(7)});
  h.send("q1", in);
  auto out = h.sent();
  ASSERT_EQ(out["q2"].size(), 1u);
  EXPECT_EQ(out["q2"][0], in) << "dot1q-tunnel -> dot1q-tunnel: as it entered";
  ASSERT_EQ(out["tr"].size(), 1u);
  EXPECT_EQ(out["tr"][0], frame(kBcast, kCust1, {tag(100), tag(7)}))
      << "toward a trunk: service tag 100 (0x8100) in front of the customer tag";
  ASSERT_EQ(out["qbr"].size(), 1u);
  EXPECT_EQ(out["qbr"][0], out["tr"][0]);
  ASSERT_EQ(out["a100"].size(), 1u);
  EXPECT_EQ(out["a100"][0], frame(kBcast, kCust1, {})) << "an access port emits no 802.1Q header";
  EXPECT_EQ(out.count("q3"), 0u) << "service VLAN 200 is another customer";
  EXPECT_EQ(out.count("q1"), 0u);
  // Learned in the service VLAN.
  bool learned = false;
  h.sw().bridges().at("qbr").fdb->for_each([&](const FdbEntry& e) {
    if (e.mac == mac(kCust1)) learned = e.vlan == 100 && e.port == h.sw().ports().at("q1").id;
  });
  EXPECT_TRUE(learned);
  // Counters: what went on the wire.
  EXPECT_EQ(h.totals("a100").tx_bytes, in.size() - 4);
  EXPECT_EQ(h.totals("tr").tx_bytes, in.size() + 4);
  EXPECT_EQ(h.totals("q2").tx_bytes, in.size());
}

TEST_F(QinQ, UntaggedAndPriorityTaggedCustomerFrames) {
  h.send("q1", frame(kBcast, kCust1, {}));
  auto out = h.sent();
  EXPECT_EQ(out["q2"].at(0), frame(kBcast, kCust1, {}));
  EXPECT_EQ(out["tr"].at(0), frame(kBcast, kCust1, {tag(100)}));
  EXPECT_EQ(out["a100"].at(0), frame(kBcast, kCust1, {}));
  // A priority tag (VID 0) is the customer's too: kept toward q2 and the trunk.
  h.send("q1", frame(kBcast, kCust1, {tag(0, 6)}));
  out = h.sent();
  EXPECT_EQ(out["q2"].at(0), frame(kBcast, kCust1, {tag(0, 6)}));
  EXPECT_EQ(out["tr"].at(0), frame(kBcast, kCust1, {tag(100), tag(0, 6)}));
  EXPECT_EQ(out["a100"].at(0), frame(kBcast, kCust1, {}));
  EXPECT_EQ(drops("q1", Drop::kTaggedOnAccess) + drops("q1", Drop::kRunt), 0u);
}

TEST_F(QinQ, DoubleTaggedFromTheTrunkReachesTheCustomerWithItsInnerTag) {
  h.send("q1", frame(kBcast, kCust1, {tag(7)}));  // learn kCust1 on q1 in VLAN 100
  h.sent();
  h.send("tr", frame(kCust1, kCust2, {tag(100), tag(7)}));
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u) << "known destination: unicast to q1 only";
  ASSERT_EQ(out["q1"].size(), 1u);
  EXPECT_EQ(out["q1"][0], frame(kCust1, kCust2, {tag(7)}));
  // Unknown destination: flooded in VLAN 100 only; the access port gets it without tags.
  h.send("tr", frame("02:00:00:00:99:99", kCust2, {tag(100), tag(9)}));
  out = h.sent();
  EXPECT_EQ(out["q1"].at(0), frame("02:00:00:00:99:99", kCust2, {tag(9)}));
  EXPECT_EQ(out["q2"].at(0), frame("02:00:00:00:99:99", kCust2, {tag(9)}));
  EXPECT_EQ(out["a100"].at(0), frame("02:00:00:00:99:99", kCust2, {}));
  EXPECT_EQ(out.count("q3"), 0u);
  // Outer 200: customer q3's; single tag 200 reaches q3 untagged.
  h.send("tr", frame(kBcast, kCust2, {tag(200)}));
  out = h.sent();
  EXPECT_EQ(out.size(), 2u) << "q3 and the bridge's own interface (a trunk)";
  EXPECT_EQ(out["q3"].at(0), frame(kBcast, kCust2, {}));
  EXPECT_EQ(out["qbr"].at(0), frame(kBcast, kCust2, {tag(200)}));
}

TEST_F(QinQ, AccessHostAndCustomerTalkInTheServiceVlan) {
  h.send("a100", frame(kBcast, kHost, {}));
  auto out = h.sent();
  EXPECT_EQ(out["q1"].at(0), frame(kBcast, kHost, {}));
  EXPECT_EQ(out["tr"].at(0), frame(kBcast, kHost, {tag(100)}));
  h.send("q1", frame(kHost, kCust1, {}));
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["a100"].at(0), frame(kHost, kCust1, {}));
  // Unicast with a customer tag toward the access host: popped.
  h.send("q1", frame(kHost, kCust1, {tag(7)}));
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out["a100"].at(0), frame(kHost, kCust1, {}));
}

TEST_F(QinQ, PortVlanCommandListingsAndRefusals) {
  Reply r = h.cmd("port");
  EXPECT_NE(r.text.find("dot1q-tunnel"), std::string::npos) << r.text;
  bool seen = false;
  for (const auto& p : r.data)
    if (p["port"] == "q2") seen = p["mode"] == "dot1q-tunnel" && p["vlans"] == "100" && p["vlan"] == 100;
  EXPECT_TRUE(seen) << r.data.dump();
  r = h.cmd("tap");
  EXPECT_NE(r.text.find("100 dot1q-tunnel"), std::string::npos) << r.text;
  for (const auto& t : r.data)
    if (t["tap"] == "q1") {
      EXPECT_EQ(t["mode"], "dot1q-tunnel");
    }
  // bridge listing: the service VLANs are the bridge's VLANs.
  EXPECT_NE(h.cmd("bridge").text.find("[100 200]"), std::string::npos) << h.cmd("bridge").text;

  const std::string before = h.cmd("port").text;
  for (const char* bad : {"port vlan q1", "port vlan q1 dot1q-tunnel", "port vlan q1 dot1q-tunnel 4095",
                          "port vlan q1 qinq 100", "port vlan q1 dot1q-tunnel 100 200",
                          "port vlan nosuch access 10", "port vlan qbr access 10",
                          "port vlan q1 trunk 10-x", "port vlan q1 trunk all native",
                          "port vlan q1 trunk all native 5000", "port add q9 dot1q-tunnel",
                          "port add q9 dot1q-tunnel 5000", "port add q9 dot1q-tunnel 10 native 3"}) {
    Reply e = h.cmd(bad);
    EXPECT_FALSE(e.ok) << bad;
    EXPECT_FALSE(e.text.empty()) << bad;
  }
  Reply tun = h.cmd("bridge tunnel vxlan qbr 198.18.9.2 5");
  ASSERT_TRUE(tun.ok) << tun.text;
  Reply e = h.cmd("port vlan " + tun.text + " dot1q-tunnel 100");
  EXPECT_FALSE(e.ok);
  EXPECT_NE(e.text.find("tunnel"), std::string::npos) << e.text;
  ASSERT_TRUE(h.cmd("bridge notunnel qbr " + tun.text).ok);
  EXPECT_EQ(h.cmd("port").text, before) << "refused commands change nothing";

  // Back to access: a customer tag is refused again, and what q1 had learned is forgotten.
  h.send("q1", frame(kBcast, kCust1, {tag(7)}));
  h.sent();
  ASSERT_TRUE(h.cmd("port vlan q1 access 100").ok);
  std::size_t on_q1 = 0;
  h.sw().bridges().at("qbr").fdb->for_each([&](const FdbEntry& en) {
    if (en.port == h.sw().ports().at("q1").id) ++on_q1;
  });
  EXPECT_EQ(on_q1, 0u);
  h.send("q1", frame(kBcast, kCust1, {tag(7)}));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("q1", Drop::kTaggedOnAccess), 1u);
  // And to a trunk of VLANs 100 and 300, native 300.
  ASSERT_TRUE(h.cmd("port vlan q1 trunk 100 native 300").ok);
  h.send("q1", frame(kBcast, kCust1, {}));
  auto out = h.sent();
  EXPECT_EQ(out.count("a100"), 0u) << "untagged is native VLAN 300 now";
  h.send("a100", frame(kBcast, kHost, {}));
  out = h.sent();
  EXPECT_EQ(out["q1"].at(0), frame(kBcast, kHost, {tag(100)}));
}

TEST_F(QinQ, PortSecurityLooksPastTheCustomerTag) {
  // q1's customer host may use 198.18.30.1 only.
  ASSERT_TRUE(h.cmd(std::string("port security q1 mac ") + kCust1 + " ip 198.18.30.1").ok);
  auto tagged = [](Bytes f, int vid) {
    Bytes t = tag(vid);
    f.insert(f.begin() + 12, t.begin(), t.end());
    return f;
  };
  // An ARP claiming another address inside customer VLAN 7: refused as ARP spoofing.
  h.send("q1", tagged(arp_frame(kBcast, kCust1, 1, kCust1, "198.18.30.9", "00:00:00:00:00:00",
                                "198.18.30.2"),
                      7));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("q1", Drop::kSecArp), 1u);
  // IPv4 from another source address: refused.
  h.send("q1", tagged(ipv4_frame(kBcast, kCust1, "198.18.30.9", "198.18.30.2"), 7));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(drops("q1", Drop::kSecIp), 1u);
  // Its own address: forwarded (double-tagged toward the trunk).
  h.send("q1", tagged(ipv4_frame(kBcast, kCust1, "198.18.30.1", "198.18.30.2"), 7));
  auto out = h.sent();
  ASSERT_EQ(out["tr"].size(), 1u);
  EXPECT_EQ(vlan_of(out["tr"][0]), 100);
  // Egress toward the secured port: an IPv4 copy for an address that is not q1's is refused,
  // also behind a customer tag.
  h.send("tr", tagged(tagged(ipv4_frame(kBcast, kCust2, "198.18.30.2", "198.18.30.77"), 7), 100));
  out = h.sent();
  EXPECT_EQ(out.count("q1"), 0u);
  EXPECT_EQ(out["q2"].size(), 1u);
  EXPECT_EQ(drops("q1", Drop::kSecEgress), 1u);
}

TEST_F(QinQ, MirrorCopiesKeepTheCustomerTag) {
  ASSERT_TRUE(h.cmd("tap create 100 name mon").ok);
  ASSERT_TRUE(h.cmd("tap mirror q1 mon qbr").ok);
  h.sent();
  const Bytes in = frame(kBcast, kCust1, {tag(7)});
  h.send("q1", in);
  auto out = h.sent();
  ASSERT_EQ(out["mon"].size(), 1u);
  EXPECT_EQ(out["mon"][0], in) << "a monitor sees what the customer sent";
  EXPECT_EQ(out["a100"].at(0), frame(kBcast, kCust1, {}));
}

}  // namespace
}  // namespace brisk::test
