#include "bench/harness/report_tcp_ports.hpp"

#include <cstdio>

#include "bench/harness/report.hpp"
#include "bench/harness/text.hpp"

using nlohmann::json;

namespace bench {
namespace {

// The medians of one switch in one cell: failed runs count 0 Gbit/s and no CPU figure.
struct CellMedians {
  double gbps = NAN, cpu = NAN;
  int runs = 0, failed = 0;
  std::string error;  // the last failed run's
};

const std::vector<IperfResult>& runs_of(const TcpPortResults& r, const TcpCell& c,
                                        const std::string& sw) {
  return find_or_empty(find_or_empty(r.runs, c), sw);
}

CellMedians medians(const std::vector<IperfResult>& v) {
  CellMedians m;
  for (const auto& x : v) {
    ++m.runs;
    if (!x.ok()) {
      ++m.failed;
      m.error = x.error;
    }
  }
  m.gbps = median_of(v, [](const IperfResult& x) { return x.gbps; });
  m.cpu = median_of(v, [](const IperfResult& x) { return x.ok() ? x.cpu_s_per_gbyte() : NAN; });
  return m;
}

// The cells in the report's order: kind, MTU, streams.
std::vector<TcpCell> cells(const Options& o) {
  std::vector<TcpCell> v;
  for (const auto& k : o.tcp_ports)
    for (unsigned mtu : o.tcp_mtus)
      for (unsigned n : o.tcp_streams) v.push_back(TcpCell{k, mtu, n});
  return v;
}

const TcpPortKind& kind_of(const std::string& name) {
  for (const auto& k : tcp_port_kinds())
    if (name == k.name) return k;
  return tcp_port_kinds().front();  // names were checked by the options
}

json switch_json(const TcpPortResults& r, const TcpCell& c, const std::string& sw) {
  const auto& v = runs_of(r, c, sw);
  CellMedians m = medians(v);
  json j = {{"gbps", m.gbps}, {"cpu_s_per_gbyte", m.cpu}, {"runs", json::array()}};
  for (const auto& x : v) {
    json run = {{"gbps", x.gbps},
                {"bytes", x.bytes},
                {"seconds", x.seconds},
                {"retransmits", x.retransmits},
                {"busy_cpu_s", x.busy_cpu_s},
                {"wall_s", x.wall_s},
                {"busy_share", x.busy_share},
                {"cpu_s_per_gbyte", x.cpu_s_per_gbyte()}};
    if (!x.ok()) run["error"] = x.error;
    j["runs"].push_back(run);
  }
  auto e = r.errors.find(tcp_ports_label(c.kind, c.mtu, sw));
  if (e != r.errors.end()) j["error"] = e->second;
  return j;
}

// Below the table, for one kind and switch: how it ran (once), and per MTU its failure, the
// iperf3 runs that failed, and the switch's named drops.
void print_notes(const Options& o, const TcpPortResults& r, const std::string& kind,
                 const std::string& sw) {
  bool described = false;
  for (unsigned mtu : o.tcp_mtus) {
    const std::string label = tcp_ports_label(kind, mtu, sw);
    if (auto e = r.errors.find(label); e != r.errors.end())
      std::printf("  %s: FAILED: %s\n", label.c_str(), e->second.c_str());
    auto d = r.described.find(label);
    if (!described && d != r.described.end()) {
      std::printf("  %s: %s\n", sw.c_str(), d->second.c_str());
      described = true;
    }
    for (unsigned n : o.tcp_streams) {
      CellMedians m = medians(runs_of(r, TcpCell{kind, mtu, n}, sw));
      if (m.failed)
        std::printf("  %s, %u stream(s): iperf3 failed in %d of %d runs (%s); counted as 0\n",
                    label.c_str(), n, m.failed, m.runs, m.error.c_str());
    }
    std::string drops = join_counts(find_or_empty(r.drops, label), ", ");
    if (!drops.empty())
      std::printf("  %s: the switch's drops over its runs: %s\n", label.c_str(), drops.c_str());
  }
}

}  // namespace

json tcp_ports_json(const Options& o, const TcpPortResults& r) {
  json j = {{"ports", o.tcp_ports},
            {"streams", o.tcp_streams},
            {"mtus", o.tcp_mtus},
            {"duration_s", o.tcp_duration},
            {"runs", o.runs},
            {"cpu_s_per_gbyte",
             "busy CPU seconds of the whole machine (every CPU; user, nice, system, irq, softirq "
             "of /proc/stat) over the iperf3 run, per GByte (1e9 bytes) received"},
            {"cells", json::array()},
            {"described", r.described},
            {"drops", r.drops}};
  for (const TcpCell& c : cells(o)) {
    json cell = {{"port", c.kind},
                 {"mtu", c.mtu},
                 {"streams", c.streams},
                 {"bridge_reference", kind_of(c.kind).bridge_ref}};
    for (const auto& sw : tcp_port_switches()) cell[sw] = switch_json(r, c, sw);
    CellMedians b = medians(runs_of(r, c, "brisk")), k = medians(runs_of(r, c, "bridge"));
    cell["ratio"] = {{"gbps", ratio(b.gbps, k.gbps)}, {"cpu_s_per_gbyte", ratio(b.cpu, k.cpu)}};
    j["cells"].push_back(cell);
  }
  return j;
}

void print_tcp_ports_table(const Options& o, const Topology& t, const TcpPortResults& r) {
  std::printf(
      "\nTCP per port kind: iperf3 %s -> %s, default offloads, %s s per cell, median of %d "
      "round(s); brisk and the Linux bridge (no XDP program) on the same namespaces. CPU s/GB: "
      "busy CPU seconds of the whole machine (/proc/stat, every CPU) per GByte received\n",
      t.gen_ns.c_str(), t.sink_ns.c_str(), fmt(o.tcp_duration, 1).c_str(), o.runs);
  Rows rows = {{"port kind", "MTU", "streams", "brisk Gbit/s", "bridge Gbit/s", "brisk/bridge",
                "brisk CPU s/GB", "bridge CPU s/GB", "brisk/bridge"}};
  for (const TcpCell& c : cells(o)) {
    CellMedians b = medians(runs_of(r, c, "brisk")), k = medians(runs_of(r, c, "bridge"));
    rows.push_back({c.kind, std::to_string(c.mtu), std::to_string(c.streams), fmt(b.gbps, 2),
                    fmt(k.gbps, 2), fmt_ratio(ratio(b.gbps, k.gbps)), fmt(b.cpu, 2), fmt(k.cpu, 2),
                    fmt_ratio(ratio(b.cpu, k.cpu))});
  }
  print_table(rows);
  std::vector<double> share;
  for (const auto& [cell, by_sw] : r.runs)
    for (const auto& [sw, v] : by_sw)
      for (const auto& x : v) share.push_back(x.busy_share);
  if (!share.empty())
    std::printf(
        "the machine's CPUs were busy %s%% of the time during the runs (median; other work "
        "included: near 100%%, CPU s/GB is bounded by the CPUs over the rate)\n",
        fmt(median(share) * 100, 0).c_str());
  for (const auto& kn : o.tcp_ports) {
    std::printf("%s: bridge reference: %s\n", kn.c_str(), kind_of(kn).bridge_ref);
    for (const auto& sw : tcp_port_switches()) print_notes(o, r, kn, sw);
  }
}

}  // namespace bench
