#include "bench/harness/options.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "bench/harness/measure.hpp"
#include "bench/harness/test_tcp_ports.hpp"

namespace bench {
namespace {

// What parsing has seen, for the checks between options.
struct Seen {
  bool switches = false, tests = false, mirrors = false, tcp_matrix = false, help = false;
};

// One option on the command line, for the function that applies it.
struct Arg {
  Options& o;
  Seen& seen;
  const std::string& opt;    // "--runs"
  const std::string& value;  // "" for a flag
};

// An option of the table: its name, the value's name in the usage text (nullptr: a flag),
// its help (the usage text's lines, '\n' between them) and what it does with the value.
struct OptionSpec {
  const char* name;
  const char* metavar;
  const char* help;
  std::function<void(const Arg&)> apply;
  const char* alias = nullptr;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

double to_num(const std::string& opt, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= lo && d <= hi))
    usage_error(opt + " wants a number in " + std::to_string(lo) + ".." + std::to_string(hi));
  return d;
}

bool one_of(const std::string& s, const std::vector<std::string>& v) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Value parsers: each makes the `apply` of an option that sets one field of Options.

// A number in lo..hi.
template <typename T>
std::function<void(const Arg&)> number(T Options::*field, double lo, double hi) {
  return [=](const Arg& a) { a.o.*field = static_cast<T>(to_num(a.opt, a.value, lo, hi)); };
}

// The value as it is.
std::function<void(const Arg&)> text(std::string Options::*field) {
  return [=](const Arg& a) { a.o.*field = a.value; };
}

// A comma-separated list of numbers in lo..hi, at least one; sets the TCP matrix's flag.
std::function<void(const Arg&)> numbers(std::vector<unsigned> Options::*field, double lo,
                                        double hi) {
  return [=](const Arg& a) {
    (a.o.*field).clear();
    for (const auto& m : split(a.value, ','))
      (a.o.*field).push_back(static_cast<unsigned>(to_num(a.opt, m, lo, hi)));
    if ((a.o.*field).empty()) usage_error(a.opt + " wants a list like 1,4");
    a.seen.tcp_matrix = true;
  };
}

// A comma-separated list of words from `allowed`, at least one; `msg` otherwise.
std::function<void(const Arg&)> words(std::vector<std::string> Options::*field,
                                      std::vector<std::string> allowed, std::string msg) {
  return [=](const Arg& a) {
    a.o.*field = split(a.value, ',');
    if ((a.o.*field).empty()) usage_error(msg);
    for (const auto& s : a.o.*field)
      if (!one_of(s, allowed)) usage_error(msg);
  };
}

const char* const kHead = R"(usage: brisk-bench [options]
Measures 64-byte frames/s, loss, CPU per frame, latency and TCP through brisk, the Linux
bridge, Open vSwitch (userspace datapath) and a bare AF_XDP forwarder. Needs root.
)";

const char* const kTail =
    R"(Environment: BRISK_BPF_DIR overrides where brisk_xdp.o and brisk_bench.o are found (else
next to brisk-bench in bpf/, then the install's BPF directory).
)";

