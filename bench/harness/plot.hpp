// plot: brisk-bench --plot FILE.svg. A chart of the switch comparison drawn by gnuplot
// (Debian's gnuplot-nox) from the harness's JSON results (the document --json prints): three
// panels side by side, 64-byte frames/s per switch for each sink, TCP Gbit/s, and one-way
// latency p50/p99; each switch's label carries its ratio to the Linux bridge (brisk's ratio
// to the bridge is the headline; every switch gets one so the chart reads on its own).
// The data file and script are written to a private temp directory, removed afterwards.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace bench {

// Writes the chart of `results` to svg_path; `title` heads it (machine, date, generator).
// Throws std::runtime_error when gnuplot is missing or fails (its output in the message).
void write_plot(const nlohmann::json& results, const std::string& svg_path,
                const std::string& title);

}  // namespace bench
