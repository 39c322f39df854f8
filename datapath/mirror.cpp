#include "datapath/mirror.hpp"

#include <time.h>

#include "datapath/pipeline.hpp"

namespace brisk {

namespace {


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

// A copy into a capture ring. tagger: the port whose egress tag the copy carries (nullptr:
// any VLAN but 0 is tagged, for bridge captures).
inline void emit(WorkerContext& ctx, const MirrorConf& m, const PortConf* tagger, const Frame* f,
                 BatchClock& clock) noexcept {
  const VlanId tag = tagger != nullptr ? tagger->egress_tag(f->vlan) : f->vlan;
  if (!m.capture->push(ctx.id, *f, tag, clock.get())) ctx.counters.mirror[m.slot].dropped.add(1);
}

// Copies to a port: one TxItem reference per frame, queued in bulk. An access (or
// dot1q-tunnel) tagger, the common monitor port, never tags, so the tag decision leaves the
// loop. Copies keep a customer tag (datapath/vlan.hpp): nothing is popped.
template <typename Get>
inline void copy_to_port(TxQueues& tx, PortId dst, const PortConf& tagger, std::uint32_t n,
                         Get get) noexcept {
  if (tagger.mode != VlanMode::kTrunk) {
    tx.enqueue_bulk(dst, n, get, [](VlanId) -> VlanId { return 0; });
  } else {
    tx.enqueue_bulk(dst, n, get, [&](VlanId v) { return tagger.egress_tag(v); });
  }
}

// Copies to a port of the frames of the VLANs a mirror selects (OVS select_vlan), one by one;
// returns how many.
template <typename Get>
std::uint32_t copy_selected(TxQueues& tx, const MirrorConf& m, const PortConf& tagger,
                            std::uint32_t n, Get get) noexcept {
  std::uint32_t copies = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    Frame* f = get(i);
    if (!m.vlans->test(f->vlan)) continue;
    tx.enqueue(m.dst, f, tagger.egress_tag(f->vlan));
    ++copies;
  }
  return copies;
}

}  // namespace

void mirror_stage(WorkerContext& ctx, const Snapshot& snap, const BridgeConf& br, PortId in,
                  const BatchWork& w) noexcept {
  BatchClock clock;
  for (const MirrorConf& m : br.mirrors) {
    const PortConf* tagger = m.tag_as != kInvalidPort ? &snap.ports[m.tag_as] : nullptr;
    // Entering `in` (mirror_covers), else leaving m.src: the frames queued for it.
    const bool ingress = mirror_covers(m.src, in);
    std::uint32_t copies = w.n;
    const TxItem* items = nullptr;
    if (!ingress) items = ctx.tx.queued(m.src, copies);
    if (copies == 0) continue;
    if (m.vlans != nullptr) [[unlikely]] {
      copies = copy_selected(ctx.tx, m, *tagger, copies,
                             [&](std::uint32_t i) { return ingress ? w.f[i] : items[i].frame; });
    } else if (m.capture == nullptr) {
      // A port mirror always has its destination as tagger.
      if (ingress) {
        copy_to_port(ctx.tx, m.dst, *tagger, copies, [&](std::uint32_t i) { return w.f[i]; });
      } else {
        copy_to_port(ctx.tx, m.dst, *tagger, copies, [&](std::uint32_t i) { return items[i].frame; });
      }
    } else {
      for (std::uint32_t i = 0; i < copies; ++i)
        emit(ctx, m, tagger, ingress ? w.f[i] : items[i].frame, clock);
    }
    ctx.counters.mirror[m.slot].mirrored.add(copies);
  }
}

}  // namespace brisk
