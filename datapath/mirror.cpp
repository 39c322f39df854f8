#include "datapath/mirror.hpp"

#include "datapath/pipeline.hpp"

namespace brisk {

namespace {

inline VlanId copy_tag(const Snapshot& snap, const MirrorConf& m, const Frame& f) noexcept {
  return m.tag_as != kInvalidPort ? snap.ports[m.tag_as].egress_tag(f.vlan) : f.vlan;
}

inline void emit(WorkerContext& ctx, const Snapshot& snap, const MirrorConf& m, Frame* f) noexcept {
  const VlanId tag = copy_tag(snap, m, *f);
  if (m.capture == nullptr) {
    ctx.tx.enqueue(m.dst, f, tag);
  } else if (!m.capture->push(ctx.id, *f, tag, ctx.now_ns)) {
    ctx.counters.mirror[m.slot].dropped.add(1);
  }
}

}  // namespace

void mirror_stage(WorkerContext& ctx, const Snapshot& snap, const BridgeConf& br, PortId in,
                  const BatchWork& w) noexcept {
  for (const MirrorConf& m : br.mirrors) {
    std::uint32_t copies = 0;
    if (m.src == in || m.src == kInvalidPort) {
      for (std::uint32_t i = 0; i < w.n; ++i) emit(ctx, snap, m, w.f[i]);
      copies = w.n;
    } else {
      const TxItem* items = ctx.tx.queued(m.src, copies);
      for (std::uint32_t i = 0; i < copies; ++i) emit(ctx, snap, m, items[i].frame);
    }
    if (copies != 0) ctx.counters.mirror[m.slot].mirrored.add(copies);
  }
}

}  // namespace brisk
