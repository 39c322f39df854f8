// Datapath: the worker threads and what they share with the control thread.
//
// Threads and ownership
// ---------------------
// * N worker threads (ids 0..N-1). Worker w owns WorkerContext w (frame pool, counters, learn
//   ring producer side, tx staging) and polls the ports Snapshot::rx_by_worker[w] assigns it.
// * The control thread owns the SnapshotExchange (publish/reclaim), is the consumer of every
//   learn ring, reads counters, and advances the clock (seconds, relaxed store; workers read
//   it once per iteration).
// * Per iteration a worker loads the snapshot, polls its ports, then passes a QSBR quiescent
//   point. No locks, no allocation; syscalls are the ports' own I/O.
//
// Idle behaviour (PollMode::kAdaptive, the default): after kIdleSpins iterations without a
// frame, a worker goes offline for QSBR and sleeps in poll(2) on its ports' descriptors and its
// wake eventfd (the control thread kicks it after publishing a snapshot), at most 100 ms. This
// keeps a 2-core host usable; PollMode::kBusy never sleeps (lowest latency, one core per
// worker). Ports without a descriptor (memory ports) keep a worker spinning with yields.
// A port that had nothing in a round is skipped for 1, 2, 4 ... kMaxPortSkip rounds (its next
// frame resets that), so idle taps (a read(2) each) do not tax the busy ports of the worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "datapath/pipeline.hpp"
#include "datapath/qsbr.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

enum class PollMode : std::uint8_t { kAdaptive, kBusy };

class Datapath {
 public:
  static constexpr unsigned kIdleSpins = 2000;
  static constexpr unsigned kMaxPortSkip = 16;

  Datapath(unsigned workers, std::vector<int> cpus = {}, PollMode mode = PollMode::kAdaptive);
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  void start();
  void stop();
  // Control thread: publish a new configuration and wake sleeping workers.
  void publish(std::unique_ptr<Snapshot> s);
  void set_clock(std::uint32_t seconds) { clock_.store(seconds, std::memory_order_relaxed); }
  std::uint32_t clock() const { return clock_.load(std::memory_order_relaxed); }

  unsigned workers() const { return static_cast<unsigned>(ctx_.size()); }
  WorkerContext& context(unsigned w) { return *ctx_[w]; }
  SnapshotExchange& snapshots() { return snapshots_; }
  Qsbr& qsbr() { return qsbr_; }

 private:
  void run(unsigned w);
  void wake(unsigned w);

  Qsbr qsbr_;
  SnapshotExchange snapshots_{qsbr_};
  std::atomic<std::uint32_t> clock_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<WorkerContext>> ctx_;
  std::vector<int> wake_fds_;
  std::vector<int> cpus_;
  PollMode mode_;
  std::vector<std::thread> threads_;
};

}  // namespace brisk
