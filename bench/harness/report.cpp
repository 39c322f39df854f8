#include "bench/harness/report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "bench/harness/proc.hpp"
#include "bench/harness/report_mirror.hpp"
#include "bench/harness/report_tcp_ports.hpp"
#include "bench/harness/text.hpp"

using nlohmann::json;

namespace bench {
namespace {

// A column of the comparison: the key of its median, its header, how it is printed.
struct Column {
  std::string key, header;
  int precision;
  double scale;
  bool ratio;  // ratios printed for this column
};

// switch -> key -> median over the rounds.
using Medians = std::map<std::string, std::map<std::string, double>>;

// The comparison of one harness run: its columns, medians, and the switches brisk is
// compared with.
struct Comparison {
  std::vector<Column> cols;
  Medians m;
  std::vector<std::string> others;  // every switch but brisk
  bool have_brisk = false;
  double ratio(const std::string& key, const std::string& other) {
    return bench::ratio(m["brisk"][key], m[other][key]);
  }
};

std::vector<Column> columns(const Options& o) {
  std::vector<Column> cols;
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
  return cols;
}

// Every figure's median for one switch (all of them, also of tests not run: NaN).
std::map<std::string, double> medians(const Options& o, const std::vector<Sample>& samples) {
  auto med = [&](auto get) { return median_of(samples, get); };
  std::map<std::string, double> mm;
  mm["offered_fps"] = med([](const Sample& s) { return s.offered; });
  mm["generator_share"] = med([](const Sample& s) { return s.gen_share; });
  for (const auto& k : o.sinks)
    mm["sink_" + k + "_fps"] = med([&k](const Sample& s) {
      auto it = s.sink_delivered.find(k);
      return it == s.sink_delivered.end() ? NAN : it->second;
    });
  mm["delivered_fps"] = med([](const Sample& s) { return s.delivered; });
  mm["loss"] = med([](const Sample& s) { return s.loss; });
  mm["cpu_ns_per_frame"] = med([](const Sample& s) { return s.cpu_ns; });
  mm["cpu_percent"] = med([](const Sample& s) { return s.cpu_pct; });
  mm["overload_latency_p50_us"] = med([](const Sample& s) { return s.ovl_p50; });
  mm["overload_latency_p99_us"] = med([](const Sample& s) { return s.ovl_p99; });
  for (auto n : o.macs)
    mm["macs_" + std::to_string(n)] = med([n](const Sample& s) {
      auto it = s.macs.find(n);
      return it == s.macs.end() ? NAN : it->second;
    });
  mm["latency_p50_us"] = med([](const Sample& s) { return s.lat_p50; });
  mm["latency_p99_us"] = med([](const Sample& s) { return s.lat_p99; });
  mm["tcp_gbps"] = med([](const Sample& s) { return s.tcp_gbps; });
  return mm;
}

Comparison compare(const Options& o, const Results& r) {
  Comparison c;
  c.cols = columns(o);
  for (const auto& sw : o.switches) c.m[sw] = medians(o, find_or_empty(r.samples, sw));
  c.have_brisk = std::find(o.switches.begin(), o.switches.end(), "brisk") != o.switches.end();
  for (const auto& sw : o.switches)
    if (sw != "brisk") c.others.push_back(sw);
  return c;
}

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

json config_json(const Options& o, const Topology& t, const Results& r) {
  json c = {{"topology", o.topology},
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
              {"name", r.gen_name},
              {"reason", r.gen_reason},
              {"ceiling_fps", r.gen_ceiling},
              {"bound_share", kGenBound},
              {"bound_loss", kGenBoundLoss}}},
            {"sinks", o.sinks},
            {"switch_cpu", o.switch_cpu},
            {"switch_b_cpu", t.switch_b_cpu},
            {"nice", o.nice},
            {"macs", o.macs},
            {"tests", o.tests},
            {"switches", o.switches}};
  if (o.has("mirror")) {
    c["mirrors"] = o.mirrors;
    c["mirror_fastpath"] = o.mirror_fastpath;
  }
  return c;
}

// The lines above the table: generator, ceiling, topology, latency rate.
void print_heading(const Options& o, const Topology& t, const Results& r) {
  std::printf(
      "brisk-bench: 64-byte frames, median of %d run(s), %.1f s each; generator: %s on CPU "
      "%d%s; switch on CPU %d\n",
      o.runs, o.duration, r.gen_name.c_str(), o.gen_cpu,
      o.rate > 0 ? (", " + fmt(o.rate / 1e6, 2) + " Mfps offered").c_str() : ", unpaced",
      o.switch_cpu);
  if (!r.gen_reason.empty()) std::printf("generator chosen because %s\n", r.gen_reason.c_str());
  if (o.has("fps"))
    std::printf(
        "generator ceiling %s Mfps (into an XDP sink, no switch); gen %% = offered / ceiling, "
        "%.0f%% or more with loss under %.0f%%: generator-bound. Mfps: delivered to the %s "
        "sink\n",
        fmt(r.gen_ceiling / 1e6, 3).c_str(), kGenBound * 100, kGenBoundLoss * 100,
        o.sinks.front().c_str());
  if (t.vxlan)
    std::printf(
        "topology vxlan: generator -> switch A =VXLAN VNI %u over a veth underlay (MTU %d)=> "
        "switch B -> sink; brisk's second worker on CPU %d\n",
        t.vni, t.underlay_mtu, t.switch_b_cpu);
  if (o.has("latency"))
    std::printf("latency: one-way, generator to sink, at %s frames/s\n",
                fmt(o.latency_rate, 0).c_str());
}

