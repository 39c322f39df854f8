// AfPacketPort: an existing network device (a veth end, a VM's tap held by QEMU, a NIC)
// attached through an AF_PACKET socket (an OVS "system" port). brisk does not own the device:
// it neither creates, deletes nor sets it up; it sees every frame the device receives and
// sends frames out of it.
//
// Socket setup (constructor, control thread)
//   * SOCK_RAW, TPACKET_V3 receive ring of kRingBlocks blocks of kRingBlockSize bytes, mmap'ed;
//     a block is handed to us when full or after kBlockTimeoutMs. Bound to the device with
//     ETH_P_ALL only after the ring exists, so nothing is queued before that.
//   * PACKET_IGNORE_OUTGOING: frames the host itself sends out of the device are not ours.
//   * PACKET_MR_PROMISC membership: the device is promiscuous while the socket is open (the
//     kernel drops the membership when the socket closes, whatever happens to brisk).
//   * PACKET_VNET_HDR: each received frame is preceded in the ring by a struct virtio_net_hdr
//     that tells what the kernel left for "hardware" to finish; rx_burst keeps it as the
//     frame's Offload metadata (datapath/frame.hpp), and the frame stays whole:
//       - VIRTIO_NET_HDR_F_NEEDS_CSUM (CHECKSUM_PARTIAL, what a veth or tap peer with default
//         offloads sends): the TCP/UDP checksum field holds only the pseudo-header sum.
//       - gso_type != NONE (TSO/USO super-frame, up to 64 KiB, from a peer with TSO on, or
//         GRO on a NIC): copied whole into a big buffer. Other GSO kinds (UFO, unknown) are
//         dropped and counted (kBadOffload); the kernel itself drops GSO kinds virtio_net_hdr
//         cannot express (tunnels, fraglist).
//     On transmit the socket takes the same header: tx_burst sends each frame's metadata, and the
//     kernel segments or checksums for the device when it cannot (tx caps: all).
//   * 802.1Q: the kernel strips a received frame's outer VLAN tag into the ring's tp_vlan_tci
//     (TP_STATUS_VLAN_VALID); rx_burst puts the tag back (with its TPID when the kernel reports
//     one), so the pipeline sees the frame as it was on the wire.
//
// I/O
//   * rx_burst (one worker) walks the ring without system calls: frames are copied into pool
//     frames, a block goes back to the kernel once every frame in it has been consumed; the
//     position (block, frame) is kept across calls, so `max` and an empty pool are honoured
//     without losing anything.
//   * tx_burst (any worker, concurrently) is one sendmmsg(2) per up to kBatchSize frames
//     (afpacket::send_frames); each message is an independent, atomic packet send, so no lock
//     is needed. A tag to push goes in its own iovec. Frames not sent (link down, socket
//     buffer full, dropped by the qdisc, too big) are the difference between n and the
//     return value.
//   * Sends pass the device's qdisc (dev_queue_xmit): PACKET_QDISC_BYPASS is never set, so a
//     qdisc someone puts on the device (tc qdisc ... tbf) shapes brisk's output, as it does
//     the kernel bridge's.
//   * wait_fd() is the socket: POLLIN when a block is ready.
//   * Big frames (longer than a Frame's own buffer: jumbo frames, GSO super-frames) are not
//     copied: the Frame borrows the ring (Frame::ext is the port, ext_handle the block; see
//     datapath/frame.hpp). A block goes back to the kernel when the walk has left it and the
//     last borrower is released (recycle()); both happen on the rx worker, which owns every
//     frame it received until the end of the batch, so no lock or atomic is needed. The walk
//     never enters a block still lent from its last lap.
//
// Fast path (with the fast path's shared maps given, datapath/xdp_fastpath.hpp): brisk's tc
// program (BRISK_TC_PROG, an instance of brisk_xdp.o with no XDP entry point) at the device's
// clsact ingress forwards learned unicast between accelerated ports in the kernel, as the skb
// itself (bpf_redirect), super-frames whole; no XDP program runs on the device, so nothing is
// copied for it and a veth's peer keeps its offloads. An AF_PACKET socket sees a frame before
// tc does, so the receive socket gets BRISK_SOCK_PROG as its filter (SO_ATTACH_BPF, before
// bind()): it keeps from the socket exactly what the tc program will take (the same decision
// on the same maps). tc_attached() says whether both are in place (Switch then publishes the
// port with BRISK_FP_SKB; until then the filter passes every frame). When the object cannot
// be loaded or attached the port works without the fast path; fastpath_error() says why.
//
// Failure
//   * Constructor: std::system_error whose message names the device ("no such device: X",
//     "not an Ethernet device", EPERM without CAP_NET_RAW).
//   * The device vanishing later (deleted, its namespace deleted, moved to another namespace):
//     the kernel unbinds the socket. tx_burst sees ENXIO/ENODEV; rx_burst checks the binding
//     every kIdleCheckEvery empty calls (getsockname: ifindex becomes -1; SO_ERROR is read
//     at the same time so a sticky ENETDOWN does not keep poll(2) returning POLLERR). Either
//     marks the port failed. An administratively down link (ENETDOWN) is not a failure: its
//     frames are tx errors and receiving resumes when the link comes back up.
//
// Limits: frames longer than kMaxBigFrameLen (with a re-inserted tag) are dropped and counted
// (Stats, and the port's `oversize` drop). No allocation, exception or logging in
// rx_burst/tx_burst.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "datapath/port.hpp"

