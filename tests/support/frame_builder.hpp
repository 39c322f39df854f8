// FrameBuilder: crafts Ethernet / 802.1Q / ARP / IPv4 frames for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "brisk/types.hpp"

namespace brisk::test {

inline MacAddr mac(const std::string& s) { return *MacAddr::parse(s); }

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

// VID of an 802.1Q-tagged frame, or -1 if untagged.
inline int vlan_of(const std::vector<std::uint8_t>& f) {
  if (f.size() >= 18 && f[12] == 0x81 && f[13] == 0x00) return ((f[14] & 0x0f) << 8) | f[15];
  return -1;
}

}  // namespace brisk::test
