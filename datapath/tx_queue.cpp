#include "datapath/tx_queue.hpp"

#include "datapath/offload.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

namespace {

// Whether `port` must be helped with `it` (see the header).
inline bool needs_finish(const TxItem& it, std::uint8_t caps, std::uint32_t limit) noexcept {
  const Offload& o = it.frame->off;
  if (o.pending()) [[unlikely]] {
    if (o.partial() && (caps & txcap::kCsum) == 0) return true;
    if (o.gso()) return true;  // decided per frame in finish_and_send()
  }
  return tx_wire_len(it) > limit;
}

std::uint8_t gso_cap(std::uint8_t gso_type) noexcept {
  switch (gso_type & static_cast<std::uint8_t>(~Offload::kGsoEcn)) {
    case Offload::kGsoTcpV4: return txcap::kTso4;
    case Offload::kGsoTcpV6: return txcap::kTso6;
    case Offload::kGsoUdpL4: return txcap::kUso;
    default: return 0;
  }
}

// Whether `port` takes the super-frame of `it` whole: its GSO kind, and segments within the limit.
bool takes_whole(const TxItem& it, std::uint8_t caps, std::uint32_t limit) noexcept {
  const Offload& o = it.frame->off;
  std::uint8_t need = gso_cap(o.gso_type);
  if ((o.gso_type & Offload::kGsoEcn) != 0) need |= txcap::kEcn;
  if (o.partial()) need |= txcap::kCsum;
  if (need == 0 || (caps & need) != need) return false;
  return segment_wire_len(*it.frame) + tx_wire_len(it) - it.frame->len <= limit;
}

}  // namespace

std::uint32_t TxQueues::send(Port& port, TxItem* items, std::uint32_t n, PortCounters& c) noexcept {
  const std::uint32_t sent = port.tx_burst(items, n);
  // Frame fields (not data) stay readable after a handover.
  if (sent == n) {
    std::uint64_t bytes = 0;
    for (std::uint32_t i = 0; i < n; ++i)
      // The pipeline pushes onto frames of 14+ bytes and pops from frames of 18+ bytes
      // only (datapath/vlan.hpp), so this is tx_wire_len() without its guard.
      bytes += items[i].frame->len + 4 * (static_cast<int>(items[i].push_vlan != 0) -
                                          static_cast<int>(items[i].pop_tag));
    c.tx_frames.add(sent);
    c.tx_bytes.add(bytes);
  } else {
    // Drivers report frames they could not send as a shortfall.
    c.tx_frames.add(sent);
    c.drops[static_cast<std::size_t>(Drop::kTxError)].add(n - sent);
  }
  return sent;
}