// The options, in the order of the usage text.
const std::vector<OptionSpec> kOptions = {
    {"--topology", "T",
     "switch: one switch between generator and sink (default);\n"
     "vxlan: two switches joined by a VXLAN tunnel (VNI 42) over an underlay\n"
     "veth pair, each in its own namespace (brisk: two briskd; bridge: a\n"
     "Linux bridge + kernel vxlan device per side); brisk and bridge only",
     [](const Arg& a) {
       a.o.topology = a.value;
       if (a.o.topology != "switch" && a.o.topology != "vxlan")
         usage_error("--topology wants switch or vxlan");
     }},
    {"--switches", "LIST",
     "brisk,brisk-noxdp,bridge,ovs,afxdp (default: all five; brisk-noxdp is\n"
     "brisk with its XDP fast path off; vxlan: brisk,bridge)",
     [](const Arg& a) {
       a.seen.switches = true;
       a.o.switches = split(a.value, ',');
       for (const auto& s : a.o.switches)
         if (!switch_known(s)) usage_error("unknown switch " + s);
     }},
    {"--tests", "LIST", "fps,macs,latency,tcp,mirror,tcp-ports (default: fps,macs,latency,tcp)",
     [](const Arg& a) {
       a.o.tests = split(a.value, ',');
       a.seen.tests = true;
       for (const auto& s : a.o.tests)
         if (!one_of(s, test_names())) usage_error("unknown test " + s);
     }},
    {"--mirrors", "LIST",
     "mirror test: rows with these numbers of mirrors of the ingress port,\n"
     "each to its own destination port (default 0,1,4; 0-8). Giving it\n"
     "without --tests runs only the mirror test. brisk and ovs; switch\n"
     "topology only.",
     [](const Arg& a) {
       a.o.mirrors.clear();
       for (const auto& m : split(a.value, ','))
         a.o.mirrors.push_back(static_cast<unsigned>(to_num(a.opt, m, 0, 8)));
       if (a.o.mirrors.empty()) usage_error("--mirrors wants a list like 0,1,4");
       a.seen.mirrors = true;
     }},
    {"--mirror-fastpath", "L",
     "mirror test: brisk with the XDP fast path on, off or both (default on,off)",
     words(&Options::mirror_fastpath, {"on", "off"}, "--mirror-fastpath wants on, off or on,off")},
    {"--tcp-ports", "LIST",
     "TCP matrix: brisk with these kinds of ports next to the Linux bridge on\n"
     "the same namespaces: veth-afxdp, veth-afpacket, tap (default: all three;\n"
     "the bridge's reference for taps is veths). Giving it, --tcp-streams or\n"
     "--tcp-mtus without --tests runs only the matrix. Switch topology only.",
     [](const Arg& a) {
       words(&Options::tcp_ports, tcp_port_kind_names(),
             "--tcp-ports wants a list of veth-afxdp, veth-afpacket, tap")(a);
       a.seen.tcp_matrix = true;
     }},
    {"--tcp-streams", "LIST", "TCP matrix: iperf3 parallel streams, one cell each (default 1,4)",
     numbers(&Options::tcp_streams, 1, 128)},
    {"--tcp-mtus", "LIST", "TCP matrix: MTUs of the veths and taps (default 1500,9000)",
     numbers(&Options::tcp_mtus, 576, 65535)},
    {"--runs", "N", "rounds; each round runs every switch once, alternating (default 5)",
     number(&Options::runs, 1, 1000)},
    {"--duration", "S", "seconds measured per frame-rate figure (default 1.5)",
     number(&Options::duration, 0.1, 3600)},
    {"--warmup", "S", "seconds of traffic before each measurement (default 0.3)",
     number(&Options::warmup, 0, 60)},
    {"--macs", "LIST", "source MAC counts of the macs test (default 1000,100000)",
     [](const Arg& a) {
       a.o.macs.clear();
       for (const auto& m : split(a.value, ','))
         a.o.macs.push_back(static_cast<std::uint32_t>(to_num(a.opt, m, 1, 1 << 24)));
     }},
    {"--rate", "FPS", "offered load of fps/macs (default 0: as fast as the generator goes)",
     number(&Options::rate, 0, 1e9)},
    {"--generator", "G",
     "auto (default): XDP live frames where the kernel runs them, else the XDP\n"
     "loop, else AF_XDP transmit (the reason is printed); live, loop or afxdp\n"
     "force one (docs/benchmarks.md)",
     [](const Arg& a) {
       try {
         a.o.generator = parse_gen_kind(a.value);
       } catch (const std::invalid_argument& e) {
         usage_error(e.what());
       }
     }},
    {"--sinks", "LIST",
     "sinks of the fps test: xdp (an XDP program counts and drops at the\n"
     "sink veth), tc (a tc ingress program does, behind the kernel's skb\n"
     "receive path, as a container's veth without XDP); default xdp,tc. The\n"
     "other tests use the first",
     words(&Options::sinks, {"xdp", "tc"}, "--sinks wants xdp, tc or xdp,tc")},
    {"--latency-rate", "FPS", "offered load of the latency test (default 100000)",
     number(&Options::latency_rate, 1, 1e9)},
    {"--tcp-duration", "S", "iperf3 seconds of the tcp test and of each matrix cell (default 2)",
     number(&Options::tcp_duration, 1, 3600)},
    {"--gen-cpu", "N", "CPU of the generator (default 0)", number(&Options::gen_cpu, 0, 4095)},
    {"--switch-cpu", "N", "CPU of the switch's forwarding thread (default 1)",
     number(&Options::switch_cpu, 0, 4095)},
    {"--switch-b-cpu", "N", "vxlan: CPU of the second brisk's worker (default: --switch-cpu)",
     number(&Options::switch_b_cpu, 0, 4095)},
    {"--nice", "N",
     "nice value of the generator and the switches' processes (default 0;\n"
     "-10 keeps figures steadier on a machine busy with other work)",
     number(&Options::nice, -20, 19)},
    {"--briskd", "PATH", "default: briskd next to brisk-bench", text(&Options::briskd)},
    {"--brisk", "PATH", "the client; default: brisk next to brisk-bench", text(&Options::brisk)},
    {"--briskd-args", "\"...\"", "extra briskd options, e.g. \"--poll busy\"",
     [](const Arg& a) { a.o.briskd_args = split(a.value, ' '); }},
    {"--prefix", "P", "name prefix of namespaces and devices (default: bk + 4 random hex)",
     [](const Arg& a) {
       a.o.prefix = a.value;
       if (a.o.prefix.empty() || a.o.prefix.size() > 8 ||
           a.o.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") !=
               std::string::npos)
         usage_error("--prefix wants 1-8 lowercase letters or digits");
     }},
    {"--json", nullptr, "print JSON instead of the table", [](const Arg& a) { a.o.json = true; }},
    {"--plot", "FILE.svg",
     "also draw the comparison as a chart (gnuplot): frames/s per sink, TCP,\n"
     "latency, with each switch's ratio to the bridge",
     text(&Options::plot)},
    {"--help", nullptr, "", [](const Arg& a) { a.seen.help = true; }, "-h"},
};

