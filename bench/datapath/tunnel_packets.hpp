// Inputs of the tunnel micro-benchmarks (tunnel_codec_bench.cpp, tunnel_port_bench.cpp):
// the variants measured, inner Ethernet frames, and outer IPv4 packets as a tunnel port's raw
// socket delivers them (IPv4 header first). Bench-only, never linked into briskd.
//
// The tunnel header inside an outer packet is written by the codec under test
// (tunnel_header()); this file writes only the IPv4 and UDP headers around it and the inner
// frame, with every length field consistent, so tunnel_decap() answers kOk.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "brisk/types.hpp"
#include "datapath/tunnel_codec.hpp"

namespace brisk::bench {

using Bytes = std::vector<std::uint8_t>;

// Underlay addresses of the benchmarks' tunnels (network byte order): remote 198.18.1.2,
// local 198.18.1.1.
inline const std::uint32_t kTunnelRemote = htonl(0xc6120102u);
inline const std::uint32_t kTunnelLocal = htonl(0xc6120101u);
inline constexpr std::uint32_t kTunnelKeyValue = 42;  // VNI / GRE key
inline constexpr VlanId kTunnelVlan = 10;             // the 802.1Q tag of tagged variants

enum class TunnelVariant { kVxlan, kGre, kGreKey };

inline const char* variant_name(TunnelVariant v) {
  switch (v) {
    case TunnelVariant::kVxlan: return "vxlan";
    case TunnelVariant::kGre: return "gre";
    case TunnelVariant::kGreKey: return "gre_key";
  }
  return "?";
}

inline TunnelKey variant_key(TunnelVariant v) {
  switch (v) {
    case TunnelVariant::kVxlan: return {TunnelType::kVxlan, kTunnelRemote, kTunnelKeyValue, true};
    case TunnelVariant::kGre: return {TunnelType::kGre, kTunnelRemote, 0, false};
    case TunnelVariant::kGreKey: return {TunnelType::kGre, kTunnelRemote, kTunnelKeyValue, true};
  }
  return {};
}

inline constexpr TunnelVariant kAllVariants[] = {TunnelVariant::kVxlan, TunnelVariant::kGre,
                                                 TunnelVariant::kGreKey};
// Inner frame lengths measured (Frame::len, FCS excluded): a minimum-size and a full-MTU frame.
inline constexpr std::uint32_t kInnerLens[] = {64, 1500};

// An inner IPv4-typed Ethernet frame of `len` bytes (the 802.1Q tag, when `tagged`, counts in
// `len`), distinct source MAC per `seed`. The payload is zeros.
inline Bytes inner_frame(std::uint32_t len, bool tagged, std::uint32_t seed = 0) {
  Bytes f(len, 0);
  const std::uint8_t dst[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x02};
  const std::uint8_t src[6] = {0x02, 0x00, 0xc6, static_cast<std::uint8_t>(seed >> 16),
                               static_cast<std::uint8_t>(seed >> 8),
                               static_cast<std::uint8_t>(seed)};
  for (int i = 0; i < 6; ++i) {
    f[i] = dst[i];
    f[6 + i] = src[i];
  }
  std::size_t at = 12;
  if (tagged) {
    f[at++] = 0x81;
    f[at++] = 0x00;
    f[at++] = 0x00;
    f[at++] = kTunnelVlan;
  }
  f[at++] = 0x08;
  f[at++] = 0x00;
  return f;
}

// The outer IPv4 packet carrying `inner` through tunnel `t`, from t.remote to kTunnelLocal.
inline Bytes outer_packet(const TunnelKey& t, const Bytes& inner) {
  std::uint8_t hdr[kMaxTunnelHeaderLen];
  const std::size_t hlen = tunnel_header(t, hdr);
  const bool vxlan = t.type == TunnelType::kVxlan;
  const std::size_t l4 = (vxlan ? 8 : 0) + hlen + inner.size();
  Bytes p(20, 0);
  p.reserve(20 + l4);
  const std::size_t tot = 20 + l4;
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(tot >> 8);
  p[3] = static_cast<std::uint8_t>(tot);
  p[8] = 64;
  p[9] = vxlan ? kIpProtoUdp : kIpProtoGre;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = reinterpret_cast<const std::uint8_t*>(&t.remote)[i];
    p[16 + i] = reinterpret_cast<const std::uint8_t*>(&kTunnelLocal)[i];
  }
  if (vxlan) {
    const std::uint8_t udp[8] = {0xc3, 0x50,  // source port 50000
                                 kVxlanUdpPort >> 8, kVxlanUdpPort & 0xff,
                                 static_cast<std::uint8_t>(l4 >> 8), static_cast<std::uint8_t>(l4),
                                 0, 0};
    p.insert(p.end(), udp, udp + 8);
  }
  p.insert(p.end(), hdr, hdr + hlen);
  p.insert(p.end(), inner.begin(), inner.end());
  return p;
}

// "vxlan/64/untagged": the benchmarks' name suffix for a case.
inline std::string case_name(TunnelVariant v, std::uint32_t len, bool tagged) {
  return std::string(variant_name(v)) + "/" + std::to_string(len) + "/" +
         (tagged ? "tagged" : "untagged");
}

}  // namespace brisk::bench
