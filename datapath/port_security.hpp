// Port security: stop a guest from spoofing its neighbours (seeds/bridge-security-arp-spoofing).
//
// A secured port has one or more bindings: a MAC and, optionally, the IPv4/IPv6 addresses that
// go with it (`port security <port> mac <mac> [ip <a>,<b>...]`).
//
// Ingress (frames entering the secured port), checked before learning so a spoofed address is
// never learned:
//   * the source MAC must be a bound MAC                                   -> sec_src_mac
//   * if that binding lists addresses (dynamic ARP inspection, IP source guard):
//       ARP: sender MAC == source MAC, sender IP bound (or 0.0.0.0, a probe) -> sec_arp
//       IPv4: source bound (or 0.0.0.0, DHCP)                              -> sec_ip
//       IPv6: source bound, :: (DAD), or the MAC's EUI-64 link-local       -> sec_ip
//       ND: NS/NA/RS link-layer options == source MAC, NA target bound     -> sec_nd
// Egress (copies leaving toward a secured port whose bindings list addresses: the seed's
// "out via vk64, !dest 192.168.50.14 => DENY"):
//   ARP target IP, IPv4 or IPv6 destination must be bound to the port, or a broadcast /
//   multicast address, or (IPv6) the bound MAC's link-local              -> sec_egress
//   Other ethertypes pass. Subnet-directed IPv4 broadcasts are not known to the switch and are
//   refused.
// Both look past one 802.1Q tag left in the frame (a customer tag from a dot1q-tunnel port or
// the inner tag of a double-tagged frame from a trunk, datapath/vlan.hpp): the ARP or IP
// header behind it is checked.
// sec_egress counts refused copies on the output port; the frame may still leave elsewhere.
//
// Thread-safety: PortSecurity is immutable once published in a snapshot; workers only read it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "brisk/types.hpp"
#include "datapath/counters.hpp"
#include "datapath/frame.hpp"

namespace brisk {

using Ipv4 = std::array<std::uint8_t, 4>;
using Ipv6 = std::array<std::uint8_t, 16>;

struct SecurityBinding {
  MacAddr mac;
  std::vector<Ipv4> v4;
  std::vector<Ipv6> v6;
  bool has_ips() const { return !v4.empty() || !v6.empty(); }
};

struct PortSecurity {
  std::vector<SecurityBinding> bindings;
  bool egress_filter() const {
    for (const auto& b : bindings)
      if (b.has_ips()) return true;
    return false;
  }
};

// The link-local IPv6 address fe80::/64 with the EUI-64 interface id of `mac`.
Ipv6 eui64_link_local(const MacAddr& mac);
// Parse one IPv4 or IPv6 address (text) into v4 or v6. false: neither (nothing added).
bool parse_ip_into(const std::string& text, std::vector<Ipv4>& v4, std::vector<Ipv6>& v6);

// Returns Drop::kCount when the (untagged, normalised) frame may enter.
Drop security_ingress(const Frame& f, const PortSecurity& sec) noexcept;
// True when a copy of the frame may leave toward the port.
bool security_egress_allows(const Frame& f, const PortSecurity& sec) noexcept;

}  // namespace brisk
