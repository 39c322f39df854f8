// Learn and forward stages over one batch (see pipeline.hpp for the order).
//
// BatchWork is the per-batch scratch the stages share: the frames still alive after ingress
// and, for each, its (VLAN, MAC) keys and the forwarding decision. Stages decide per frame
// first and act in bulk after, with table lookups done 32 at a time (prefetched).
#pragma once

#include <cstdint>

#include "datapath/frame.hpp"
#include "datapath/learn.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

struct WorkerContext;

struct BatchWork {
  std::uint32_t n = 0;
  Frame* f[kBatchSize];
  std::uint64_t src_key[kBatchSize];
  std::uint64_t dst_key[kBatchSize];
  PortId out[kBatchSize];   // unicast output, or kFlood
  static constexpr PortId kFlood = kInvalidPort;
};

// Learn: refresh known sources, ask the control thread to learn new ones and moves.
void learn_stage(WorkerContext& ctx, const BridgeConf& br, PortId in, BatchWork& w) noexcept;

// Forward: decide a unicast output or a flood for every frame, then queue the frames for
// transmit with their egress tags (or count a drop). Consumes nothing: the caller releases.
void forward_stage(WorkerContext& ctx, const Snapshot& snap, const BridgeConf& br, PortId in,
                   BatchWork& w) noexcept;

}  // namespace brisk
