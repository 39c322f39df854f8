#include "datapath/forward.hpp"

#include <type_traits>

#include "datapath/pipeline.hpp"
#include "datapath/port_security.hpp"
#include "datapath/vlan.hpp"

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
    // A stale entry (port gone, moved to another bridge or VLAN) is treated as unknown, and
    // so is an entry for a mirror destination (it receives only mirrored frames).
    if (op.port == nullptr || op.bridge != snap.ports[in].bridge || !op.carries(w.f[i]->vlan) ||
        op.mirror_dst)
      continue;
    w.out[i] = h.port;
  }

  // Act.
  const PortConf& ip = snap.ports[in];
  for (std::uint32_t i = 0; i < w.n; ++i) {
    Frame* f = w.f[i];
    PortId out = w.out[i];
    if (out != BatchWork::kFlood) {
      const PortConf& op = snap.ports[out];
      if (out == in) {
        ctx.drop(*f, Drop::kSamePort, in);
      } else if (ip.tunnel && op.tunnel) {
        ctx.drop(*f, Drop::kSplitHorizon, in);  // tunnel to tunnel: never (no mesh loops)
      } else if (op.sec_egress && !security_egress_allows(*f, *op.sec)) {
        ctx.drop(*f, Drop::kSecEgress, out, out);
      } else {
        ctx.tx.enqueue(out, f, op.egress_tag(f->vlan), op.pops_inner_tag() && has_inner_tag(*f));
      }
      continue;
    }
    if (ip.storm_pps != 0 && !ctx.storm_allows(in, ip.storm_pps)) {
      ctx.drop(*f, Drop::kStorm, in);
      continue;
    }
    const bool unknown_unicast = (f->data[0] & 1) == 0;
    std::uint32_t copies = 0, refused = 0;
    // The flood loop, once for frames without a customer tag (every copy as it is, tagged
    // per port) and once for frames with one (access ports pop it): the common case pays
    // nothing per copy for QinQ.
    auto flood = [&](auto inner_tag) {
      for (const PortId* p = br.members_begin(f->vlan); p != br.members_end(f->vlan); ++p) {
        if (*p == in) continue;
        const PortConf& op = snap.ports[*p];
        if (unknown_unicast && !op.flood_unknown) continue;
        if (ip.tunnel && op.tunnel) continue;  // split horizon
        if (op.sec_egress && !security_egress_allows(*f, *op.sec)) {
          ctx.drop(*f, Drop::kSecEgress, *p, *p);
          ++refused;
          continue;
        }
        if constexpr (decltype(inner_tag)::value) {
          ctx.tx.enqueue(*p, f, op.egress_tag(f->vlan), op.pops_inner_tag());
        } else {
          ctx.tx.enqueue(*p, f, op.egress_tag(f->vlan));
        }
        ++copies;
      }
    };
    if (has_inner_tag(*f)) [[unlikely]] {
      flood(std::true_type{});
    } else {
      flood(std::false_type{});
    }
    if (copies == 0 && refused == 0) pc[in].drops[static_cast<std::size_t>(Drop::kNoDestination)].add(1);
  }
}

}  // namespace brisk
