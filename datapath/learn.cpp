#include "datapath/learn.hpp"

#include "datapath/forward.hpp"
#include "datapath/pipeline.hpp"

namespace brisk {

void learn_stage(WorkerContext& ctx, const BridgeConf& br, PortId in, BatchWork& w) noexcept {
  if (br.ageing_s == 0) return;  // hub mode: learn nothing
  FdbHit hits[kBatchSize];
  br.fdb->lookup_bulk(w.src_key, w.n, hits);
  std::uint64_t last_requested = 0;
  for (std::uint32_t i = 0; i < w.n; ++i) {
    const FdbHit& h = hits[i];
    if (h.found() && (h.port == in || h.is_static)) {
      br.fdb->touch(h, w.src_key[i], ctx.now);
      continue;
    }
    if (w.src_key[i] == last_requested) continue;
    last_requested = w.src_key[i];
    ctx.counters.worker.learn_requests.add(1);
    if (!ctx.learn.push(LearnRequest{br.fdb, w.src_key[i], in}))
      ctx.counters.worker.learn_ring_full.add(1);
  }
}

}  // namespace brisk
