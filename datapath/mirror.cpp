#include "datapath/mirror.hpp"

#include <time.h>

#include "datapath/pipeline.hpp"

namespace brisk {

namespace {

inline VlanId copy_tag(const Snapshot& snap, const MirrorConf& m, const Frame& f) noexcept {
  return m.tag_as != kInvalidPort ? snap.ports[m.tag_as].egress_tag(f.vlan) : f.vlan;
}

// Capture timestamps: read once per batch (vDSO clock, no system call), only when a capture
// is about to receive a copy; the loop clock (ctx.now_ns) is too coarse to order a ping and
// its reply.
struct BatchClock {
  std::uint64_t ns = 0;
  std::uint64_t get() noexcept {
    if (ns == 0) {
      timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ns = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
    }
    return ns;
  }
};

inline void emit(WorkerContext& ctx, const Snapshot& snap, const MirrorConf& m, Frame* f,
                 BatchClock& clock) noexcept {
  const VlanId tag = copy_tag(snap, m, *f);
  if (m.capture == nullptr) {
    ctx.tx.enqueue(m.dst, f, tag);
  } else if (!m.capture->push(ctx.id, *f, tag, clock.get())) {
    ctx.counters.mirror[m.slot].dropped.add(1);
  }
}

}  // namespace

void mirror_stage(WorkerContext& ctx, const Snapshot& snap, const BridgeConf& br, PortId in,
                  const BatchWork& w) noexcept {
  BatchClock clock;
  for (const MirrorConf& m : br.mirrors) {
    std::uint32_t copies = 0;
    if (m.src == in || m.src == kInvalidPort) {
      for (std::uint32_t i = 0; i < w.n; ++i) emit(ctx, snap, m, w.f[i], clock);
      copies = w.n;
    } else {
      const TxItem* items = ctx.tx.queued(m.src, copies);
      for (std::uint32_t i = 0; i < copies; ++i) emit(ctx, snap, m, items[i].frame, clock);
    }
    if (copies != 0) ctx.counters.mirror[m.slot].mirrored.add(copies);
  }
}

}  // namespace brisk
