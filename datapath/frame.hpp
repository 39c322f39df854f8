// Frames, batches and the per-worker frame pool.
//
// A Frame is one Ethernet frame in a fixed 2 KiB buffer with headroom in front of it, so a
// VLAN tag or a tunnel header can be pushed without a copy. A Batch is a plain array of up
// to kBatchSize frame pointers.
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
// of copying (AF_XDP: a chunk of the worker's UMEM, datapath/umem_pool.hpp). Such a frame has
// `ext` set: `data` points into that memory, not into `buf`, and when the frame returns to the
// pool the buffer goes back to its owner (ext->recycle(ext_handle)) on the same worker thread.
// A port that takes the buffer for transmission clears `ext` (the buffer is then the port's).
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

struct alignas(64) Frame {
  std::uint8_t* data = nullptr;  // first byte of the Ethernet header
  std::uint32_t len = 0;         // bytes from data
  VlanId vlan = 0;               // VLAN the frame belongs to after ingress classification
  PortId in_port = kInvalidPort;
  std::uint16_t refs = 0;        // worker-local reference count (see contract above)
  std::uint16_t pool_index = 0;
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
// pops on an index stack; bulk forms serve the receive and transmit paths.
class FramePool {
 public:
  explicit FramePool(std::size_t count);
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
  // Drop one reference; the frame returns to the pool with the last one.
  void release(Frame* f) noexcept {
    if (--f->refs == 0) free(f);
  }
  std::size_t available() const { return top_; }
  std::size_t capacity() const { return count_; }

 private:
  std::size_t count_;
  std::unique_ptr<Frame[]> frames_;
  std::vector<std::uint16_t> free_;
  std::size_t top_ = 0;
};

}  // namespace brisk