std::uint32_t TxQueues::finish_and_send(Queue& q, Port& port, FramePool& pool,
                                        PortCounters& c) noexcept {
  const std::uint8_t caps = port.tx_caps();
  const std::uint32_t limit = port.tx_limit();
  TxItem out[kBatchSize];
  Frame* made[kBatchSize];           // frames this function allocated (segments), per slot
  std::uint32_t from[kBatchSize];    // which queue item each slot carries
  bool lost[kBatchSize] = {};        // per queue item: some part of it did not go out
  std::uint32_t m = 0;
  auto drain = [&] {
    const std::uint32_t s = send(port, out, m, c);
    for (std::uint32_t k = s; k < m; ++k) lost[from[k]] = true;  // the shortfall, by position
    for (std::uint32_t k = 0; k < m; ++k)
      if (made[k] != nullptr) pool.release(made[k]);
    m = 0;
  };
  auto push = [&](const TxItem& it, Frame* own, std::uint32_t i) {
    out[m] = it;
    made[m] = own;
    from[m] = i;
    if (++m == kBatchSize) drain();
  };
  auto drop = [&](std::uint32_t i, Drop why) {
    c.drops[static_cast<std::size_t>(why)].add(1);
    lost[i] = true;
  };
  for (std::uint32_t i = 0; i < q.n; ++i) {
    const TxItem& it = q.items[i];
    Frame* f = it.frame;
    if (!needs_finish(it, caps, limit)) {
      push(it, nullptr, i);
      continue;
    }
    if (!f->off.gso()) {
      if (f->off.partial() && (caps & txcap::kCsum) == 0) {
        if (!finish_checksum(*f)) {
          drop(i, Drop::kBadOffload);
          continue;
        }
        c.tx_csum_completed.add(1);
      }
      if (tx_wire_len(it) > limit) {
        drop(i, Drop::kOversize);
        continue;
      }
      push(it, nullptr, i);
      continue;
    }
    if (takes_whole(it, caps, limit)) {
      push(it, nullptr, i);
      continue;
    }
    GsoPlan p;
    if (!plan_gso(f->data, f->len, f->off.gso_type, f->off.gso_size, p)) {
      drop(i, Drop::kBadOffload);
      continue;
    }
    const std::uint32_t seg_max = p.hdr_len + p.mss;
    if (seg_max + tx_wire_len(it) - f->len > limit) {
      drop(i, Drop::kOversize);
      continue;
    }
    c.tx_segmented.add(1);
    for (std::uint32_t k = 0; k < p.segments; ++k) {
      Frame* s = pool.alloc_for(seg_max);
      if (s == nullptr) {  // the pool is exhausted: the rest of the super-frame is lost
        c.drops[static_cast<std::size_t>(Drop::kTxError)].add(p.segments - k);
        lost[i] = true;
        break;
      }
      s->len = static_cast<std::uint32_t>(build_segment(f->data, f->len, p, k, s->data, seg_max));
      s->vlan = f->vlan;
      s->in_port = f->in_port;
      push(TxItem{s, it.push_vlan, it.pop_tag, false}, s, i);
    }
  }
  if (m != 0) drain();
  std::uint32_t whole = 0;
  for (std::uint32_t i = 0; i < q.n; ++i) whole += lost[i] ? 0 : 1;
  return whole;
}

std::uint32_t TxQueues::limit(Queue& q, Policer& limit, std::uint64_t now_ns, FramePool& pool,
                              PortCounters& c) noexcept {
  std::uint32_t kept = 0;
  for (std::uint32_t i = 0; i < q.n; ++i) {
    if (limit.admit(tx_wire_len(q.items[i]), now_ns)) {
      q.items[kept++] = q.items[i];
    } else {
      pool.release(q.items[i].frame);
    }
  }
  const std::uint32_t dropped = q.n - kept;
  c.drops[static_cast<std::size_t>(Drop::kEgressLimit)].add(dropped);
  q.n = kept;
  return dropped;
}

void TxQueues::flush(const Snapshot& snap, FramePool& pool, PortCounters* counters,
                     MirrorCounters* mirrors, std::uint64_t now_ns) noexcept {
  for (std::uint32_t t = 0; t < ntouched_; ++t) {
    PortId out = touched_[t];
    Queue& q = q_[out];
    const PortConf& oc = snap.ports[out];
    Port* port = oc.port;
    PortCounters& c = counters[out];
    std::uint32_t sent = 0, limited = 0;
    if (oc.limit_out != nullptr) [[unlikely]]
      limited = limit(q, *oc.limit_out, now_ns, pool, c);
    if (port->failed()) {
      c.drops[static_cast<std::size_t>(Drop::kPortDown)].add(q.n);
    } else {
      mark_handover(q);
      const std::uint32_t fits = port->tx_limit() - 4;
      sent = q.careful == 0 && q.fits_version == snap.version && q.fits == fits
                 ? send(*port, q.items, q.n, c)
                 : finish_and_send(q, *port, pool, c);
      q.fits = fits;
      q.fits_version = snap.version;
    }
    if (oc.mirror_dst && mirrors != nullptr) [[unlikely]] {
      mirrors[oc.mirror_slot].delivered.add(sent);
      if (sent != q.n + limited) mirrors[oc.mirror_slot].dropped.add(q.n + limited - sent);
    }
    for (std::uint32_t i = 0; i < q.n; ++i) pool.release(q.items[i].frame);
    q.n = 0;
    q.careful = 0;
  }
  ntouched_ = 0;
}

}  // namespace brisk
