// brisk-bench: the system benchmark harness. Measures brisk, the Linux bridge, Open vSwitch's
// userspace datapath and a bare AF_XDP forwarder on one topology it builds itself, one switch
// at a time, alternating, and prints medians with ratios (a table, or JSON with --json).
//
//   gen ns <P>-gen: <P>g0 198.18.0.1 ==veth== <P>g1 [switch] <P>s1 ==veth== <P>s0 198.18.0.2
//   :<P>-sink
//
// or, with --topology vxlan, two switches joined by a VXLAN tunnel over an underlay veth pair,
// each in a namespace of its own (brisk: two briskd; bridge: a Linux bridge and a kernel vxlan
// device per side), see switches.hpp:
//
//   <P>g0 == <P>g1 [A, ns <P>-a] 198.18.1.1 <P>u0 ==underlay== <P>u1 198.18.1.2 [B, ns <P>-b]
//   <P>s1 == <P>s0
//
// Per round and switch: start it; a ping from the sink namespace teaches it both MACs; then
//   fps      64-byte frames from the XDP live-frames generator on the generator CPU, one
//            source MAC: offered and delivered frames/s, loss, CPU per frame
//   macs     the same with N source MACs (default 1000 and 100000)
//   latency  a paced run (default 100,000 frames/s, every frame stamped): one-way p50/p99
//   tcp      iperf3 from the generator to the sink namespace, default offloads, sink's XDP
//            program detached meanwhile
// then stop it. CPU per frame = (CPU time of the switch's processes from /proc/<pid>/stat +
// softirq time from /proc/stat on every CPU but the switch's own, whose softirq work the
// tick-based accounting already charges to the running switch process; for the bridge,
// softirq on all CPUs) / delivered frames. It includes the veth receive work of both veth
// ends and the sink's XDP program, for every switch alike; it excludes the generator.
//
// Everything it creates carries a random prefix (bk + 4 hex digits) or lives in a private
// temp directory, and is removed on exit, on failure and on SIGINT/SIGTERM/SIGHUP; only
// processes it started are stopped, by PID.
#include <linux/limits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
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
#include "bench/harness/netns.hpp"
#include "bench/harness/proc.hpp"
#include "bench/harness/switches.hpp"
#include "bench/harness/xdp_traffic.hpp"

#ifndef BRISK_BPF_OBJ_PATH
#define BRISK_BPF_OBJ_PATH "brisk_xdp.o"
#endif
#ifndef BRISK_BENCH_BPF_OBJ_PATH
#define BRISK_BENCH_BPF_OBJ_PATH "brisk_bench.o"
#endif

using nlohmann::json;

namespace bench {
namespace {

const char* kUsage = R"(usage: brisk-bench [options]
Measures 64-byte frames/s, loss, CPU per frame, latency and TCP through brisk, the Linux
bridge, Open vSwitch (userspace datapath) and a bare AF_XDP forwarder. Needs root.
  --topology T         switch: one switch between generator and sink (default);
                       vxlan: two switches joined by a VXLAN tunnel (VNI 42) over an underlay
                       veth pair, each in its own namespace (brisk: two briskd; bridge: a
                       Linux bridge + kernel vxlan device per side); brisk and bridge only
  --switches LIST      brisk,bridge,ovs,afxdp (default: all four; vxlan: brisk,bridge)
  --tests LIST         fps,macs,latency,tcp (default: all)
  --runs N             rounds; each round runs every switch once, alternating (default 5)
  --duration S         seconds measured per frame-rate figure (default 1.5)
  --warmup S           seconds of traffic before each measurement (default 0.3)
  --macs LIST          source MAC counts of the macs test (default 1000,100000)
  --rate FPS           offered load of fps/macs (default 0: as fast as the generator goes)
  --latency-rate FPS   offered load of the latency test (default 100000)
  --tcp-duration S     iperf3 seconds (default 2)
  --gen-cpu N          CPU of the generator (default 0)
  --switch-cpu N       CPU of the switch's forwarding thread (default 1)
  --switch-b-cpu N     vxlan: CPU of the second brisk's worker (default: --switch-cpu)
  --nice N             nice value of the generator and the switches' processes (default 0;
                       -10 keeps figures steadier on a machine busy with other work)
  --briskd PATH        default: briskd next to brisk-bench
  --brisk PATH         the client; default: brisk next to brisk-bench
  --briskd-args "..."  extra briskd options, e.g. "--poll busy"
  --prefix P           name prefix of namespaces and devices (default: bk + 4 random hex)
  --json               print JSON instead of the table
  --help
Environment: BRISK_BPF_DIR overrides where brisk_xdp.o and brisk_bench.o are found.
)";

