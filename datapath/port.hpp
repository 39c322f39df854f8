// Port: the driver interface every kind of port implements (tap, memory, AF_XDP,
// AF_PACKET, vhost-user, DPDK, tunnels).
//
// Thread-safety contract
// ----------------------
// * rx_burst() is called by exactly one worker: the one the snapshot assigns the port to.
// * tx_burst() may be called by any worker concurrently (a flood from worker 1 and a unicast
//   from worker 2 to the same port). Drivers make that safe (a write(2) per frame is atomic on
//   a TAP fd; per-worker queues elsewhere). tx_burst() never keeps a frame after it returns
//   (it may keep a handed-over external buffer, see TxItem).
// * Construction, configuration and destruction happen on the control thread. A port is
//   destroyed only after every worker has passed a quiescent point since the last snapshot
//   that referenced it was replaced (QSBR), so no worker can still be inside rx/tx.
// * driver_drop(): a driver that discards a received frame itself (a tunnel port's malformed
//   encapsulation) counts it here, by reason. Only the worker that calls rx_burst() writes
//   (relaxed, single writer); the control thread reads and adds the counts to the port's
//   drop totals (Switch::totals).
// * Transmit capabilities (tx_caps) and the driver's longest frame (tx_max) are set by the
//   driver: most in their constructor, for good; a vhost-user port when its guest connects
//   (what the guest negotiated; datapath/vhost_port.hpp). They are atomics read relaxed by
//   workers: a worker may decide with the previous values for a moment, so a driver whose
//   values change must itself cope with a frame it can no longer take (the vhost-user port
//   refuses it, counted). The MTU is written by the control thread (set_mtu: the device's
//   MTU, re-read while the port lives) and read by workers (relaxed: a frame sent under the
//   old MTU for a moment is what the kernel bridge does too).
// * `failed` is set by a worker when the device vanished (read/write error such as EBADFD,
//   ENODEV, EIO); the control thread notices, logs and removes the port.
// * What a driver says about itself (info(), describe(), ifindex(); set_tx_via_qdisc() to
//   change it) is for the control thread only, and is read while the workers run: each value
//   is a constant of the port, a relaxed atomic load of a counter or flag the workers (or the
//   driver's own threads: vhost-user's events) write, or a system call on a descriptor the
//   control thread owns (AF_XDP's XDP_STATISTICS). A value may be a moment old; figures read
//   one after the other are not a consistent set (as `stats` has always read counters).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "brisk/types.hpp"
#include "datapath/counters.hpp"
#include "datapath/frame.hpp"

