#include "datapath/port_security.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace brisk {

namespace {

// The frame's network layer: its ethertype and where it starts, past one 802.1Q tag (the
// customer tag a dot1q-tunnel port or a trunk's double-tagged frame leaves in the frame, see
// datapath/vlan.hpp), so a customer's ARP and IP are checked like anyone else's.
struct L3 {
  std::uint16_t type;
  const std::uint8_t* p;
  std::size_t len;
};
L3 l3_of(const Frame& f) {
  std::size_t off = 12;
  std::uint16_t et = static_cast<std::uint16_t>((f.data[12] << 8) | f.data[13]);
  if (et == ethertype::kVlan && f.len >= 18) {
    off = 16;
    et = static_cast<std::uint16_t>((f.data[16] << 8) | f.data[17]);
  }
  return L3{et, f.data + off + 2, f.len - off - 2};
}

template <typename A>
bool contains(const std::vector<A>& list, const std::uint8_t* p) {
  for (const auto& a : list)
    if (std::memcmp(a.data(), p, a.size()) == 0) return true;
  return false;
}

bool is_zero(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

bool is_link_local_of(const std::uint8_t* ip, const MacAddr& mac) {
  Ipv6 ll = eui64_link_local(mac);
  return std::memcmp(ll.data(), ip, 16) == 0;
}

// Walk ICMPv6 ND options for a link-layer address option of `type`; true if all such options
// carry `mac` (absent options are fine).
bool nd_options_match(const std::uint8_t* opt, std::size_t len, std::uint8_t type, const MacAddr& mac) {
  while (len >= 8) {
    std::size_t olen = std::size_t{opt[1]} * 8;
    if (olen == 0 || olen > len) return false;  // malformed options
    if (opt[0] == type && (olen < 8 || std::memcmp(opt + 2, mac.b.data(), 6) != 0)) return false;
    opt += olen;
    len -= olen;
  }
  return true;
}

}  // namespace

Ipv6 eui64_link_local(const MacAddr& mac) {
  Ipv6 a{};
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = static_cast<std::uint8_t>(mac.b[0] ^ 0x02);
  a[9] = mac.b[1];
  a[10] = mac.b[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac.b[3];
  a[14] = mac.b[4];
  a[15] = mac.b[5];
  return a;
}

Drop security_ingress(const Frame& f, const PortSecurity& sec) noexcept {
  const std::uint8_t* d = f.data;
  const SecurityBinding* b = nullptr;
  for (const auto& x : sec.bindings) {
    if (std::memcmp(x.mac.b.data(), d + 6, 6) == 0) {
      b = &x;
      break;
    }
  }
  if (b == nullptr) return Drop::kSecSrcMac;
  if (!b->has_ips()) return Drop::kCount;
  const L3 n = l3_of(f);
  const std::uint8_t* l3 = n.p;
  const std::size_t l3len = n.len;
  switch (n.type) {
    case ethertype::kArp: {
      if (l3len < 28) return Drop::kSecArp;
      if (std::memcmp(l3 + 8, b->mac.b.data(), 6) != 0) return Drop::kSecArp;  // sender MAC
      if (!is_zero(l3 + 14, 4) && !contains(b->v4, l3 + 14)) return Drop::kSecArp;
      return Drop::kCount;
    }
    case ethertype::kIpv4: {
      if (l3len < 20) return Drop::kSecIp;
      if (!is_zero(l3 + 12, 4) && !contains(b->v4, l3 + 12)) return Drop::kSecIp;
      return Drop::kCount;
    }
    case ethertype::kIpv6: {
      if (l3len < 40) return Drop::kSecIp;
      const std::uint8_t* src = l3 + 8;
      if (!is_zero(src, 16) && !contains(b->v6, src) && !is_link_local_of(src, b->mac))
        return Drop::kSecIp;
      if (l3[6] != 58 || l3len < 48) return Drop::kCount;  // not ICMPv6 (ext. headers pass)
      const std::uint8_t* icmp = l3 + 40;
      const std::size_t icmplen = l3len - 40;
      const std::uint8_t type = icmp[0];
      if (type == 133) {  // router solicitation: options after 8 bytes
        return nd_options_match(icmp + 8, icmplen - 8, 1, b->mac) ? Drop::kCount : Drop::kSecNd;
      }
      if (type == 135 || type == 136) {
        if (icmplen < 24) return Drop::kSecNd;
        const std::uint8_t* target = icmp + 8;
        if (type == 136 && !contains(b->v6, target) && !is_link_local_of(target, b->mac))
          return Drop::kSecNd;
        std::uint8_t opt = type == 135 ? 1 : 2;  // source / target link-layer address
        return nd_options_match(icmp + 24, icmplen - 24, opt, b->mac) ? Drop::kCount : Drop::kSecNd;
      }
      return Drop::kCount;
    }
    default:
      return Drop::kCount;
  }
}

bool security_egress_allows(const Frame& f, const PortSecurity& sec) noexcept {
  const L3 n = l3_of(f);
  const std::uint8_t* l3 = n.p;
  const std::size_t l3len = n.len;
  auto v4_bound = [&](const std::uint8_t* ip) {
    for (const auto& b : sec.bindings)
      if (contains(b.v4, ip)) return true;
    return false;
  };
  switch (n.type) {
    case ethertype::kArp:
      return l3len >= 28 && v4_bound(l3 + 24);
    case ethertype::kIpv4: {
      if (l3len < 20) return false;
      const std::uint8_t* dst = l3 + 16;
      if ((dst[0] & 0xf0) == 0xe0) return true;  // multicast
      if (dst[0] == 255 && dst[1] == 255 && dst[2] == 255 && dst[3] == 255) return true;
      return v4_bound(dst);
    }
    case ethertype::kIpv6: {
      if (l3len < 40) return false;
      const std::uint8_t* dst = l3 + 24;
      if (dst[0] == 0xff) return true;  // multicast (includes solicited-node)
      for (const auto& b : sec.bindings)
        if (contains(b.v6, dst) || is_link_local_of(dst, b.mac)) return true;
      return false;
    }
    default:
      return true;
  }
}

bool parse_ip_into(const std::string& text, std::vector<Ipv4>& v4, std::vector<Ipv6>& v6) {
  Ipv4 x4;
  Ipv6 x6;
  if (inet_pton(AF_INET, text.c_str(), x4.data()) == 1) {
    v4.push_back(x4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), x6.data()) == 1) {
    v6.push_back(x6);
    return true;
  }
  return false;
}

}  // namespace brisk
