// Qsbr: quiescent-state-based reclamation for configuration snapshots, ports and tables.
//
// Contract
// --------
// * Workers (ids 0..kMaxWorkers-1) call quiescent(w) between batches, when they hold no
//   pointer obtained from a snapshot. A worker about to block calls offline(w) first and
//   online(w) after waking, before it loads the snapshot pointer again.
// * The control thread (one thread) replaces a shared pointer with a release store, then calls
//   retire() which returns an epoch E; once safe(E) is true no worker can still hold the old
//   pointer, and the object may be freed.
//
// Memory order: retire() is a seq_cst fetch_add, ordered after the pointer store. A worker that
// stores seen >= E has loaded the global epoch after that increment, so any snapshot load it
// makes afterwards observes the new pointer. Its earlier uses of the old pointer happen before
// its release store of `seen`, which safe() reads with acquire. online()/offline() and safe()
// use seq_cst so a worker coming online either is seen by safe() or sees the new pointer.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "brisk/types.hpp"

namespace brisk {

class Qsbr {
 public:
  static constexpr std::uint64_t kOffline = 0;

  void quiescent(unsigned w) noexcept {
    slots_[w].seen.store(global_.load(std::memory_order_acquire), std::memory_order_release);
  }
  void offline(unsigned w) noexcept { slots_[w].seen.store(kOffline, std::memory_order_seq_cst); }
  void online(unsigned w) noexcept {
    slots_[w].seen.store(global_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }

  std::uint64_t retire() noexcept { return global_.fetch_add(1, std::memory_order_seq_cst) + 1; }
  bool safe(std::uint64_t epoch) const noexcept {
    for (const auto& s : slots_) {
      std::uint64_t seen = s.seen.load(std::memory_order_seq_cst);
      if (seen != kOffline && seen < epoch) return false;
    }
    return true;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> seen{kOffline};
  };
  alignas(64) std::atomic<std::uint64_t> global_{1};
  std::array<Slot, kMaxWorkers> slots_{};
};

}  // namespace brisk