const OptionSpec* find_option(const std::string& a) {
  for (const auto& spec : kOptions)
    if (a == spec.name || (spec.alias != nullptr && a == spec.alias)) return &spec;
  return nullptr;
}

// The checks between options, once all are read.
void check(Options& o, const Seen& seen) {
  if (!seen.tests && (seen.mirrors || seen.tcp_matrix)) {
    o.tests.clear();
    if (seen.mirrors) o.tests.push_back("mirror");
    if (seen.tcp_matrix) o.tests.push_back("tcp-ports");
  }
  if (seen.mirrors && !o.has("mirror")) usage_error("--mirrors without the mirror test in --tests");
  if (seen.tcp_matrix && !o.has("tcp-ports"))
    usage_error("--tcp-ports, --tcp-streams or --tcp-mtus without tcp-ports in --tests");
  if (o.tcp_ports.empty()) o.tcp_ports = tcp_port_kind_names();
  if (o.tests.empty()) usage_error("--tests wants at least one test");
  if (o.topology == "vxlan") {
    const std::vector<std::string> vx = vxlan_switch_names();
    if (!seen.switches) o.switches = vx;
    std::string which;
    for (std::size_t i = 0; i < vx.size(); ++i)
      which += (i == 0 ? "" : i + 1 < vx.size() ? ", " : " and ") + vx[i];
    for (const auto& s : o.switches)
      if (!switch_has_vxlan(s))
        usage_error("--topology vxlan measures " + which + " only, not " + s);
    if (o.has("mirror")) usage_error("--topology vxlan has no mirror test");
    if (o.has("tcp-ports")) usage_error("--topology vxlan has no TCP matrix (tcp-ports)");
  }
}

std::string dir_of(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}

}  // namespace

const std::string& usage() {
  // Options' lines: the name and its value's name in a column of 21, the help beside it.
  static const std::string text = [] {
    std::string s = kHead;
    for (const auto& spec : kOptions) {
      std::string left = spec.name;
      if (spec.metavar != nullptr) left += std::string(" ") + spec.metavar;
      std::string help = spec.help;
      if (help.empty()) {
        s += "  " + left + "\n";
        continue;
      }
      left.resize(std::max<std::size_t>(left.size() + 2, 21), ' ');
      std::string indent = "\n" + std::string(23, ' ');
      for (std::size_t p = 0; (p = help.find('\n', p)) != std::string::npos; p += indent.size())
        help.replace(p, 1, indent);
      s += "  " + left + help + "\n";
    }
    return s + kTail;
  }();
  return text;
}

void usage_error(const std::string& msg) {
  std::fprintf(stderr, "brisk-bench: %s\n%s", msg.c_str(), usage().c_str());
  std::exit(2);
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  Seen seen;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const OptionSpec* spec = find_option(a);
    if (spec == nullptr) usage_error("unknown option " + a);
    std::string value;
    if (spec->metavar != nullptr) {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      value = argv[++i];
    }
    spec->apply(Arg{o, seen, a, value});
    if (seen.help) {
      std::printf("%s", usage().c_str());
      return std::nullopt;
    }
  }
  check(o, seen);
  return o;
}

bool Options::has_compare() const {
  for (const auto& t : compare_tests())
    if (has(t.name)) return true;
  return false;
}

void locate_binaries(Options& o, const std::string& self) {
  if (o.briskd.empty()) {  // the build tree's layout, else an install's (bin/ and sbin/)
    o.briskd = dir_of(self) + "/briskd";
    if (access(o.briskd.c_str(), X_OK) != 0) o.briskd = dir_of(self) + "/../sbin/briskd";
  }
  if (o.brisk.empty()) o.brisk = dir_of(self) + "/brisk";
}

}  // namespace bench
