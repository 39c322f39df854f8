// The mapping between DPDK's vhost mbuf offload fields and brisk's Offload metadata
// (datapath/vhost_offload.hpp): pure functions, no vhost device.
#include "datapath/vhost_offload.hpp"

#include <gtest/gtest.h>
#include <rte_mbuf_core.h>

#include <algorithm>
#include <memory>

#include "datapath/port.hpp"
#include "support/l4_frames.hpp"

namespace brisk {
namespace {

using namespace brisk::l4test;

constexpr std::uint64_t kCsumNone = RTE_MBUF_F_RX_L4_CKSUM_NONE;

// An 802.1Q tag inserted after the MAC addresses.
Bytes tagged(const Bytes& f) {
  Bytes t(f.size() + 4);
  for (std::size_t i = 0; i < f.size(); ++i) t[i < 12 ? i : i + 4] = f[i];
  t[12] = 0x81;
  t[13] = 0x00;
  t[14] = 0x00;
  t[15] = 0x0a;
  return t;
}

TEST(VhostOffload, RxCompleteFrameHasNoMetadata) {
  Bytes f = partial_frame(false, 6, 100);
  Offload o;
  o.flags = 7;  // overwritten
  ASSERT_TRUE(offload_from_mbuf(MbufOffload{RTE_MBUF_F_RX_L4_CKSUM_GOOD, 0, 0, 0, 0}, f.data(),
                                static_cast<std::uint32_t>(f.size()), o));
  EXPECT_FALSE(o.pending());
  EXPECT_EQ(o.flags, 0);
}

TEST(VhostOffload, RxPartialChecksumTcpUdpV4V6Tagged) {
  struct Case {
    bool v6;
    std::uint8_t proto;
    bool tag;
    std::uint16_t start, offset;
  } cases[] = {{false, 6, false, 34, 16}, {false, 17, false, 34, 6}, {true, 6, false, 54, 16},
               {true, 17, false, 54, 6},  {false, 6, true, 38, 16},  {true, 17, true, 58, 6}};
  for (const Case& c : cases) {
    Bytes f = partial_frame(c.v6, c.proto, 50);
    if (c.tag) f = tagged(f);
    Offload o;
    ASSERT_TRUE(offload_from_mbuf(MbufOffload{kCsumNone, 0, 0, 0, 0}, f.data(),
                                  static_cast<std::uint32_t>(f.size()), o));
    EXPECT_TRUE(o.partial());
    EXPECT_FALSE(o.gso());
    EXPECT_EQ(o.csum_start, c.start) << c.v6 << " " << int(c.proto) << " " << c.tag;
    EXPECT_EQ(o.csum_offset, c.offset);
  }
}

TEST(VhostOffload, RxTsoSuperFrameV4AndV6) {
  for (bool v6 : {false, true}) {
    Bytes f = partial_frame(v6, 6, 20000);
    Offload o;
    ASSERT_TRUE(offload_from_mbuf(MbufOffload{RTE_MBUF_F_RX_LRO | kCsumNone, 0, 0, 0, 1448},
                                  f.data(), static_cast<std::uint32_t>(f.size()), o));
    EXPECT_EQ(o.gso_type, v6 ? Offload::kGsoTcpV6 : Offload::kGsoTcpV4);
    EXPECT_EQ(o.gso_size, 1448);
    EXPECT_TRUE(o.partial());
    EXPECT_EQ(o.csum_start, v6 ? 54 : 34);
    EXPECT_EQ(o.csum_offset, 16);
  }
}

TEST(VhostOffload, RxRefusesWhatBriskCannotCarry) {
  Offload o;
  Bytes udp = partial_frame(false, 17, 3000);  // UFO: never offered
  EXPECT_FALSE(offload_from_mbuf(MbufOffload{RTE_MBUF_F_RX_LRO | kCsumNone, 0, 0, 0, 1400},
                                 udp.data(), static_cast<std::uint32_t>(udp.size()), o));
  Bytes tcp = partial_frame(false, 6, 3000);  // a super-frame without a segment size
  EXPECT_FALSE(offload_from_mbuf(MbufOffload{RTE_MBUF_F_RX_LRO | kCsumNone, 0, 0, 0, 0}, tcp.data(),
                                 static_cast<std::uint32_t>(tcp.size()), o));
  Bytes arp(60, 0);  // not IP
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(offload_from_mbuf(MbufOffload{kCsumNone, 0, 0, 0, 0}, arp.data(), 60, o));
  // Truncated inside the TCP header.
  EXPECT_FALSE(offload_from_mbuf(MbufOffload{kCsumNone, 0, 0, 0, 0}, tcp.data(), 40, o));
}

TEST(VhostOffload, TxNothingPending) {
  Bytes f = partial_frame(false, 6, 10);
  MbufOffload m;
  m.ol_flags = 5;
  EXPECT_EQ(
      offload_to_mbuf(Offload{}, f.data(), static_cast<std::uint32_t>(f.size()), 0, txcap::kAll, m),
      TxOffload::kNone);
  EXPECT_EQ(m.ol_flags, 0u);
}

Offload tso(bool v6, std::uint16_t mss) {
  Offload o;
  o.flags = Offload::kCsumPartial;
  o.gso_type = v6 ? Offload::kGsoTcpV6 : Offload::kGsoTcpV4;
  o.gso_size = mss;
  o.csum_start = v6 ? 54 : 34;
  o.csum_offset = 16;
  return o;
}

TEST(VhostOffload, TxTsoToAGuestWithTso) {
  for (bool v6 : {false, true}) {
    Bytes f = partial_frame(v6, 6, 30000);
    for (int shift : {0, 4}) {
      MbufOffload m;
      ASSERT_EQ(offload_to_mbuf(tso(v6, 1448), f.data(), static_cast<std::uint32_t>(f.size()),
                                shift, txcap::kCsum | txcap::kTso4 | txcap::kTso6, m),
                TxOffload::kLibrary);
      EXPECT_EQ(m.ol_flags, RTE_MBUF_F_TX_TCP_SEG | (v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4));
      EXPECT_EQ(m.l2_len, 14 + shift);
      EXPECT_EQ(m.l3_len, v6 ? 40 : 20);
      EXPECT_EQ(m.l4_len, 20);
      EXPECT_EQ(m.tso_segsz, 1448);
    }
  }
  // A popped tag: the frame is tagged, its wire bytes are not.
  Bytes t = tagged(partial_frame(false, 6, 5000));
  Offload o = tso(false, 1000);
  o.csum_start = 38;
  MbufOffload m;
  ASSERT_EQ(offload_to_mbuf(o, t.data(), static_cast<std::uint32_t>(t.size()), -4, txcap::kAll, m),
            TxOffload::kLibrary);
  EXPECT_EQ(m.l2_len, 14);
}

TEST(VhostOffload, TxTsoRefusedWithoutTheGuestsTsoOrWhenMalformed) {
  Bytes f4 = partial_frame(false, 6, 30000);
  Bytes f6 = partial_frame(true, 6, 30000);
  MbufOffload m;
  const auto n4 = static_cast<std::uint32_t>(f4.size());
  const auto n6 = static_cast<std::uint32_t>(f6.size());
  EXPECT_EQ(offload_to_mbuf(tso(false, 1448), f4.data(), n4, 0, txcap::kCsum, m),
            TxOffload::kRefuse);
  EXPECT_EQ(offload_to_mbuf(tso(false, 1448), f4.data(), n4, 0, txcap::kCsum | txcap::kTso6, m),
            TxOffload::kRefuse);
  EXPECT_EQ(offload_to_mbuf(tso(true, 1448), f6.data(), n6, 0, txcap::kCsum | txcap::kTso4, m),
            TxOffload::kRefuse);
  Offload ecn = tso(false, 1448);
  ecn.gso_type |= Offload::kGsoEcn;
  EXPECT_EQ(offload_to_mbuf(ecn, f4.data(), n4, 0, txcap::kAll, m), TxOffload::kRefuse);
  // Says TCP/IPv4, is IPv6.
  EXPECT_EQ(offload_to_mbuf(tso(false, 1448), f6.data(), n6, 0, txcap::kAll, m),
            TxOffload::kRefuse);
}

TEST(VhostOffload, TxPartialChecksum) {
  for (bool v6 : {false, true}) {
    for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}}) {
      Bytes f = partial_frame(v6, proto, 100);
      Offload o;
      o.flags = Offload::kCsumPartial;
      o.csum_start = v6 ? 54 : 34;
      o.csum_offset = proto == 6 ? 16 : 6;
      MbufOffload m;
      const auto n = static_cast<std::uint32_t>(f.size());
      ASSERT_EQ(offload_to_mbuf(o, f.data(), n, 4, txcap::kCsum, m), TxOffload::kLibrary);
      EXPECT_EQ(m.ol_flags, (proto == 6 ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM) |
                                (v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4));
      EXPECT_EQ(m.l2_len, 18);
      EXPECT_EQ(m.l3_len, v6 ? 40 : 20);
      // A guest without GUEST_CSUM: the port completes it.
      EXPECT_EQ(offload_to_mbuf(o, f.data(), n, 0, 0, m), TxOffload::kSoftware);
      EXPECT_EQ(m.ol_flags, 0u);
      // A checksum elsewhere than the TCP/UDP header's field (an inner header, say).
      o.csum_start = static_cast<std::uint16_t>(o.csum_start + 8);
      EXPECT_EQ(offload_to_mbuf(o, f.data(), n, 0, txcap::kCsum, m), TxOffload::kSoftware);
    }
  }
}

