// TunnelPort: a VXLAN or Ethernet-over-GRE tunnel to one remote IPv4 address, carried by the
// host's own IP stack through kernel sockets.
//
// Why kernel sockets: the underlay then follows the host's routes and neighbours (the kernel
// picks the output device and source address and resolves the next hop with ARP), fragments
// and reassembles, and works whether the output device is a port of brisk (an uplink trunk
// with the host address on a brisk tap) or not.
//
// Wire format (datapath/tunnel_codec.hpp): VXLAN on UDP 4789 with the key as VNI (0 when
// absent); GRE protocol 0x6558 with a key field only when a key was given. A tunnel port is a
// trunk of every VLAN with native VLAN 0: frames of VLAN 0 go untagged, others keep their
// 802.1Q tag inside the tunnel, as Open vSwitch does.
//
// Sockets
// -------
//   rx: one raw IPv4 socket per port (IPPROTO_UDP for VXLAN, IPPROTO_GRE for GRE) with a
//       classic BPF filter that passes only packets from the remote carrying this port's UDP
//       port/VNI or GRE protocol/key, so several tunnels (other remotes, other keys) each get
//       only their own traffic. Truncated packets pass the filter so that the port counts them.
//       recvmmsg() fills frame buffers directly; decapsulation moves Frame::data, no copy.
//   tx: the raw socket itself; the kernel writes the IPv4 header. For VXLAN brisk writes the
//       UDP header in front of the VXLAN header: source port from a hash of the inner flow
//       (vxlan_source_port(), bpf/brisk_flow_hash.h: the same function as the XDP fast path's;
//       ECMP and RSS between the tunnel ends spread the flows, as for the kernel's vxlan
//       device), destination 4789, checksum 0 (RFC 7348's recommendation over IPv4, the Linux
//       vxlan default; a checksum left to offload would reach a userspace peer unfinished).
//   VXLAN also holds a UDP socket bound to port 4789 (SO_REUSEPORT, shared by every VXLAN
//       port of the host) whose receive side drops everything by filter: it sends nothing and
//       exists so the kernel does not answer VXLAN packets with ICMP port unreachable.
//       sendmmsg() per batch; the tunnel header is constant per port (built once) and each
//       frame goes out as iovecs [UDP header][tunnel header][MACs][802.1Q tag][rest]: no copy
//       of the frame.
//
// MTU: the raw socket sends with IP_PMTUDISC_DONT (DF clear). An encapsulated frame larger than
// the underlay's MTU is fragmented by the kernel and reassembled by the far end's kernel before
// its socket or vxlan device sees it (the default of the Linux vxlan device, which also leaves
// DF clear); the receive side reassembles the same way. Nothing is dropped for size up to
// brisk's frame buffer (an inner frame above kMaxFrameLen is dropped as `oversize`).
//
// Thread-safety (see datapath/port.hpp)
// -------------------------------------
// * rx_burst(): one worker only (the snapshot's owner of the port). It uses the rx socket and
//   stack-local message arrays; it is the single writer of the driver drop counters.
// * tx_burst(): any worker, concurrently. It reads only immutable members (the TunnelFraming:
//   header template and destination address; the socket descriptor) and builds its message
//   arrays (with the per-frame UDP headers) on the stack; sendmmsg() on one socket from
//   several threads is safe (the kernel locks the socket per message), and each message is
//   one datagram, so frames never interleave.
// * Constructor and destructor: the control thread, outside any worker (QSBR, see port.hpp).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <string>

#include "datapath/port.hpp"
#include "datapath/tunnel_codec.hpp"

