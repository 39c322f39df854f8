// options: brisk-bench's command line. Options is what a run measures; parse_options() reads
// argv against a table of options (options.cpp: name, value, help, and what the value sets),
// from which the usage text is printed too, then applies the checks between options
// (--mirrors without --tests runs only the mirror test, --tcp-ports, --tcp-streams or
// --tcp-mtus without --tests only the TCP matrix; --topology vxlan takes brisk and bridge
// only, and neither of those two).
//
// A usage error prints "brisk-bench: <why>" and the usage text on stderr and exits with 2.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/harness/generator.hpp"
#include "bench/harness/switches.hpp"

namespace bench {

struct Options {
  std::string topology = "switch";
  std::vector<std::string> switches = switch_names();
  std::vector<std::string> tests = {"fps", "macs", "latency", "tcp"};
  std::vector<unsigned> mirrors = {0, 1, 4};
  std::vector<std::string> mirror_fastpath = {"on", "off"};
  // The TCP matrix (test_tcp_ports.hpp): port kinds (every kind when not given), stream
  // counts, MTUs.
  std::vector<std::string> tcp_ports;
  std::vector<unsigned> tcp_streams = {1, 4};
  std::vector<unsigned> tcp_mtus = {1500, 9000};
  int runs = 5;
  double duration = 1.5, warmup = 0.3, rate = 0, latency_rate = 100000, tcp_duration = 2;
  std::vector<std::uint32_t> macs = {1000, 100000};
  GenKind generator = GenKind::automatic;
  std::vector<std::string> sinks = {"xdp", "tc"};
  int gen_cpu = 0, switch_cpu = 1, switch_b_cpu = -1, nice = 0;
  std::string briskd, brisk, prefix;
  std::vector<std::string> briskd_args;
  bool json = false;
  std::string plot;  // --plot: SVG chart of the comparison
  bool has(const std::string& t) const {
    return std::find(tests.begin(), tests.end(), t) != tests.end();
  }
  // The tests of the switch comparison (everything but the mirror test).
  bool has_compare() const;
  unsigned max_mirrors() const {
    return has("mirror") && !mirrors.empty() ? *std::max_element(mirrors.begin(), mirrors.end())
                                             : 0;
  }
};

// The options of argv[1..argc-1], checked. std::nullopt: --help, the usage text printed on
// stdout. Exits with 2 on a usage error.
std::optional<Options> parse_options(int argc, char** argv);

// The usage text (printed by --help and after a usage error).
const std::string& usage();
[[noreturn]] void usage_error(const std::string& msg);

// --briskd and --brisk when not given: next to brisk-bench (self, the path of this program),
// the build tree's layout, else an install's (bin/ and sbin/).
void locate_binaries(Options& o, const std::string& self);

}  // namespace bench