namespace brisk {

enum class PortKind : std::uint8_t { kTap, kInternal, kMemory, kSystem, kTunnel, kVhost };

// What a port's transmit path can carry of a frame's Offload metadata (datapath/frame.hpp).
// A frame needing more is finished by the transmit path first (TxQueues::flush: checksum
// completed, super-frame segmented in software, datapath/offload.hpp).
namespace txcap {
inline constexpr std::uint8_t kCsum = 1;  // partial checksums (NEEDS_CSUM)
inline constexpr std::uint8_t kTso4 = 2;  // TCP/IPv4 super-frames
inline constexpr std::uint8_t kTso6 = 4;  // TCP/IPv6 super-frames
inline constexpr std::uint8_t kUso = 8;   // UDP_L4 super-frames
inline constexpr std::uint8_t kEcn = 16;  // TCP super-frames with ECN (CWR) set
inline constexpr std::uint8_t kAll = kCsum | kTso4 | kTso6 | kUso | kEcn;
}  // namespace txcap

// Longest frame on the wire for an MTU: Ethernet header and one 802.1Q tag on top, as the
// kernel allows (is_skb_forwardable).
inline constexpr std::uint32_t wire_limit(std::uint32_t mtu) { return mtu + 14 + 4; }

std::string_view port_kind_name(PortKind k);

// The MTU of the device with `ifindex` in the caller's network namespace; 0 if unknown.
// Control thread (a system call).
std::uint32_t device_mtu(int ifindex) noexcept;

// The kernel driver of the device named `ifname` in the caller's network namespace ("veth",
// "tun", "virtio_net", ...: ethtool's GDRVINFO); empty if unknown. Control thread.
std::string device_driver(const std::string& ifname);

// One frame to send, the 802.1Q tag to push on the way out (push_vlan == 0: none), and
// whether the 802.1Q tag the frame carries at bytes 12..15 is removed on the way out
// (pop_tag: an access port's output of a customer-tagged frame, datapath/vlan.hpp; the
// pipeline sets it only for frames of at least 18 bytes with 0x8100 at byte 12). What goes
// on the wire is: data[0, 12) + [pushed tag] + data[12 + (pop_tag ? 4 : 0), len). The frame
// buffer is shared by every output of a flood and is never modified by a driver, except by
// the one it is handed over to:
// handover: this is the frame's last transmission and the caller gives up its data: a port
// whose memory holds the frame's external buffer (Frame::ext) may transmit it in place (tag
// pushed or popped right there) and keep the buffer (clearing Frame::ext). The caller must not
// read the frame's data after tx_burst() returns; the Frame itself is still released as usual.
// TxQueues::flush sets it for the item holding a frame's last reference.
struct TxItem {
  Frame* frame;
  VlanId push_vlan;
  bool pop_tag = false;
  bool handover = false;
};

// Where the part of a TxItem's frame after the MAC addresses starts, and the length on the
// wire (see TxItem).
// A frame too short for what the item asks (never produced by the pipeline) goes out as it is.
inline bool tx_as_is(const TxItem& it) {
  return (it.push_vlan == 0 && !it.pop_tag) || it.frame->len < (it.pop_tag ? 16u : 12u);
}
inline std::uint32_t tx_tail_offset(const TxItem& it) { return it.pop_tag ? 16 : 12; }
inline std::uint32_t tx_wire_len(const TxItem& it) {
  if (tx_as_is(it)) return it.frame->len;
  return it.frame->len + (it.push_vlan != 0 ? 4 : 0) - (it.pop_tag ? 4 : 0);
}

// Whether a port's transmissions pass the qdisc of its kernel device (a qdisc someone put on
// it: `tc qdisc replace dev D root tbf ...`; control/switch_qdisc.cpp).
enum class QdiscPath : std::uint8_t {
  kNone,        // no kernel device, or one brisk does not look at (DPDK, taps, tunnels)
  kAlways,      // every frame passes it (AF_PACKET: dev_queue_xmit)
  kSwitchable,  // only while set_tx_via_qdisc(true) is in effect (AF_XDP); see tx_via_qdisc
};

// What a driver is and can do, cheap to ask (no system call): the control thread asks on every
// configuration change (the fast path's sync, the qdisc watch).
struct PortInfo {
  std::string_view driver;  // "afxdp", "afpacket", "dpdk", "vhost-user", "tap", "tunnel", ...
  QdiscPath qdisc = QdiscPath::kNone;
  bool tx_via_qdisc = false;  // its output passes the device's qdisc now
  // The fast path (datapath/xdp_fastpath.hpp) knows the port's device: the kernel may forward
  // frames from and to it (AF_XDP, AF_PACKET).
  bool fastpath_device = false;
  // brisk's XDP program runs on the device (AF_XDP): it takes the fast path's XDP redirects and
  // mirror copies. xdp_native: in native (driver) mode, not generic.
  bool xdp_program = false;
  bool xdp_native = false;
  // brisk's tc program runs at the device's clsact ingress (AF_PACKET: with its socket filter).
  bool tc_attached = false;
  // The fast path can forward for the port: native XDP, or brisk's tc program (generic XDP's
  // half for what it would copy; an AF_PACKET port's only one).
  bool fastpath_capable() const {
    return fastpath_device && ((xdp_program && xdp_native) || tc_attached);
  }
};

// One figure a driver reports about itself for the listings and the metrics (control/views.hpp):
// `group` "" is a figure of its own, another group names a set shown together ("xsk": the
// AF_XDP socket's counters; "umem": its UMEM).
struct DriverFigure {
  enum class Type : std::uint8_t { kCounter, kGauge, kFlag, kText };
  std::string group;
  std::string name;
  Type type = Type::kCounter;
  std::uint64_t value = 0;  // kCounter, kGauge, kFlag (0 or 1)
  std::string text;         // kText
};
using DriverFigures = std::vector<DriverFigure>;

// Appending figures (drivers' describe()).
inline void add_counter(DriverFigures& f, std::string group, std::string name, std::uint64_t v) {
  f.push_back({std::move(group), std::move(name), DriverFigure::Type::kCounter, v, {}});
}
inline void add_gauge(DriverFigures& f, std::string group, std::string name, std::uint64_t v) {
  f.push_back({std::move(group), std::move(name), DriverFigure::Type::kGauge, v, {}});
}
inline void add_flag(DriverFigures& f, std::string group, std::string name, bool v) {
  f.push_back({std::move(group), std::move(name), DriverFigure::Type::kFlag, v ? 1u : 0u, {}});
}
inline void add_text(DriverFigures& f, std::string group, std::string name, std::string v) {
  f.push_back({std::move(group), std::move(name), DriverFigure::Type::kText, 0, std::move(v)});
}

class Port {
 public:
  Port(std::string name, PortKind kind) : name_(std::move(name)), kind_(kind) {}
  virtual ~Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // Receive up to `max` frames, allocated from `pool`, into `out`. Returns how many.
  virtual std::uint32_t rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept = 0;
  // Send `n` frames. Returns how many were accepted; the caller counts the rest as kTxError.
  virtual std::uint32_t tx_burst(const TxItem* items, std::uint32_t n) noexcept = 0;
  // A file descriptor that becomes readable when rx_burst() has work, or -1 (always poll).
  virtual int wait_fd() const noexcept { return -1; }

