// TapPort: a kernel TAP device that brisk creates and holds (a "host tap", like an OVS
// internal port). The device lives as long as brisk keeps the file descriptor: closing it
// removes the device, wherever it is. The user may move the device into another network
// namespace (`ip link set mega_tap0 netns X`); the descriptor keeps working there.
//
// I/O: nonblocking readv(2) per received frame and writev(2) per sent frame (a tag to push
// goes in its own iovec, so floods need no copy). A write(2) on a TAP fd is atomic per frame,
// which makes tx_burst() safe from several workers at once.
//
// Offloads: the device is opened with IFF_VNET_HDR and TUNSETOFFLOAD (checksum, TSO4/6, ECN,
// and USO4/6 where the kernel has them), so the host stack hands brisk partial checksums and
// 64 KiB GSO super-frames, and takes them back the same way: every frame read or written is
// preceded by a struct virtio_net_hdr (datapath/offload.hpp), kept as the frame's Offload
// metadata. A frame longer than a frame buffer is read into a big buffer; one longer than
// that is dropped and counted as the port's `oversize`, never forwarded cut; an offload brisk
// cannot honour (UFO) is dropped as `bad_offload`.
//
// MTU: read_mtu() finds the device wherever it is now (TUNGETDEVNETNS: its namespace;
// TUNGETIFF: its current name), on the control thread.
//
// A read or write that fails with EBADFD/ENODEV/ENXIO means the device is gone (its namespace
// was deleted, or someone removed it): the port marks itself failed and the control thread
// removes it. EIO on write means the link is down (a freshly moved device is down until its
// new owner sets it up): the frame is counted as a tx error.
#pragma once

#include <string>

#include "datapath/port.hpp"

namespace brisk {

class TapPort final : public Port {
 public:
  // Creates the device `name` (<= 15 chars) and sets it up. Throws std::system_error with a
  // message naming the device on failure (name in use, no /dev/net/tun, no CAP_NET_ADMIN).
  TapPort(const std::string& name, PortKind kind);
  ~TapPort() override;

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;
  int wait_fd() const noexcept override { return fd_; }
  int ifindex() const override { return ifindex_; }
  std::uint32_t read_mtu() override;

 private:
  bool fatal(int err) noexcept;
  int fd_ = -1;
  int ifindex_ = 0;
  // read_mtu(): a datagram socket in the device's namespace, and that namespace's inode.
  int ns_sock_ = -1;
  unsigned long ns_ino_ = 0;
};

}  // namespace brisk
