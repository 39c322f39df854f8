// brisk-bench: the system benchmark harness (docs/benchmarks.md). Measures brisk, the Linux
// bridge, Open vSwitch's userspace datapath and a bare AF_XDP forwarder on one topology it
// builds itself, one switch at a time, alternating, and prints medians with ratios (a table,
// or JSON with --json). What it measures and how: measure.hpp. The parts:
//
//   options.hpp      the command line: Options, the table of options, the usage text
//   testbed.hpp      the topology: namespaces, veths, underlay, ceiling and loop pairs
//   generator.hpp    the traffic generators (live frames, XDP loop, AF_XDP transmit)
//   switches.hpp     the switches under test, a registry of switch_<name>.cpp
//   measure.hpp      Bench and the comparison's tests (fps, macs, latency; test_tcp.cpp)
//   test_mirror.hpp  the mirror test and its loss account
//   plot.hpp         the chart (--plot)
//
// This file wires them: options, testbed, the generator (with its fallback and ceiling),
// the rounds, the reports.
#include <linux/limits.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "bench/harness/afxdp_forwarder.hpp"
#include "bench/harness/measure.hpp"
#include "bench/harness/netdev_stats.hpp"
#include "bench/harness/netns.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/plot.hpp"
#include "bench/harness/proc.hpp"
#include "bench/harness/switches.hpp"
#include "bench/harness/test_mirror.hpp"
#include "bench/harness/testbed.hpp"
#include "bench/harness/text.hpp"
#include "bench/harness/xdp_traffic.hpp"
#include "datapath/bpf_objects.hpp"

using nlohmann::json;

namespace bench {
namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "brisk-bench";
  buf[n] = '\0';
  return buf;
}

// A BPF object of bpf/, where every brisk program finds it (datapath/bpf_objects.hpp).
std::string bpf_path(std::string_view file) { return brisk::find_bpf_object(file); }

// The chart's heading: date, machine, kernel, generator, runs.
std::string plot_title(const Options& o, const std::string& gen) {
  char date[32] = "";
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
  utsname u{};
  uname(&u);
  return "brisk-bench " + std::string(date) + ": " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
         " CPUs, Linux " + u.release + "; generator " + gen + ", median of " +
         std::to_string(o.runs) + (o.runs == 1 ? " run" : " runs");
}

// ---------------------------------------------------------------------------- output

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Column {
  std::string key, header;
  int precision;
  double scale;
  bool ratio;  // ratios printed for this column
};

json sample_json(const Sample& s) {
  json j;
  j["offered_fps"] = s.offered;
  j["generator_share"] = s.gen_share;
  j["delivered_fps"] = s.delivered;
  for (const auto& [k, v] : s.sink_delivered) j["sink_fps"][k] = v;
  j["loss"] = s.loss;
  j["cpu_ns_per_frame"] = s.cpu_ns;
  j["cpu_percent"] = s.cpu_pct;
  j["overload_latency_p50_us"] = s.ovl_p50;
  j["overload_latency_p99_us"] = s.ovl_p99;
  for (const auto& [n, v] : s.macs) j["macs_fps"][std::to_string(n)] = v;
  j["latency_p50_us"] = s.lat_p50;
  j["latency_p99_us"] = s.lat_p99;
  j["latency_delivered_fps"] = s.lat_delivered;
  j["tcp_gbps"] = s.tcp_gbps;
  if (s.tcp_failed) j["tcp_error"] = s.tcp_error;
  return j;
}

// ---------------------------------------------------------------------------- mirror test

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
  auto med = [&](auto get) {
    std::vector<double> x;
    for (const auto& s : v) x.push_back(get(s));
    return median(x);
  };
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

// Rows of every variant, with the cost relative to the variant's 0-mirror row.
std::map<std::string, std::map<unsigned, MirrorRow>> mirror_rows(const MirrorSamples& ms) {
  std::map<std::string, std::map<unsigned, MirrorRow>> rows;
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

json mirror_json(const Options& o, const MirrorSamples& ms,
                 const std::map<std::string, std::string>& described,
                 const std::map<std::string, std::string>& merrors) {
  json j;
  auto rows = mirror_rows(ms);
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    json jv;
    if (auto d = described.find(label); d != described.end()) jv["describe"] = d->second;
    if (auto e = merrors.find(label); e != merrors.end()) jv["error"] = e->second;
    for (const auto& [n, r] : rows[label]) {
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
      jv["median"][std::to_string(n)] = jr;
    }
    jv["runs"] = json::array();
    if (auto it = ms.find(label); it != ms.end())
      for (const auto& [n, v] : it->second)
        for (const auto& s : v) jv["runs"].push_back(mirror_sample_json(s));
    j[label] = jv;
  }
  return j;
}

