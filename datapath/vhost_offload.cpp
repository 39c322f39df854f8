#include "datapath/vhost_offload.hpp"

#include <rte_mbuf_core.h>

#include "datapath/csum.hpp"
#include "datapath/offload.hpp"
#include "datapath/port.hpp"

namespace brisk {

namespace {
constexpr std::uint16_t kTcpCsumOffset = 16;
constexpr std::uint16_t kUdpCsumOffset = 6;

std::uint16_t csum_offset_of(std::uint8_t proto) {
  return proto == 6 ? kTcpCsumOffset : kUdpCsumOffset;
}
}  // namespace

bool offload_from_mbuf(const MbufOffload& m, const std::uint8_t* frame, std::uint32_t len,
                       Offload& out) noexcept {
  out = Offload{};
  const bool partial = (m.ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE;
  const bool gso = (m.ol_flags & RTE_MBUF_F_RX_LRO) != 0;
  if (!partial && !gso) return true;
  L4Headers h;
  if (!parse_l4(frame, len, h)) return false;
  // The library reports NEEDS_CSUM this way only with the checksum in the TCP/UDP header it
  // found (it completes any other itself), and a super-frame always with it.
  out.flags = Offload::kCsumPartial;
  out.csum_start = static_cast<std::uint16_t>(h.l4);
  out.csum_offset = csum_offset_of(h.proto);
  if (gso) {
    if (h.proto != 6 || m.tso_segsz == 0) return false;  // UFO is not offered; no size: bad
    out.gso_type = h.ipv6 ? Offload::kGsoTcpV6 : Offload::kGsoTcpV4;
    out.gso_size = m.tso_segsz;
  }
  return true;
}

TxOffload offload_to_mbuf(const Offload& off, const std::uint8_t* frame, std::uint32_t len,
                          int shift, std::uint8_t caps, MbufOffload& out) noexcept {
  out = MbufOffload{};
  if (!off.pending()) return TxOffload::kNone;
  if (off.gso()) {
    const std::uint8_t need = off.gso_type == Offload::kGsoTcpV4 ? txcap::kTso4
                              : off.gso_type == Offload::kGsoTcpV6
                                  ? txcap::kTso6
                                  : 0;  // ECN, UDP_L4: never offered
    GsoPlan p;
    if (need == 0 || (caps & need) == 0 || !plan_gso(frame, len, off.gso_type, off.gso_size, p))
      return TxOffload::kRefuse;
    out.ol_flags = RTE_MBUF_F_TX_TCP_SEG | (p.ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
    out.l2_len = static_cast<std::uint16_t>(static_cast<int>(p.l3) + shift);
    out.l3_len = static_cast<std::uint16_t>(p.l4 - p.l3);
    out.l4_len = static_cast<std::uint16_t>(p.hdr_len - p.l4);
    out.tso_segsz = off.gso_size;
    return TxOffload::kLibrary;
  }
  L4Headers h;
  if ((caps & txcap::kCsum) == 0 || !parse_l4(frame, len, h) || off.csum_start != h.l4 ||
      off.csum_offset != csum_offset_of(h.proto))
    return TxOffload::kSoftware;
  out.ol_flags = (h.proto == 6 ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM) |
                 (h.ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
  out.l2_len = static_cast<std::uint16_t>(static_cast<int>(h.l3) + shift);
  out.l3_len = static_cast<std::uint16_t>(h.l4 - h.l3);
  return TxOffload::kLibrary;
}

bool vhost_tx_head(std::uint8_t* dst, const TxItem& it, std::uint32_t head, bool complete,
                   std::uint32_t& rest) noexcept {
  const Frame* f = it.frame;
  std::uint16_t v = 0;
  std::uint32_t at = 0;
  if (complete) {
    const int shift = tx_as_is(it) ? 0 : (it.push_vlan != 0 ? 4 : 0) - (it.pop_tag ? 4 : 0);
    at = static_cast<std::uint32_t>(f->off.csum_start + f->off.csum_offset + shift);
    if (!partial_checksum(f->data, f->len, f->off.csum_start, f->off.csum_offset, v) ||
        at + 2 > head)
      return false;
  }
  rest = tx_copy_head(dst, it, head);
  if (complete) {
    dst[at] = static_cast<std::uint8_t>(v >> 8);
    dst[at + 1] = static_cast<std::uint8_t>(v);
  }
  return true;
}

std::uint8_t vhost_tx_caps(std::uint64_t features) noexcept {
  if ((features & vfeat::kGuestCsum) == 0) return 0;
  std::uint8_t caps = txcap::kCsum;
  if ((features & vfeat::kGuestTso4) != 0) caps |= txcap::kTso4;
  if ((features & vfeat::kGuestTso6) != 0) caps |= txcap::kTso6;
  return caps;
}

std::uint32_t vhost_tx_max(std::uint64_t features) noexcept {
  const std::uint64_t big = vfeat::kMrgRxbuf | vfeat::kGuestTso4 | vfeat::kGuestTso6;
  return (features & big) != 0 ? kMaxBigFrameLen : kMaxFrameLen + 4;
}

}  // namespace brisk
