// Tunnel encapsulation and decapsulation: VXLAN (RFC 7348) and Ethernet over GRE (RFC 2784,
// RFC 2890 key and sequence number, protocol 0x6558 "transparent Ethernet bridging").
//
// Pure functions over byte buffers, no I/O: TunnelPort (datapath/tunnel_port.hpp) calls them on
// every frame, unit tests and benchmarks call them directly.
//
// Encapsulation writes the tunnel's own header (VXLAN: 8 bytes; GRE: 4, or 8 with a key) and,
// for VXLAN, the UDP header in front of it (vxlan_udp_header(): the source port from a hash of
// the inner flow, bpf/brisk_flow_hash.h). The kernel adds the outer IPv4 header when the port
// sends through its raw socket, so the underlay follows the host's routes and neighbours.
//
// Decapsulation reads an IPv4 packet as a raw socket delivers it (IPv4 header first; the
// kernel has already checked the IPv4 header checksum and reassembled fragments) and says:
//   kOk       the inner Ethernet frame starts at `offset` and runs to the end of the packet;
//   kForeign  not this tunnel's traffic (another source, UDP port, VNI, GRE key or protocol):
//             ignored, another tunnel or nobody owns it, as the kernel's own vxlan device does;
//   kDrop     this tunnel's traffic but unusable, with a named drop reason: kTunnelTruncated
//             (IPv4/UDP/VXLAN/GRE lengths do not add up, or the inner frame is shorter than an
//             Ethernet header) or kTunnelMalformed (VXLAN without the I flag, GRE with a
//             version other than 0, or with routing/strict-source-route/recursion bits, which
//             RFC 2784 says to discard). A frame is never passed on half-decapsulated.
// Outer UDP and GRE checksums are not verified: a raw socket sees a packet before the UDP layer
// does, and one generated on this host and looped over a veth carries only a partial checksum
// (CHECKSUM_PARTIAL), so a check would drop good frames. The inner frame keeps its own
// end-to-end checksums; the IPv4 header checksum and the link's FCS were verified.
#pragma once

#include <cstddef>
#include <cstdint>

#include "datapath/counters.hpp"

namespace brisk {

enum class TunnelType : std::uint8_t { kVxlan, kGre };

inline constexpr std::uint16_t kVxlanUdpPort = 4789;       // IANA
inline constexpr std::uint16_t kGreProtoTeb = 0x6558;      // transparent Ethernet bridging
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoGre = 47;
inline constexpr std::uint32_t kVxlanMaxVni = 0xffffff;
inline constexpr std::size_t kVxlanHeaderLen = 8;
inline constexpr std::size_t kMaxTunnelHeaderLen = 8;      // what tunnel_header() may write
// Bytes the underlay adds in front of an inner frame, without an inner 802.1Q tag:
// IPv4 20 + UDP 8 + VXLAN 8 / IPv4 20 + GRE 4 (+4 with a key).
inline constexpr std::size_t kVxlanOverhead = 36;
inline constexpr std::size_t kGreOverhead = 28;  // with a key

// What identifies one tunnel's traffic.
struct TunnelKey {
  TunnelType type = TunnelType::kVxlan;
  std::uint32_t remote = 0;  // IPv4 address of the far end, network byte order
  std::uint32_t key = 0;     // VXLAN: the VNI (0 when absent); GRE: the key
  bool has_key = false;      // GRE: a key field is sent and expected (VXLAN ignores this)
};

// Write the tunnel header for one frame into `out` (kMaxTunnelHeaderLen bytes available).
// Returns its length.
std::size_t tunnel_header(const TunnelKey& t, std::uint8_t* out) noexcept;

// The UDP source port (host order) of a VXLAN packet carrying `frame`: a hash of its inner
// flow in 32768..60999 (bpf/brisk_flow_hash.h, the same function the XDP fast path uses).
std::uint16_t vxlan_source_port(const std::uint8_t* frame, std::size_t len) noexcept;

// Write the 8-byte UDP header of a VXLAN packet whose UDP payload (VXLAN header and inner
// frame) is `payload_len` bytes: source port `sport`, destination 4789, checksum 0 (RFC 7348
// over IPv4, what the kernel's vxlan device sends by default).
void vxlan_udp_header(std::uint8_t* out, std::uint16_t sport, std::size_t payload_len) noexcept;

enum class DecapStatus : std::uint8_t { kOk, kForeign, kDrop };

struct DecapResult {
  DecapStatus status = DecapStatus::kForeign;
  Drop reason = Drop::kCount;  // kDrop only
  std::uint32_t offset = 0;    // kOk only: the inner Ethernet header's offset in the packet
};

// `pkt`: an IPv4 packet of `len` bytes, header included. See the top of this file.
DecapResult tunnel_decap(const TunnelKey& t, const std::uint8_t* pkt, std::size_t len) noexcept;

}  // namespace brisk
