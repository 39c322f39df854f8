// report_mirror: the mirror test's report (test_mirror.hpp). Per variant (brisk with the fast
// path on, off; Open vSwitch) and mirror count, the medians of the rounds: rates, the cost of
// the mirrors against the 0-mirror row, CPU per forwarded frame, and the loss account (the
// largest unaccounted count of the rounds); then the judgement (one mirror costs at most 10%
// of the forwarding rate), CPU per copy, and the switch's named drops. As a table after the
// comparison's, or as the "mirror" object of the JSON document (report.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include "bench/harness/report.hpp"

namespace bench {

// The progress line of a mirror test's row, after "run <r>/<runs> <variant>, ".
std::string mirror_sample_line(const MirrorSample& ms);

nlohmann::json mirror_json(const Options& o, const Results& res);
void print_mirror_table(const Options& o, const Topology& t, const Results& res);

}  // namespace bench