void print_mirror_table(const Options& o, const Topology& t, const MirrorSamples& ms,
                        const std::map<std::string, std::string>& described,
                        const std::map<std::string, std::string>& merrors) {
  auto rows = mirror_rows(ms);
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
  std::vector<std::vector<std::string>> tab;
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
  std::vector<std::size_t> w(tab[0].size(), 0);
  for (const auto& r : tab)
    for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (std::size_t ri = 0; ri < tab.size(); ++ri) {
    std::string line;
    for (std::size_t i = 0; i < tab[ri].size(); ++i) {
      const std::string& cell = tab[ri][i];
      std::string pad(w[i] - cell.size(), ' ');
      line += (i == 0 ? cell + pad : pad + cell);
      if (i + 1 < tab[ri].size()) line += " | ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
    if (ri == 0) {
      std::string sep;
      for (std::size_t i = 0; i < w.size(); ++i)
        sep += std::string(w[i] + (i == 0 ? 1 : 2), '-') + (i + 1 < w.size() ? "+" : "");
      std::printf("%s\n", sep.c_str());
    }
  }
  // The judgement: one mirror costs at most 10% of the forwarding rate.
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
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    for (const auto& [n, r] : rows[label]) {
      if (r.drop_reasons.empty()) continue;
      std::string d;
      for (const auto& [k, v] : r.drop_reasons) d += " " + k + " " + std::to_string(v);
      std::printf("  %s, %u mirror(s): the switch's drops over all runs:%s\n", label.c_str(), n,
                  d.c_str());
    }
  }
  for (const auto& var : mirror_variants(o)) {
    const std::string& label = var.label;
    if (auto e = merrors.find(label); e != merrors.end())
      std::printf("%s: FAILED: %s\n", label.c_str(), e->second.c_str());
    else if (auto d = described.find(label); d != described.end())
      std::printf("%s: %s\n", label.c_str(), d->second.c_str());
  }
}

