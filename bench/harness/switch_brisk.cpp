// switch_brisk: brisk under test (switches.hpp), and brisk-noxdp, the same with its XDP fast
// path off. One briskd per Side (two on the vxlan topology), each with a private socket and
// log in the workdir, driven by the brisk client. Its ports: the host veth ends with
// SwitchConfig::brisk_ports' driver, or two host taps of its own in the namespaces (which go
// when briskd does).
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "bench/harness/proc.hpp"
#include "bench/harness/switch_common.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {
namespace {

class Brisk final : public SwitchUnderTest {
 public:
  Brisk(const Topology& t, const SwitchConfig& c) : t_(t), c_(c), sides_(sides_of(t)) {
    bridge_ = t.prefix + "bb";
    // Mirror test: the destinations are ports of the (single) switch from the start.
    if (!t.vxlan)
      for (unsigned i = 0; i < c.mirror_ports && i < t.mirror_ports.size(); ++i)
        sides_[0].ports.push_back(t.mirror_ports[i]);
    for (const auto& sd : sides_) {
      const std::string sfx = sd.tag.empty() ? "" : "-" + sd.tag;
      procs_.push_back(
          Proc{t.workdir + "/brisk" + sfx + ".sock", t.workdir + "/briskd" + sfx + ".log"});
    }
  }
  std::string name() const override { return "brisk"; }
  std::vector<pid_t> pids() const override {
    std::vector<pid_t> v;
    for (const auto& p : procs_) v.push_back(p.pid);
    return v;
  }
  std::string describe() const override { return describe_; }

  void start() override {
    std::string help;
    run({c_.briskd, "--help"}, &help, 10);
    std::vector<std::string> extra = c_.briskd_args;
    if (c_.xdp_senders && help.find("--afxdp-xdp auto") != std::string::npos &&
        std::find(extra.begin(), extra.end(), "--afxdp-xdp") == extra.end())
      extra.insert(extra.begin(), {"--afxdp-xdp", "native"});
    const std::string vlan = t_.vxlan ? "0" : "1";
    for (std::size_t i = 0; i < sides_.size(); ++i) {
      const Side& sd = sides_[i];
      Proc& pr = procs_[i];
      std::vector<std::string> argv;
      if (!sd.ns.empty()) argv = {"ip", "netns", "exec", sd.ns};  // execs briskd: same PID
      for (const std::string& a :
           {c_.briskd, std::string("--socket"), pr.sock, std::string("--default-bridge"), bridge_,
            std::string("--tap-prefix"), t_.prefix + "t", std::string("--workers"),
            std::string("1"), std::string("--cpus"), std::to_string(sd.cpu)})
        argv.push_back(a);
      // No state: every round starts from an empty switch and attaches the ports itself
      // (a state file would replay the previous round's ports, and `port add` would fail).
      if (help.find("--no-state") != std::string::npos) argv.push_back("--no-state");
      for (const auto& a : extra) argv.push_back(a);
      unlink(pr.log.c_str());
      pr.pid = spawn(argv, {pr.log, {}, c_.nice});
      bool up = false;
      for (int k = 0; k < 100 && !up; ++k) {
        if (!alive(pr.pid))
          throw std::runtime_error("briskd exited at start: " + tail(read_file(pr.log)));
        up =
            file_exists(pr.sock) && run({c_.brisk, "--socket", pr.sock, "bridge"}, nullptr, 5) == 0;
        if (!up) sleep_s(0.05);
      }
      if (!up) throw std::runtime_error("briskd did not answer on " + pr.sock);
      disable_ipv6(sd.ns, bridge_);
      bk(pr, {"bridge", "config", bridge_, "fdb-limit=" + std::to_string(c_.max_macs)});
      if (c_.brisk_ports == "tap" && !t_.vxlan) {
        add_taps(pr);
      } else {
        for (const auto& port : sd.ports)
          bk(pr, {"port", "add", port, "vlan", vlan, "driver", c_.brisk_ports});
      }
      if (t_.vxlan)
        bk(pr, {"bridge", "tunnel", "vxlan", bridge_, sd.remote_ip, std::to_string(t_.vni)});
    }
    if (!t_.vxlan) {
      describe_ = "briskd --workers 1 --cpus " + std::to_string(t_.switch_cpu);
    } else {
      describe_ = "two briskd, one per tunnel end (--workers 1, A --cpus " +
                  std::to_string(t_.switch_cpu) + ", B --cpus " + std::to_string(t_.switch_b_cpu) +
                  ")";
    }
    for (const auto& a : extra) describe_ += " " + a;
    if (c_.brisk_ports == "tap" && !t_.vxlan)
      describe_ += "; ports: two host taps (tap create 1) moved into the namespaces";
    else
      describe_ += "; ports: port add <dev> vlan " + vlan + " driver " + c_.brisk_ports;
    if (t_.vxlan)
      describe_ += "; bridge tunnel vxlan <br> <other end> " + std::to_string(t_.vni) +
                   " (learned unicast encapsulated and decapsulated in XDP, or by the tc program where XDP "
                   "cannot carry the skb; the rest AF_XDP in, raw socket out)";
    if (c_.mirror_ports != 0 && !t_.vxlan)
      describe_ += " (also " + std::to_string(c_.mirror_ports) + " mirror destination" +
                   (c_.mirror_ports == 1 ? ")" : "s)");
  }

  bool can_mirror() const override { return !t_.vxlan; }

