// Offload metadata between DPDK's vhost library and brisk frames: pure functions over mbuf
// fields (ol_flags, l2/l3/l4_len, tso_segsz) and the frame's bytes, used by VhostPort
// (datapath/vhost_port.hpp) and testable without a vhost device.
//
// Receive (dequeue). The port registers its socket with RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS:
// the library then reports a guest's virtio_net_hdr as receive flags. NEEDS_CSUM with the
// checksum in a TCP/UDP header becomes RTE_MBUF_F_RX_L4_CKSUM_NONE; any other NEEDS_CSUM (a
// tunnel's inner header, an unknown protocol) the library completes itself; a TCP super-frame
// (GSO TCPV4/TCPV6) becomes RTE_MBUF_F_RX_LRO with tso_segsz = gso_size. What the flags do not
// carry (csum_start and csum_offset, IPv4 or IPv6) is read from the frame's headers
// (parse_l4, datapath/offload.hpp). The guest is offered no UFO and no ECN (vhost_port.cpp),
// so any other super-frame is refused.
//
// Transmit (enqueue). For a frame with Offload metadata the port sets what
// rte_vhost_enqueue_burst() turns into the guest's virtio_net_hdr (virtio_enqueue_offload):
// RTE_MBUF_F_TX_TCP_SEG with IPV4/IPV6, l2/l3/l4_len and tso_segsz for a super-frame,
// RTE_MBUF_F_TX_TCP_CKSUM or UDP_CKSUM with l2/l3_len for a partial checksum. The library
// writes the pseudo-header sum into the L4 checksum field of the mbuf's first segment
// (rte_net_intel_cksum_prepare), so that segment must be the port's own copy of the headers.
// A partial checksum the library cannot describe (not at the TCP/UDP header's checksum field)
// or that the guest did not negotiate is completed by the port in software.
#pragma once

#include <cstdint>

#include "datapath/frame.hpp"
#include "datapath/port.hpp"

namespace brisk {

// The mbuf fields the mapping reads or writes (rte_mbuf's names).
struct MbufOffload {
  std::uint64_t ol_flags = 0;
  std::uint16_t l2_len = 0;
  std::uint16_t l3_len = 0;
  std::uint16_t l4_len = 0;
  std::uint16_t tso_segsz = 0;
};

// Receive: the metadata of a dequeued frame (`len` bytes at `frame`) from its mbuf's
// ol_flags and tso_segsz. false: metadata brisk cannot carry (the caller drops the frame,
// counted kBadOffload).
bool offload_from_mbuf(const MbufOffload& m, const std::uint8_t* frame, std::uint32_t len,
                       Offload& out) noexcept;

// Transmit: how a frame with metadata `off` goes to a guest that negotiated `caps` (txcap
// bits, vhost_tx_caps()). `frame`/`len` are the frame as the pipeline sees it; its wire bytes
// have the L3 header `shift` bytes later (+4: a tag pushed, -4: a tag popped).
enum class TxOffload : std::uint8_t {
  kNone,      // no metadata: a complete frame (out: all zero)
  kLibrary,   // out holds the mbuf fields that make the library write the virtio_net_hdr
  kSoftware,  // a partial checksum only, which the port completes (out: all zero)
  kRefuse,    // a super-frame the guest cannot take or that brisk cannot describe
};
TxOffload offload_to_mbuf(const Offload& off, const std::uint8_t* frame, std::uint32_t len,
                          int shift, std::uint8_t caps, MbufOffload& out) noexcept;

// The transmit capabilities (txcap bits) of a guest with negotiated virtio-net `features`:
// GUEST_CSUM: partial checksums; GUEST_TSO4/TSO6 (with GUEST_CSUM, as the specification
// requires): TCP super-frames. ECN and UFO are never offered.
std::uint8_t vhost_tx_caps(std::uint64_t features) noexcept;

// The longest frame the port sends to such a guest: a super-frame (kMaxBigFrameLen) when it
// negotiated TSO or mergeable receive buffers (its buffers then take any frame), else what a
// guest's single receive buffer takes (kMaxFrameLen + a tag).
std::uint32_t vhost_tx_max(std::uint64_t features) noexcept;

// Transmit: copy the first `head` wire bytes of `it` (tx_copy_head, datapath/port.hpp) to
// `dst`, and with `complete` also write the completed partial checksum of the frame
// (Frame::off: TxOffload::kSoftware) into that copy; the frame itself is only read. `rest`: where
// the remaining wire bytes start in the frame's data. false (nothing to send): the checksum
// field lies outside the frame or beyond `head`.
bool vhost_tx_head(std::uint8_t* dst, const TxItem& it, std::uint32_t head, bool complete,
                   std::uint32_t& rest) noexcept;

// virtio-net feature bits (virtio specification 5.1.3); <linux/virtio_net.h> clashes with
// DPDK's headers.
namespace vfeat {
inline constexpr std::uint64_t kCsum = 1ULL << 0;
inline constexpr std::uint64_t kGuestCsum = 1ULL << 1;
inline constexpr std::uint64_t kMtu = 1ULL << 3;
inline constexpr std::uint64_t kGuestTso4 = 1ULL << 7;
inline constexpr std::uint64_t kGuestTso6 = 1ULL << 8;
inline constexpr std::uint64_t kGuestEcn = 1ULL << 9;
inline constexpr std::uint64_t kGuestUfo = 1ULL << 10;
inline constexpr std::uint64_t kHostTso4 = 1ULL << 11;
inline constexpr std::uint64_t kHostTso6 = 1ULL << 12;
inline constexpr std::uint64_t kHostEcn = 1ULL << 13;
inline constexpr std::uint64_t kHostUfo = 1ULL << 14;
inline constexpr std::uint64_t kMrgRxbuf = 1ULL << 15;
}  // namespace vfeat

}  // namespace brisk
