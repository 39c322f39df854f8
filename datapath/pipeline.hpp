// Pipeline: what a worker does with one received batch.
//
//   parse + ingress VLAN (datapath/vlan.hpp) -> learn (datapath/learn.hpp)
//   -> forward: unicast or flood in the VLAN (datapath/forward.hpp)
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
#include "datapath/frame.hpp"
#include "datapath/learn.hpp"
#include "datapath/snapshot.hpp"
#include "datapath/tx_queue.hpp"

namespace brisk {

struct WorkerContext {
  explicit WorkerContext(unsigned worker_id, std::size_t pool_frames = 4096)
      : id(worker_id), pool(pool_frames) {}
  unsigned id;
  FramePool pool;
  WorkerCounters counters;
  LearnRing learn;      // worker -> control thread
  TxQueues tx;
  std::uint32_t now = 0;  // datapath clock in seconds, set per loop iteration
};

// Run the pipeline on `batch`, received on port `in`. Consumes every frame of the batch.
void process_batch(WorkerContext& ctx, const Snapshot& snap, PortId in, Batch& batch) noexcept;

// Receive from `in` and process until it has no more (at most `max_batches` batches).
// Returns frames received.
std::uint32_t poll_port(WorkerContext& ctx, const Snapshot& snap, PortId in,
                        unsigned max_batches = 4) noexcept;

}  // namespace brisk
