// Offloads in software (datapath/offload): checksums, super-frame segmentation, and the
// transmit path that applies them per output port (TxQueues::flush).
#include "datapath/offload.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <tuple>

#include "datapath/csum.hpp"
#include "datapath/memory_port.hpp"
#include "datapath/snapshot.hpp"
#include "datapath/tx_queue.hpp"
#include "support/l4_frames.hpp"

namespace brisk {
namespace {

using namespace brisk::l4test;

// ---- helper tests (no privileges) ----

TEST(Offload, CsumAddMatchesReferenceAtAnyLengthAndAlignment) {
  Bytes b(300);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 31 + 7);
  for (std::size_t off = 0; off < 4; ++off) {
    for (std::size_t n = 0; n + off <= b.size(); ++n) {
      ASSERT_EQ(csum_fold(csum_add(&b[off], n, 0)), ref_fold(ref_sum(&b[off], n)))
          << "off " << off << " len " << n;
    }
  }
}

TEST(Offload, CompleteChecksumFinishesPartialTcpIpv4) {
  for (std::size_t payload : {0u, 1u, 17u, 1000u, 1459u}) {
    Bytes f = partial_frame(false, 6, payload);
    EXPECT_FALSE(l4_checksum_ok(f)) << "crafted frame starts partial";
    ASSERT_TRUE(complete_checksum_at(f.data(), f.size(), 34, 16));
    EXPECT_TRUE(l4_checksum_ok(f)) << payload;
  }
}

TEST(Offload, CompleteChecksumUdpIpv6AndZeroResult) {
  Bytes f = partial_frame(true, 17, 33);
  ASSERT_TRUE(complete_checksum_at(f.data(), f.size(), 54, 6));
  EXPECT_TRUE(l4_checksum_ok(f));
  // Pick two payload bytes so that the checksum computes to 0: it must go out as 0xffff.
  Bytes z = partial_frame(false, 17, 2);
  z[42] = z[43] = 0;
  std::uint16_t s = ref_fold(ref_sum(&z[34], z.size() - 34));
  set16(&z[42], static_cast<std::uint16_t>(0xffff - s));
  ASSERT_EQ(ref_fold(ref_sum(&z[34], z.size() - 34)), 0xffff);
  ASSERT_TRUE(complete_checksum_at(z.data(), z.size(), 34, 6));
  EXPECT_EQ(be16(&z[40]), 0xffff);
  EXPECT_TRUE(l4_checksum_ok(z));
}

TEST(Offload, CompleteChecksumRejectsFieldOutsideFrame) {
  Bytes f = partial_frame(false, 6, 10);
  Bytes before = f;
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), f.size(), 0));
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), f.size() - 1, 0));
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), 34, f.size() - 35));
  EXPECT_EQ(f, before);
}

// Segment a super-frame and check every segment and the reassembled payload.
void check_segmentation(bool v6, std::uint8_t proto, std::uint8_t gso_type, std::size_t payload,
                        std::uint16_t mss) {
  Bytes sf = partial_frame(v6, proto, payload, true);
  GsoPlan plan;
  ASSERT_TRUE(plan_gso(sf.data(), sf.size(), gso_type, mss, plan));
  const std::size_t hdr = 14 + (v6 ? 40 : 20) + (proto == 6 ? 20 : 8);
  ASSERT_EQ(plan.hdr_len, hdr);
  ASSERT_EQ(plan.segments, (payload + mss - 1) / mss);
  Bytes joined;
  for (std::uint32_t i = 0; i < plan.segments; ++i) {
    Bytes seg(kMaxFrameLen);
    std::size_t n = build_segment(sf.data(), sf.size(), plan, i, seg.data(), seg.size());
    ASSERT_GT(n, hdr);
    seg.resize(n);
    const bool last = i + 1 == plan.segments;
    EXPECT_EQ(n - hdr, last ? payload - std::size_t{mss} * i : mss);
    std::uint8_t pr = 0;
    EXPECT_TRUE(l4_checksum_ok(seg, &pr)) << "segment " << i;
    EXPECT_EQ(pr, proto);
    if (v6) {
      EXPECT_EQ(be16(&seg[18]), n - 54);
    } else {
      EXPECT_EQ(be16(&seg[16]), n - 14);
      EXPECT_EQ(be16(&seg[18]), 0x1234 + i);
      EXPECT_TRUE(ipv4_header_ok(seg));
    }
    const std::size_t l4 = v6 ? 54 : 34;
    if (proto == 6) {
      EXPECT_EQ(be32(&seg[l4 + 4]), 0x10000001u + i * mss);
      std::uint8_t flags = seg[l4 + 13];
      EXPECT_EQ((flags & 0x09) != 0, last) << "FIN/PSH only on the last segment";
      EXPECT_EQ((flags & 0x80) != 0, i == 0) << "CWR only on the first segment";
      EXPECT_TRUE(flags & 0x10);
    } else {
      EXPECT_EQ(be16(&seg[l4 + 4]), n - l4);
    }
    joined.insert(joined.end(), seg.begin() + static_cast<long>(hdr), seg.end());
  }
  EXPECT_EQ(joined, Bytes(sf.begin() + static_cast<long>(hdr), sf.end()));
  Bytes out(kMaxFrameLen);
  EXPECT_EQ(build_segment(sf.data(), sf.size(), plan, plan.segments, out.data(), out.size()), 0u);
  EXPECT_EQ(build_segment(sf.data(), sf.size(), plan, 0, out.data(),
                          hdr + std::min<std::size_t>(mss, payload) - 1),
            0u);
}

