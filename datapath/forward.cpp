#include "datapath/forward.hpp"

#include "datapath/pipeline.hpp"

namespace brisk {

void forward_stage(WorkerContext& ctx, const Snapshot& snap, const BridgeConf& br, PortId in,
                   BatchWork& w) noexcept {
  // Decide: unicast destinations are looked up in bulk; group addresses flood.
  std::uint64_t keys[kBatchSize];
  std::uint32_t idx[kBatchSize];
  std::uint32_t nu = 0;
  for (std::uint32_t i = 0; i < w.n; ++i) {
    w.out[i] = BatchWork::kFlood;
    if ((w.f[i]->data[0] & 1) == 0 && br.ageing_s != 0) {
      keys[nu] = w.dst_key[i];
      idx[nu++] = i;
    }
  }
  FdbHit hits[kBatchSize];
  if (nu != 0) br.fdb->lookup_bulk(keys, nu, hits);
  PortCounters* pc = ctx.counters.port.get();
  for (std::uint32_t j = 0; j < nu; ++j) {
    const FdbHit& h = hits[j];
    if (!h.found()) continue;
    std::uint32_t i = idx[j];
    const PortConf& op = snap.ports[h.port];
    // A stale entry (port gone, moved to another bridge or VLAN) is treated as unknown.
    if (op.port == nullptr || op.bridge != snap.ports[in].bridge || !op.carries(w.f[i]->vlan))
      continue;
    w.out[i] = h.port;
  }

  // Act.
  for (std::uint32_t i = 0; i < w.n; ++i) {
    Frame* f = w.f[i];
    PortId out = w.out[i];
    if (out != BatchWork::kFlood) {
      if (out == in) {
        pc[in].drops[static_cast<std::size_t>(Drop::kSamePort)].add(1);
        continue;
      }
      ctx.tx.enqueue(out, f, snap.ports[out].egress_tag(f->vlan));
      continue;
    }
    const bool unknown_unicast = (f->data[0] & 1) == 0;
    std::uint32_t copies = 0;
    for (const PortId* p = br.members_begin(f->vlan); p != br.members_end(f->vlan); ++p) {
      if (*p == in) continue;
      const PortConf& op = snap.ports[*p];
      if (unknown_unicast && !op.flood_unknown) continue;
      ctx.tx.enqueue(*p, f, op.egress_tag(f->vlan));
      ++copies;
    }
    if (copies == 0) pc[in].drops[static_cast<std::size_t>(Drop::kNoDestination)].add(1);
  }
}

}  // namespace brisk
