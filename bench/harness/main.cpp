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
//   test_tcp_ports.hpp  the TCP matrix: brisk per port kind next to the bridge (iperf.hpp)
//   report.hpp       the comparison's table and JSON; report_mirror.hpp the mirror test's,
//                    report_tcp_ports.hpp the TCP matrix's
//   plot.hpp         the chart (--plot)
//
// This file wires them: options, testbed, the generator (with its fallback and ceiling),
// the rounds, the reports.
#include <linux/limits.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/harness/afxdp_forwarder.hpp"
#include "bench/harness/generator.hpp"
#include "bench/harness/measure.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/plot.hpp"
#include "bench/harness/proc.hpp"
#include "bench/harness/report.hpp"
#include "bench/harness/report_mirror.hpp"
#include "bench/harness/report_tcp_ports.hpp"
#include "bench/harness/switches.hpp"
#include "bench/harness/test_mirror.hpp"
#include "bench/harness/testbed.hpp"
#include "bench/harness/text.hpp"
#include "bench/harness/xdp_traffic.hpp"
#include "datapath/bpf_objects.hpp"

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

SwitchConfig switch_config(const Options& o, const std::string& self, const BenchBpf& bpf) {
  SwitchConfig cfg;
  cfg.briskd = o.briskd;
  cfg.brisk = o.brisk;
  cfg.briskd_args = o.briskd_args;
  cfg.brisk_xdp_obj = bpf_path(brisk::kXdpObject);
  cfg.self_exe = self;
  cfg.pass_prog_fd = bpf.pass_fd();
  cfg.xdp_senders = o.has_compare() || o.has("mirror");
  cfg.nice = o.nice;
  return cfg;
}

// The generator: --generator's, or live frames where the kernel runs them, else the XDP
// loop, else AF_XDP transmit. Its first run is the ceiling measurement. Sets it as bench's
// and records its name, the reason and the ceiling in res.
std::unique_ptr<TrafficGenerator> choose_generator(const Options& o, const Topology& topo,
                                                   BenchBpf& bpf, Bench& bench, Results& res) {
  GenKind gk = o.generator;
  bool fall_back = false;
  if (gk == GenKind::automatic) {
    std::string refusal = live_frames_refusal(bpf, topo.gen_ns, topo.gen_dev);
    gk = refusal.empty() ? GenKind::live : GenKind::loop;
    fall_back = !refusal.empty();
    if (fall_back) res.gen_reason = "the kernel refuses XDP live frames: " + refusal;
  } else {
    res.gen_reason = std::string("--generator ") + gen_kind_name(gk);
  }
  LoopDevs loop{topo.gen_ns, topo.loop_a, topo.loop_b};
  std::unique_ptr<TrafficGenerator> gen = make_generator(gk, bpf, loop);
  bench.set_generator(*gen);
  try {
    res.gen_ceiling = bench.measure_ceiling();
  } catch (const std::runtime_error& e) {
    if (!fall_back) throw;
    res.gen_reason += std::string("; ") + e.what();
    gen = make_generator(GenKind::afxdp, bpf, loop);
    bench.set_generator(*gen);
    res.gen_ceiling = bench.measure_ceiling();
  }
  res.gen_name = gen->name();
  log("generator: " + res.gen_name + (res.gen_reason.empty() ? "" : " (" + res.gen_reason + ")") +
      ", ceiling (no switch, XDP sink) " + fmt(res.gen_ceiling / 1e6, 3) + " Mfps" +
      (gen->kind() == GenKind::loop
           ? ", own cost " + fmt(bench.gen_cost_ns(), 0) + " ns/frame (off CPU/frame)"
           : ""));
  return gen;
}

// The rounds: each runs every switch of the comparison once, alternating, then the mirror
// test's variants, then the TCP matrix's cells. `current` is the switch running now; the
// caller stops it when a round is cut short.
class Rounds {
 public:
  Rounds(const Options& o, Testbed& bed, const Topology& topo, const SwitchConfig& cfg,
         Bench& bench, Results& res, std::unique_ptr<SwitchUnderTest>& current)
      : o_(o), bed_(bed), topo_(topo), cfg_(cfg), bench_(bench), res_(res), current_(current) {}

  void run() {
    for (int r = 0; r < o_.runs; ++r) {
      for (const auto& name : o_.has_compare() ? o_.switches : std::vector<std::string>{})
        compare(r, name);
      // The mirror test: brisk with the fast path on and/or off, and Open vSwitch, every
      // mirror count in turn on one running switch (set_mirrors() reconfigures it).
      for (const auto& var : o_.has("mirror") ? mirror_variants(o_) : std::vector<MirrorVariant>{})
        mirror(r, var);
      if (o_.has("tcp-ports")) tcp_ports(r);
    }
  }

 private:
  std::string run_label(int r, const std::string& label) const {
    return "run " + std::to_string(r + 1) + "/" + std::to_string(o_.runs) + " " + label;
  }

  void compare(int r, const std::string& name) {
    if (res_.errors.count(name)) return;  // failed to start before: skip the rest of its runs
    one(name, res_.errors, res_.described, make_switch(name, topo_, cfg_), [&] {
      Sample s = measure(bench_, *current_);
      res_.samples[name].push_back(s);
      log(run_label(r, name) + ":" + sample_line(o_, s));
    });
  }

