#include "datapath/pipeline.hpp"

#include <algorithm>
#include <cstring>

#include "datapath/forward.hpp"
#include "datapath/mirror.hpp"
#include "datapath/port_security.hpp"
#include "datapath/vlan.hpp"

namespace brisk {

void WorkerContext::drop(const Frame& f, Drop reason, PortId port, PortId out) noexcept {
  counters.port[port].drops[static_cast<std::size_t>(reason)].add(1);
  if (!drop_is_logged(reason)) return;
  if (event_second != now) {
    event_second = now;
    events_this_second = 0;
  }
  DropEvent ev;
  ev.reason = reason;
  ev.in_port = f.in_port;
  ev.out_port = out;
  ev.len = static_cast<std::uint16_t>(std::min<std::uint32_t>(f.len, 0xffff));
  std::size_t n = std::min<std::size_t>(f.len, sizeof(ev.head));
  std::memcpy(ev.head, f.data, n);
  std::memset(ev.head + n, 0, sizeof(ev.head) - n);
  if (events_this_second >= kEventsPerSecond || !events.push(ev)) {
    counters.worker.events_dropped.add(1);
    return;
  }
  ++events_this_second;
}

bool WorkerContext::storm_allows(PortId port, std::uint32_t pps) noexcept {
  StormBucket& b = storm[port];
  const std::uint64_t cap = std::uint64_t{pps} * 1000;  // one second of frames
  if (b.rate != pps) {  // new or changed limit: start full
    b.rate = pps;
    b.tokens_milli = cap;
    b.last_ns = now_ns;
  } else if (now_ns > b.last_ns) {
    std::uint64_t add = (now_ns - b.last_ns) * pps / 1000000;  // milli-frames
    b.tokens_milli = std::min(cap, b.tokens_milli + add);
    b.last_ns = now_ns;
  }
  if (b.tokens_milli < 1000) return false;
  b.tokens_milli -= 1000;
  return true;
}

namespace {

// A mirror destination receives only mirrored frames; what it sends is counted and dropped.
[[gnu::cold]] void drop_mirror_dst_input(WorkerContext& ctx, PortId in, Batch& batch) noexcept {
  PortCounters& c = ctx.counters.port[in];
  std::uint64_t bytes = 0;
  for (std::uint32_t i = 0; i < batch.n; ++i) {
    bytes += batch.f[i]->len;
    ctx.pool.release(batch.f[i]);
  }
  c.rx_frames.add(batch.n);
  c.rx_bytes.add(bytes);
  c.drops[static_cast<std::size_t>(Drop::kMirrorDst)].add(batch.n);
  ctx.counters.worker.batches.add(1);
  ctx.counters.worker.frames.add(batch.n);
  batch.n = 0;
}

}  // namespace

void process_batch(WorkerContext& ctx, const Snapshot& snap, PortId in, Batch& batch) noexcept {
  PortCounters* pc = ctx.counters.port.get();
  const PortConf& ip = snap.ports[in];
  const BridgeConf& br = snap.bridges[ip.bridge];
  if (ip.mirror_dst) [[unlikely]] {
    drop_mirror_dst_input(ctx, in, batch);
    return;
  }

  std::uint64_t rx_bytes = 0;
  BatchWork w;
  for (std::uint32_t i = 0; i < batch.n; ++i) {
    Frame* f = batch.f[i];
    rx_bytes += f->len;
    f->in_port = in;
    Drop d = ip.police_in != nullptr && !ip.police_in->admit(f->len, ctx.now_ns)
                 ? Drop::kPoliced
                 : vlan_ingress(f, ip);
    if (d == Drop::kCount && ((f->data[6] & 1) != 0 || fdb_key_mac(fdb_key(0, f->data + 6)) == 0))
      d = Drop::kBadSrcMac;
    if (d == Drop::kCount && ip.sec != nullptr) d = security_ingress(*f, *ip.sec);
    if (d != Drop::kCount) {
      ctx.drop(*f, d, in);
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
    if (!br.mirrors.empty()) [[unlikely]] mirror_stage(ctx, snap, br, in, w);
    ctx.tx.flush(snap, ctx.pool, pc, ctx.counters.mirror.get(), ctx.now_ns);
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
