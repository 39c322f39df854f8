#include "bench/harness/report_mirror.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "bench/harness/text.hpp"

using nlohmann::json;

namespace bench {
namespace {

// Medians of one row (variant, mirror count) of the mirror test.
struct MirrorRow {
  double offered = NAN, forwarded = NAN, per_mirror = NAN, cpu_pct = NAN, cpu_ns = NAN, cost = NAN;
  double rx_lost = NAN, sw_drops = NAN, tx_lost = NAN;  // fractions of offered (whole run)
  double mirrored = NAN, delivered = NAN, sw_dropped = NAN, wire_lost = NAN, far = NAN;
  std::int64_t unaccounted_max = 0, mirror_unaccounted_max = 0;  // largest |x| over the runs
  bool counted = true;  // the switch's counters were read in every run
  std::map<std::string, std::uint64_t> drop_reasons;  // summed over the runs
};

MirrorRow mirror_row(const std::vector<MirrorSample>& v) {
  MirrorRow r;
  auto med = [&](auto get) { return median_of(v, get); };
  auto frac = [](std::uint64_t n, std::uint64_t of) {
    return of > 0 ? static_cast<double>(n) / static_cast<double>(of) : NAN;
  };
  r.offered = med([](const MirrorSample& s) { return s.offered; });
  r.forwarded = med([](const MirrorSample& s) { return s.forwarded; });
  r.cpu_pct = med([](const MirrorSample& s) { return s.cpu_pct; });
  r.cpu_ns = med([](const MirrorSample& s) { return s.cpu_ns; });
  r.per_mirror = med([](const MirrorSample& s) {
    if (s.dst_fps.empty()) return static_cast<double>(NAN);
    double t = 0;
    for (double d : s.dst_fps) t += d;
    return t / static_cast<double>(s.dst_fps.size());
  });
  r.rx_lost = med([&](const MirrorSample& s) { return frac(s.rx_ring + s.rx_xsk, s.offered_n); });
  r.sw_drops = med([&](const MirrorSample& s) { return frac(s.sw_drops, s.offered_n); });
  r.tx_lost = med([&](const MirrorSample& s) { return frac(s.tx_lost, s.offered_n); });
  r.mirrored = med([](const MirrorSample& s) { return static_cast<double>(s.mirrored); });
  r.delivered = med([](const MirrorSample& s) { return static_cast<double>(s.delivered); });
  r.sw_dropped = med([](const MirrorSample& s) { return static_cast<double>(s.sw_dropped); });
  r.wire_lost = med([](const MirrorSample& s) { return static_cast<double>(s.wire_lost); });
  r.far = med([](const MirrorSample& s) { return static_cast<double>(s.far_n); });
  for (const auto& s : v) {
    if (std::llabs(s.unaccounted) > std::llabs(r.unaccounted_max))
      r.unaccounted_max = s.unaccounted;
    if (std::llabs(s.mirror_unaccounted) > std::llabs(r.mirror_unaccounted_max))
      r.mirror_unaccounted_max = s.mirror_unaccounted;
    r.counted = r.counted && s.sw_counted;
    for (const auto& [k, n] : s.drop_reasons) r.drop_reasons[k] += n;
  }
  return r;
}

// variant -> mirror count -> the row's medians.
using MirrorRows = std::map<std::string, std::map<unsigned, MirrorRow>>;

// Rows of every variant, with the cost relative to the variant's 0-mirror row.
MirrorRows mirror_rows(const MirrorSamples& ms) {
  MirrorRows rows;
  for (const auto& [label, by_n] : ms) {
    for (const auto& [n, v] : by_n) rows[label][n] = mirror_row(v);
    auto z = rows[label].find(0);
    if (z == rows[label].end() || !(z->second.forwarded > 0)) continue;
    for (auto& [n, r] : rows[label]) r.cost = 1 - r.forwarded / z->second.forwarded;
  }
  return rows;
}

json mirror_sample_json(const MirrorSample& s) {
  json j;
  j["mirrors"] = s.mirrors;
  j["offered_fps"] = s.offered;
  j["forwarded_fps"] = s.forwarded;
  j["mirror_fps"] = s.dst_fps;
  j["cpu_percent"] = s.cpu_pct;
  j["cpu_ns_per_forwarded_frame"] = s.cpu_ns;
  j["account"] = {{"offered", s.offered_n},
                  {"sink", s.sink_n},
                  {"rx_ring_full", s.rx_ring},
                  {"rx_xsk_drops", s.rx_xsk},
                  {"switch_drops", s.sw_drops},
                  {"switch_drop_reasons", s.drop_reasons},
                  {"tx_lost", s.tx_lost},
                  {"unaccounted", s.unaccounted},
                  {"switch_counters_read", s.sw_counted}};
  j["mirror_account"] = {{"mirrored", s.mirrored},   {"delivered", s.delivered},
                         {"dropped", s.sw_dropped},  {"far_end", s.far_n},
                         {"wire_lost", s.wire_lost}, {"unaccounted", s.mirror_unaccounted}};
  return j;
}

json mirror_row_json(const MirrorRow& r) {
  json jr;
  jr["offered_fps"] = r.offered;
  jr["forwarded_fps"] = r.forwarded;
  jr["mirror_fps_per_destination"] = r.per_mirror;
  jr["cost"] = r.cost;
  jr["cpu_percent"] = r.cpu_pct;
  jr["cpu_ns_per_forwarded_frame"] = r.cpu_ns;
  jr["lost_rx_fraction"] = r.rx_lost;
  jr["switch_drops_fraction"] = r.sw_drops;
  jr["lost_tx_fraction"] = r.tx_lost;
  jr["unaccounted_max_abs"] = r.unaccounted_max;
  jr["mirrored"] = r.mirrored;
  jr["delivered"] = r.delivered;
  jr["mirror_dropped"] = r.sw_dropped;
  jr["mirror_wire_lost"] = r.wire_lost;
  jr["mirror_far_end"] = r.far;
  jr["mirror_unaccounted_max_abs"] = r.mirror_unaccounted_max;
  return jr;
}

// The lines above the table: what the test does, how the loss account reads.
void print_mirror_heading(const Options& o, const Topology& t) {
  std::printf(
      "\nbrisk-bench mirror test: 64-byte frames %s -> %s; n mirrors copy every frame entering "
      "or leaving %s, each to its own port (%sd0..), far ends count them; median of %d run(s), "
      "%.1f s each; generator on CPU %d, switch on CPU %d\n",
      t.gen_port.c_str(), t.sink_port.c_str(), t.gen_port.c_str(), t.prefix.c_str(), o.runs,
      o.duration, o.gen_cpu, o.switch_cpu);
  std::printf(
      "loss account per run, from the generator's start until drained: lost rx = ingress veth "
      "ring or AF_XDP RX ring full, sw drops = the switch's counted drops (brisk: named drops; "
      "OVS: ports' TX dropped), lost tx = egress veth ring full; unacc. frames = offered - sink - "
      "those (largest |x| of the runs). Mirror copies (summed over the mirrors; OVS: the "
      "destination ports' TX packets and TX dropped): mirrored = delivered + dropped; unacc. "
      "copies = mirrored - dropped - far end - wire lost (destination veth ring full).\n");
}

// The table's rows: a header, then per variant one row per mirror count.
Rows mirror_table_rows(const Options& o, MirrorRows& rows) {
  Rows tab;
  tab.push_back({"switch", "mirrors", "offered Mfps", "fwd Mfps", "cost %", "Mfps per mirror",
                 "CPU %", "CPU ns/fwd frame", "lost rx %", "sw drops %", "lost tx %",
                 "unacc. frames", "mirrored M", "delivered M", "dropped", "far end M", "wire lost",
                 "unacc. copies"});
  auto m = [](double v) { return fmt(v / 1e6, 3); };
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    for (const auto& [n, r] : rows[label]) {
      bool mir = n != 0;
      tab.push_back({label, std::to_string(n), fmt(r.offered / 1e6, 2), m(r.forwarded),
                     n == 0 ? "-" : fmt(r.cost * 100, 1), mir ? m(r.per_mirror) : "",
                     fmt(r.cpu_pct, 0), fmt(r.cpu_ns, 0), fmt(r.rx_lost * 100, 1),
                     r.counted ? fmt(r.sw_drops * 100, 2) : "?", fmt(r.tx_lost * 100, 2),
                     r.counted ? std::to_string(r.unaccounted_max) : "?", mir ? m(r.mirrored) : "",
                     mir ? m(r.delivered) : "", mir ? fmt(r.sw_dropped, 0) : "",
                     mir ? m(r.far) : "", mir ? fmt(r.wire_lost, 0) : "",
                     mir ? (r.counted ? std::to_string(r.mirror_unaccounted_max) : "?") : ""});
    }
  }
  return tab;
}

// The judgement: one mirror costs at most 10% of the forwarding rate.
void print_mirror_judgement(const Options& o, MirrorRows& rows) {
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    auto& r = rows[label];
    if (r.count(0) && r.count(1) && !std::isnan(r[1].cost))
      std::printf("%s: 1 mirror costs %.1f%% of the 0-mirror rate: target (<= 10%%) %s\n",
                  label.c_str(), r[1].cost * 100, r[1].cost <= 0.10 ? "MET" : "NOT MET");
    // CPU per forwarded frame grows by what the frame's copies cost.
    if (r.count(0) && !std::isnan(r[0].cpu_ns))
      for (const auto& [n, row] : r)
        if (n != 0 && !std::isnan(row.cpu_ns))
          std::printf(
              "%s: %u mirror(s): CPU %.0f ns per forwarded frame, %.0f ns more than with "
              "none: %.0f ns per copy\n",
              label.c_str(), n, row.cpu_ns, row.cpu_ns - r[0].cpu_ns,
              (row.cpu_ns - r[0].cpu_ns) / n);
  }
  if (rows.count("brisk fastpath on") && rows.count("brisk fastpath off")) {
    auto& on = rows["brisk fastpath on"];
    auto& off = rows["brisk fastpath off"];
    if (on.count(1) && off.count(0) && off[0].forwarded > 0)
      std::printf(
          "brisk: 1 mirror with the fast path on forwards %.2fx the rate of "
          "0 mirrors with it off (userspace)\n",
          on[1].forwarded / off[0].forwarded);
  }
}

