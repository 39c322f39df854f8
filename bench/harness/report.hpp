// report: what brisk-bench prints. The comparison (measure.hpp's tests): per switch the median
// of its rounds for every figure, brisk's ratio to every other switch, as a table with notes
// (the generator and its ceiling, generator-bound switches, each switch's description or
// failure, failed TCP runs) or as the JSON document --json prints and --plot draws
// (plot.hpp). The mirror test's rows are report_mirror.hpp's, the TCP matrix's
// report_tcp_ports.hpp's; the shapes they share are table.hpp's. Also the progress line of a
// round.
#pragma once

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/harness/measure.hpp"
#include "bench/harness/table.hpp"
#include "bench/harness/test_mirror.hpp"
#include "bench/harness/test_tcp_ports.hpp"

namespace bench {

// What a harness run gathered, for the reports.
struct Results {
  std::map<std::string, std::vector<Sample>> samples;  // switch -> one per round
  std::map<std::string, std::string> errors;           // switch -> why it failed
  // Mirror test: variant ("brisk fastpath on") -> mirror count -> one sample per round.
  MirrorSamples mirror;
  std::map<std::string, std::string> mirror_errors;  // variant -> why it failed
  TcpPortResults tcp_ports;                          // the TCP matrix
  std::map<std::string, std::string> described;      // switch or variant -> describe()
  // The generator: its name, why it was chosen ("" for the default), its ceiling (frames/s).
  std::string gen_name, gen_reason;
  double gen_ceiling = NAN;
  double t_start = 0;  // now_s() when the harness started
};

// The progress line of a switch's round, after "run <r>/<runs> <switch>:".
std::string sample_line(const Options& o, const Sample& s);

// The results as JSON: printed with --json, drawn with --plot.
nlohmann::json report_json(const Options& o, const Topology& t, const Results& r);

// The comparison as a table, with its heading and notes (stdout).
void print_report(const Options& o, const Topology& t, const Results& r);

// The chart's heading: date, machine, kernel, generator, runs.
std::string plot_title(const Options& o, const std::string& gen);

}  // namespace bench
