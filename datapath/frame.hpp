// Frames, batches and the per-worker frame pool.
//
// A Frame is one Ethernet frame in a fixed 2 KiB buffer with headroom in front of it, so a
// VLAN tag or a tunnel header can be pushed without a copy, or, when it is longer than that
// buffer holds (a jumbo frame, a GSO super-frame of up to 64 KiB), in one of its pool's big
// buffers (FramePool::alloc_big). A Batch is a plain array of up to kBatchSize frame pointers.
//
// Ownership contract (the rule every stage follows):
//   * A FramePool belongs to exactly one worker thread. Only that thread allocates from it or
//     frees to it; there is no locking. Frames never migrate to another worker: a port that
//     hands a frame to another thread copies it.
//   * Every frame a worker receives leaves exactly once: it is queued for transmit on one or
//     more ports (each queueing takes a reference) and/or dropped with a counted reason. The
//     pipeline releases its own reference after the transmit flush; the frame returns to the
//     pool when the last reference is released.
//   * Ports never keep a frame after tx_burst() returns (they copy or write it out). A port may
//     take a frame's external buffer (see below) when the caller hands it over
//     (TxItem::handover, datapath/port.hpp); the Frame object itself always stays the caller's.
//
// External buffers: a driver may receive into memory of its own and lend it to a Frame instead
// of copying (AF_XDP: a chunk of the worker's UMEM, datapath/umem_pool.hpp; AF_PACKET: its
// ring; vhost-user: an mbuf of the port's pool, datapath/vhost_port.hpp). Such a frame has
// `ext` set: `data` points into that memory, not into `buf`, and when the frame returns to the
// pool the buffer goes back to its owner (ext->recycle(ext_handle)) on the same worker thread.
// A port that takes the buffer for transmission clears `ext` (the buffer is then the port's).
//
// Big buffers: a frame longer than kMaxFrameLen lives in one contiguous big buffer of its
// pool (kMaxBigFrameLen bytes after the same headroom), lent like any external buffer: `ext`
// is the pool's own BufferOwner, and the buffer returns to the pool with the frame. One
// buffer, not a chain: every stage reads headers at `data` as for any frame, and a driver
// hands the whole frame to one writev/sendmsg. A flood or mirror shares the big buffer by
// reference like any frame; a port that cannot take a frame that big gets software segments
// (datapath/offload.hpp), made into new frames, never the original cut.
//
// Offload metadata (Frame::off): what a virtio_net_hdr says about the frame, as the port it
// came in on reported it (a tap with IFF_VNET_HDR, an AF_PACKET socket with PACKET_VNET_HDR,
// a vhost-user guest through DPDK's mbuf flags, datapath/vhost_offload.hpp):
//   * kCsumPartial: the L4 checksum at data[csum_start + csum_offset] holds only the
//     pseudo-header sum; whoever puts the frame on a wire that cannot carry that fact completes
//     it (datapath/offload.hpp). The worker that owns the frame may complete it in place, for
//     all its outputs at once: it then clears kCsumPartial in the same step, so every later
//     output sees consistent bytes and metadata (earlier outputs already copied their bytes).
//   * gso_type/gso_size: a super-frame to be cut into segments of gso_size payload bytes by
//     the last device that can (the receiving kernel, a peer's NIC) or by brisk when the output
//     port cannot take it.
//   Offsets count from `data` as the pipeline sees the frame (with any 802.1Q tag in it); a
//   driver adds or subtracts 4 when it pushes or pops a tag on the way out.
//   A frame without metadata (off == Offload{}) is complete and at most one segment long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "brisk/types.hpp"

namespace brisk {

// Memory a Frame can borrow (see "External buffers" above). recycle() runs on the worker that
// owns the FramePool the frame belongs to.
class BufferOwner {
 public:
  virtual void recycle(std::uint64_t handle) noexcept = 0;