// Below: the switch's named drops per row, each variant's description or failure.
void print_mirror_notes(const Options& o, MirrorRows& rows, const Results& res) {
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    for (const auto& [n, r] : rows[label]) {
      if (r.drop_reasons.empty()) continue;
      std::printf("  %s, %u mirror(s): the switch's drops over all runs: %s\n", label.c_str(), n,
                  join_counts(r.drop_reasons, " ").c_str());
    }
  }
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    if (auto e = res.mirror_errors.find(label); e != res.mirror_errors.end())
      std::printf("%s: FAILED: %s\n", label.c_str(), e->second.c_str());
    else if (auto d = res.described.find(label); d != res.described.end())
      std::printf("%s: %s\n", label.c_str(), d->second.c_str());
  }
}

}  // namespace

json mirror_json(const Options& o, const Results& res) {
  json j;
  MirrorRows rows = mirror_rows(res.mirror);
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    json jv;
    if (auto d = res.described.find(label); d != res.described.end()) jv["describe"] = d->second;
    if (auto e = res.mirror_errors.find(label); e != res.mirror_errors.end())
      jv["error"] = e->second;
    for (const auto& [n, r] : rows[label]) jv["median"][std::to_string(n)] = mirror_row_json(r);
    jv["runs"] = json::array();
    for (const auto& [n, v] : find_or_empty(res.mirror, label))
      for (const auto& s : v) jv["runs"].push_back(mirror_sample_json(s));
    j[label] = jv;
  }
  return j;
}

std::string mirror_sample_line(const MirrorSample& ms) {
  const unsigned n = ms.mirrors;
  std::string line = std::to_string(n) + " mirror(s): " + fmt(ms.forwarded / 1e6, 3) +
                     " Mfps forwarded of " + fmt(ms.offered / 1e6, 2) + " offered";
  for (double d : ms.dst_fps) line += ", " + fmt(d / 1e6, 3);
  if (n != 0) line += " Mfps mirrored";
  line += "; unaccounted " + std::to_string(ms.unaccounted) + " of " +
          std::to_string(ms.offered_n) + " offered";
  if (n != 0)
    line += ", mirrored " + std::to_string(ms.mirrored) + " = delivered " +
            std::to_string(ms.delivered) + " + dropped " + std::to_string(ms.sw_dropped) +
            ", far ends " + std::to_string(ms.far_n) + " + wire lost " +
            std::to_string(ms.wire_lost);
  return line;
}

void print_mirror_table(const Options& o, const Topology& t, const Results& res) {
  MirrorRows rows = mirror_rows(res.mirror);
  print_mirror_heading(o, t);
  print_table(mirror_table_rows(o, rows));
  print_mirror_judgement(o, rows);
  print_mirror_notes(o, rows, res);
}

}  // namespace bench
