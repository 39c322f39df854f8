#include "datapath/offload.hpp"

#include <algorithm>
#include <cstring>

#include "brisk/types.hpp"
#include "datapath/csum.hpp"

namespace brisk {

namespace {

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
}  // namespace

bool parse_l4(const std::uint8_t* f, std::size_t len, L4Headers& h) noexcept {
  if (len < 14) return false;
  std::size_t l3 = 14;
  std::uint16_t et = get16(f + 12);
  while (et == ethertype::kVlan || et == ethertype::kQinQ) {
    if (len < l3 + 4) return false;
    et = get16(f + l3 + 2);
    l3 += 4;
  }
  L4Headers p;
  p.l3 = static_cast<std::uint32_t>(l3);
  if (et == ethertype::kIpv4) {
    if (len < l3 + 20 || (f[l3] >> 4) != 4) return false;
    std::size_t ihl = std::size_t{f[l3] & 0x0fu} * 4;
    if (ihl < 20 || len < l3 + ihl) return false;
    if (((f[l3 + 6] & 0x3f) | f[l3 + 7]) != 0) return false;  // a fragment
    p.proto = f[l3 + 9];
    p.l4 = static_cast<std::uint32_t>(l3 + ihl);
  } else if (et == ethertype::kIpv6) {
    if (len < l3 + 40 || (f[l3] >> 4) != 6) return false;
    p.proto = f[l3 + 6];  // extension headers are not supported
    p.l4 = static_cast<std::uint32_t>(l3 + 40);
    p.ipv6 = true;
  } else {
    return false;
  }
  if (p.proto == 6) {
    if (len < std::size_t{p.l4} + 20) return false;
    p.l4_len = (std::uint32_t{f[p.l4 + 12]} >> 4) * 4;
    if (p.l4_len < 20) return false;
  } else if (p.proto == 17) {
    if (len < std::size_t{p.l4} + 8) return false;
    p.l4_len = 8;
  } else {
    return false;
  }
  h = p;
  return true;
}

bool plan_gso(const std::uint8_t* f, std::size_t len, std::uint8_t gso_type, std::uint16_t gso_size,
              GsoPlan& plan) noexcept {
  const std::uint8_t type = gso_type & static_cast<std::uint8_t>(~Offload::kGsoEcn);
  if (gso_size == 0) return false;
  L4Headers h;
  if (!parse_l4(f, len, h)) return false;
  if (type == Offload::kGsoTcpV4 || type == Offload::kGsoTcpV6) {
    if (h.proto != 6 || h.ipv6 != (type == Offload::kGsoTcpV6)) return false;
  } else if (type == Offload::kGsoUdpL4) {
    if (h.proto != 17) return false;
  } else {
    return false;  // UFO (IP fragmentation) or unknown
  }
  GsoPlan p;
  p.l3 = h.l3;
  p.l4 = h.l4;
  p.proto = h.proto;
  p.ipv6 = h.ipv6;
  p.hdr_len = h.l4 + h.l4_len;
  if (len <= p.hdr_len) return false;
  p.mss = gso_size;
  p.segments = static_cast<std::uint32_t>((len - p.hdr_len + p.mss - 1) / p.mss);
  plan = p;
  return true;
}

std::size_t build_segment(const std::uint8_t* f, std::size_t len, const GsoPlan& p, std::uint32_t i,
                          std::uint8_t* out, std::size_t cap) noexcept {
  const std::size_t off = p.hdr_len + std::size_t{i} * p.mss;
  if (i >= p.segments || off >= len) return 0;
  const std::size_t chunk = std::min<std::size_t>(p.mss, len - off);
  const std::size_t seglen = p.hdr_len + chunk;
  if (seglen > cap) return 0;
  std::memcpy(out, f, p.hdr_len);
  std::memcpy(out + p.hdr_len, f + off, chunk);
  std::uint8_t* ip = out + p.l3;
  std::uint8_t* l4 = out + p.l4;
  const std::uint32_t l4len = static_cast<std::uint32_t>(seglen - p.l4);
  std::uint64_t pseudo;
  if (p.ipv6) {
    put16(ip + 4, static_cast<std::uint32_t>(seglen - p.l3 - 40));
    pseudo = csum_add(ip + 8, 32, 0);
  } else {
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    put16(ip + 2, static_cast<std::uint32_t>(seglen - p.l3));
    put16(ip + 4, get16(f + p.l3 + 4) + i);
    put16(ip + 10, 0);
    put16(ip + 10, static_cast<std::uint16_t>(~csum_fold(csum_add(ip, ihl, 0))));
    pseudo = csum_add(ip + 12, 8, 0);
  }
  std::size_t csum_at;
  if (p.proto == 6) {
    put32(l4 + 4, get32(f + p.l4 + 4) + i * p.mss);
    std::uint8_t flags = l4[13];
    if (i + 1 != p.segments) flags &= static_cast<std::uint8_t>(~0x09);  // FIN, PSH: last only
    if (i != 0) flags &= static_cast<std::uint8_t>(~0x80);               // CWR: first only
    l4[13] = flags;
    csum_at = 16;
  } else {
    put16(l4 + 4, l4len);
    csum_at = 6;
  }
  put16(l4 + csum_at, 0);
  pseudo += p.proto;
  pseudo += l4len;
  put16(l4 + csum_at, csum_finish(csum_add(l4, l4len, pseudo)));
  return seglen;
}

Offload from_vnet(const VnetHdr& h, std::uint32_t shift) noexcept {
  Offload o;
  o.flags = h.flags & (Offload::kCsumPartial | Offload::kCsumValid);
  o.gso_type = h.gso_type;
  o.gso_size = o.gso_type == Offload::kGsoNone ? 0 : h.gso_size;
  if (o.partial()) {
    o.csum_start = static_cast<std::uint16_t>(h.csum_start + shift);
    o.csum_offset = h.csum_offset;
  }
  return o;
}

VnetHdr to_vnet(const Offload& off, int shift) noexcept {
  VnetHdr h{};
  h.flags = off.flags;
  h.gso_type = off.gso_type;
  h.gso_size = off.gso_size;
  if (off.partial()) {
    h.csum_start = static_cast<std::uint16_t>(off.csum_start + shift);
    h.csum_offset = off.csum_offset;
    // Headers the kernel must find in the linear part: at least through the checksum field.
    h.hdr_len = static_cast<std::uint16_t>(h.csum_start + h.csum_offset + 2);
  }
  return h;
}

bool finish_checksum(Frame& f) noexcept {
  if (!f.off.partial()) return true;
  if (!complete_checksum_at(f.data, f.len, f.off.csum_start, f.off.csum_offset)) return false;
  f.off.flags =
      static_cast<std::uint8_t>((f.off.flags & ~Offload::kCsumPartial) | Offload::kCsumValid);
  return true;
}

std::uint32_t segment_wire_len(const Frame& f) noexcept {
  if (!f.off.gso()) return f.len;
  GsoPlan p;
  if (!plan_gso(f.data, f.len, f.off.gso_type, f.off.gso_size, p)) return f.len;
  return std::min<std::uint32_t>(f.len, p.hdr_len + p.mss);
}

bool mark_super_frame(Frame& f, std::uint32_t mtu) noexcept {
  L4Headers h;
  if (!parse_l4(f.data, f.len, h) || h.proto != 6) return false;
  const std::uint32_t headers = h.l4 - h.l3 + h.l4_len;  // IP and TCP headers, options included
  if (mtu <= headers || f.len <= h.l3 + mtu) return false;  // not above the MTU
  std::uint8_t type = h.ipv6 ? Offload::kGsoTcpV6 : Offload::kGsoTcpV4;
  if (f.data[h.l4 + 13] & 0x80) type |= Offload::kGsoEcn;  // CWR
  f.off.flags = Offload::kCsumPartial;
  f.off.gso_type = type;
  f.off.gso_size = static_cast<std::uint16_t>(std::min<std::uint32_t>(mtu - headers, 0xffff));
  f.off.csum_start = static_cast<std::uint16_t>(h.l4);
  f.off.csum_offset = 16;
  return true;
}

}  // namespace brisk