TEST(Offload, SegmentsTcpIpv4SuperFrame) {
  check_segmentation(false, 6, Offload::kGsoTcpV4, 5000, 1448);
  check_segmentation(false, 6, Offload::kGsoTcpV4 | Offload::kGsoEcn, 2896, 1448);
}

TEST(Offload, SegmentsTcpIpv6AndUdpSuperFrames) {
  check_segmentation(true, 6, Offload::kGsoTcpV6, 4000, 1428);
  check_segmentation(false, 17, Offload::kGsoUdpL4, 3000, 1400);
  check_segmentation(true, 17, Offload::kGsoUdpL4, 1000, 1400);
}

// A super-frame's bytes without metadata (an AF_XDP socket behind generic XDP) get back what
// the sender's virtio_net_hdr would have said, and cut with it every segment fits the MTU.
void check_marked(bool v6, std::size_t payload, std::uint32_t mtu) {
  Bytes sf = partial_frame(v6, 6, payload);
  Frame f;
  f.data = sf.data();
  f.len = static_cast<std::uint32_t>(sf.size());
  ASSERT_TRUE(mark_super_frame(f, mtu));
  const std::uint32_t headers = (v6 ? 40 : 20) + 20;
  EXPECT_EQ(f.off.flags, Offload::kCsumPartial);
  // partial_frame() sets CWR: the ECN variant, as the kernel's SKB_GSO_TCP_ECN.
  EXPECT_EQ(f.off.gso_type, (v6 ? Offload::kGsoTcpV6 : Offload::kGsoTcpV4) | Offload::kGsoEcn);
  EXPECT_EQ(f.off.gso_size, mtu - headers);
  EXPECT_EQ(f.off.csum_start, 14 + (v6 ? 40 : 20));
  EXPECT_EQ(f.off.csum_offset, 16);
  EXPECT_TRUE(offload_ok(f.off));
  GsoPlan plan;
  ASSERT_TRUE(plan_gso(sf.data(), sf.size(), f.off.gso_type, f.off.gso_size, plan));
  for (std::uint32_t i = 0; i < plan.segments; ++i) {
    Bytes seg(kMaxBigFrameLen);
    std::size_t n = build_segment(sf.data(), sf.size(), plan, i, seg.data(), seg.size());
    ASSERT_GT(n, 14u + headers);
    seg.resize(n);
    EXPECT_LE(n - 14, mtu) << "segment " << i;
    EXPECT_TRUE(l4_checksum_ok(seg)) << "segment " << i;
  }
}

TEST(Offload, MarkSuperFrameGivesBackTheSendersMetadata) {
  check_marked(false, 20000, 1500);
  check_marked(false, 1600, 1500);  // two segments, in one AF_XDP chunk
  check_marked(true, 9000, 1500);
  check_marked(false, 30000, 9000);
}

TEST(Offload, MarkSuperFrameLeavesOtherFramesAlone) {
  for (auto [v6, proto, payload] : {std::tuple{false, std::uint8_t{6}, std::size_t{1460}},
                                    std::tuple{true, std::uint8_t{6}, std::size_t{1440}},
                                    std::tuple{false, std::uint8_t{17}, std::size_t{5000}}}) {
    Bytes b = partial_frame(v6, proto, payload);
    Frame f;
    f.data = b.data();
    f.len = static_cast<std::uint32_t>(b.size());
    EXPECT_FALSE(mark_super_frame(f, 1500)) << "v6 " << v6 << " proto " << int{proto};
    EXPECT_FALSE(f.off.pending());
  }
  Bytes runt(20, 0);
  Frame f;
  f.data = runt.data();
  f.len = 20;
  EXPECT_FALSE(mark_super_frame(f, 1500));
}

