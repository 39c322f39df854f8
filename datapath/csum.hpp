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

// Ones'-complement sum of `len` bytes read as big-endian 16-bit words (an odd last byte is
// the high half of a word), added to `sum`; not folded. Sums 8 bytes per step.
std::uint64_t csum_add(const std::uint8_t* p, std::size_t len, std::uint64_t sum) noexcept;
// Fold a sum to 16 bits (not complemented).
std::uint16_t csum_fold(std::uint64_t sum) noexcept;
// A checksum for the wire: the complement of the folded sum, with 0 sent as 0xffff (the same
// number in ones' complement; 0 means "no checksum" to UDP).
std::uint16_t csum_finish(std::uint64_t sum) noexcept;

// The value complete_checksum_at() would store, into `value`, leaving the frame as it is.
bool partial_checksum(const std::uint8_t* frame, std::size_t len, std::size_t start,
                      std::size_t offset, std::uint16_t& value) noexcept;
// What a NIC does for CHECKSUM_PARTIAL: sum frame[start, len) (the checksum field holds the
// pseudo-header sum) and store csum_finish() of it at frame[start + offset].
// false (frame untouched) if the field lies outside the frame.
bool complete_checksum_at(std::uint8_t* frame, std::size_t len, std::size_t start,
                          std::size_t offset) noexcept;

// Complete a partial TCP/UDP checksum in an Ethernet frame (optionally 802.1Q-tagged).
// Returns true if the frame was changed.
bool complete_partial_l4(std::uint8_t* frame, std::size_t len) noexcept;

}  // namespace brisk
