// Offloads in software: what a NIC or the receiving kernel would do with a frame's Offload
// metadata (datapath/frame.hpp) when the port it leaves through cannot carry it.
//
//   VnetHdr            struct virtio_net_hdr as taps (IFF_VNET_HDR) and packet sockets
//                      (PACKET_VNET_HDR) read and write it; from_vnet()/to_vnet() convert.
//   plan_gso()         how a super-frame is cut (TCP over IPv4/IPv6, UDP_L4).
//   build_segment()    one segment, headers fixed up, with a complete L4 checksum.
//   finish_checksum()  complete a partial L4 checksum in place (Frame::off says where).
//
// All functions are allocation-free and noexcept: they run on workers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "datapath/frame.hpp"

namespace brisk {

// struct virtio_net_hdr (native byte order on the little-endian hosts brisk runs on).
// <linux/virtio_net.h> is not C++-clean (a member named `class`), hence this definition.
struct VnetHdr {
  std::uint8_t flags;
  std::uint8_t gso_type;
  std::uint16_t hdr_len;
  std::uint16_t gso_size;
  std::uint16_t csum_start;
  std::uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10);

// The metadata a received header describes, for a frame whose bytes start `shift` bytes later
// than the kernel's (4: a stripped 802.1Q tag the driver put back).
Offload from_vnet(const VnetHdr& h, std::uint32_t shift = 0) noexcept;
// The header to send with `off` for a frame whose wire bytes start at data + 0 but whose
// L3 moved by `shift` bytes on the way out (+4 a tag pushed, -4 a tag popped).
VnetHdr to_vnet(const Offload& off, int shift = 0) noexcept;

// Whether brisk can honour `off` (else the frame is dropped as kBadOffload): a GSO type it can
// segment (TCP over IPv4/IPv6, with or without ECN; UDP_L4) with a segment size, or none.
inline bool offload_ok(const Offload& off) noexcept {
  const std::uint8_t t = off.gso_type & static_cast<std::uint8_t>(~Offload::kGsoEcn);
  if (t == Offload::kGsoNone) return off.gso_type == Offload::kGsoNone;
  if (off.gso_size == 0) return false;
  if (t == Offload::kGsoUdpL4) return (off.gso_type & Offload::kGsoEcn) == 0;
  return t == Offload::kGsoTcpV4 || t == Offload::kGsoTcpV6;
}

// Where the IP and TCP/UDP headers of an Ethernet frame (possibly 802.1Q/802.1ad tagged) are:
// IPv4 (not a fragment) or IPv6 without extension headers, with `proto`'s fixed header (20
// bytes of TCP, 8 of UDP) inside the frame; l4_len is the TCP header's own length (data
// offset), 8 for UDP. false for anything else or malformed.
struct L4Headers {
  std::uint32_t l3 = 0;      // offset of the IP header
  std::uint32_t l4 = 0;      // offset of the TCP/UDP header
  std::uint32_t l4_len = 0;  // its length
  std::uint8_t proto = 0;    // 6 (TCP) or 17 (UDP)
  bool ipv6 = false;
};
bool parse_l4(const std::uint8_t* frame, std::size_t len, L4Headers& h) noexcept;

// How a GSO super-frame (an Ethernet frame, possibly 802.1Q/802.1ad tagged) is cut.
struct GsoPlan {
  std::uint32_t l3 = 0;       // offset of the IP header
  std::uint32_t l4 = 0;       // offset of the TCP/UDP header
  std::uint32_t hdr_len = 0;  // bytes of headers copied into every segment
  std::uint32_t mss = 0;      // payload bytes per segment (the last may be shorter)
  std::uint32_t segments = 0;
  std::uint8_t proto = 0;  // 6 (TCP) or 17 (UDP)
  bool ipv6 = false;
};

// Plan the segmentation of `frame` (len bytes) with virtio gso_type/gso_size. Supports TCP over
// IPv4 or IPv6 (no extension headers) and UDP_L4; false for anything else or malformed.
bool plan_gso(const std::uint8_t* frame, std::size_t len, std::uint8_t gso_type,
              std::uint16_t gso_size, GsoPlan& plan) noexcept;

// Write segment `i` of the planned super-frame into `out` (capacity `cap`): headers with fixed
// IP length/id/checksum, TCP sequence and flags (FIN/PSH only on the last, CWR only on the
// first) or UDP length, and a complete L4 checksum. Returns its length, 0 if it does not fit.
std::size_t build_segment(const std::uint8_t* frame, std::size_t len, const GsoPlan& plan,
                          std::uint32_t i, std::uint8_t* out, std::size_t cap) noexcept;

// Complete a partial checksum (Offload::kCsumPartial) in place and clear the flag (see the
// contract in frame.hpp: the worker that owns the frame, for all its outputs). false, frame
// untouched, if the checksum field lies outside the frame.
bool finish_checksum(Frame& f) noexcept;

// The largest wire frame of each segment `f` would be cut into (its whole length without GSO).
std::uint32_t segment_wire_len(const Frame& f) noexcept;

// For drivers that hand over a GSO super-frame's bytes without its metadata (an AF_XDP socket
// fed by generic XDP): a TCP frame longer than wire_limit(mtu) can only be a super-frame of the
// sender's stack (TSO), whose checksum the kernel leaves partial (the pseudo-header sum). Sets
// f.off as the sender's virtio_net_hdr would have: NEEDS_CSUM at the TCP checksum, TCPv4/v6
// (+ECN when CWR is set), segments of the MTU. false (f.off untouched) for anything else.
bool mark_super_frame(Frame& f, std::uint32_t mtu) noexcept;

}  // namespace brisk