 protected:
  ~BufferOwner() = default;
};

inline constexpr std::size_t kFrameBufSize = 2048;
inline constexpr std::size_t kFrameHeadroom = 128;
// Largest frame a buffer holds (without FCS): 1920 bytes, above 1518 + tags.
inline constexpr std::size_t kMaxFrameLen = kFrameBufSize - kFrameHeadroom;
// A big buffer: a 64 KiB GSO super-frame (65535 bytes of IP) with its Ethernet header and two
// 802.1Q tags, after the same headroom.
inline constexpr std::size_t kBigBufSize = 68 * 1024;
inline constexpr std::size_t kMaxBigFrameLen = kBigBufSize - kFrameHeadroom;
// Big buffers per worker pool: a batch in flight and its segments need a few; the rest absorbs
// floods and mirrors of super-frames. Untouched buffers cost no memory (pages are faulted in
// on first use).
inline constexpr std::size_t kDefaultBigBuffers = 128;

// Offload metadata of a frame (see the contract above). Field meanings follow
// struct virtio_net_hdr.
struct Offload {
  static constexpr std::uint8_t kCsumPartial = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t kCsumValid = 2;    // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr std::uint8_t kGsoNone = 0;      // VIRTIO_NET_HDR_GSO_*
  static constexpr std::uint8_t kGsoTcpV4 = 1;
  static constexpr std::uint8_t kGsoUdp = 3;       // UFO: never kept (dropped on receive)
  static constexpr std::uint8_t kGsoTcpV6 = 4;
  static constexpr std::uint8_t kGsoUdpL4 = 5;
  static constexpr std::uint8_t kGsoEcn = 0x80;

  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;  // may carry kGsoEcn
  std::uint16_t gso_size = 0;        // payload bytes per segment
  std::uint16_t csum_start = 0;      // from Frame::data
  std::uint16_t csum_offset = 0;     // from csum_start
  bool partial() const { return (flags & kCsumPartial) != 0; }
  bool gso() const { return gso_type != kGsoNone; }
  // Anything a port must be able to take (or brisk finish) before the frame hits a wire.
  bool pending() const { return partial() || gso(); }
};

struct alignas(64) Frame {
  std::uint8_t* data = nullptr;  // first byte of the Ethernet header
  std::uint32_t len = 0;         // bytes from data
  VlanId vlan = 0;               // VLAN the frame belongs to after ingress classification
  PortId in_port = kInvalidPort;
  std::uint16_t refs = 0;        // worker-local reference count (see contract above)
  std::uint16_t pool_index = 0;
  Offload off;                   // offload metadata (see above); empty: a complete frame
  BufferOwner* ext = nullptr;    // data lives in ext's memory (see above); nullptr: in buf
  std::uint64_t ext_handle = 0;  // what ext->recycle() is given back
  alignas(64) std::uint8_t buf[kFrameBufSize];

  // Reset for a new frame of `n` bytes placed after the headroom.
  void reset(std::uint32_t n) {
    data = buf + kFrameHeadroom;
    len = n;
    vlan = 0;
    in_port = kInvalidPort;
    refs = 1;
    off = Offload{};
  }
  // Only for frames in their own buffer (ext == nullptr).
  std::uint8_t* tail() { return buf + kFrameBufSize; }
  std::size_t headroom() const { return static_cast<std::size_t>(data - buf); }
};

struct Batch {
  Frame* f[kBatchSize];
  std::uint32_t n = 0;
};

// A fixed-size pool of frames owned by one worker. Allocation and free are O(1) pushes and
// pops on an index stack; bulk forms serve the receive and transmit paths. It also owns
// `big` big buffers (see "Big buffers" above), lent to frames by alloc_big().
class FramePool {
 public:
  explicit FramePool(std::size_t count, std::size_t big = kDefaultBigBuffers);
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // nullptr when empty (the caller counts a drop).
  Frame* alloc() noexcept {
    if (top_ == 0) return nullptr;
    Frame* f = &frames_[free_[--top_]];
    return f;
  }
  void free(Frame* f) noexcept {
    if (f->ext != nullptr) [[unlikely]] {
      f->ext->recycle(f->ext_handle);
      f->ext = nullptr;
    }
    free_[top_++] = f->pool_index;
  }
  // A frame of `n` bytes (n <= kMaxBigFrameLen) in a big buffer, reset as by Frame::reset;
  // nullptr when frames or big buffers are exhausted (the caller counts a drop).
  Frame* alloc_big(std::uint32_t n) noexcept {
    if (top_ == 0 || big_.top == 0) return nullptr;
    Frame* f = alloc();
    f->reset(n);
    const std::uint16_t b = big_.free[--big_.top];
    f->ext = &big_;
    f->ext_handle = b;
    f->data = big_.mem.get() + std::size_t{b} * kBigBufSize + kFrameHeadroom;
    return f;
  }
  // A frame for `n` bytes: in its own buffer when it fits, else in a big buffer.
  Frame* alloc_for(std::uint32_t n) noexcept {
    if (n <= kMaxFrameLen) {
      Frame* f = alloc();
      if (f != nullptr) f->reset(n);
      return f;
    }
    return n <= kMaxBigFrameLen ? alloc_big(n) : nullptr;
  }
  std::size_t big_available() const { return big_.top; }
  std::size_t big_capacity() const { return big_.free.size(); }
  // Drop one reference; the frame returns to the pool with the last one.
  void release(Frame* f) noexcept {
    if (--f->refs == 0) free(f);
  }
  std::size_t available() const { return top_; }
  std::size_t capacity() const { return count_; }

 private:
  // The big buffers, lent through the ordinary external-buffer path.
  struct BigBuffers final : BufferOwner {
    void recycle(std::uint64_t handle) noexcept override {
      free[top++] = static_cast<std::uint16_t>(handle);
    }
    std::unique_ptr<std::uint8_t[]> mem;  // count * kBigBufSize, not initialised
    std::vector<std::uint16_t> free;
    std::size_t top = 0;
  };

  std::size_t count_;
  BigBuffers big_;
  std::unique_ptr<Frame[]> frames_;
  std::vector<std::uint16_t> free_;
  std::size_t top_ = 0;
};

}  // namespace brisk
