#include "datapath/tunnel_codec.hpp"

#include <cstring>

#include "bpf/brisk_flow_hash.h"

namespace brisk {

namespace {

inline std::uint16_t rd16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t rd32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline void wr32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

constexpr DecapResult foreign() { return DecapResult{DecapStatus::kForeign, Drop::kCount, 0}; }
constexpr DecapResult drop(Drop d) { return DecapResult{DecapStatus::kDrop, d, 0}; }

// GRE flag bits (first 16 bits of the header).
constexpr std::uint16_t kGreC = 0x8000;        // checksum present
constexpr std::uint16_t kGreR = 0x4000;        // routing present (RFC 1701): discard
constexpr std::uint16_t kGreK = 0x2000;        // key present
constexpr std::uint16_t kGreS = 0x1000;        // sequence number present
constexpr std::uint16_t kGreSsr = 0x0800;      // strict source route (RFC 1701): discard
constexpr std::uint16_t kGreRecur = 0x0700;    // recursion control (RFC 1701): discard
constexpr std::uint16_t kGreVersion = 0x0007;

}  // namespace

std::size_t tunnel_header(const TunnelKey& t, std::uint8_t* out) noexcept {
  if (t.type == TunnelType::kVxlan) {
    // flags (I) | 24 reserved | VNI (24) | 8 reserved
    out[0] = 0x08;
    out[1] = out[2] = out[3] = 0;
    wr32(out + 4, (t.key & kVxlanMaxVni) << 8);
    return kVxlanHeaderLen;
  }
  out[0] = t.has_key ? 0x20 : 0x00;
  out[1] = 0;  // version 0
  out[2] = kGreProtoTeb >> 8;
  out[3] = kGreProtoTeb & 0xff;
  if (!t.has_key) return 4;
  wr32(out + 4, t.key);
  return 8;
}

std::uint16_t vxlan_source_port(const std::uint8_t* frame, std::size_t len) noexcept {
  return brisk_vxlan_sport(brisk_flow_hash(frame, frame + len));
}

void vxlan_udp_header(std::uint8_t* out, std::uint16_t sport, std::size_t payload_len) noexcept {
  const std::size_t udp_len = 8 + payload_len;
  out[0] = static_cast<std::uint8_t>(sport >> 8);
  out[1] = static_cast<std::uint8_t>(sport);
  out[2] = kVxlanUdpPort >> 8;
  out[3] = kVxlanUdpPort & 0xff;
  out[4] = static_cast<std::uint8_t>(udp_len >> 8);
  out[5] = static_cast<std::uint8_t>(udp_len);
  out[6] = out[7] = 0;
}

DecapResult tunnel_decap(const TunnelKey& t, const std::uint8_t* pkt, std::size_t len) noexcept {
  // IPv4 header: the kernel validated version, IHL and checksum; check what we rely on anyway.
  if (len < 20 || (pkt[0] >> 4) != 4) return drop(Drop::kTunnelTruncated);
  const std::size_t ihl = std::size_t{pkt[0] & 0x0fu} * 4;
  if (ihl < 20 || len < ihl) return drop(Drop::kTunnelTruncated);
  std::uint32_t src;
  std::memcpy(&src, pkt + 12, 4);  // network order, like t.remote
  if (src != t.remote) return foreign();
  if (rd16(pkt + 2) != len) return drop(Drop::kTunnelTruncated);  // IPv4 total length
  const std::uint8_t* l4 = pkt + ihl;
  const std::size_t l4len = len - ihl;

  if (t.type == TunnelType::kVxlan) {
    if (pkt[9] != kIpProtoUdp) return foreign();
    if (l4len < 4) return drop(Drop::kTunnelTruncated);
    if (rd16(l4 + 2) != kVxlanUdpPort) return foreign();
    if (l4len < 8 + kVxlanHeaderLen) return drop(Drop::kTunnelTruncated);
    if (rd16(l4 + 4) != l4len) return drop(Drop::kTunnelTruncated);  // UDP length
    const std::uint8_t* vx = l4 + 8;
    if ((rd32(vx + 4) >> 8) != (t.key & kVxlanMaxVni)) return foreign();
    if ((vx[0] & 0x08) == 0) return drop(Drop::kTunnelMalformed);  // VNI not valid
    const std::size_t inner = ihl + 8 + kVxlanHeaderLen;
    if (len < inner + 14) return drop(Drop::kTunnelTruncated);
    return DecapResult{DecapStatus::kOk, Drop::kCount, static_cast<std::uint32_t>(inner)};
  }

  if (pkt[9] != kIpProtoGre) return foreign();
  if (l4len < 4) return drop(Drop::kTunnelTruncated);
  if (rd16(l4 + 2) != kGreProtoTeb) return foreign();
  const std::uint16_t flags = rd16(l4);
  std::size_t hlen = 4;
  if (flags & kGreC) hlen += 4;
  std::size_t key_at = hlen;
  if (flags & kGreK) hlen += 4;
  if (flags & kGreS) hlen += 4;
  if (l4len < hlen) return drop(Drop::kTunnelTruncated);
  const bool has_key = (flags & kGreK) != 0;
  if (has_key != t.has_key || (has_key && rd32(l4 + key_at) != t.key)) return foreign();
  if ((flags & (kGreR | kGreSsr | kGreRecur | kGreVersion)) != 0) return drop(Drop::kTunnelMalformed);
  const std::size_t inner = ihl + hlen;
  if (len < inner + 14) return drop(Drop::kTunnelTruncated);
  return DecapResult{DecapStatus::kOk, Drop::kCount, static_cast<std::uint32_t>(inner)};
}

}  // namespace brisk