int real_main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--afxdp-forwarder") {
    if (argc != 6) usage_error("--afxdp-forwarder A B CPU BPF_OBJECT");
    return afxdp_forwarder_main(argv[2], argv[3], std::atoi(argv[4]), argv[5]);
  }
  std::optional<Options> parsed = parse_options(argc, argv);
  if (!parsed) return 0;  // --help
  Options& o = *parsed;
  if (geteuid() != 0) {
    std::fprintf(stderr, "brisk-bench: needs root (namespaces, veths, XDP)\n");
    return 1;
  }
  std::string me = self_exe();
  locate_binaries(o, me);
  install_signal_handlers();

  Topology topo;
  std::unique_ptr<SwitchUnderTest> current;
  std::map<std::string, std::vector<Sample>> samples;
  std::map<std::string, std::string> described;
  std::map<std::string, std::string> errors;
  // Mirror test: variant ("brisk fastpath on") -> mirror count -> one sample per round.
  std::map<std::string, std::map<unsigned, std::vector<MirrorSample>>> msamples;
  std::map<std::string, std::string> merrors;
  double t_start = now_s();
  std::string gen_name, gen_reason;
  double gen_ceiling = NAN;
  int rc = 0;
  std::optional<Testbed> bed;
  try {
    BenchBpf bpf(bpf_path(brisk::kBenchObject));
    bed.emplace(o, topo);
    log("prefix " + topo.prefix + ", topology " + o.topology + ", namespaces " + topo.gen_ns + " " +
        topo.sink_ns +
        (topo.vxlan ? " " + topo.gen_port_ns + " " + topo.sink_port_ns : std::string()) +
        ", workdir " + topo.workdir);
    SwitchConfig cfg;
    cfg.briskd = o.briskd;
    cfg.brisk = o.brisk;
    cfg.briskd_args = o.briskd_args;
    cfg.brisk_xdp_obj = bpf_path(brisk::kXdpObject);
    cfg.self_exe = me;
    cfg.pass_prog_fd = bpf.pass_fd();
    cfg.nice = o.nice;
    std::vector<std::unique_ptr<BenchBpf>> far;  // one sink per mirror destination
    for (std::size_t i = 0; i < topo.mirror_devs.size(); ++i)
      far.push_back(std::make_unique<BenchBpf>(bpf_path(brisk::kBenchObject)));
    // The generator: --generator's, or live frames where the kernel runs them, else the XDP
    // loop, else AF_XDP transmit. Its first run is the ceiling measurement.
    GenKind gk = o.generator;
    bool fall_back = false;
    if (gk == GenKind::automatic) {
      std::string refusal = live_frames_refusal(bpf, topo.gen_ns, topo.gen_dev);
      gk = refusal.empty() ? GenKind::live : GenKind::loop;
      fall_back = !refusal.empty();
      if (fall_back) gen_reason = "the kernel refuses XDP live frames: " + refusal;
    } else {
      gen_reason = std::string("--generator ") + gen_kind_name(gk);
    }
    LoopDevs loop{topo.gen_ns, topo.loop_a, topo.loop_b};
    std::unique_ptr<TrafficGenerator> gen = make_generator(gk, bpf, loop);
    Bench bench(o, topo, bpf, far);
    bench.set_generator(*gen);
    try {
      gen_ceiling = bench.measure_ceiling();
    } catch (const std::runtime_error& e) {
      if (!fall_back) throw;
      gen_reason += std::string("; ") + e.what();
      gen = make_generator(GenKind::afxdp, bpf, loop);
      bench.set_generator(*gen);
      gen_ceiling = bench.measure_ceiling();
    }
    gen_name = gen->name();
    log("generator: " + gen_name + (gen_reason.empty() ? "" : " (" + gen_reason + ")") +
        ", ceiling (no switch, XDP sink) " + fmt(gen_ceiling / 1e6, 3) + " Mfps" +
        (gen->kind() == GenKind::loop
             ? ", own cost " + fmt(bench.gen_cost_ns(), 0) + " ns/frame (off CPU/frame)"
             : ""));
    bench.attach_sink(o.sinks.front());
    if (o.has("mirror"))
      for (const auto& name : o.switches)
        if (name != "brisk" && name != "ovs")
          log("mirror test: not run for " + name + " (brisk and ovs only)");
    // One round of one switch: start it and run `tests`. A failure is logged and recorded in
    // `errs` under `label` (its later rounds are skipped); Ctrl-C goes on up; the switch is
    // stopped either way.
    auto run_round = [&](const std::string& label, std::map<std::string, std::string>& errs,
                         std::unique_ptr<SwitchUnderTest> sw, const std::function<void()>& tests) {
      current = std::move(sw);
      try {
        current->start();
        described[label] = current->describe();
        sleep_s(0.2);
        tests();
      } catch (const Interrupted&) {
        throw;
      } catch (const std::exception& e) {
        errs[label] = e.what();
        log(label + " failed: " + e.what());
      }
      current->stop();
      current.reset();
    };
    for (int r = 0; r < o.runs; ++r) {
      for (const auto& name : o.has_compare() ? o.switches : std::vector<std::string>{}) {
        if (errors.count(name)) continue;  // failed to start before: skip the rest of its runs
        run_round(name, errors, make_switch(name, topo, cfg), [&] {
          Sample s = measure(bench, *current);
          samples[name].push_back(s);
          std::string line =
              "run " + std::to_string(r + 1) + "/" + std::to_string(o.runs) + " " + name + ":";
          if (!std::isnan(s.delivered))
            line += " " + fmt(s.delivered / 1e6, 3) + " Mfps of " + fmt(s.offered / 1e6, 2) +
                    " offered, " + fmt(s.cpu_ns, 0) + " ns CPU/frame";
          for (const auto& [n, v] : s.macs)
            line += ", " + mac_label(n) + " MACs " + fmt(v / 1e6, 3);
          if (!std::isnan(s.lat_p50))
            line += ", p50/p99 " + fmt(s.lat_p50, 1) + "/" + fmt(s.lat_p99, 1) + " us";
          if (o.has("tcp"))
            line += s.tcp_failed ? ", TCP failed (" + s.tcp_error + ")"
                                 : ", TCP " + fmt(s.tcp_gbps, 2) + " Gbit/s";
          log(line);
        });
      }
      // The mirror test: brisk with the fast path on and/or off, and Open vSwitch, every
      // mirror count in turn on one running switch (set_mirrors() reconfigures it).
      for (const auto& var : o.has("mirror") ? mirror_variants(o) : std::vector<MirrorVariant>{}) {
        const std::string& label = var.label;
        if (merrors.count(label)) continue;
        SwitchConfig mc = cfg;
        mc.mirror_ports = static_cast<unsigned>(topo.mirror_ports.size());
        for (const auto& a : var.briskd_args) mc.briskd_args.push_back(a);
        run_round(label, merrors, make_switch(var.sw, topo, mc), [&] {
          for (unsigned n : o.mirrors) {
            MirrorSample ms = measure_mirrors(bench, *current, n);
            msamples[label][n].push_back(ms);
            std::string line = "run " + std::to_string(r + 1) + "/" + std::to_string(o.runs) + " " +
                               label + ", " + std::to_string(n) +
                               " mirror(s): " + fmt(ms.forwarded / 1e6, 3) + " Mfps forwarded of " +
                               fmt(ms.offered / 1e6, 2) + " offered";
            for (double d : ms.dst_fps) line += ", " + fmt(d / 1e6, 3);
            if (n != 0) line += " Mfps mirrored";
            line += "; unaccounted " + std::to_string(ms.unaccounted) + " of " +
                    std::to_string(ms.offered_n) + " offered";
            if (n != 0)
              line += ", mirrored " + std::to_string(ms.mirrored) + " = delivered " +
                      std::to_string(ms.delivered) + " + dropped " + std::to_string(ms.sw_dropped) +
                      ", far ends " + std::to_string(ms.far_n) + " + wire lost " +
                      std::to_string(ms.wire_lost);
            log(line);
          }
        });
      }
    }
  } catch (const Interrupted&) {
    log("interrupted; cleaning up");
    rc = 130;
  } catch (const std::exception& e) {
    log(std::string("error: ") + e.what());
    rc = 1;
  }
  ignore_interrupts();
  if (current) current->stop();
  stop_all();
  if (bed) bed->teardown();
  if (rc != 0) return rc;

  // ---- medians, table, JSON
  auto med = [&](const std::string& sw, auto get) {
    std::vector<double> v;
    for (const auto& s : samples[sw]) v.push_back(get(s));
    return median(v);
  };
  std::vector<Column> cols;
  std::map<std::string, std::map<std::string, double>> m;  // switch -> key -> median
  if (o.has("fps")) {
    cols.push_back({"offered_fps", "offered Mfps", 2, 1e-6, false});
    cols.push_back({"generator_share", "gen %", 0, 100, false});
    cols.push_back({"delivered_fps", "Mfps", 3, 1e-6, true});
    for (std::size_t i = 1; i < o.sinks.size(); ++i)
      cols.push_back({"sink_" + o.sinks[i] + "_fps", o.sinks[i] + " sink Mfps", 3, 1e-6, true});
    cols.push_back({"loss", "loss %", 1, 100, false});
    cols.push_back({"cpu_ns_per_frame", "CPU ns/frame", 0, 1, false});
    cols.push_back({"cpu_percent", "CPU %", 0, 1, false});
  }
  if (o.has("macs"))
    for (auto n : o.macs)
      cols.push_back({"macs_" + std::to_string(n), mac_label(n) + " MACs Mfps", 3, 1e-6, true});
  if (o.has("latency")) {
    cols.push_back({"latency_p50_us", "p50 us", 1, 1, false});
    cols.push_back({"latency_p99_us", "p99 us", 1, 1, false});
  }
  if (o.has("tcp")) cols.push_back({"tcp_gbps", "TCP Gbit/s", 2, 1, true});
  for (const auto& sw : o.switches) {
    auto& mm = m[sw];
    mm["offered_fps"] = med(sw, [](const Sample& s) { return s.offered; });
    mm["generator_share"] = med(sw, [](const Sample& s) { return s.gen_share; });
    for (const auto& k : o.sinks)
      mm["sink_" + k + "_fps"] = med(sw, [&k](const Sample& s) {
        auto it = s.sink_delivered.find(k);
        return it == s.sink_delivered.end() ? NAN : it->second;
      });
    mm["delivered_fps"] = med(sw, [](const Sample& s) { return s.delivered; });
    mm["loss"] = med(sw, [](const Sample& s) { return s.loss; });
    mm["cpu_ns_per_frame"] = med(sw, [](const Sample& s) { return s.cpu_ns; });
    mm["cpu_percent"] = med(sw, [](const Sample& s) { return s.cpu_pct; });
    mm["overload_latency_p50_us"] = med(sw, [](const Sample& s) { return s.ovl_p50; });
    mm["overload_latency_p99_us"] = med(sw, [](const Sample& s) { return s.ovl_p99; });
    for (auto n : o.macs)
      mm["macs_" + std::to_string(n)] = med(sw, [n](const Sample& s) {
        auto it = s.macs.find(n);
        return it == s.macs.end() ? NAN : it->second;
      });
    mm["latency_p50_us"] = med(sw, [](const Sample& s) { return s.lat_p50; });
    mm["latency_p99_us"] = med(sw, [](const Sample& s) { return s.lat_p99; });
    mm["tcp_gbps"] = med(sw, [](const Sample& s) { return s.tcp_gbps; });
  }
  std::vector<std::string> others;
  bool have_brisk = std::find(o.switches.begin(), o.switches.end(), "brisk") != o.switches.end();
  for (const auto& sw : o.switches)
    if (sw != "brisk") others.push_back(sw);
  auto ratio = [&](const std::string& key, const std::string& other) {
    double a = m["brisk"][key], b = m[other][key];
    return (b > 0 && !std::isnan(a)) ? a / b : NAN;
  };

  // The results as JSON: printed with --json, drawn with --plot.
  json j;
  {
    j["config"] = {{"topology", o.topology},
                   {"frame_bytes", 64},
                   {"runs", o.runs},
                   {"duration_s", o.duration},
                   {"warmup_s", o.warmup},
                   {"rate_fps", o.rate},
                   {"latency_rate_fps", o.latency_rate},
                   {"tcp_duration_s", o.tcp_duration},
                   {"gen_cpu", o.gen_cpu},
                   {"generator",
                    {{"kind", gen_kind_name(o.generator)},
                     {"name", gen_name},
                     {"reason", gen_reason},
                     {"ceiling_fps", gen_ceiling},
                     {"bound_share", kGenBound}}},
                   {"sinks", o.sinks},
                   {"switch_cpu", o.switch_cpu},
                   {"switch_b_cpu", topo.switch_b_cpu},
                   {"nice", o.nice},
                   {"macs", o.macs},
                   {"tests", o.tests},
                   {"switches", o.switches}};
    if (o.has("mirror")) {
      j["config"]["mirrors"] = o.mirrors;
      j["config"]["mirror_fastpath"] = o.mirror_fastpath;
    }
    for (const auto& sw : o.has_compare() ? o.switches : std::vector<std::string>{}) {
      json js;
      js["describe"] = described[sw];
      if (o.has("fps")) js["generator_bound"] = m[sw]["generator_share"] >= kGenBound;
      if (errors.count(sw)) js["error"] = errors[sw];
      for (const auto& [k, v] : m[sw]) js["median"][k] = v;
      js["runs"] = json::array();
      for (const auto& s : samples[sw]) js["runs"].push_back(sample_json(s));
      j["switches"][sw] = js;
    }
    if (have_brisk && o.has_compare())
      for (const auto& other : others)
        for (const auto& c : cols)
          if (c.ratio) j["ratios"]["brisk/" + other][c.key] = ratio(c.key, other);
    if (o.has("mirror")) j["mirror"] = mirror_json(o, msamples, described, merrors);
    j["elapsed_s"] = now_s() - t_start;
  }
  if (!o.plot.empty() && o.has_compare()) {
    try {
      write_plot(j, o.plot, plot_title(o, gen_name));
      log("chart written to " + o.plot);
    } catch (const std::exception& e) {
      log(e.what());
      return 1;
    }
  }
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else if (o.has_compare()) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> head = {"switch"};
    for (const auto& c : cols) head.push_back(c.header);
    rows.push_back(head);
    for (const auto& sw : o.switches) {
      std::vector<std::string> r = {sw};
      for (const auto& c : cols) {
        double v = m[sw][c.key];
        r.push_back(fmt(std::isnan(v) ? v : v * c.scale, c.precision));
      }
      rows.push_back(r);
    }
    if (have_brisk)
      for (const auto& other : others) {
        std::vector<std::string> r = {"brisk / " + other};
        for (const auto& c : cols) r.push_back(c.ratio ? fmt(ratio(c.key, other), 2) + "x" : "");
        rows.push_back(r);
      }
    std::vector<std::size_t> w(head.size(), 0);
    for (const auto& r : rows)
      for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    std::printf(
        "brisk-bench: 64-byte frames, median of %d run(s), %.1f s each; generator: %s on CPU "
        "%d%s; switch on CPU %d\n",
        o.runs, o.duration, gen_name.c_str(), o.gen_cpu,
        o.rate > 0 ? (", " + fmt(o.rate / 1e6, 2) + " Mfps offered").c_str() : ", unpaced",
        o.switch_cpu);
    if (!gen_reason.empty()) std::printf("generator chosen because %s\n", gen_reason.c_str());
    if (o.has("fps"))
      std::printf(
          "generator ceiling %s Mfps (into an XDP sink, no switch); gen %% = offered / ceiling, "
          "%.0f%% or more: generator-bound. Mfps: delivered to the %s sink\n",
          fmt(gen_ceiling / 1e6, 3).c_str(), kGenBound * 100, o.sinks.front().c_str());
    if (topo.vxlan)
      std::printf(
          "topology vxlan: generator -> switch A =VXLAN VNI %u over a veth underlay (MTU %d)=> "
          "switch B -> sink; brisk's second worker on CPU %d\n",
          topo.vni, topo.underlay_mtu, topo.switch_b_cpu);
    if (o.has("latency"))
      std::printf("latency: one-way, generator to sink, at %s frames/s\n",
                  fmt(o.latency_rate, 0).c_str());
    for (std::size_t ri = 0; ri < rows.size(); ++ri) {
      std::string line;
      for (std::size_t i = 0; i < rows[ri].size(); ++i) {
        std::string cell = rows[ri][i];
        std::string pad(w[i] - cell.size(), ' ');
        line += (i == 0 ? cell + pad : pad + cell);
        if (i + 1 < rows[ri].size()) line += " | ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      std::printf("%s\n", line.c_str());
      if (ri == 0 || ri == o.switches.size()) {
        if (ri == o.switches.size() && !(have_brisk && !others.empty())) continue;
        std::string sep;
        for (std::size_t i = 0; i < w.size(); ++i)
          sep += std::string(w[i] + (i == 0 ? 1 : 2), '-') + (i + 1 < w.size() ? "+" : "");
        std::printf("%s\n", sep.c_str());
      }
    }
    for (const auto& sw : o.switches) {
      if (o.has("fps") && m[sw]["generator_share"] >= kGenBound)
        std::printf(
            "%s: generator-bound: it forwarded what the generator could offer (%s of "
            "the ceiling); its Mfps is a lower bound\n",
            sw.c_str(), fmt(m[sw]["generator_share"] * 100, 0).c_str());
      if (errors.count(sw))
        std::printf("%s: FAILED: %s\n", sw.c_str(), errors[sw].c_str());
      else
        std::printf("%s: %s\n", sw.c_str(), described[sw].c_str());
      int tf = 0;
      std::string te;
      for (const auto& s : samples[sw])
        if (s.tcp_failed) {
          ++tf;
          te = s.tcp_error;
        }
      if (tf)
        std::printf("  TCP failed in %d of %zu runs (%s); counted as 0\n", tf, samples[sw].size(),
                    te.c_str());
    }
  }
  if (!o.json) {
    if (o.has("mirror")) print_mirror_table(o, topo, msamples, described, merrors);
    std::printf("elapsed %.0f s\n", now_s() - t_start);
  }
  return errors.empty() && merrors.empty() ? 0 : 3;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  try {
    return bench::real_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brisk-bench: %s\n", e.what());
    bench::stop_all();
    return 1;
  }
}
