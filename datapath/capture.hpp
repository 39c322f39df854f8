// pcap capture: frames copied by workers into per-worker rings, written to a pcap file by a
// writer thread that is not a worker.
//
//   worker w --push()--> CaptureRing[w] --drain()--> Capture's FILE* (pcap, nanosecond magic)
//                        (one per worker)   (CaptureWriter thread, every ~1 ms)
//
// A worker never blocks and never allocates for a capture: push() copies the frame (up to the
// snap length) into a preallocated fixed-size slot, or returns false when the ring is full and
// the caller counts the copy as dropped (MirrorCounters::dropped). Nothing is lost silently:
// mirrored == written + dropped + (frames still queued), and after close() nothing is queued.
//
// CaptureRing contract (single producer, single consumer)
// -------------------------------------------------------
// * Producer: exactly one worker thread, the one whose id indexes Capture::rings_. It writes
//   slot contents, then publishes them with a release store of head_. It reads tail_ with
//   acquire (only when its cached copy says the ring looks full), so it never overwrites a slot
//   the consumer has not finished reading.
// * Consumer: one thread at a time: whoever holds CaptureWriter's mutex (the writer thread, or
//   the control thread closing a capture). The mutex orders successive consumers. It reads
//   head_ with acquire (only when its cached copy says the ring looks empty), reads the slot,
//   then releases it with a release store of tail_.
// * head_ and tail_ are monotonically increasing 64-bit counts (slot = count & mask); each
//   lives on its own cache line next to the owning side's cached copy of the other index.
// * Counters: pushed_/dropped_ are written by the producer only, written_/write_errors_ by the
//   consumer only, all relaxed; any thread may read them.
// * Lifetime: a Capture is created and destroyed on the control thread. The control thread
//   stops the writer from draining it (CaptureWriter::close) only after the capture left the
//   current snapshot and a QSBR grace period passed, so no worker can still push.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brisk/types.hpp"
#include "datapath/frame.hpp"

namespace brisk {

// pcap snap length written in the file header when the user asks for none: whole frames.
inline constexpr std::uint32_t kCaptureDefaultSnaplen = 65535;
// Per-worker ring memory (the slot count is the largest power of two that fits).
inline constexpr std::size_t kCaptureRingBytes = std::size_t{8} << 20;

struct CaptureSlotHeader {
  std::uint64_t ts_ns;    // CLOCK_MONOTONIC nanoseconds (converted to wall time when written)
  std::uint32_t caplen;   // bytes stored after the header
  std::uint32_t origlen;  // length of the frame on the wire (with the tag, if pushed)
};

class CaptureRing {
 public:
  // `slots` is rounded down to a power of two (at least 2); each slot holds `max_bytes` of frame.
  CaptureRing(std::size_t slots, std::uint32_t max_bytes);
  CaptureRing(const CaptureRing&) = delete;
  CaptureRing& operator=(const CaptureRing&) = delete;

  // Producer. Copies the frame with an 802.1Q tag for `tag` inserted after the MAC addresses
  // (tag 0: as is), truncated to max_bytes. False when the ring is full (nothing written).
  bool push(const Frame& f, VlanId tag, std::uint64_t ts_ns) noexcept {
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    if (h - tail_cache_ >= slots_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h - tail_cache_ >= slots_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    fill(slot(h), f, tag, ts_ns);
    head_.store(h + 1, std::memory_order_release);
    pushed_.store(pushed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }

  // Consumer. The oldest queued slot (header, then caplen bytes), or nullptr when empty.
  const CaptureSlotHeader* front() noexcept {
    const std::uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t == head_cache_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t == head_cache_) return nullptr;
    }
    return reinterpret_cast<const CaptureSlotHeader*>(slot(t));
  }
  // Consumer: release the slot front() returned.
  void pop() noexcept {
    tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  std::size_t slots() const { return slots_; }
  std::uint32_t max_bytes() const { return max_bytes_; }
  std::uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Approximate from any thread; exact for the consumer.
  std::uint64_t queued() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  std::uint8_t* slot(std::uint64_t i) noexcept { return mem_.get() + (i & (slots_ - 1)) * stride_; }
  void fill(std::uint8_t* s, const Frame& f, VlanId tag, std::uint64_t ts_ns) noexcept;

  std::size_t slots_;
  std::uint32_t max_bytes_;
  std::size_t stride_;
  std::unique_ptr<std::uint8_t[]> mem_;

  alignas(64) std::atomic<std::uint64_t> head_{0};  // producer writes
  std::uint64_t tail_cache_ = 0;                    // producer's copy of tail_
  std::atomic<std::uint64_t> pushed_{0}, dropped_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // consumer writes
  std::uint64_t head_cache_ = 0;                    // consumer's copy of head_
};

// One capture: a pcap file and one ring per worker.
class Capture {
 public:
  // Creates (truncates) `path`, never through a symbolic link, and writes the pcap file
  // header. Throws std::system_error.
  Capture(std::string path, std::uint32_t snaplen, unsigned workers,
          std::size_t ring_bytes = kCaptureRingBytes);
  // The same on `fd`, a file the caller opened for writing (control/capture_file.hpp decides
  // which files a client may write); `path` names it in listings. Takes ownership of fd, also
  // when it throws.
  Capture(int fd, std::string path, std::uint32_t snaplen, unsigned workers,
          std::size_t ring_bytes = kCaptureRingBytes);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Worker `w` only (see the ring contract). False: the ring was full, the copy is dropped.
  bool push(unsigned w, const Frame& f, VlanId tag, std::uint64_t mono_ns) noexcept {
    return rings_[w]->push(f, tag, mono_ns);
  }

  // Consumer only: write queued frames (oldest first across workers) to the file, at most
  // `max` of them, then flush the stdio buffer. Returns frames written.
  std::size_t drain(std::size_t max = 65536) noexcept;
  // Consumer only: drain everything, flush and close the file. Idempotent.
  void close() noexcept;

  const std::string& path() const { return path_; }
  std::uint32_t snaplen() const { return snaplen_; }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  std::uint64_t pushed() const;     // copies accepted by the rings
  std::uint64_t ring_full() const;  // copies refused because a ring was full
  std::uint64_t queued() const;     // accepted, not yet written
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }

 private:
  std::string path_;
  std::uint32_t snaplen_;
  std::int64_t wall_offset_ns_;  // CLOCK_REALTIME - CLOCK_MONOTONIC at creation
  std::vector<std::unique_ptr<CaptureRing>> rings_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> iobuf_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> written_{0}, write_errors_{0};
};

// The writer thread: drains every registered capture about once a millisecond (backing off to
// 10 ms when idle). Used by the control thread only; workers never touch it.
class CaptureWriter {
 public:
  CaptureWriter();
  ~CaptureWriter();  // stops the thread; captures still registered are not closed
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  void add(std::shared_ptr<Capture> c);
  // Drain what is left, flush and close `c`'s file, and stop draining it. Call only once no
  // worker can push to `c` any more (after a QSBR grace period).
  void close(const std::shared_ptr<Capture>& c);

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::shared_ptr<Capture>> caps_;
  std::thread thread_;
};

}  // namespace brisk
