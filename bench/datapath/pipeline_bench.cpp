// Pipeline micro-benchmarks: ingress VLAN + learn + forward + transmit staging on in-memory
// ports, driven the way a worker drives it (datapath/worker.cpp): per loop iteration set the
// clock, poll_port() the ingress port (up to 4 batches of 32), drain the learn ring.
//
// Topology: one bridge, four access ports in VLAN 10. Port 0 is a ReplayPort playing back
// pre-built 64-byte frames; ports 1..3 are SinkPorts that count and accept everything.
//
// FDB: N entries. N/2 source MACs learned on port 0 (the ingress port), N/2 destination MACs
// learned round-robin on ports 1..3. The replay list has N/2 frames, frame i going from source
// i to destination i, so one pass over the list touches every FDB entry once (the lookups walk
// the whole table, not a cached subset).
//
// Cases:
//   Unicast/N    every dst known on another port  -> learning only refreshes, unicast out
//   Unknown/N    every dst unknown (never learned) -> flood to the 3 other ports
//   Broadcast/N  dst ff:ff:ff:ff:ff:ff            -> flood to the 3 other ports, no dst lookup
// Reported: items_per_second (= frames/s), ns_per_frame, tx_per_frame (copies queued per frame)
// and learn_req (learn requests drained during the run: 0 in the steady state).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/datapath/bench_common.hpp"
#include "bench/datapath/replay_port.hpp"
#include "datapath/pipeline.hpp"

namespace brisk::bench {
namespace {

constexpr VlanId kVlan = 10;
constexpr std::uint64_t kSeed = 0xb415cull;
constexpr PortId kInPort = 0;
constexpr PortId kNumPorts = 4;
constexpr std::uint64_t kBroadcastMac = 0xffffffffffffull;

enum class Traffic { kUnicast, kUnknown, kBroadcast };

// The FDB for N MACs, shared by the three traffic kinds.
struct Fdb {
  std::shared_ptr<MacTable> table;
  std::uint32_t pairs = 0;  // N / 2
  std::uint64_t src(std::uint32_t i) const { return mac_at(i); }
  std::uint64_t dst(std::uint32_t i) const { return mac_at(pairs + i); }
  std::uint64_t unknown(std::uint32_t i) const { return mac_at(2 * std::uint64_t{pairs} + i); }
};

Fdb& fdb_for(std::uint32_t n) {
  static std::map<std::uint32_t, std::unique_ptr<Fdb>> cache;
  auto& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<Fdb>();
    slot->pairs = n / 2;
    slot->table = std::make_shared<MacTable>(n, kSeed);
    const std::uint32_t now = coarse_seconds();
    for (std::uint32_t i = 0; i < slot->pairs; ++i) {
      slot->table->learn(fdb_key(kVlan, slot->src(i)), kInPort, now);
      slot->table->learn(fdb_key(kVlan, slot->dst(i)), static_cast<PortId>(1 + i % 3), now);
    }
  }
  return *slot;
}

// Everything one worker needs: ports, the snapshot naming them, its context.
struct Rig {
  Fdb* fdb = nullptr;
  std::vector<FrameTemplate> templates;
  std::unique_ptr<ReplayPort> rx;
  std::unique_ptr<SinkPort> sinks[kNumPorts - 1];
  Snapshot snap;
  std::unique_ptr<WorkerContext> ctx;
  std::uint64_t copies_per_frame = 0;