TEST(Offload, PlanRejectsWhatItCannotSegment) {
  GsoPlan p;
  Bytes v4 = partial_frame(false, 6, 3000);
  EXPECT_FALSE(plan_gso(v4.data(), v4.size(), Offload::kGsoTcpV6, 1448, p));
  EXPECT_FALSE(plan_gso(v4.data(), v4.size(), Offload::kGsoUdp, 1448, p)) << "UFO";
  EXPECT_FALSE(plan_gso(v4.data(), v4.size(), Offload::kGsoTcpV4, 0, p));
  Bytes udp = partial_frame(false, 17, 3000);
  EXPECT_FALSE(plan_gso(udp.data(), udp.size(), Offload::kGsoTcpV4, 1448, p));
  Bytes arp(60, 0);
  set16(&arp[12], 0x0806);
  EXPECT_FALSE(plan_gso(arp.data(), arp.size(), Offload::kGsoTcpV4, 1448, p));
}

// ---- the transmit path: what each output port gets (TxQueues::flush) ----

class TxOffload : public ::testing::Test {
 protected:
  TxOffload() {
    snap_.ports[0].port = &out_;
    counters_.reset(new PortCounters[kMaxPorts]);
  }
  // A frame of the worker's pool holding `b`, with metadata `off`; the caller's reference.
  Frame* frame(const Bytes& b, Offload off) {
    Frame* f = pool_.alloc_for(static_cast<std::uint32_t>(b.size()));
    std::memcpy(f->data, b.data(), b.size());
    f->off = off;
    return f;
  }
  // Queue `f` for the port, flush, drop the caller's reference; returns what the port got.
  std::vector<Bytes> send(Frame* f, VlanId push = 0) {
    tx_.enqueue(0, f, push);
    tx_.flush(snap_, pool_, counters_.get());
    pool_.release(f);
    return out_.take_sent();
  }
  std::uint64_t drops(Drop d) const {
    return counters_[0].drops[static_cast<std::size_t>(d)].get();
  }
  static Offload tso4(std::uint16_t mss) {
    Offload o;
    o.flags = Offload::kCsumPartial;
    o.gso_type = Offload::kGsoTcpV4;
    o.gso_size = mss;
    o.csum_start = 34;
    o.csum_offset = 16;
    return o;
  }

  FramePool pool_{256};
  MemoryPort out_{"out"};
  Snapshot snap_;
  std::unique_ptr<PortCounters[]> counters_;
  TxQueues tx_;
};

TEST_F(TxOffload, SuperFrameIsSegmentedForAPortWithoutTso) {
  out_.set_mtu(1500);
  const Bytes sf = partial_frame(false, 6, 5000, true);
  const std::size_t before = pool_.available();
  std::vector<Bytes> got = send(frame(sf, tso4(1448)));
  ASSERT_EQ(got.size(), 4u);
  Bytes joined;
  for (const Bytes& seg : got) {
    EXPECT_LE(seg.size(), 1514u);
    EXPECT_TRUE(l4_checksum_ok(seg));
    EXPECT_TRUE(ipv4_header_ok(seg));
    joined.insert(joined.end(), seg.begin() + 54, seg.end());
  }
  EXPECT_EQ(joined, Bytes(sf.begin() + 54, sf.end()));
  for (const Offload& o : out_.take_sent_offloads())
    EXPECT_FALSE(o.pending()) << "segments are complete";
  EXPECT_EQ(counters_[0].tx_frames.get(), 4u);
  EXPECT_EQ(counters_[0].tx_segmented.get(), 1u);
  EXPECT_EQ(pool_.available(), before) << "the segments went back to the pool";
}

TEST_F(TxOffload, SuperFrameGoesWholeToAPortThatTakesIt) {
  out_.set_caps(txcap::kAll);
  out_.set_mtu(1500);
  const Bytes sf = partial_frame(false, 6, 5000, true);
  std::vector<Bytes> got = send(frame(sf, tso4(1448)));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], sf);
  std::vector<Offload> offs = out_.take_sent_offloads();
  ASSERT_EQ(offs.size(), 1u);
  EXPECT_EQ(offs[0].gso_size, 1448);
  EXPECT_TRUE(offs[0].partial());
  EXPECT_EQ(counters_[0].tx_segmented.get(), 0u);
}

TEST_F(TxOffload, TaggedSuperFrameIsSegmentedWithItsTag) {
  Bytes sf = partial_frame(false, 17, 3000);
  const Bytes tag = {0x81, 0x00, 0x00, 0x0a};
  sf.insert(sf.begin() + 12, tag.begin(), tag.end());
  Offload o;
  o.flags = Offload::kCsumPartial;
  o.gso_type = Offload::kGsoUdpL4;
  o.gso_size = 1400;
  o.csum_start = 38;
  o.csum_offset = 6;
  std::vector<Bytes> got = send(frame(sf, o));
  ASSERT_EQ(got.size(), 3u);
  for (const Bytes& seg : got) {
    EXPECT_EQ(Bytes(seg.begin() + 12, seg.begin() + 16), tag);
    Bytes untagged = seg;
    untagged.erase(untagged.begin() + 12, untagged.begin() + 16);
    EXPECT_TRUE(l4_checksum_ok(untagged));
  }
}