  void set_mirrors(unsigned n) override {
    bk(procs_[0], {"clear", "tap", "mirror"});
    for (unsigned i = 0; i < n; ++i) {
      if (i >= t_.mirror_ports.size() || i >= c_.mirror_ports)
        throw std::runtime_error("no mirror destination port " + std::to_string(i));
      bk(procs_[0], {"tap", "mirror", t_.gen_port, t_.mirror_ports[i], bridge_});
    }
  }

  // `brisk --json stats`: per-port drops by reason, and one entry per mirror.
  SwitchCounters counters() override {
    std::string out;
    if (run({c_.brisk, "--socket", procs_[0].sock, "--json", "stats"}, &out, 15) != 0)
      throw std::runtime_error("brisk stats failed: " + tail(out));
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(out);
    } catch (const std::exception&) {
      throw std::runtime_error("brisk stats: unreadable JSON: " + tail(out));
    }
    SwitchCounters c;
    c.valid = true;
    c.mirrors.resize(t_.mirror_ports.size());
    auto dst_index = [&](const std::string& port) -> int {
      for (std::size_t i = 0; i < t_.mirror_ports.size(); ++i)
        if (t_.mirror_ports[i] == port) return static_cast<int>(i);
      return -1;
    };
    for (const auto& p : j.at("ports")) {
      if (dst_index(p.at("port").get<std::string>()) >= 0) continue;  // mirror copies' drops
      for (const auto& [reason, n] : p.at("drops").items())
        c.drops[reason] += n.get<std::uint64_t>();
    }
    if (j.contains("mirrors"))
      for (const auto& m : j.at("mirrors")) {
        int i = dst_index(m.at("destination").get<std::string>());
        if (i < 0) continue;
        c.mirrors[i].mirrored = m.at("mirrored").get<std::uint64_t>();
        c.mirrors[i].delivered = m.at("delivered").get<std::uint64_t>();
        c.mirrors[i].dropped = m.at("dropped").get<std::uint64_t>();
      }
    return c;
  }

  void stop() noexcept override {
    for (auto& pr : procs_) {
      if (pr.pid > 0) {
        try {
          bench::stop(pr.pid, 5);
        } catch (...) {
        }
        pr.pid = -1;
      }
    }
    for (const auto& sd : sides_)
      for (const auto& port : sd.ports) xdp_detach(sd.ns, port);
  }

 private:
  struct Proc {
    std::string sock, log;
    pid_t pid = -1;
  };
  std::string bk(const Proc& pr, std::vector<std::string> words) {
    std::vector<std::string> argv = {c_.brisk, "--socket", pr.sock};
    for (auto& w : words) argv.push_back(std::move(w));
    return run_ok(argv, 15);
  }

  // Two host taps on VLAN 1, one moved into the generator namespace and one into the sink's,
  // each with its address and MTU; returns once brisk's `port` shows that MTU on both.
  void add_taps(const Proc& pr) {
    std::vector<std::string> taps;
    for (const auto& [ns, ip] :
         {std::pair{t_.gen_ns, t_.gen_tap_ip}, std::pair{t_.sink_ns, t_.sink_tap_ip}}) {
      std::string tap = bk(pr, {"tap", "create", "1"});
      tap = tap.substr(0, tap.find_first_of(" \n"));
      run_ok({"ip", "link", "set", tap, "netns", ns});
      disable_ipv6(ns, tap);
      if (c_.tap_mtu != 0)
        run_ok(ip_in(ns, {"link", "set", tap, "mtu", std::to_string(c_.tap_mtu)}));
      run_ok(ip_in(ns, {"addr", "add", ip + "/24", "dev", tap}));
      run_ok(ip_in(ns, {"link", "set", tap, "up"}));
      taps.push_back(tap);
    }
    if (c_.tap_mtu != 0) wait_mtu(pr, taps, c_.tap_mtu);
  }

  // Until `brisk --json port` shows MTU mtu on every port of `ports` (brisk re-reads a port's
  // MTU every second); throws after 5 s.
  void wait_mtu(const Proc& pr, const std::vector<std::string>& ports, unsigned mtu) {
    std::string seen;
    for (double end = now_s() + 5; now_s() < end; sleep_s(0.1)) {
      nlohmann::json j = nlohmann::json::parse(bk(pr, {"--json", "port"}), nullptr, false);
      if (!j.is_array()) continue;
      std::size_t ok = 0;
      seen.clear();
      for (const auto& p : j)
        for (const auto& name : ports)
          if (p.value("port", "") == name) {
            ok += p.value("mtu", 0u) == mtu;
            seen += " " + name + " " + std::to_string(p.value("mtu", 0u));
          }
      if (ok == ports.size()) return;
    }
    throw std::runtime_error("brisk did not see MTU " + std::to_string(mtu) +
                             " on its taps:" + seen);
  }
  Topology t_;
  SwitchConfig c_;
  std::vector<Side> sides_;
  std::vector<Proc> procs_;
  std::string bridge_, describe_;
};

}  // namespace

std::unique_ptr<SwitchUnderTest> make_brisk(const Topology& t, const SwitchConfig& c) {
  return std::make_unique<Brisk>(t, c);
}

// brisk with its XDP fast path off: every frame in userspace.
std::unique_ptr<SwitchUnderTest> make_brisk_noxdp(const Topology& t, const SwitchConfig& c) {
  SwitchConfig nc = c;
  nc.briskd_args.push_back("--xdp-fastpath");
  nc.briskd_args.push_back("off");
  return std::make_unique<Brisk>(t, nc);
}

}  // namespace bench
