// Learn stage: source-MAC learning without a lock on the worker path.
//
// Workers look the source (VLAN, MAC) up in the bridge's MacTable. A hit on the ingress port
// refreshes last-seen in place (MacTable::touch). A miss, or a hit on another port (a MAC
// move), becomes a LearnRequest on the worker's own SPSC ring to the control thread, which is
// the table's single writer and applies requests within a few hundred microseconds (see
// control/). A full ring drops the request (counted as learn_ring_full); the next frame from
// that address asks again. Within a batch the same request is sent once.
//
// Lifetime: a request carries a MacTable pointer. The control thread drains every ring before
// it frees a retired table, and retired tables are freed only after a QSBR grace period, so a
// request never points at freed memory.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>

#include "brisk/types.hpp"
#include "datapath/mac_table.hpp"

namespace brisk {

struct LearnRequest {
  MacTable* table;
  std::uint64_t key;
  PortId port;
};

inline constexpr std::size_t kLearnRingSize = 8192;
using LearnRing =
    boost::lockfree::spsc_queue<LearnRequest, boost::lockfree::capacity<kLearnRingSize>>;

}  // namespace brisk