TEST_F(TxOffload, PartialChecksumIsCompletedForAPortWithoutChecksumOffload) {
  const Bytes b = partial_frame(false, 17, 100);
  Offload o;
  o.flags = Offload::kCsumPartial;
  o.csum_start = 34;
  o.csum_offset = 6;
  Frame* f = frame(b, o);
  tx_.enqueue(0, f, 0);
  tx_.flush(snap_, pool_, counters_.get());
  EXPECT_FALSE(f->off.partial()) << "completed in place, for every later output too";
  pool_.release(f);
  std::vector<Bytes> got = out_.take_sent();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(l4_checksum_ok(b)) << "the input was partial";
  EXPECT_TRUE(l4_checksum_ok(got[0]));
  EXPECT_EQ(counters_[0].tx_csum_completed.get(), 1u);
}

TEST_F(TxOffload, PartialChecksumStaysPartialForAPortThatTakesIt) {
  out_.set_caps(txcap::kCsum);
  const Bytes b = partial_frame(false, 6, 100);
  Offload o = tso4(0);
  o.gso_type = Offload::kGsoNone;
  std::vector<Bytes> got = send(frame(b, o));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], b);
  EXPECT_EQ(counters_[0].tx_csum_completed.get(), 0u);
}

TEST_F(TxOffload, FrameAboveTheMtuIsCountedOversizeNeverCut) {
  out_.set_mtu(1500);
  Bytes big(1519, 0x5a);
  big[12] = 0x08;
  big[13] = 0x00;
  EXPECT_TRUE(send(frame(big, {})).empty());
  EXPECT_EQ(drops(Drop::kOversize), 1u);
  Bytes fits(1518, 0x5a);
  EXPECT_EQ(send(frame(fits, {})).size(), 1u) << "MTU + Ethernet header + one tag";
  out_.set_mtu(9000);
  EXPECT_EQ(send(frame(big, {})).size(), 1u);
  Bytes jumbo(9018, 0x5a);
  ASSERT_EQ(send(frame(jumbo, {})).size(), 1u);
  jumbo.push_back(0);
  EXPECT_TRUE(send(frame(jumbo, {})).empty());
  EXPECT_EQ(drops(Drop::kOversize), 2u);
}

TEST_F(TxOffload, SegmentsAboveTheMtuAreOversize) {
  out_.set_caps(txcap::kAll);
  out_.set_mtu(1500);
  EXPECT_TRUE(send(frame(partial_frame(false, 6, 9000), tso4(3000))).empty());
  EXPECT_EQ(drops(Drop::kOversize), 1u);
  out_.set_caps(0);
  EXPECT_TRUE(send(frame(partial_frame(false, 6, 9000), tso4(3000))).empty());
  EXPECT_EQ(drops(Drop::kOversize), 2u);
}

TEST_F(TxOffload, SuperFrameThatCannotBeSegmentedIsBadOffload) {
  Bytes arp(3000, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_TRUE(send(frame(arp, tso4(1448))).empty());
  EXPECT_EQ(drops(Drop::kBadOffload), 1u);
}

TEST_F(TxOffload, OffloadOkAcceptsWhatBriskCanSegment) {
  EXPECT_TRUE(offload_ok(Offload{}));
  EXPECT_TRUE(offload_ok(tso4(1448)));
  Offload o = tso4(1448);
  o.gso_type = Offload::kGsoUdp;
  EXPECT_FALSE(offload_ok(o)) << "UFO";
  o.gso_type = Offload::kGsoTcpV6 | Offload::kGsoEcn;
  EXPECT_TRUE(offload_ok(o));
  o.gso_size = 0;
  EXPECT_FALSE(offload_ok(o));
  o.gso_type = 9;
  o.gso_size = 100;
  EXPECT_FALSE(offload_ok(o));
}

TEST_F(TxOffload, VnetHeaderFollowsATagPushedOrPopped) {
  Offload o = tso4(1448);
  VnetHdr h = to_vnet(o, 4);
  EXPECT_EQ(h.csum_start, 38);
  EXPECT_EQ(h.csum_offset, 16);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(h.gso_type, Offload::kGsoTcpV4);
  Offload back = from_vnet(h, 0);
  EXPECT_EQ(back.csum_start, 38);
  EXPECT_EQ(from_vnet(to_vnet(o, 0), 4).csum_start, 38) << "a stripped tag put back on receive";
}

}  // namespace
}  // namespace brisk
