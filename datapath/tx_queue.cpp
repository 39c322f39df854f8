#include "datapath/tx_queue.hpp"

#include "datapath/snapshot.hpp"

namespace brisk {

void TxQueues::flush(const Snapshot& snap, FramePool& pool, PortCounters* counters,
                     MirrorCounters* mirrors) noexcept {
  for (std::uint32_t t = 0; t < ntouched_; ++t) {
    PortId out = touched_[t];
    Queue& q = q_[out];
    const PortConf& oc = snap.ports[out];
    Port* port = oc.port;
    PortCounters& c = counters[out];
    std::uint32_t sent = 0;
    if (port->failed()) {
      c.drops[static_cast<std::size_t>(Drop::kPortDown)].add(q.n);
    } else {
      mark_handover(q);
      sent = port->tx_burst(q.items, q.n);
      // Frame fields (not data) stay readable after a handover.
      if (sent == q.n) {
        std::uint64_t bytes = 0;
        for (std::uint32_t i = 0; i < q.n; ++i)
          // The pipeline pushes onto frames of 14+ bytes and pops from frames of 18+ bytes
          // only (datapath/vlan.hpp), so this is tx_wire_len() without its guard.
          bytes += q.items[i].frame->len + 4 * (static_cast<int>(q.items[i].push_vlan != 0) -
                                                static_cast<int>(q.items[i].pop_tag));
        c.tx_frames.add(sent);
        c.tx_bytes.add(bytes);
      } else {
        // Drivers report frames they could not send as a shortfall.
        c.tx_frames.add(sent);
        c.drops[static_cast<std::size_t>(Drop::kTxError)].add(q.n - sent);
      }
    }
    if (oc.mirror_dst && mirrors != nullptr) [[unlikely]] {
      mirrors[oc.mirror_slot].delivered.add(sent);
      if (sent != q.n) mirrors[oc.mirror_slot].dropped.add(q.n - sent);
    }
    for (std::uint32_t i = 0; i < q.n; ++i) pool.release(q.items[i].frame);
    q.n = 0;
  }
  ntouched_ = 0;
}

}  // namespace brisk
