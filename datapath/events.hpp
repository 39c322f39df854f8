// DropEvent: what a worker tells the control thread about a refused frame worth a log line
// (security and storm-control drops), so the control thread can write the seed's
// "RULE -- DENY ... PHYSIN=... PHYSOUT=..." style lines without the worker ever logging.
//
// Each worker owns one SPSC EventRing (worker produces, control consumes). Workers emit at
// most kEventsPerSecond events per second each; beyond that, and when the ring is full, events
// are counted (WorkerStats::events_dropped) and not sent. The drop itself is always counted.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <cstring>

#include "brisk/types.hpp"
#include "datapath/counters.hpp"
#include "datapath/frame.hpp"

namespace brisk {

inline constexpr std::uint32_t kEventsPerSecond = 32;

struct DropEvent {
  Drop reason;
  PortId in_port;
  PortId out_port;  // kInvalidPort for ingress drops
  std::uint16_t len;
  std::uint8_t head[96];  // the first bytes of the frame (Ethernet + L3 + some L4)
};

using EventRing = boost::lockfree::spsc_queue<DropEvent, boost::lockfree::capacity<256>>;

}  // namespace brisk