  const std::string& name() const { return name_; }
  PortKind kind() const { return kind_; }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  void mark_failed(int err) noexcept {
    error_.store(err, std::memory_order_relaxed);
    failed_.store(true, std::memory_order_release);
  }
  int error() const { return error_.load(std::memory_order_relaxed); }
  // The kernel device behind the port (0: none: memory, vhost-user, DPDK, tunnel ports).
  virtual int ifindex() const { return 0; }
  // What the driver is and can do (PortInfo; control thread, no system call).
  virtual PortInfo info() const { return {}; }
  // Its own figures, appended to `out` (control thread; may make system calls: the
  // listings and the metrics ask, not the per-change paths).
  virtual void describe(DriverFigures& out) const { (void)out; }
  // Send through the device's qdisc (on) or the driver's own path (off): a kSwitchable
  // driver switches, the others keep their only path. Returns "" or why it could not switch.
  virtual std::string set_tx_via_qdisc(bool on) {
    (void)on;
    return "";
  }
  std::uint8_t tx_caps() const { return tx_caps_.load(std::memory_order_relaxed); }
  // Longest frame the driver itself can write, whatever the MTU (its buffers). The transmit
  // path (TxQueues) never hands tx_burst() a longer one, nor Offload metadata beyond tx_caps().
  std::uint32_t tx_max() const { return tx_max_.load(std::memory_order_relaxed); }
  // Longest frame the port sends: its MTU's wire limit, within tx_max().
  std::uint32_t tx_limit() const {
    const std::uint32_t m = mtu();
    const std::uint32_t x = tx_max();
    return m == 0 || wire_limit(m) > x ? x : wire_limit(m);
  }
  // 0: no MTU known (a frame is limited only by what the driver can write).
  std::uint32_t mtu() const { return mtu_.load(std::memory_order_relaxed); }
  void set_mtu(std::uint32_t mtu) noexcept { mtu_.store(mtu, std::memory_order_relaxed); }
  // Control thread: the device's MTU now (0: unknown). A device in the host namespace by
  // default; a driver whose device may live elsewhere (a host tap moved into a namespace)
  // finds it there.
  virtual std::uint32_t read_mtu() { return device_mtu(ifindex()); }
  // Frames the driver discarded on receive, by reason (see the contract above). A driver
  // whose kernel side drops frames too (AF_XDP: brisk's XDP program) adds those.
  virtual std::uint64_t driver_drops(Drop d) const {
    return driver_drops_[static_cast<std::size_t>(d)].get();
  }

 protected:
  void driver_drop(Drop d, std::uint64_t n = 1) noexcept {
    driver_drops_[static_cast<std::size_t>(d)].add(n);
  }
  void set_tx_caps(std::uint8_t caps) noexcept { tx_caps_.store(caps, std::memory_order_relaxed); }
  void set_tx_max(std::uint32_t n) noexcept { tx_max_.store(n, std::memory_order_relaxed); }

 private:
  std::array<Counter, kDropCount> driver_drops_{};
  std::string name_;
  PortKind kind_;
  std::atomic<bool> failed_{false};
  std::atomic<int> error_{0};
  std::atomic<std::uint32_t> mtu_{0};
  std::atomic<std::uint32_t> tx_max_{kMaxBigFrameLen};
  std::atomic<std::uint8_t> tx_caps_{0};
};

// Write the 4-byte 802.1Q tag for `vlan` (priority 0) at `p`.
inline void write_vlan_tag(std::uint8_t* p, VlanId vlan) {
  p[0] = 0x81;
  p[1] = 0x00;
  p[2] = static_cast<std::uint8_t>((vlan >> 8) & 0x0f);
  p[3] = static_cast<std::uint8_t>(vlan & 0xff);
}

// Copy the first `head` bytes of the frame of `it` as it goes on the wire (tag pushed and/or
// popped) to `dst`; 16 <= head <= tx_wire_len(it) when a tag is pushed or popped. Returns the
// offset in the frame's data where the rest of the wire bytes (tx_wire_len(it) - head) start.
inline std::uint32_t tx_copy_head(std::uint8_t* dst, const TxItem& it, std::uint32_t head) {
  const Frame* f = it.frame;
  if (tx_as_is(it)) {
    __builtin_memcpy(dst, f->data, head);
    return head;
  }
  __builtin_memcpy(dst, f->data, 12);
  std::uint32_t at = 12;
  if (it.push_vlan != 0) {
    write_vlan_tag(dst + 12, it.push_vlan);
    at = 16;
  }
  const std::uint32_t tail = tx_tail_offset(it);
  __builtin_memcpy(dst + at, f->data + tail, head - at);
  return tail + head - at;
}

// Copy the frame of `it` as it goes on the wire (tag pushed and/or popped) to `dst`, which
// has room for tx_wire_len(it) bytes. Returns that length.
inline std::uint32_t tx_copy(std::uint8_t* dst, const TxItem& it) {
  const std::uint32_t len = tx_wire_len(it);
  tx_copy_head(dst, it, len);
  return len;
}

}  // namespace brisk