  void mirror(int r, const MirrorVariant& var) {
    const std::string& label = var.label;
    if (res_.mirror_errors.count(label)) return;
    SwitchConfig mc = cfg_;
    mc.mirror_ports = static_cast<unsigned>(topo_.mirror_ports.size());
    for (const auto& a : var.briskd_args) mc.briskd_args.push_back(a);
    one(label, res_.mirror_errors, res_.described, make_switch(var.sw, topo_, mc), [&] {
      for (unsigned n : o_.mirrors) {
        MirrorSample ms = measure_mirrors(bench_, *current_, n);
        res_.mirror[label][n].push_back(ms);
        log(run_label(r, label) + ", " + mirror_sample_line(ms));
      }
    });
  }

  // The TCP matrix (test_tcp_ports.hpp): per kind and MTU, brisk and the bridge, whichever
  // went second in the last round first.
  void tcp_ports(int r) {
    std::vector<std::string> sws = tcp_port_switches();
    if (r % 2 == 1) std::reverse(sws.begin(), sws.end());
    TcpPortResults& tr = res_.tcp_ports;
    for (const auto& name : o_.tcp_ports) {
      const TcpPortKind& kind = *std::find_if(tcp_port_kinds().begin(), tcp_port_kinds().end(),
                                              [&](const TcpPortKind& k) { return name == k.name; });
      for (unsigned mtu : o_.tcp_mtus)
        for (const auto& sw : sws) {
          const std::string label = tcp_ports_label(name, mtu, sw);
          if (tr.errors.count(label)) continue;  // failed to start before
          try {
            bed_.set_mtu(mtu);
          } catch (const std::runtime_error& e) {
            tr.errors[label] = std::string("MTU ") + std::to_string(mtu) + ": " + e.what();
            log(label + " failed: " + tr.errors[label]);
            continue;
          }
          one(label, tr.errors, tr.described,
              make_switch(sw, topo_, tcp_ports_config(cfg_, kind, mtu, sw)),
              [&] { measure_tcp_ports(o_, topo_, kind, mtu, sw, *current_, tr); });
        }
    }
  }

  // One round of one switch: start it and run `tests`. A failure is logged and recorded in
  // `errs` under `label` (its later rounds are skipped), its description in `described`;
  // Ctrl-C goes on up; the switch is stopped either way.
  void one(const std::string& label, std::map<std::string, std::string>& errs,
           std::map<std::string, std::string>& described, std::unique_ptr<SwitchUnderTest> sw,
           const std::function<void()>& tests) {
    current_ = std::move(sw);
    try {
      current_->start();
      described[label] = current_->describe();
      sleep_s(0.2);
      tests();
    } catch (const Interrupted&) {
      throw;
    } catch (const std::exception& e) {
      errs[label] = e.what();
      log(label + " failed: " + e.what());
    }
    current_->stop();
    current_.reset();
  }

  const Options& o_;
  Testbed& bed_;
  const Topology& topo_;
  const SwitchConfig& cfg_;
  Bench& bench_;
  Results& res_;
  std::unique_ptr<SwitchUnderTest>& current_;
};

// Builds the testbed in bed, chooses the generator and runs the rounds into res. Throws on
// failure and Interrupted on Ctrl-C; the caller cleans up (current, bed).
void run_bench(const Options& o, const std::string& self, Topology& topo,
               std::optional<Testbed>& bed, std::unique_ptr<SwitchUnderTest>& current,
               Results& res) {
  BenchBpf bpf(bpf_path(brisk::kBenchObject));
  bed.emplace(o, topo);
  log("prefix " + topo.prefix + ", topology " + o.topology + ", namespaces " + topo.gen_ns + " " +
      topo.sink_ns +
      (topo.vxlan ? " " + topo.gen_port_ns + " " + topo.sink_port_ns : std::string()) +
      ", workdir " + topo.workdir);
  SwitchConfig cfg = switch_config(o, self, bpf);
  std::vector<std::unique_ptr<BenchBpf>> far;  // one sink per mirror destination
  for (std::size_t i = 0; i < topo.mirror_devs.size(); ++i)
    far.push_back(std::make_unique<BenchBpf>(bpf_path(brisk::kBenchObject)));
  Bench bench(o, topo, bpf, far);
  // The generator and the sink: for the frame tests (the TCP matrix needs neither).
  std::unique_ptr<TrafficGenerator> gen;
  if (o.has_compare() || o.has("mirror")) {
    gen = choose_generator(o, topo, bpf, bench, res);
    bench.attach_sink(o.sinks.front());
  }
  if (o.has("mirror"))
    for (const auto& name : o.switches)
      if (name != "brisk" && name != "ovs")
        log("mirror test: not run for " + name + " (brisk and ovs only)");
  Rounds(o, *bed, topo, cfg, bench, res, current).run();
}

// The reports: the chart (--plot), the JSON document or the tables; the exit status.
int report(const Options& o, const Topology& topo, const Results& res) {
  nlohmann::json j = report_json(o, topo, res);
  if (!o.plot.empty() && o.has_compare()) {
    try {
      write_plot(j, o.plot, plot_title(o, res.gen_name));
      log("chart written to " + o.plot);
    } catch (const std::exception& e) {
      log(e.what());
      return 1;
    }
  }
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else if (o.has_compare()) {
    print_report(o, topo, res);
  }
  if (!o.json) {
    if (o.has("mirror")) print_mirror_table(o, topo, res);
    if (o.has("tcp-ports")) print_tcp_ports_table(o, topo, res.tcp_ports);
    std::printf("elapsed %.0f s\n", now_s() - res.t_start);
  }
  return res.errors.empty() && res.mirror_errors.empty() && res.tcp_ports.errors.empty() ? 0 : 3;
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
  Results res;
  std::unique_ptr<SwitchUnderTest> current;
  std::optional<Testbed> bed;
  res.t_start = now_s();
  int rc = 0;
  try {
    run_bench(o, me, topo, bed, current, res);
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
  return report(o, topo, res);
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
