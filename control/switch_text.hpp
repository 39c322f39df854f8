// Text of the switch's model for its listings and logs (control/switch.cpp, switch_views.cpp):
// addresses, tunnel peers, VLAN sets. Control thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "brisk/types.hpp"
#include "datapath/tunnel_codec.hpp"

namespace brisk {

// "198.18.0.2" from a big-endian IPv4 address.
std::string ip4_text(std::uint32_t be);
// The same from 4 (ip4_str) or 16 (ip6_str) bytes in wire order.
std::string ip4_str(const std::uint8_t* p);
std::string ip6_str(const std::uint8_t* p);
// "198.18.0.2" or "198.18.0.2 key 7" (VXLAN: the VNI, shown when nonzero).
std::string tunnel_peer(const TunnelKey& t);
// "[10 20 30]".
std::string fmt_vlans(const std::set<VlanId>& v);

}  // namespace brisk
