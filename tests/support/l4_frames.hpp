// Frames with offloaded (partial) L4 checksums and an independent reference checksum, for
// the tests of datapath/offload and the drivers that carry offload metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace brisk::l4test {

using Bytes = std::vector<std::uint8_t>;

// ---- independent reference arithmetic (big-endian 16-bit words, no tricks) ----

inline std::uint32_t ref_sum(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
  for (std::size_t i = 0; i < n; i += 2) {
    std::uint32_t w = std::uint32_t{p[i]} << 8;
    if (i + 1 < n) w |= p[i + 1];
    s += w;
  }
  return s;
}
inline std::uint16_t ref_fold(std::uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}
inline std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline void set16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// Offset of the IP header, skipping 802.1Q/802.1ad tags; 0 if not IPv4/IPv6.
inline std::size_t l3_of(const Bytes& f, std::uint16_t* et_out = nullptr) {
  std::size_t l3 = 14;
  std::uint16_t et = be16(&f[12]);
  while ((et == 0x8100 || et == 0x88a8) && f.size() >= l3 + 4) {
    et = be16(&f[l3 + 2]);
    l3 += 4;
  }
  if (et_out != nullptr) *et_out = et;
  return (et == 0x0800 || et == 0x86dd) ? l3 : 0;
}

// True if the IPv4/IPv6 TCP/UDP frame's L4 checksum verifies (sum over pseudo header and
// segment is 0xffff). `proto` receives the L4 protocol.
inline bool l4_checksum_ok(const Bytes& f, std::uint8_t* proto = nullptr) {
  std::uint16_t et = 0;
  std::size_t l3 = l3_of(f, &et);
  if (l3 == 0) return false;
  std::uint32_t s = 0;
  std::size_t l4, l4len;
  std::uint8_t pr;
  if (et == 0x0800) {
    std::size_t ihl = (f[l3] & 0x0f) * 4u;
    l4 = l3 + ihl;
    l4len = be16(&f[l3 + 2]) - ihl;
    pr = f[l3 + 9];
    s = ref_sum(&f[l3 + 12], 8);
  } else {
    l4 = l3 + 40;
    l4len = be16(&f[l3 + 4]);
    pr = f[l3 + 6];
    s = ref_sum(&f[l3 + 8], 32);
  }
  if (proto != nullptr) *proto = pr;
  if (l4 + l4len > f.size()) return false;
  s += pr;
  s += static_cast<std::uint32_t>(l4len);
  s = ref_sum(&f[l4], l4len, s);
  return ref_fold(s) == 0xffff;
}

inline bool ipv4_header_ok(const Bytes& f) {
  std::size_t l3 = l3_of(f);
  return ref_fold(ref_sum(&f[l3], (f[l3] & 0x0f) * 4u)) == 0xffff;
}

// Ethernet + IPv4 (or IPv6) + TCP (or UDP) with `payload` bytes, L4 checksum field holding the
// folded pseudo-header sum: what a sender with checksum offload hands its device.
inline Bytes partial_frame(bool v6, std::uint8_t proto, std::size_t payload, bool fin_psh = false) {
  const std::size_t l3 = 14, iplen = v6 ? 40 : 20, l4hdr = proto == 6 ? 20 : 8;
  const std::size_t l4len = l4hdr + payload;
  Bytes f(l3 + iplen + l4hdr + payload, 0);
  for (int i = 0; i < 6; ++i) {
    f[i] = static_cast<std::uint8_t>(0x02 + i);
    f[6 + i] = static_cast<std::uint8_t>(0x12 + i);
  }
  set16(&f[12], v6 ? 0x86dd : 0x0800);
  std::uint8_t* ip = &f[l3];
  std::uint32_t pseudo;
  if (v6) {
    ip[0] = 0x60;
    set16(ip + 4, static_cast<std::uint32_t>(l4len));
    ip[6] = proto;
    ip[7] = 64;
    ip[8] = 0x20;
    ip[9] = 0x01;
    ip[23] = 1;
    ip[24] = 0x20;
    ip[25] = 0x01;
    ip[39] = 2;
    pseudo = ref_sum(ip + 8, 32);
  } else {
    ip[0] = 0x45;
    set16(ip + 2, static_cast<std::uint32_t>(20 + l4len));
    set16(ip + 4, 0x1234);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = proto;
    const std::uint8_t a[8] = {198, 18, 0, 1, 198, 18, 0, 2};
    std::copy(a, a + 8, ip + 12);
    set16(ip + 10, static_cast<std::uint16_t>(~ref_fold(ref_sum(ip, 20))));
    pseudo = ref_sum(ip + 12, 8);
  }
  std::uint8_t* l4 = ip + iplen;
  set16(l4, 40000);
  set16(l4 + 2, 5201);
  if (proto == 6) {
    l4[4] = 0x10;  // seq 0x10000001
    l4[7] = 0x01;
    l4[12] = 0x50;
    l4[13] = static_cast<std::uint8_t>(0x10 | 0x80 | (fin_psh ? 0x09 : 0));  // ACK, CWR (+FIN/PSH)
    set16(l4 + 14, 512);
  } else {
    set16(l4 + 4, static_cast<std::uint32_t>(l4len));
  }
  for (std::size_t i = 0; i < payload; ++i) l4[l4hdr + i] = static_cast<std::uint8_t>(i * 13 + 5);
  pseudo += proto;
  pseudo += static_cast<std::uint32_t>(l4len);
  set16(l4 + (proto == 6 ? 16 : 6), ref_fold(pseudo));
  return f;
}
}  // namespace brisk::l4test