// The wire bytes of `it` as the port sends them: the head copy, then the frame from `rest`.
Bytes wire_of(const TxItem& it, std::uint32_t head, bool complete, bool& ok) {
  Bytes out(tx_wire_len(it));
  std::uint32_t rest = 0;
  ok = vhost_tx_head(out.data(), it, head, complete, rest);
  if (ok) std::copy(it.frame->data + rest, it.frame->data + it.frame->len, out.begin() + head);
  return out;
}

TEST(VhostOffload, TxHeadCopiesTheWireBytesAndCompletesTheChecksumInTheCopy) {
  auto fr = std::make_unique<Frame>();
  for (bool tag : {false, true}) {
    Bytes f = partial_frame(false, 6, 3000);
    if (tag) f = tagged(f);
    const Bytes orig = f;
    fr->data = f.data();
    fr->len = static_cast<std::uint32_t>(f.size());
    fr->off = Offload{};
    fr->off.flags = Offload::kCsumPartial;
    fr->off.csum_start = tag ? 38 : 34;
    fr->off.csum_offset = 16;
    for (VlanId push : {VlanId{0}, VlanId{7}}) {
      const TxItem it{fr.get(), push, tag};
      const std::uint32_t len = tx_wire_len(it);
      Bytes ref(len);
      tx_copy(ref.data(), it);
      for (std::uint32_t head : {64u, 256u, len}) {
        bool ok = false;
        EXPECT_EQ(wire_of(it, head, false, ok), ref) << tag << push << head;
        EXPECT_TRUE(ok);
        Bytes w = wire_of(it, head, true, ok);
        ASSERT_TRUE(ok);
        EXPECT_TRUE(l4_checksum_ok(w)) << "tag " << tag << " push " << push << " head " << head;
        EXPECT_FALSE(l4_checksum_ok(ref)) << "the frame's own checksum stays partial";
        EXPECT_EQ(f, orig) << "the frame is only read";
      }
    }
  }
}

