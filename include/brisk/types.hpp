// brisk vocabulary types shared by the datapath and the control plane.
//
// Everything here is header-only, allocation-free and usable on the per-frame path.
//   MacAddr  six bytes in wire order, with parsing/formatting for the control plane.
//   VlanId   a 12-bit 802.1Q VLAN identifier (0..4095); 0 is "no tag" (native VLAN 0).
//   PortId   a dense small integer naming a port inside one briskd (index into tables).
//   Be16     a big-endian 16-bit wire field with no implicit conversion.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace brisk {

using VlanId = std::uint16_t;
using PortId = std::uint16_t;

inline constexpr VlanId kMaxVlan = 4095;          // highest 12-bit VLAN id (a tag's field)
// Highest VLAN id a configuration may name: 4095 is reserved by 802.1Q. Configured VLANs are
// 0-4094, 0 being untagged (control/validate.hpp).
inline constexpr VlanId kMaxConfigVlan = 4094;
inline constexpr VlanId kVlanCount = 4096;        // size of per-VLAN arrays
inline constexpr PortId kMaxPorts = 1024;         // ports per briskd (ids 0..1023)
inline constexpr PortId kInvalidPort = 0xffff;    // "no port"
inline constexpr unsigned kMaxWorkers = 64;       // worker threads per briskd
inline constexpr unsigned kBatchSize = 32;        // frames per batch

// A big-endian 16-bit value as it sits on the wire.
struct Be16 {
  std::uint16_t raw = 0;  // network byte order
  static constexpr Be16 from_host(std::uint16_t v) {
    return Be16{static_cast<std::uint16_t>((v >> 8) | (v << 8))};
  }
  constexpr std::uint16_t host() const { return static_cast<std::uint16_t>((raw >> 8) | (raw << 8)); }
  friend constexpr bool operator==(Be16 a, Be16 b) { return a.raw == b.raw; }
};

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800;
inline constexpr std::uint16_t kArp = 0x0806;
inline constexpr std::uint16_t kVlan = 0x8100;   // 802.1Q C-tag
inline constexpr std::uint16_t kQinQ = 0x88a8;   // 802.1ad S-tag
inline constexpr std::uint16_t kIpv6 = 0x86dd;
}  // namespace ethertype

struct MacAddr {
  std::array<std::uint8_t, 6> b{};

  static MacAddr from_bytes(const std::uint8_t* p) {
    MacAddr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
  }
  // The 48 bits as an integer, first wire byte most significant.
  constexpr std::uint64_t to_u64() const {
    return (std::uint64_t{b[0]} << 40) | (std::uint64_t{b[1]} << 32) | (std::uint64_t{b[2]} << 24) |
           (std::uint64_t{b[3]} << 16) | (std::uint64_t{b[4]} << 8) | std::uint64_t{b[5]};
  }
  static constexpr MacAddr from_u64(std::uint64_t v) {
    MacAddr m;
    for (int i = 5; i >= 0; --i) {
      m.b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v & 0xff);
      v >>= 8;
    }
    return m;
  }
  constexpr bool is_multicast() const { return (b[0] & 1) != 0; }  // includes broadcast
  constexpr bool is_broadcast() const {
    return b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff && b[4] == 0xff &&
           b[5] == 0xff;
  }
  constexpr bool is_zero() const { return to_u64() == 0; }
  friend constexpr bool operator==(const MacAddr&, const MacAddr&) = default;

  // "aa:bb:cc:dd:ee:ff" (also accepts '-' separators); nullopt on anything else.
  static std::optional<MacAddr> parse(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    MacAddr m;
    for (std::size_t i = 0; i < 6; ++i) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-') return std::nullopt;
      m.b[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return m;
  }
  std::string str() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(17, ':');
    for (std::size_t i = 0; i < 6; ++i) {
      s[i * 3] = kHex[b[i] >> 4];
      s[i * 3 + 1] = kHex[b[i] & 15];
    }
    return s;
  }
};

}  // namespace brisk
