// FrameBuilder: crafts Ethernet / 802.1Q / ARP / IPv4 frames for unit tests.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "brisk/types.hpp"

namespace brisk::test {

inline MacAddr mac(const std::string& s) { return *MacAddr::parse(s); }

// The stations the datapath tests send from and to.
inline constexpr const char* kA = "02:00:00:00:00:0a";
inline constexpr const char* kB = "02:00:00:00:00:0b";
inline constexpr const char* kC = "02:00:00:00:00:0c";
inline constexpr const char* kBcast = "ff:ff:ff:ff:ff:ff";

// An IPv4 address in network byte order ("198.18.0.2").
inline std::uint32_t be_ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

struct FrameBuilder {
  MacAddr dst, src;
  int vlan = -1;                 // -1: untagged; otherwise add an 802.1Q tag with this VID
  std::uint16_t ethertype = ethertype::kIpv4;
  std::size_t len = 64;          // total length without FCS (payload padded/truncated)

  FrameBuilder& to(const std::string& m) { dst = mac(m); return *this; }
  FrameBuilder& from(const std::string& m) { src = mac(m); return *this; }
  FrameBuilder& tagged(int v) { vlan = v; return *this; }
  FrameBuilder& length(std::size_t n) { len = n; return *this; }

  std::vector<std::uint8_t> build() const {
    std::vector<std::uint8_t> f(dst.b.begin(), dst.b.end());
    f.insert(f.end(), src.b.begin(), src.b.end());
    if (vlan >= 0) {
      f.push_back(0x81);
      f.push_back(0x00);
      f.push_back(static_cast<std::uint8_t>((vlan >> 8) & 0x0f));
      f.push_back(static_cast<std::uint8_t>(vlan & 0xff));
    }
    f.push_back(static_cast<std::uint8_t>(ethertype >> 8));
    f.push_back(static_cast<std::uint8_t>(ethertype & 0xff));
    std::uint8_t fill = 0;
    while (f.size() < len) f.push_back(fill++);
    f.resize(len);
    return f;
  }
};

inline std::array<std::uint8_t, 4> ip4(const char* s) {
  std::array<std::uint8_t, 4> a{};
  unsigned x[4] = {};
  std::sscanf(s, "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]);
  for (int i = 0; i < 4; ++i) a[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(x[i]);
  return a;
}

// An IPv4 packet (no Ethernet header) from `src` to 198.18.0.1 carrying `l4` (protocol
// `proto`), with `options` bytes of zeroed IP options: what a raw socket returns.
inline std::vector<std::uint8_t> ipv4(const char* src, std::uint8_t proto,
                                      const std::vector<std::uint8_t>& l4, std::size_t options = 0) {
  std::vector<std::uint8_t> p(20 + options, 0);
  p[0] = static_cast<std::uint8_t>(0x40 | ((20 + options) / 4));
  std::size_t tot = p.size() + l4.size();
  p[2] = static_cast<std::uint8_t>(tot >> 8);
  p[3] = static_cast<std::uint8_t>(tot);
  p[8] = 64;
  p[9] = proto;
  auto s = ip4(src), d = ip4("198.18.0.1");
  std::copy(s.begin(), s.end(), p.begin() + 12);
  std::copy(d.begin(), d.end(), p.begin() + 16);
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

// An ARP frame (op 1 request, 2 reply), untagged, padded to 60 bytes.
inline std::vector<std::uint8_t> arp_frame(const std::string& eth_dst, const std::string& eth_src,
                                           int op, const std::string& sha, const char* spa,
                                           const std::string& tha, const char* tpa) {
  FrameBuilder fb;
  fb.to(eth_dst).from(eth_src);
  fb.ethertype = ethertype::kArp;
  fb.len = 14;
  auto f = fb.build();
  const std::uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, static_cast<std::uint8_t>(op)};
  f.insert(f.end(), hdr, hdr + 8);
  auto put_mac = [&](const std::string& m) { auto a = mac(m); f.insert(f.end(), a.b.begin(), a.b.end()); };
  auto put_ip = [&](const char* s) { auto a = ip4(s); f.insert(f.end(), a.begin(), a.end()); };
  put_mac(sha);
  put_ip(spa);
  put_mac(tha);
  put_ip(tpa);
  f.resize(60, 0);
  return f;
}

// An IPv4/UDP frame, untagged.
inline std::vector<std::uint8_t> ipv4_frame(const std::string& eth_dst, const std::string& eth_src,
                                            const char* src, const char* dst) {
  FrameBuilder fb;
  fb.to(eth_dst).from(eth_src);
  fb.len = 14;
  auto f = fb.build();
  std::uint8_t ip[20] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17};
  auto s4 = ip4(src), d4 = ip4(dst);
  std::copy(s4.begin(), s4.end(), ip + 12);
  std::copy(d4.begin(), d4.end(), ip + 16);
  f.insert(f.end(), ip, ip + 20);
  const std::uint8_t udp[8] = {0x30, 0x39, 0x30, 0x39, 0, 8, 0, 0};
  f.insert(f.end(), udp, udp + 8);
  f.resize(60, 0);
  return f;
}

// VID of an 802.1Q-tagged frame, or -1 if untagged.
inline int vlan_of(const std::vector<std::uint8_t>& f) {
  if (f.size() >= 18 && f[12] == 0x81 && f[13] == 0x00) return ((f[14] & 0x0f) << 8) | f[15];
  return -1;
}

}  // namespace brisk::test