namespace brisk {

// TunnelFraming: the per-frame work of a TunnelPort around its two socket calls, without any
// socket, so that benchmarks (bench/datapath/tunnel_port_bench.cpp) measure exactly the code
// the port runs on every frame:
//   tx_burst() = for each chunk of up to kBatchSize items: encap() (VXLAN: the UDP header with
//                the flow's source port; header template, frame and 802.1Q tag as iovecs, no
//                copy), then sendmmsg();
//   rx_burst() = rx_post() (frames from the pool, their buffers as iovecs), recvmmsg(), then
//                rx_finish() (tunnel_decap() in place: Frame::data moves past the outer
//                headers; unusable packets go back to the pool with their drop reason).
// Immutable after construction (the header template and the destination are built once per
// port); every method is const and writes only the caller's arrays and frames, so any number
// of threads may use one instance at once (TunnelPort's tx_burst() contract relies on it);
// rx_post()/rx_finish() touch the caller's FramePool, so only that pool's worker calls them.
class TunnelFraming {
 public:
  explicit TunnelFraming(const TunnelKey& key);

  const TunnelKey& key() const { return key_; }
  std::size_t header_len() const { return hdr_len_; }
  const sockaddr_in& destination() const { return dst_; }

  // Message arrays of one sendmmsg(): [UDP header (VXLAN)][tunnel header][frame] or, when
  // the tag changes, [UDP header][tunnel header][MACs][802.1Q tag][rest of the frame].
  // Caller-owned (the stack).
  struct TxMsgs {
    mmsghdr msgs[kBatchSize];
    iovec iov[kBatchSize][5];
    std::uint8_t tags[kBatchSize][4];
    std::uint8_t udp[kBatchSize][8];
  };
  // Fill out.msgs[0..m) for items[0..m), m <= kBatchSize. The messages point into the frames,
  // into `out` and into this object: all must outlive the sendmmsg() call.
  void encap(const TxItem* items, std::uint32_t m, TxMsgs& out) const noexcept;

  // Message arrays of one recvmmsg(), one frame each. Caller-owned (the stack).
  struct RxMsgs {
    Frame* frames[kBatchSize];
    mmsghdr msgs[kBatchSize];
    iovec iov[kBatchSize];
  };
  // Where a received packet (its IPv4 header) starts in the frame buffer: with a 20-byte IPv4
  // header the inner frame of a VXLAN packet starts 100 bytes in, leaving room for 1948 bytes
  // of inner frame.
  static constexpr std::size_t kRxOffset = 64;
  // Take up to `max` (<= kBatchSize) frames from `pool` and point m.msgs at their buffers.
  // Returns how many were posted (fewer when the pool runs dry).
  std::uint32_t rx_post(FramePool& pool, std::uint32_t max, RxMsgs& m) const noexcept;
  // After recvmmsg() filled `received` of the `posted` messages: decapsulate each, put the
  // good frames (Frame::data/len = the inner frame) into `out` and return how many. Every
  // other posted frame returns to `pool`; a packet that was this tunnel's but unusable (or
  // truncated by the buffer, kOversize) adds its reason to drops[*ndrops++] (kBatchSize room).
  // Foreign traffic is freed silently.
  std::uint32_t rx_finish(FramePool& pool, RxMsgs& m, std::uint32_t posted, std::uint32_t received,
                          Frame** out, Drop* drops, std::uint32_t* ndrops) const noexcept;

 private:
  TunnelKey key_;
  sockaddr_in dst_{};
  std::uint8_t hdr_[kMaxTunnelHeaderLen] = {};
  std::size_t hdr_len_ = 0;
};

class TunnelPort final : public Port {
 public:
  // Opens and configures the sockets. Throws std::system_error with a one-line message
  // (no permission for raw sockets, UDP port 4789 taken by a kernel vxlan device...).
  TunnelPort(std::string name, const TunnelKey& key);
  ~TunnelPort() override;

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;
  int wait_fd() const noexcept override { return rx_fd_; }
  const TunnelKey& key() const { return framing_.key(); }

 private:
  TunnelFraming framing_;
  int rx_fd_ = -1;   // raw: receives and sends
  int udp_fd_ = -1;  // VXLAN: holds UDP port 4789 (see "Sockets"); -1 for GRE
};

}  // namespace brisk
