#include "bench/harness/plot.hpp"

#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "bench/harness/proc.hpp"

using nlohmann::json;

namespace bench {
namespace {

double median_of(const json& sw, const std::string& key) {
  const json& m = sw.value("median", json::object());
  auto it = m.find(key);
  return it != m.end() && it->is_number() ? it->get<double>() : NAN;
}

std::string cell(double v, double scale, int prec) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof(b), "%.*f", prec, v * scale);
  return b;
}

// "brisk\n2.05x" (ratio of key to the bridge's), or the bare name.
std::string label(const std::string& name, double v, double bridge) {
  if (std::isnan(v) || !(bridge > 0) || name == "bridge") return name;
  char b[32];
  std::snprintf(b, sizeof(b), "%.2fx", v / bridge);
  return name + "\\n" + b;
}

// True when a run's TCP test failed (the harness counts it as 0 Gbit/s).
bool tcp_failed(const json& sw) {
  for (const auto& run : sw.value("runs", json::array()))
    if (run.contains("tcp_error")) return true;
  return false;
}

// One line per switch: name, Mfps per sink (xdp, tc), TCP, p50, p99, the two labels.
std::string data_file(const json& r) {
  const json& sws = r.at("switches");
  auto bridge = sws.contains("bridge") ? sws.at("bridge") : json::object();
  double b_fps = median_of(bridge, "delivered_fps"), b_tcp = median_of(bridge, "tcp_gbps");
  std::ostringstream os;
  for (const auto& name : r.at("config").at("switches")) {
    const std::string n = name.get<std::string>();
    if (!sws.contains(n)) continue;
    const json& sw = sws.at(n);
    double fps = median_of(sw, "delivered_fps"), tcp = median_of(sw, "tcp_gbps");
    std::string tcp_label = label(n, tcp, b_tcp);
    if (tcp == 0 && tcp_failed(sw)) tcp_label = n + "\\nfailed";
    os << '"' << n << "\" " << cell(median_of(sw, "sink_xdp_fps"), 1e-6, 3) << ' '
       << cell(median_of(sw, "sink_tc_fps"), 1e-6, 3) << ' ' << cell(tcp, 1, 2) << ' '
       << cell(median_of(sw, "latency_p50_us"), 1, 1) << ' '
       << cell(median_of(sw, "latency_p99_us"), 1, 1) << " \"" << label(n, fps, b_fps) << "\" \""
       << tcp_label << "\"\n";
  }
  return os.str();
}

// Which of the data file's value columns (2..6) hold at least one figure.
std::vector<bool> columns_with_data(const std::string& data) {
  std::vector<bool> has(7, false);
  std::istringstream is(data);
  std::string line;
  while (std::getline(is, line)) {
    // The name is one quoted word; then five values.
    std::istringstream ls(line.substr(line.find('"', 1) + 1));
    for (int c = 2; c <= 6; ++c) {
      std::string v;
      ls >> v;
      if (!v.empty() && v != "-") has[c] = true;
    }
  }
  return has;
}

// The panels that have data, side by side.
std::string script(const std::string& data, const std::vector<bool>& has, const std::string& svg,
                   const std::string& title) {
  std::vector<std::string> panels;
  const std::string d = "'" + data + "'";
  if (has[2] || has[3])
    panels.push_back(
        "set title '64-byte frames, Mfps delivered (x: ratio to the bridge)'\n"
        "plot " +
        d +
        " using 2:xtic(7) title 'XDP sink' lc rgb '#1f77b4', "
        "'' using 3 title 'tc sink (no XDP)' lc rgb '#9ecae1'\n");
  if (has[4])
    panels.push_back("set title 'TCP, iperf3, Gbit/s'\nplot " + d +
                     " using 4:xtic(8) notitle lc rgb '#2ca02c'\n");
  if (has[5] || has[6])
    panels.push_back(
        "set title 'one-way latency at the paced rate, us'\nset logscale y\nset yrange [*:*]\n"
        "plot " +
        d +
        " using 5:xtic(1) title 'p50' lc rgb '#ff7f0e', "
        "'' using 6 title 'p99' lc rgb '#d62728'\n");
  if (panels.empty()) throw std::runtime_error("--plot: no figures to draw");
  std::ostringstream g;
  g << "set terminal svg size " << 450 * panels.size()
    << ",460 dynamic enhanced font 'sans,12' background rgb 'white'\n"
    << "set output '" << svg << "'\n"
    << "set datafile missing '-'\n"
    << "set style data histograms\nset style histogram clustered gap 1\n"
    << "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
    << "set grid ytics\nset yrange [0:*]\nset key top right\nset bmargin 5\n"
    << "set multiplot layout 1," << panels.size() << " title \"" << title << "\"\n";
  for (const auto& p : panels) g << p;
  g << "unset multiplot\n";
  return g.str();
}

}  // namespace

void write_plot(const json& results, const std::string& svg_path, const std::string& title) {
  char tmpl[] = "/tmp/brisk-plot.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl, data = dir + "/data", gp = dir + "/chart.gp";
  std::string out;
  int rc = -1;
  try {
    const std::string rows = data_file(results);
    std::ofstream(data) << rows;
    std::ofstream(gp) << script(data, columns_with_data(rows), svg_path, title);
    rc = run({"gnuplot", gp}, &out, 60);
  } catch (const std::exception& e) {
    out = e.what();
  }
  run({"rm", "-rf", dir}, nullptr, 10);
  if (rc != 0)
    throw std::runtime_error("--plot: gnuplot failed (Debian package gnuplot-nox): " + out);
}

}  // namespace bench
