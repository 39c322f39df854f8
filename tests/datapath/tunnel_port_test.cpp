// TunnelFraming (datapath/tunnel_port.hpp): the per-frame work of a tunnel port around its
// sockets, without sockets. encap() must put exactly header + frame (with the pushed 802.1Q tag)
// on the wire, addressed to the remote; rx_post()/rx_finish() must deliver the inner frames in
// place, return every other frame to the pool and report the drop reasons. The sockets
// themselves are covered by the integration tests (tests/integration/tunnel_*.sh).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "datapath/frame.hpp"
#include "datapath/tunnel_port.hpp"
#include "support/frame_builder.hpp"
#include "support/mmsg_bytes.hpp"

namespace brisk::test {
namespace {

using Bytes = std::vector<std::uint8_t>;


Bytes vxlan_l4(std::uint32_t vni, const Bytes& inner, std::uint8_t flags = 0x08) {
  Bytes u = {0x12, 0x34, 0x12, 0xb5, 0, 0, 0, 0,
             flags, 0, 0, 0, static_cast<std::uint8_t>(vni >> 16),
             static_cast<std::uint8_t>(vni >> 8), static_cast<std::uint8_t>(vni), 0};
  u.insert(u.end(), inner.begin(), inner.end());
  u[4] = static_cast<std::uint8_t>(u.size() >> 8);
  u[5] = static_cast<std::uint8_t>(u.size());
  return u;
}

// The inner frame the tunnel port carries: B <- A, untagged.
const Bytes kPlainInner = FrameBuilder().to(kB).from(kA).build();

// Encapsulates two copies of kPlainInner, the first untagged, the second with VLAN 300; `a` is
// the first frame.
std::unique_ptr<TunnelFraming::TxMsgs> encap_two(const TunnelFraming& fr, FramePool& pool,
                                                 Frame*& a) {
  a = pool.alloc();
  Frame* b = pool.alloc();
  for (Frame* f : {a, b}) {
    f->reset(static_cast<std::uint32_t>(kPlainInner.size()));
    std::memcpy(f->data, kPlainInner.data(), kPlainInner.size());
  }
  TxItem items[2] = {{a, 0}, {b, 300}};
  auto msgs = std::make_unique<TunnelFraming::TxMsgs>();
  fr.encap(items, 2, *msgs);
  return msgs;
}

TEST(TunnelFraming, EncapPointsAtHeaderTemplateAndFrame) {
  const TunnelKey key{TunnelType::kGre, be_ip("198.18.0.2"), 0xdeadbeef, true};
  const TunnelFraming fr(key);
  EXPECT_EQ(fr.header_len(), 8u);
  EXPECT_EQ(fr.destination().sin_addr.s_addr, key.remote);
  EXPECT_EQ(fr.destination().sin_port, 0);

  FramePool pool(4);
  Frame* a = nullptr;
  auto msgs = encap_two(fr, pool, a);

  const Bytes hdr = {0x20, 0x00, 0x65, 0x58, 0xde, 0xad, 0xbe, 0xef};
  Bytes want_a = hdr;
  want_a.insert(want_a.end(), kPlainInner.begin(), kPlainInner.end());
  EXPECT_EQ(mmsg_bytes(msgs->msgs[0]), want_a);
  Bytes want_b = hdr;
  want_b.insert(want_b.end(), kPlainInner.begin(), kPlainInner.begin() + 12);
  want_b.insert(want_b.end(), {0x81, 0x00, 0x01, 0x2c});  // VLAN 300
  want_b.insert(want_b.end(), kPlainInner.begin() + 12, kPlainInner.end());
  EXPECT_EQ(mmsg_bytes(msgs->msgs[1]), want_b);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(msgs->msgs[i].msg_hdr.msg_name, &fr.destination());
    EXPECT_EQ(msgs->msgs[i].msg_hdr.msg_namelen, sizeof(sockaddr_in));
  }
  // No byte of the frame was copied: the frame's iovec points into its buffer.
  EXPECT_EQ(msgs->msgs[0].msg_hdr.msg_iov[1].iov_base, a->data);
}

TEST(TunnelFraming, VxlanWritesUdpHeaderWithFlowSourcePort) {
  const TunnelFraming fr(TunnelKey{TunnelType::kVxlan, be_ip("198.18.0.2"), 42, false});
  EXPECT_TRUE(fr.key().has_key) << "VXLAN always carries its VNI";
  EXPECT_EQ(fr.header_len(), 8u);
  EXPECT_EQ(fr.destination().sin_port, 0) << "raw socket: the port is in brisk's UDP header";

  FramePool pool(4);
  Frame* a = nullptr;
  auto msgs = encap_two(fr, pool, a);
  const std::uint16_t sport = vxlan_source_port(kPlainInner.data(), kPlainInner.size());
  for (int i = 0; i < 2; ++i) {
    const Bytes got = mmsg_bytes(msgs->msgs[i]);
    const std::size_t inner = kPlainInner.size() + (i == 1 ? 4 : 0);
    ASSERT_EQ(got.size(), 8 + 8 + inner);
    Bytes udp(8);
    vxlan_udp_header(udp.data(), sport, 8 + inner);
    EXPECT_EQ(Bytes(got.begin(), got.begin() + 8), udp) << "message " << i;
    EXPECT_EQ(got[8], 0x08);  // VXLAN I flag
    EXPECT_EQ(got[14], 42);   // VNI
  }
  EXPECT_GE(sport, 32768);
  EXPECT_LE(sport, 60999);
}

TEST(TunnelFraming, RxDeliversInnerFramesAndReportsDrops) {
  const TunnelFraming fr(TunnelKey{TunnelType::kVxlan, be_ip("198.18.0.2"), 42, true});
  FramePool pool(8);
  auto m = std::make_unique<TunnelFraming::RxMsgs>();
  const std::uint32_t posted = fr.rx_post(pool, 6, *m);
  ASSERT_EQ(posted, 6u);
  EXPECT_EQ(pool.available(), 2u);

  const Bytes good = ipv4("198.18.0.2", 17, vxlan_l4(42, kPlainInner));
  const Bytes foreign = ipv4("198.18.0.3", 17, vxlan_l4(42, kPlainInner));
  const Bytes malformed = ipv4("198.18.0.2", 17, vxlan_l4(42, kPlainInner, 0x00));
  const Bytes* pkts[4] = {&good, &foreign, &malformed, &good};
  for (std::uint32_t i = 0; i < 5; ++i) {  // 5 received of 6 posted
    ASSERT_GE(m->iov[i].iov_len, good.size());
    if (i < 4) {
      std::memcpy(m->iov[i].iov_base, pkts[i]->data(), pkts[i]->size());
      m->msgs[i].msg_len = static_cast<unsigned>(pkts[i]->size());
    } else {
      m->msgs[i].msg_len = static_cast<unsigned>(m->iov[i].iov_len);
      m->msgs[i].msg_hdr.msg_flags = MSG_TRUNC;  // did not fit the buffer
    }
  }
  Frame* out[kBatchSize];
  Drop drops[kBatchSize];
  std::uint32_t ndrops = 0;
  const std::uint32_t got = fr.rx_finish(pool, *m, posted, 5, out, drops, &ndrops);
  ASSERT_EQ(got, 2u);
  for (std::uint32_t i = 0; i < got; ++i) {
    EXPECT_EQ(Bytes(out[i]->data, out[i]->data + out[i]->len), kPlainInner);
    EXPECT_EQ(out[i]->buf + TunnelFraming::kRxOffset + 36, out[i]->data) << "decapsulated in place";
    EXPECT_EQ(out[i]->refs, 1);
  }
  ASSERT_EQ(ndrops, 2u);
  EXPECT_EQ(drops[0], Drop::kTunnelMalformed);
  EXPECT_EQ(drops[1], Drop::kOversize);
  // The foreign, malformed, truncated and the one unfilled frame went back to the pool.
  EXPECT_EQ(pool.available(), 8u - 2u);
  for (std::uint32_t i = 0; i < got; ++i) pool.release(out[i]);
  EXPECT_EQ(pool.available(), pool.capacity());
}

TEST(TunnelFraming, RxPostStopsWhenThePoolRunsDry) {
  const TunnelFraming fr(TunnelKey{TunnelType::kGre, be_ip("198.18.0.2"), 0, false});
  FramePool pool(3);
  auto m = std::make_unique<TunnelFraming::RxMsgs>();
  EXPECT_EQ(fr.rx_post(pool, kBatchSize, *m), 3u);
  Frame* out[kBatchSize];
  Drop drops[kBatchSize];
  std::uint32_t ndrops = 0;
  EXPECT_EQ(fr.rx_finish(pool, *m, 3, 0, out, drops, &ndrops), 0u);  // nothing received
  EXPECT_EQ(ndrops, 0u);
  EXPECT_EQ(pool.available(), 3u);
}

}  // namespace
}  // namespace brisk::test
