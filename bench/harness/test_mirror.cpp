#include "bench/harness/test_mirror.hpp"

#include <algorithm>
#include <stdexcept>

#include "bench/harness/netdev_stats.hpp"
#include "bench/harness/proc.hpp"

namespace bench {
namespace {

// The counters behind MirrorSample's account, at one moment.
struct MirrorSnap {
  std::uint64_t offered = 0, sink = 0, rx_ring = 0, rx_xsk = 0, tx_lost = 0;
  std::vector<std::uint64_t> far, wire_lost;  // per destination
  SwitchCounters sw;
};

std::vector<std::uint64_t> far_frames(Bench& b, unsigned n) {
  std::vector<std::uint64_t> v;
  for (unsigned i = 0; i < n; ++i) v.push_back(b.far(i).counted_all());
  return v;
}

// Every counter of the loss account (see MirrorSample and netdev_stats.hpp).
MirrorSnap snap(Bench& b, SwitchUnderTest& sw) {
  const Topology& t = b.topology();
  MirrorSnap m;
  m.offered = b.generator().offered();
  m.sink = b.bpf().sink().frames;
  // The live generator's XDP_TX frames and the AF_XDP generator's skbs that did not fit
  // into <P>g1's ring.
  m.rx_ring = stat_of(ethtool_stats(t.gen_ns, t.gen_dev), "tx_queue_0_xdp_xmit_errors") +
              link_stat(t.gen_ns, t.gen_dev, "tx", "dropped");
  auto g1 = ethtool_stats("", t.gen_port);
  m.rx_xsk = stat_of(g1, "rx_queue_0_drops") + stat_of(g1, "rx_queue_0_xdp_drops");
  m.tx_lost = sysfs_stat(t.sink_port, "tx_dropped") +
              stat_of(ethtool_stats(t.sink_ns, t.sink_dev), "rx_queue_0_drops");
  for (std::size_t i = 0; i < t.mirror_ports.size(); ++i) {
    m.far.push_back(b.far(i).counted_all());
    m.wire_lost.push_back(
        sysfs_stat(t.mirror_ports[i], "tx_dropped") +
        stat_of(ethtool_stats(t.mirror_ns, t.mirror_devs[i]), "rx_queue_0_drops"));
  }
  m.sw = sw.counters();
  return m;
}

// snap() once the mirror copies have stopped moving: the copies of learn()'s ping (and of
// its ARP) may still be on their way to the far ends when it returns, and a copy counted by
// the switch before the first snapshot but by its far end after it shows as unaccounted.
// Two readings 50 ms apart that agree on every mirror counter and far end, at most 2 s.
MirrorSnap settled_snap(Bench& b, SwitchUnderTest& sw) {
  MirrorSnap prev = snap(b, sw);
  for (int i = 0; i < 40; ++i) {
    sleep_s(0.05);
    MirrorSnap cur = snap(b, sw);
    if (cur.far == prev.far && cur.sw.mirrors == prev.sw.mirrors) return cur;
    prev = std::move(cur);
  }
  return prev;
}

// The fps window of the row: the rates at the sink and at the far ends, the switch's CPU.
void mirror_window(Bench& b, SwitchUnderTest& sw, unsigned n, MirrorSample& s) {
  const Options& o = b.options();
  TrafficGenerator& gen = b.generator();
  GenRun run(gen, b.place(), GenSettings{1, 63, o.rate});
  sleep_s(o.warmup);
  std::uint64_t off0 = gen.offered(), sink0 = b.bpf().sink().frames;
  std::vector<std::uint64_t> far0 = far_frames(b, n);
  double c0 = b.cpu_now(&sw), t0 = now_s();
  sleep_s(o.duration);
  std::uint64_t off1 = gen.offered(), sink1 = b.bpf().sink().frames;
  std::vector<std::uint64_t> far1 = far_frames(b, n);
  double c1 = b.cpu_now(&sw), t1 = now_s();
  if (std::string e = gen.error(); !e.empty()) throw std::runtime_error(e);
  double secs = t1 - t0;
  s.offered = static_cast<double>(off1 - off0) / secs;
  s.forwarded = static_cast<double>(sink1 - sink0) / secs;
  s.cpu_pct = (c1 - c0) / secs * 100;
  if (sink1 > sink0) s.cpu_ns = (c1 - c0) * 1e9 / static_cast<double>(sink1 - sink0);
  for (unsigned i = 0; i < n; ++i)
    s.dst_fps.push_back(static_cast<double>(far1[i] - far0[i]) / secs);
}

// The loss account between snapshots a and b, over the first n mirrors.
void account(const MirrorSnap& a, const MirrorSnap& b, unsigned n, MirrorSample& s) {
  s.offered_n = b.offered - a.offered;
  s.sink_n = b.sink - a.sink;
  s.rx_ring = b.rx_ring - a.rx_ring;
  s.rx_xsk = b.rx_xsk - a.rx_xsk;
  s.tx_lost = b.tx_lost - a.tx_lost;
  s.sw_counted = a.sw.valid && b.sw.valid;
  if (s.sw_counted)
    for (const auto& [reason, v] : b.sw.drops) {
      auto it = a.sw.drops.find(reason);
      std::uint64_t d = v - (it == a.sw.drops.end() ? 0 : it->second);
      if (d != 0) s.drop_reasons[reason] = d;
      s.sw_drops += d;
    }
  s.unaccounted =
      static_cast<std::int64_t>(s.offered_n) -
      static_cast<std::int64_t>(s.sink_n + s.rx_ring + s.rx_xsk + s.sw_drops + s.tx_lost);
  for (unsigned i = 0; i < n; ++i) {
    s.far_n += b.far[i] - a.far[i];
    s.wire_lost += b.wire_lost[i] - a.wire_lost[i];
    if (s.sw_counted) {
      s.mirrored += b.sw.mirrors[i].mirrored - a.sw.mirrors[i].mirrored;
      s.delivered += b.sw.mirrors[i].delivered - a.sw.mirrors[i].delivered;
      s.sw_dropped += b.sw.mirrors[i].dropped - a.sw.mirrors[i].dropped;
    }
  }
  if (s.sw_counted)
    s.mirror_unaccounted = static_cast<std::int64_t>(s.mirrored) -
                           static_cast<std::int64_t>(s.sw_dropped + s.far_n + s.wire_lost);
}

}  // namespace

std::vector<MirrorVariant> mirror_variants(const Options& o) {
  std::vector<MirrorVariant> v;
  auto has = [&](const char* s) {
    return std::find(o.switches.begin(), o.switches.end(), s) != o.switches.end();
  };
  if (has("brisk"))
    for (const auto& fp : o.mirror_fastpath)
      v.push_back({"brisk fastpath " + fp, "brisk", {"--xdp-fastpath", fp}});
  if (has("ovs")) v.push_back({"ovs", "ovs", {}});
  return v;
}

MirrorSample measure_mirrors(Bench& b, SwitchUnderTest& sw, unsigned n) {
  MirrorSample s;
  s.mirrors = n;
  sw.set_mirrors(n);
  sleep_s(0.1);
  b.learn();
  MirrorSnap before = settled_snap(b, sw);
  mirror_window(b, sw, n, s);
  sleep_s(0.3);  // the generator has stopped: let the rings and the switch drain
  MirrorSnap after = settled_snap(b, sw);
  account(before, after, n, s);
  return s;
}

}  // namespace bench