namespace brisk {

struct XdpSharedMaps;

// Helpers of the AF_PACKET driver, for any packet-socket transmit.
namespace afpacket {

// Send `n` frames (tags pushed or popped as the items say) through the packet socket `fd`
// (PACKET_VNET_HDR set: each frame's offload metadata goes in front of it, datapath/offload.hpp), one
// sendmmsg(2) per up to kBatchSize frames, without blocking. Returns how many the kernel took.
// A frame it refuses alone (longer than the MTU) is skipped; an error that would refuse the
// rest too stops the burst and is left in `err` (else 0): ENXIO/ENODEV/EBADF/EBADFD (the
// device is gone), ENETDOWN, EAGAIN (socket buffer full), ENOBUFS (the qdisc dropped it).
// Any thread; the kernel makes each message an atomic send.
std::uint32_t send_frames(int fd, const TxItem* items, std::uint32_t n, int& err) noexcept;

// A packet socket for send_frames() to the device `ifindex`: SOCK_RAW, non-blocking,
// PACKET_VNET_HDR, bound with protocol 0 (nothing is ever queued for reading). Its sends go
// through dev_queue_xmit and the device's qdisc (PACKET_QDISC_BYPASS is never set). Returns the
// descriptor or a negative errno.
int open_sender(int ifindex) noexcept;

}  // namespace afpacket

class AfPacketPort final : public Port, private BufferOwner {
 public:
  static constexpr std::uint32_t kRingBlockSize = 256 * 1024;  // holds a 64 KiB super-frame
  static constexpr std::uint32_t kRingBlocks = 16;             // 4 MiB of ring
  static constexpr std::uint32_t kRingFrameSize = 2048;
  static constexpr std::uint32_t kBlockTimeoutMs = 1;
  static constexpr std::uint32_t kIdleCheckEvery = 64;

  // Driver counters, written by the rx worker only (relaxed), readable from any thread.
  struct Stats {
    std::uint64_t rx_csum_partial = 0;    // frames with a partial checksum (kept as such)
    std::uint64_t rx_gso_frames = 0;      // super-frames received whole
    std::uint64_t rx_gso_dropped = 0;     // offloads brisk cannot honour (UFO, unknown GSO)
    std::uint64_t rx_oversize = 0;        // frames longer than a Frame holds
    std::uint64_t rx_truncated = 0;       // ring copy shorter than the frame
  };
  // Kernel socket statistics since the last call (PACKET_STATISTICS resets them): frames the
  // kernel saw and frames it dropped because the ring was full. Control thread.
  struct KernelStats {
    std::uint64_t packets = 0;
    std::uint64_t drops = 0;
    std::uint64_t freeze_q_cnt = 0;
  };

  // Attaches to the existing device `ifname` in the current network namespace, with the fast
  // path's tc program and socket filter when `fastpath_maps` is given (see "Fast path").
  // Throws std::system_error naming the device on failure.
  explicit AfPacketPort(const std::string& ifname, const XdpSharedMaps* fastpath_maps = nullptr);
  ~AfPacketPort() override;

  std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept override;
  std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept override;
  int wait_fd() const noexcept override { return fd_; }

  int ifindex() const override { return ifindex_; }
  // The fast path's tc program and socket filter are in place (control thread).
  bool tc_attached() const;
  // Why they are not, when the fast path was asked for ("" otherwise).
  const std::string& fastpath_error() const { return fp_error_; }
  PortInfo info() const override {
    return {"afpacket", QdiscPath::kAlways, true, true, false, false, tc_attached()};
  }
  // stats() as counters.
  void describe(DriverFigures& out) const override;
  Stats stats() const;
  KernelStats kernel_stats();

 private:
  struct Counter {
    std::atomic<std::uint64_t> v{0};
    void add(std::uint64_t n) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
  };
  enum class Step : std::uint8_t { kDone, kNeedRoom };

  struct FastpathHooks;  // afpacket_port.cpp: the object instance and the tc attachment

  void attach_filter(const XdpSharedMaps& maps, const std::string& ifname);
  void recycle(std::uint64_t block) noexcept override;
  void give_back(std::uint32_t block) noexcept;
  void close_all() noexcept;
  void check_device() noexcept;
  bool fatal(int err) noexcept;
  // Copy the ring frame at pkt_ into a pool frame; kNeedRoom when out of `max` or pool frames
  // (it is taken on the next call).
  Step take_packet(FramePool& pool, Frame** out, std::uint32_t max, std::uint32_t& n) noexcept;

  int fd_ = -1;
  int ifindex_ = 0;
  std::unique_ptr<FastpathHooks> fp_;  // control thread only
  std::string fp_error_;
  std::uint8_t* ring_ = nullptr;
  std::size_t ring_len_ = 0;

  // rx position (rx worker only).
  std::uint32_t block_ = 0;       // current block index
  std::uint32_t pkts_left_ = 0;   // frames not yet consumed in the current block (0: none open)
  std::uint8_t* pkt_ = nullptr;   // next ring frame (tpacket3_hdr) in the current block
  std::uint32_t idle_calls_ = 0;
  std::uint32_t lent_[kRingBlocks] = {};  // frames borrowing each block (rx worker only)

  Counter csum_partial_, gso_frames_, gso_dropped_, oversize_, truncated_;
};

}  // namespace brisk