  std::uint64_t sent() const {
    std::uint64_t s = 0;
    for (const auto& k : sinks) s += k->sent();
    return s;
  }
  std::uint64_t drops() const {
    std::uint64_t d = 0;
    for (PortId p = 0; p < kNumPorts; ++p)
      for (const auto& c : ctx->counters.port[p].drops) d += c.get();
    return d;
  }
};

Rig& rig_for(std::uint32_t n, Traffic traffic) {
  static std::map<std::pair<std::uint32_t, Traffic>, std::unique_ptr<Rig>> cache;
  auto& slot = cache[{n, traffic}];
  if (slot) return *slot;
  slot = std::make_unique<Rig>();
  Rig& r = *slot;
  r.fdb = &fdb_for(n);
  r.templates.reserve(r.fdb->pairs);
  for (std::uint32_t i = 0; i < r.fdb->pairs; ++i) {
    std::uint64_t dst = traffic == Traffic::kUnicast   ? r.fdb->dst(i)
                        : traffic == Traffic::kUnknown ? r.fdb->unknown(i)
                                                       : kBroadcastMac;
    r.templates.push_back(make_template(dst, r.fdb->src(i)));
  }
  r.copies_per_frame = traffic == Traffic::kUnicast ? 1 : kNumPorts - 1;

  r.rx = std::make_unique<ReplayPort>("replay0", &r.templates);
  for (PortId p = 1; p < kNumPorts; ++p)
    r.sinks[p - 1] = std::make_unique<SinkPort>("sink" + std::to_string(p));

  // What Switch::rebuild() produces for this topology.
  Snapshot& s = r.snap;
  s.version = 1;
  s.rx_by_worker = {{kInPort}};
  for (PortId p = 0; p < kNumPorts; ++p) {
    PortConf& pc = s.ports[p];
    pc.port = p == kInPort ? static_cast<Port*>(r.rx.get()) : r.sinks[p - 1].get();
    pc.bridge = 0;
    pc.mode = VlanMode::kAccess;
    pc.access_vlan = kVlan;
    pc.flood_unknown = true;
  }
  BridgeConf bc;
  bc.name = "br0";
  bc.fdb = r.fdb->table.get();
  bc.ageing_s = kMacEntryDefaultAgeSec;
  bc.flood_offs.assign(kVlanCount + 1, 0);
  for (std::size_t v = 0; v <= kVlanCount; ++v) bc.flood_offs[v] = v <= kVlan ? 0 : kNumPorts;
  for (PortId p = 0; p < kNumPorts; ++p) bc.flood_ports.push_back(p);
  s.bridges.push_back(std::move(bc));
  s.table_refs.push_back(r.fdb->table);

  r.ctx = std::make_unique<WorkerContext>(0);
  return r;
}

void run_pipeline(benchmark::State& state, Traffic traffic) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Rig& r = rig_for(n, traffic);
  WorkerContext& ctx = *r.ctx;
  const Snapshot& snap = r.snap;

  const std::uint64_t sent0 = r.sent();
  const std::uint64_t drops0 = r.drops();
  const std::uint64_t ring_full0 = ctx.counters.worker.learn_ring_full.get();
  std::uint64_t frames = 0;
  std::uint64_t learn_req = 0;
  for (auto _ : state) {
    ctx.now = coarse_seconds();
    frames += poll_port(ctx, snap, kInPort);
    learn_req += ctx.learn.consume_all(
        [&](const LearnRequest& q) { q.table->learn(q.key, q.port, ctx.now); });
  }

  const std::uint64_t sent = r.sent() - sent0;
  const std::uint64_t drops = r.drops() - drops0;
  if (drops != 0) state.SkipWithError("frames were dropped");
  if (sent != frames * r.copies_per_frame) state.SkipWithError("unexpected transmit count");
  if (ctx.pool.available() != ctx.pool.capacity()) state.SkipWithError("frame pool leaked");
  report_items(state, frames, "ns_per_frame");
  state.counters["tx_per_frame"] =
      frames != 0 ? static_cast<double>(sent) / static_cast<double>(frames) : 0.0;
  state.counters["learn_req"] = static_cast<double>(learn_req);
  state.counters["ring_full"] =
      static_cast<double>(ctx.counters.worker.learn_ring_full.get() - ring_full0);
  state.counters["fdb"] = static_cast<double>(r.fdb->table->size());
}

void BM_Pipeline_Unicast(benchmark::State& state) { run_pipeline(state, Traffic::kUnicast); }
void BM_Pipeline_Unknown(benchmark::State& state) { run_pipeline(state, Traffic::kUnknown); }
void BM_Pipeline_Broadcast(benchmark::State& state) { run_pipeline(state, Traffic::kBroadcast); }

BENCHMARK(BM_Pipeline_Unicast)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);
BENCHMARK(BM_Pipeline_Unknown)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);
BENCHMARK(BM_Pipeline_Broadcast)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);

}  // namespace
}  // namespace brisk::bench
