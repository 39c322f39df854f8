// Internet checksums and completion of partial (offloaded) TCP/UDP checksums.
//
// Why: a peer with checksum offload (a veth, a VM's tap) hands the switch frames whose TCP or
// UDP checksum holds only the folded pseudo-header sum (Linux CHECKSUM_PARTIAL), expecting
// hardware to finish it. A port that cannot carry that fact to its receiver (AF_XDP, AF_PACKET
// without vnet_hdr, a tap without vnet_hdr) must finish the checksum in software, or TCP
// through the switch fails.
//
//   complete_checksum_at()  exact: the driver knows csum_start/csum_offset (virtio_net_hdr).
//   complete_partial_l4()   heuristic, for drivers with no metadata (AF_XDP): an IPv4/IPv6
//                           TCP/UDP frame whose checksum field equals the folded pseudo-header
//                           sum is completed. A frame whose correct checksum happens to equal
//                           that value is rewritten with the same value, so complete frames
//                           are never damaged.
#pragma once

#include <cstddef>
#include <cstdint>

namespace brisk {

// Ones'-complement sum of `len` bytes (big-endian 16-bit words) added to `sum`.
std::uint32_t csum_add(const std::uint8_t* p, std::size_t len, std::uint32_t sum);
std::uint16_t csum_fold(std::uint32_t sum);

// Store ~fold(sum(frame[start..len))) at frame[start + offset]. false if out of bounds.
bool complete_checksum_at(std::uint8_t* frame, std::size_t len, std::size_t start,
                          std::size_t offset);

// Complete a partial TCP/UDP checksum in an Ethernet frame (optionally 802.1Q-tagged).
// Returns true if the frame was changed.
bool complete_partial_l4(std::uint8_t* frame, std::size_t len);

}  // namespace brisk