// The table's rows: a header, one row per switch, then brisk's ratios to each other switch.
Rows comparison_rows(const Options& o, Comparison& c) {
  Rows rows;
  std::vector<std::string> head = {"switch"};
  for (const auto& col : c.cols) head.push_back(col.header);
  rows.push_back(head);
  for (const auto& sw : o.switches) {
    std::vector<std::string> row = {sw};
    for (const auto& col : c.cols) {
      double v = c.m[sw][col.key];
      row.push_back(fmt(std::isnan(v) ? v : v * col.scale, col.precision));
    }
    rows.push_back(row);
  }
  if (c.have_brisk)
    for (const auto& other : c.others) {
      std::vector<std::string> row = {"brisk / " + other};
      for (const auto& col : c.cols) {
        row.push_back(col.ratio ? fmt_ratio(c.ratio(col.key, other)) : "");
      }
      rows.push_back(row);
    }
  return rows;
}

// Below the table, per switch: generator-bound, its description or failure, failed TCP runs.
void print_notes(const Options& o, const Results& r, Comparison& c) {
  for (const auto& sw : o.switches) {
    if (o.has("fps") && generator_bound(c.m[sw]["generator_share"], c.m[sw]["loss"]))
      std::printf(
          "%s: generator-bound: it forwarded what the generator could offer (%s%% of "
          "the ceiling); its Mfps is a lower bound\n",
          sw.c_str(), fmt(c.m[sw]["generator_share"] * 100, 0).c_str());
    if (r.errors.count(sw))
      std::printf("%s: FAILED: %s\n", sw.c_str(), r.errors.at(sw).c_str());
    else
      std::printf("%s: %s\n", sw.c_str(), find_or_empty(r.described, sw).c_str());
    int tf = 0;
    std::string te;
    for (const auto& s : find_or_empty(r.samples, sw))
      if (s.tcp_failed) {
        ++tf;
        te = s.tcp_error;
      }
    if (tf)
      std::printf("  TCP failed in %d of %zu runs (%s); counted as 0\n", tf,
                  find_or_empty(r.samples, sw).size(), te.c_str());
  }
}

}  // namespace

std::string sample_line(const Options& o, const Sample& s) {
  std::string line;
  if (!std::isnan(s.delivered))
    line += " " + fmt(s.delivered / 1e6, 3) + " Mfps of " + fmt(s.offered / 1e6, 2) + " offered, " +
            fmt(s.cpu_ns, 0) + " ns CPU/frame";
  for (const auto& [n, v] : s.macs) line += ", " + mac_label(n) + " MACs " + fmt(v / 1e6, 3);
  if (!std::isnan(s.lat_p50))
    line += ", p50/p99 " + fmt(s.lat_p50, 1) + "/" + fmt(s.lat_p99, 1) + " us";
  if (o.has("tcp"))
    line += s.tcp_failed ? ", TCP failed (" + s.tcp_error + ")"
                         : ", TCP " + fmt(s.tcp_gbps, 2) + " Gbit/s";
  return line;
}

json report_json(const Options& o, const Topology& t, const Results& r) {
  Comparison c = compare(o, r);
  json j;
  j["config"] = config_json(o, t, r);
  for (const auto& sw : o.has_compare() ? o.switches : std::vector<std::string>{}) {
    json js;
    js["describe"] = find_or_empty(r.described, sw);
    if (o.has("fps"))
      js["generator_bound"] = generator_bound(c.m[sw]["generator_share"], c.m[sw]["loss"]);
    if (r.errors.count(sw)) js["error"] = r.errors.at(sw);
    for (const auto& [k, v] : c.m[sw]) js["median"][k] = v;
    js["runs"] = json::array();
    for (const auto& s : find_or_empty(r.samples, sw)) js["runs"].push_back(sample_json(s));
    j["switches"][sw] = js;
  }
  if (c.have_brisk && o.has_compare())
    for (const auto& other : c.others)
      for (const auto& col : c.cols)
        if (col.ratio) j["ratios"]["brisk/" + other][col.key] = c.ratio(col.key, other);
  if (o.has("mirror")) j["mirror"] = mirror_json(o, r);
  if (o.has("tcp-ports")) j["tcp_ports"] = tcp_ports_json(o, r.tcp_ports);
  j["elapsed_s"] = now_s() - r.t_start;
  return j;
}

void print_report(const Options& o, const Topology& t, const Results& r) {
  Comparison c = compare(o, r);
  Rows rows = comparison_rows(o, c);
  print_heading(o, t, r);
  // A rule under the header, and one above the ratios when there are any.
  const std::size_t n = o.switches.size();
  const bool ratios = c.have_brisk && !c.others.empty();
  print_table(rows, [&](std::size_t ri) { return (ri == 0 || ri == n) && !(ri == n && !ratios); });
  print_notes(o, r, c);
}

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

}  // namespace bench
