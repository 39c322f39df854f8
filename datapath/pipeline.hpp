// Pipeline: what a worker does with one received batch.
//
//   parse + ingress VLAN (datapath/vlan.hpp) -> learn (datapath/learn.hpp)
//   -> forward: unicast or flood in the VLAN (datapath/forward.hpp)
//   -> mirror: copies to mirror destinations and captures (datapath/mirror.hpp), only on
//      bridges with a mirror; a mirror destination's own input is dropped (kMirrorDst)
//   -> egress VLAN + transmit (datapath/tx_queue.hpp)
//
// Conservation: every frame of the batch is either queued to at least one port or dropped
// with exactly one counted reason (datapath/counters.hpp). Frames sent to several ports are
// shared by reference, never copied here.
//
// The pipeline is a plain function over a WorkerContext and an immutable Snapshot: the worker
// thread calls it, and so do unit tests and benchmarks directly, with an injected clock.
#pragma once

#include <cstdint>
#include <memory>

#include "datapath/counters.hpp"
#include "datapath/events.hpp"
#include "datapath/frame.hpp"
#include "datapath/learn.hpp"
#include "datapath/snapshot.hpp"
#include "datapath/tx_queue.hpp"

namespace brisk {

// Token bucket for storm control; state of the worker that polls the port.
struct StormBucket {
  std::uint64_t tokens_milli = 0;  // thousandths of a frame
  std::uint64_t last_ns = 0;
  std::uint32_t rate = 0;          // the rate the bucket was filled for
};

struct WorkerContext {
  explicit WorkerContext(unsigned worker_id, std::size_t pool_frames = 4096)
      : id(worker_id), pool(pool_frames), storm(new StormBucket[kMaxPorts]) {}
  unsigned id;
  FramePool pool;
  WorkerCounters counters;
  LearnRing learn;      // worker -> control thread
  EventRing events;     // worker -> control thread (log-worthy drops)
  TxQueues tx;
  std::unique_ptr<StormBucket[]> storm;
  std::uint32_t now = 0;     // datapath clock in seconds, set per loop iteration
  std::uint64_t now_ns = 0;  // monotonic nanoseconds, set per loop iteration
  std::uint32_t event_second = 0, events_this_second = 0;

  // Count a drop on `port` and, for log-worthy reasons, tell the control thread (rate-limited).
  void drop(const Frame& f, Drop reason, PortId port, PortId out = kInvalidPort) noexcept;
  // Storm control: true if a flooded frame from `port` may pass at `pps` frames/s.
  bool storm_allows(PortId port, std::uint32_t pps) noexcept;
};

// Run the pipeline on `batch`, received on port `in`. Consumes every frame of the batch.
void process_batch(WorkerContext& ctx, const Snapshot& snap, PortId in, Batch& batch) noexcept;

// Receive from `in` and process until it has no more (at most `max_batches` batches).
// Returns frames received.
std::uint32_t poll_port(WorkerContext& ctx, const Snapshot& snap, PortId in,
                        unsigned max_batches = 4) noexcept;

}  // namespace brisk
