#include "datapath/pipeline.hpp"

#include "datapath/forward.hpp"
#include "datapath/vlan.hpp"

namespace brisk {

void process_batch(WorkerContext& ctx, const Snapshot& snap, PortId in, Batch& batch) noexcept {
  PortCounters* pc = ctx.counters.port.get();
  const PortConf& ip = snap.ports[in];
  const BridgeConf& br = snap.bridges[ip.bridge];

  std::uint64_t rx_bytes = 0;
  BatchWork w;
  for (std::uint32_t i = 0; i < batch.n; ++i) {
    Frame* f = batch.f[i];
    rx_bytes += f->len;
    f->in_port = in;
    Drop d = vlan_ingress(f, ip);
    if (d == Drop::kCount && ((f->data[6] & 1) != 0 || fdb_key_mac(fdb_key(0, f->data + 6)) == 0))
      d = Drop::kBadSrcMac;
    if (d != Drop::kCount) {
      pc[in].drops[static_cast<std::size_t>(d)].add(1);
      ctx.pool.release(f);
      continue;
    }
    w.f[w.n] = f;
    w.dst_key[w.n] = fdb_key(f->vlan, f->data);
    w.src_key[w.n] = fdb_key(f->vlan, f->data + 6);
    ++w.n;
  }
  pc[in].rx_frames.add(batch.n);
  pc[in].rx_bytes.add(rx_bytes);
  ctx.counters.worker.batches.add(1);
  ctx.counters.worker.frames.add(batch.n);

  if (w.n != 0) {
    learn_stage(ctx, br, in, w);
    forward_stage(ctx, snap, br, in, w);
    ctx.tx.flush(snap, ctx.pool, pc);
    for (std::uint32_t i = 0; i < w.n; ++i) ctx.pool.release(w.f[i]);
  }
  batch.n = 0;
}

std::uint32_t poll_port(WorkerContext& ctx, const Snapshot& snap, PortId in,
                        unsigned max_batches) noexcept {
  Port* port = snap.ports[in].port;
  std::uint32_t total = 0;
  Batch b;
  for (unsigned k = 0; k < max_batches; ++k) {
    b.n = port->rx_burst(ctx.pool, b.f, kBatchSize);
    if (b.n == 0) break;
    total += b.n;
    process_batch(ctx, snap, in, b);
    if (total < kBatchSize * (k + 1)) break;  // a short batch: the queue is empty
  }
  return total;
}

}  // namespace brisk