TEST(VhostOffload, TxHeadRefusesAChecksumBeyondTheHeadOrTheFrame) {
  auto fr = std::make_unique<Frame>();
  Bytes f = partial_frame(false, 6, 3000);
  fr->data = f.data();
  fr->len = static_cast<std::uint32_t>(f.size());
  fr->off.flags = Offload::kCsumPartial;
  fr->off.csum_start = 34;
  fr->off.csum_offset = 16;
  const TxItem it{fr.get(), 0, false};
  bool ok = true;
  wire_of(it, 50, true, ok);  // the field is at 50..51
  EXPECT_FALSE(ok);
  wire_of(it, 52, true, ok);
  EXPECT_TRUE(ok);
  fr->off.csum_start = static_cast<std::uint16_t>(f.size() - 1);
  wire_of(it, 256, true, ok);
  EXPECT_FALSE(ok);
}

TEST(VhostOffload, CapsAndLimitFromNegotiatedFeatures) {
  EXPECT_EQ(vhost_tx_caps(0), 0);
  EXPECT_EQ(vhost_tx_caps(vfeat::kGuestTso4 | vfeat::kGuestTso6), 0) << "TSO needs GUEST_CSUM";
  EXPECT_EQ(vhost_tx_caps(vfeat::kGuestCsum), txcap::kCsum);
  EXPECT_EQ(vhost_tx_caps(vfeat::kGuestCsum | vfeat::kGuestTso4 | vfeat::kGuestTso6 |
                          vfeat::kGuestEcn | vfeat::kGuestUfo),
            txcap::kCsum | txcap::kTso4 | txcap::kTso6);
  EXPECT_EQ(vhost_tx_max(0), kMaxFrameLen + 4);
  EXPECT_EQ(vhost_tx_max(vfeat::kMrgRxbuf), kMaxBigFrameLen);
  EXPECT_EQ(vhost_tx_max(vfeat::kGuestTso4), kMaxBigFrameLen);
}

}  // namespace
}  // namespace brisk