struct Options {
  std::string topology = "switch";
  bool switches_given = false;
  std::vector<std::string> switches = {"brisk", "bridge", "ovs", "afxdp"};
  std::vector<std::string> tests = {"fps", "macs", "latency", "tcp"};
  int runs = 5;
  double duration = 1.5, warmup = 0.3, rate = 0, latency_rate = 100000, tcp_duration = 2;
  std::vector<std::uint32_t> macs = {1000, 100000};
  int gen_cpu = 0, switch_cpu = 1, switch_b_cpu = -1, nice = 0;
  std::string briskd, brisk, prefix;
  std::vector<std::string> briskd_args;
  bool json = false;
  bool has(const std::string& t) const {
    return std::find(tests.begin(), tests.end(), t) != tests.end();
  }
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "brisk-bench: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

double to_num(const std::string& opt, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= lo && d <= hi))
    usage_error(opt + " wants a number in " + std::to_string(lo) + ".." + std::to_string(hi));
  return d;
}

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "brisk-bench";
  buf[n] = '\0';
  return buf;
}

std::string dir_of(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}

std::string bpf_path(const char* built, const char* file) {
  if (const char* d = std::getenv("BRISK_BPF_DIR"); d != nullptr && *d != '\0')
    return std::string(d) + "/" + file;
  return built;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string rand_prefix() {
  std::ifstream r("/dev/urandom", std::ios::binary);
  unsigned char b[2] = {0, 0};
  r.read(reinterpret_cast<char*>(b), 2);
  char s[8];
  std::snprintf(s, sizeof(s), "bk%02x%02x", b[0], b[1]);
  return s;
}

std::string mac_str(const std::uint8_t m[6]) {
  char s[18];
  std::snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return s;
}

void log(const std::string& s) { std::fprintf(stderr, "brisk-bench: %s\n", s.c_str()); }

// ---------------------------------------------------------------------------- topology

class Testbed {
 public:
  Testbed(const Options& o, Topology& t) : t_(t) {
    t.prefix = o.prefix.empty() ? rand_prefix() : o.prefix;
    const std::string& p = t.prefix;
    t.vxlan = o.topology == "vxlan";
    t.gen_ns = p + "-gen";
    t.sink_ns = p + "-sink";
    t.gen_dev = p + "g0";
    t.gen_port = p + "g1";
    t.sink_port = p + "s1";
    t.sink_dev = p + "s0";
    if (t.vxlan) {
      t.gen_port_ns = p + "-a";
      t.sink_port_ns = p + "-b";
      t.under_a = p + "u0";
      t.under_b = p + "u1";
    }
    const std::uint8_t gm[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x01};
    const std::uint8_t sm[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x02};
    std::memcpy(t.gen_mac, gm, 6);
    std::memcpy(t.sink_mac, sm, 6);
    t.gen_cpu = o.gen_cpu;
    t.switch_cpu = o.switch_cpu;
    t.switch_b_cpu = o.switch_b_cpu >= 0 ? o.switch_b_cpu : o.switch_cpu;
    for (const auto& ns : namespaces())
      if (access(("/run/netns/" + ns).c_str(), F_OK) == 0)
        throw std::runtime_error("namespace " + ns + " already exists; choose another --prefix");
    char tmpl[] = "/tmp/brisk-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    t.workdir = tmpl;
    created_ = true;
    try {
      for (const auto& ns : namespaces()) {
        run_ok({"ip", "netns", "add", ns});
        // Devices made or moved here later start with IPv6 off (no router solicitations).
        run_ok({"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"});
        run_ok(
            {"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"});
        run_ok({"ip", "-n", ns, "link", "set", "lo", "up"});
      }
      veth(t.gen_ns, t.gen_dev, t.gen_port, t.gen_mac, t.gen_ip, t.gen_port_ns);
      veth(t.sink_ns, t.sink_dev, t.sink_port, t.sink_mac, t.sink_ip, t.sink_port_ns);
      if (t.vxlan) underlay();
    } catch (...) {
      teardown();
      throw;
    }
  }
  ~Testbed() { teardown(); }

  void teardown() noexcept {
    if (!created_) return;
    created_ = false;
    for (const auto& ns : namespaces()) {
      try {
        run({"ip", "netns", "del", ns}, nullptr, 20);
      } catch (...) {
      }
    }
    // Safety net: host devices with our prefix (the veths die with their namespaces).
    try {
      std::string out;
      run({"ip", "-o", "link", "show"}, &out, 10);
      std::istringstream is(out);
      std::string line;
      while (std::getline(is, line)) {
        auto a = line.find(": ");
        if (a == std::string::npos) continue;
        std::string name = line.substr(a + 2);
        name = name.substr(0, name.find_first_of(":@"));
        if (name.rfind(t_.prefix, 0) == 0) run({"ip", "link", "del", name}, nullptr, 10);
      }
      if (!t_.workdir.empty()) run({"rm", "-rf", t_.workdir}, nullptr, 20);
    } catch (...) {
    }
  }

 private:
  // The namespaces of the topology, all created and deleted here.
  std::vector<std::string> namespaces() const {
    std::vector<std::string> v = {t_.gen_ns, t_.sink_ns};
    if (t_.vxlan) {
      v.push_back(t_.gen_port_ns);
      v.push_back(t_.sink_port_ns);
    }
    return v;
  }

  // A veth pair: `inner` (address `ip`) in namespace ns, `outer` in outer_ns ("" = here).
  void veth(const std::string& ns, const std::string& inner, const std::string& outer,
            const std::uint8_t mac[6], const std::string& ip, const std::string& outer_ns) {
    run_ok({"ip", "link", "add", inner, "address", mac_str(mac), "type", "veth", "peer", "name",
            outer});
    run_ok({"ip", "link", "set", inner, "netns", ns});
    run_ok({"ip", "-n", ns, "addr", "add", ip + "/24", "dev", inner});
    run_ok({"ip", "-n", ns, "link", "set", inner, "up"});
    if (!outer_ns.empty()) {
      run_ok({"ip", "link", "set", outer, "netns", outer_ns});
      run_ok({"ip", "netns", "exec", outer_ns, "sysctl", "-qw",
              "net.ipv6.conf." + outer + ".disable_ipv6=1"});
      run_ok({"ip", "-n", outer_ns, "link", "set", outer, "up"});
      return;
    }
    std::ofstream f("/proc/sys/net/ipv6/conf/" + outer + "/disable_ipv6");
    if (f) f << "1\n";
    f.close();
    run_ok({"ip", "link", "set", outer, "up"});
  }

  // vxlan: the underlay veth pair between the two tunnel ends' namespaces.
  void underlay() {
    run_ok({"ip", "link", "add", t_.under_a, "type", "veth", "peer", "name", t_.under_b});
    const std::string mtu = std::to_string(t_.underlay_mtu);
    for (const auto& [dev, ns, ip] : {std::tuple{t_.under_a, t_.gen_port_ns, t_.under_a_ip},
                                      std::tuple{t_.under_b, t_.sink_port_ns, t_.under_b_ip}}) {
      run_ok({"ip", "link", "set", dev, "netns", ns});
      run_ok({"ip", "netns", "exec", ns, "sysctl", "-qw",
              "net.ipv6.conf." + dev + ".disable_ipv6=1"});
      run_ok({"ip", "-n", ns, "link", "set", dev, "mtu", mtu});
      run_ok({"ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev});
      run_ok({"ip", "-n", ns, "link", "set", dev, "up"});
    }
  }
  Topology& t_;
  bool created_ = false;
};

// ---------------------------------------------------------------------------- measuring

struct Sample {
  double offered = NAN, delivered = NAN, loss = NAN, cpu_ns = NAN, cpu_pct = NAN;
  double ovl_p50 = NAN, ovl_p99 = NAN;   // latency under overload (queueing)
  std::map<std::uint32_t, double> macs;  // source MACs -> delivered frames/s
  double lat_p50 = NAN, lat_p99 = NAN, lat_delivered = NAN;
  double tcp_gbps = NAN;
  bool tcp_failed = false;
  std::string tcp_error;
};

struct Window {
  double fps_offered, fps_delivered, loss, cpu_s, seconds;
  std::vector<std::uint64_t> hist;
};

class Bench {
 public:
  Bench(const Options& o, const Topology& t, BenchBpf& bpf) : o_(o), t_(t), bpf_(bpf) {
    frame_ = make_template(t.sink_mac, kGenSrc);
  }

  void attach_sink() { xdp_attach(t_.sink_ns, t_.sink_dev, bpf_.sink_fd()); }
  void detach_sink() noexcept { xdp_detach(t_.sink_ns, t_.sink_dev); }

  Sample measure(SwitchUnderTest& sw) {
    Sample s;
    learn();
    if (o_.has("fps")) {
      bpf_.set_gen_config(1, 63);
      Window w = window(sw, o_.rate, o_.duration);
      s.offered = w.fps_offered;
      s.delivered = w.fps_delivered;
      s.loss = w.loss;
      s.cpu_ns = w.fps_delivered > 0 ? w.cpu_s * 1e9 / (w.fps_delivered * w.seconds) : NAN;
      s.cpu_pct = w.cpu_s / w.seconds * 100;
      s.ovl_p50 = hist_percentile_us(w.hist, 0.5);
      s.ovl_p99 = hist_percentile_us(w.hist, 0.99);
    }
    if (o_.has("macs")) {
      for (std::uint32_t n : o_.macs) {
        bpf_.set_gen_config(n, 63);
        s.macs[n] = window(sw, o_.rate, o_.duration).fps_delivered;
      }
    }
    if (o_.has("latency")) {
      bpf_.set_gen_config(1, 0);
      Window w = window(sw, o_.latency_rate, std::max(1.0, o_.duration / 2));
      s.lat_p50 = hist_percentile_us(w.hist, 0.5);
      s.lat_p99 = hist_percentile_us(w.hist, 0.99);
      s.lat_delivered = w.fps_delivered;
    }
    if (o_.has("tcp")) tcp(s);
    return s;
  }

 private:
  static constexpr std::uint8_t kGenSrc[6] = {0x06, 0x00, 0xc6, 0x00, 0x00, 0x00};

  // A ping from the sink namespace: the switch learns both MACs before traffic starts.
  void learn() {
    int rc = run(
        {"ip", "netns", "exec", t_.sink_ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", t_.gen_ip},
        nullptr, 10);
    if (rc != 0) log("warning: ping through the switch failed (exit " + std::to_string(rc) + ")");
  }

  double cpu_now(const SwitchUnderTest& sw) {
    auto pids = sw.pids();
    double s = 0;
    for (pid_t p : pids) s += process_cpu_s(p);
    auto si = softirq_s();
    for (std::size_t c = 0; c < si.size(); ++c)
      if (pids.empty() || static_cast<int>(c) != t_.switch_cpu) s += si[c];
    return s;
  }

  Window window(SwitchUnderTest& sw, double rate, double seconds) {
    Generator gen(bpf_, t_.gen_ns, t_.gen_dev, t_.gen_cpu, frame_, rate, o_.nice);
    sleep_s(o_.warmup);
    std::uint64_t off0 = bpf_.offered();
    BenchBpf::Sink s0 = bpf_.sink();
    double c0 = cpu_now(sw), t0 = now_s();
    sleep_s(seconds);
    std::uint64_t off1 = bpf_.offered();
    BenchBpf::Sink s1 = bpf_.sink();
    double c1 = cpu_now(sw), t1 = now_s();
    if (std::string e = gen.error(); !e.empty()) throw std::runtime_error(e);
    Window w;
    w.seconds = t1 - t0;
    double off = static_cast<double>(off1 - off0), got = static_cast<double>(s1.frames - s0.frames);
    w.fps_offered = off / w.seconds;
    w.fps_delivered = got / w.seconds;
    w.loss = off > 0 ? std::max(0.0, 1 - got / off) : NAN;
    w.cpu_s = c1 - c0;
    w.hist.resize(kHistBuckets);
    for (std::uint32_t b = 0; b < kHistBuckets; ++b) w.hist[b] = s1.hist[b] - s0.hist[b];
    return w;
  }

  void tcp(Sample& s) {
    detach_sink();
    std::string port = "5201";
    pid_t srv = spawn(
        {"ip", "netns", "exec", t_.sink_ns, "iperf3", "-s", "-1", "-B", t_.sink_ip, "-p", port},
        {t_.workdir + "/iperf3-server.log", {}});
    try {
      sleep_s(0.3);
      std::string out;
      int rc = run({"ip", "netns", "exec", t_.gen_ns, "iperf3", "-c", t_.sink_ip, "-p", port, "-t",
                    std::to_string(static_cast<int>(std::ceil(o_.tcp_duration))), "-J",
                    "--connect-timeout", "3000"},
                   &out, o_.tcp_duration + 15);
      double bps = NAN;
      try {
        json j = json::parse(out);
        if (j.contains("error")) s.tcp_error = j["error"].get<std::string>();
        bps = j.at("end").at("sum_received").at("bits_per_second").get<double>();
      } catch (...) {
      }
      if (rc != 0 || !(bps > 0)) {
        s.tcp_failed = true;
        s.tcp_gbps = 0;
        if (s.tcp_error.empty()) s.tcp_error = rc == -1 ? "timeout" : "exit " + std::to_string(rc);
      } else {
        s.tcp_gbps = bps / 1e9;
      }
    } catch (...) {
      stop(srv, 2);
      attach_sink();
      throw;
    }
    stop(srv, 2);
    attach_sink();
  }

  const Options& o_;
  const Topology& t_;
  BenchBpf& bpf_;
  std::vector<std::uint8_t> frame_;
};

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

std::string fmt(double v, int prec) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof(b), "%.*f", prec, v);
  return b;
}

std::string mac_label(std::uint32_t n) {
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "K";
  return std::to_string(n);
}

json sample_json(const Sample& s) {
  json j;
  j["offered_fps"] = s.offered;
  j["delivered_fps"] = s.delivered;
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

int real_main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--afxdp-forwarder") {
    if (argc != 6) usage_error("--afxdp-forwarder A B CPU BPF_OBJECT");
    return afxdp_forwarder_main(argv[2], argv[3], std::atoi(argv[4]), argv[5]);
  }
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--topology") {
      o.topology = val();
      if (o.topology != "switch" && o.topology != "vxlan")
        usage_error("--topology wants switch or vxlan");
    } else if (a == "--switches") {
      o.switches_given = true;
      o.switches = split(val(), ',');
      for (const auto& s : o.switches)
        if (s != "brisk" && s != "bridge" && s != "ovs" && s != "afxdp")
          usage_error("unknown switch " + s);
    } else if (a == "--tests") {
      o.tests = split(val(), ',');
      for (const auto& s : o.tests)
        if (s != "fps" && s != "macs" && s != "latency" && s != "tcp")
          usage_error("unknown test " + s);
    } else if (a == "--runs") {
      o.runs = static_cast<int>(to_num(a, val(), 1, 1000));
    } else if (a == "--duration") {
      o.duration = to_num(a, val(), 0.1, 3600);
    } else if (a == "--warmup") {
      o.warmup = to_num(a, val(), 0, 60);
    } else if (a == "--macs") {
      o.macs.clear();
      for (const auto& m : split(val(), ','))
        o.macs.push_back(static_cast<std::uint32_t>(to_num(a, m, 1, 1 << 24)));
    } else if (a == "--rate") {
      o.rate = to_num(a, val(), 0, 1e9);
    } else if (a == "--latency-rate") {
      o.latency_rate = to_num(a, val(), 1, 1e9);
    } else if (a == "--tcp-duration") {
      o.tcp_duration = to_num(a, val(), 1, 3600);
    } else if (a == "--gen-cpu") {
      o.gen_cpu = static_cast<int>(to_num(a, val(), 0, 4095));
    } else if (a == "--switch-cpu") {
      o.switch_cpu = static_cast<int>(to_num(a, val(), 0, 4095));
    } else if (a == "--switch-b-cpu") {
      o.switch_b_cpu = static_cast<int>(to_num(a, val(), 0, 4095));
    } else if (a == "--nice") {
      o.nice = static_cast<int>(to_num(a, val(), -20, 19));
    } else if (a == "--briskd") {
      o.briskd = val();
    } else if (a == "--brisk") {
      o.brisk = val();
    } else if (a == "--briskd-args") {
      o.briskd_args = split(val(), ' ');
    } else if (a == "--prefix") {
      o.prefix = val();
      if (o.prefix.empty() || o.prefix.size() > 8 ||
          o.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos)
        usage_error("--prefix wants 1-8 lowercase letters or digits");
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      usage_error("unknown option " + a);
    }
  }
  if (o.topology == "vxlan") {
    if (!o.switches_given) o.switches = {"brisk", "bridge"};
    for (const auto& s : o.switches)
      if (s != "brisk" && s != "bridge")
        usage_error("--topology vxlan measures brisk and bridge only, not " + s);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "brisk-bench: needs root (namespaces, veths, XDP)\n");
    return 1;
  }
  std::string me = self_exe();
  if (o.briskd.empty()) o.briskd = dir_of(me) + "/briskd";
  if (o.brisk.empty()) o.brisk = dir_of(me) + "/brisk";
  install_signal_handlers();

  Topology topo;
  std::unique_ptr<SwitchUnderTest> current;
  std::map<std::string, std::vector<Sample>> samples;
  std::map<std::string, std::string> described;
  std::map<std::string, std::string> errors;
  double t_start = now_s();
  int rc = 0;
  std::optional<Testbed> bed;
  try {
    BenchBpf bpf(bpf_path(BRISK_BENCH_BPF_OBJ_PATH, "brisk_bench.o"));
    bed.emplace(o, topo);
    log("prefix " + topo.prefix + ", topology " + o.topology + ", namespaces " + topo.gen_ns +
        " " + topo.sink_ns +
        (topo.vxlan ? " " + topo.gen_port_ns + " " + topo.sink_port_ns : std::string()) +
        ", workdir " + topo.workdir);
    SwitchConfig cfg;
    cfg.briskd = o.briskd;
    cfg.brisk = o.brisk;
    cfg.briskd_args = o.briskd_args;
    cfg.brisk_xdp_obj = bpf_path(BRISK_BPF_OBJ_PATH, "brisk_xdp.o");
    cfg.self_exe = me;
    cfg.pass_prog_fd = bpf.pass_fd();
    cfg.nice = o.nice;
    Bench bench(o, topo, bpf);
    bench.attach_sink();
    for (int r = 0; r < o.runs; ++r) {
      for (const auto& name : o.switches) {
        if (errors.count(name)) continue;  // failed to start before: skip the rest of its runs
        current = make_switch(name, topo, cfg);
        try {
          current->start();
          described[name] = current->describe();
          sleep_s(0.2);
          Sample s = bench.measure(*current);
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
        } catch (const Interrupted&) {
          throw;
        } catch (const std::exception& e) {
          errors[name] = e.what();
          log(name + " failed: " + e.what());
        }
        current->stop();
        current.reset();
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
    cols.push_back({"delivered_fps", "Mfps", 3, 1e-6, true});
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

  if (o.json) {
    json j;
    j["config"] = {{"topology", o.topology},
                   {"frame_bytes", 64},
                   {"runs", o.runs},
                   {"duration_s", o.duration},
                   {"warmup_s", o.warmup},
                   {"rate_fps", o.rate},
                   {"latency_rate_fps", o.latency_rate},
                   {"tcp_duration_s", o.tcp_duration},
                   {"gen_cpu", o.gen_cpu},
                   {"switch_cpu", o.switch_cpu},
                   {"switch_b_cpu", topo.switch_b_cpu},
                   {"nice", o.nice},
                   {"macs", o.macs},
                   {"tests", o.tests},
                   {"switches", o.switches}};
    for (const auto& sw : o.switches) {
      json js;
      js["describe"] = described[sw];
      if (errors.count(sw)) js["error"] = errors[sw];
      for (const auto& [k, v] : m[sw]) js["median"][k] = v;
      js["runs"] = json::array();
      for (const auto& s : samples[sw]) js["runs"].push_back(sample_json(s));
      j["switches"][sw] = js;
    }
    if (have_brisk)
      for (const auto& other : others)
        for (const auto& c : cols)
          if (c.ratio) j["ratios"]["brisk/" + other][c.key] = ratio(c.key, other);
    j["elapsed_s"] = now_s() - t_start;
    std::cout << j.dump(2) << "\n";
  } else {
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
        "brisk-bench: 64-byte frames, median of %d run(s), %.1f s each; generator: XDP live frames "
        "on CPU %d%s; switch on CPU %d\n",
        o.runs, o.duration, o.gen_cpu,
        o.rate > 0 ? (", " + fmt(o.rate / 1e6, 2) + " Mfps offered").c_str() : ", unpaced",
        o.switch_cpu);
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
    std::printf("elapsed %.0f s\n", now_s() - t_start);
  }
  return errors.empty() ? 0 : 3;
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
