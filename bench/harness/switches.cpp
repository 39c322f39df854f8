#include "bench/harness/switches.hpp"

#include <unistd.h>

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "bench/harness/proc.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string tail(const std::string& s, std::size_t n = 600) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

bool file_exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

void disable_ipv6(const std::string& ns, const std::string& dev) {
  if (!ns.empty()) {
    run({"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf." + dev + ".disable_ipv6=1"},
        nullptr, 10);
    return;
  }
  std::ofstream f("/proc/sys/net/ipv6/conf/" + dev + "/disable_ipv6");
  if (f) f << "1\n";
}

// `ip [-n ns] args...`
std::vector<std::string> ip_in(const std::string& ns, std::vector<std::string> args) {
  std::vector<std::string> argv = {"ip"};
  if (!ns.empty()) {
    argv.push_back("-n");
    argv.push_back(ns);
  }
  for (auto& a : args) argv.push_back(std::move(a));
  return argv;
}

// One switch instance of a topology: its namespace ("" = the host's), the host ends it
// attaches and, on the vxlan topology, its tunnel's local and remote underlay addresses.
struct Side {
  std::string tag;  // "" (switch topology), "a" or "b"
  std::string ns;
  std::vector<std::string> ports;
  std::string under_dev, local_ip, remote_ip;  // vxlan only
  int cpu = 1;
};

std::vector<Side> sides_of(const Topology& t) {
  if (!t.vxlan) return {Side{"", "", {t.gen_port, t.sink_port}, "", "", "", t.switch_cpu}};
  return {
      Side{"a", t.gen_port_ns, {t.gen_port}, t.under_a, t.under_a_ip, t.under_b_ip, t.switch_cpu},
      Side{"b",
           t.sink_port_ns,
           {t.sink_port},
           t.under_b,
           t.under_b_ip,
           t.under_a_ip,
           t.switch_b_cpu}};
}

// ---------------------------------------------------------------------------- brisk
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
      for (const auto& a : c_.briskd_args) argv.push_back(a);
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
      for (const auto& port : sd.ports)
        bk(pr, {"port", "add", port, "vlan", vlan, "driver", "afxdp"});
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
    for (const auto& a : c_.briskd_args) describe_ += " " + a;
    describe_ += "; ports: port add <dev> vlan " + vlan + " driver afxdp";
    if (t_.vxlan)
      describe_ += "; bridge tunnel vxlan <br> <other end> " + std::to_string(t_.vni) +
                   " (userspace AF_XDP in, kernel UDP socket out)";
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
  void bk(const Proc& pr, std::vector<std::string> words) {
    std::vector<std::string> argv = {c_.brisk, "--socket", pr.sock};
    for (auto& w : words) argv.push_back(std::move(w));
    run_ok(argv, 15);
  }
  Topology t_;
  SwitchConfig c_;
  std::vector<Side> sides_;
  std::vector<Proc> procs_;
  std::string bridge_, describe_;
};

// ---------------------------------------------------------------------------- Linux bridge
class KernelBridge final : public SwitchUnderTest {
 public:
  KernelBridge(const Topology& t, const SwitchConfig& c)
      : t_(t), c_(c), sides_(sides_of(t)), br_(t.prefix + "br"), vx_(t.prefix + "vx") {}
  std::string name() const override { return "bridge"; }
  std::string describe() const override {
    std::string d = "Linux bridge, softirq on the receiving CPU; bench_pass XDP on " + t_.gen_port;
    if (t_.vxlan)
      d += "; per tunnel end a bridge and a kernel vxlan device (VNI " + std::to_string(t_.vni) +
           ", dstport 4789, MTU 1500)";
    return d;
  }
  void start() override {
    for (const Side& sd : sides_) {
      run_ok(ip_in(sd.ns, {"link", "add", br_, "type", "bridge"}));
      disable_ipv6(sd.ns, br_);
      run_ok(ip_in(sd.ns, {"link", "set", br_, "up"}));
      for (const auto& port : sd.ports) run_ok(ip_in(sd.ns, {"link", "set", port, "master", br_}));
      if (t_.vxlan) {
        run_ok(ip_in(
            sd.ns, {"link", "add", vx_, "type", "vxlan", "id", std::to_string(t_.vni), "local",
                    sd.local_ip, "remote", sd.remote_ip, "dstport", "4789", "dev", sd.under_dev}));
        disable_ipv6(sd.ns, vx_);
        run_ok(ip_in(sd.ns, {"link", "set", vx_, "mtu", "1500"}));
        run_ok(ip_in(sd.ns, {"link", "set", vx_, "master", br_}));
        run_ok(ip_in(sd.ns, {"link", "set", vx_, "up"}));
      }
    }
    xdp_attach(t_.gen_port_ns, t_.gen_port, c_.pass_prog_fd);
  }
  void stop() noexcept override {
    xdp_detach(t_.gen_port_ns, t_.gen_port);
    for (const Side& sd : sides_) {
      try {
        if (t_.vxlan) run(ip_in(sd.ns, {"link", "del", vx_}), nullptr, 10);
        run(ip_in(sd.ns, {"link", "del", br_}), nullptr, 10);
      } catch (...) {
      }
    }
  }

 private:
  Topology t_;
  SwitchConfig c_;
  std::vector<Side> sides_;
  std::string br_, vx_;
};

// ---------------------------------------------------------------------------- Open vSwitch
std::string find_bin(const std::string& name) {
  for (const char* d :
       {"/usr/sbin/", "/usr/bin/", "/sbin/", "/usr/local/sbin/", "/usr/local/bin/"}) {
    std::string p = std::string(d) + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return name;
}

class Ovs final : public SwitchUnderTest {
 public:
  Ovs(const Topology& t, const SwitchConfig& c) : t_(t), c_(c) {
    dir_ = t.workdir + "/ovs";
    br_ = t.prefix + "ob";
    env_ = {"OVS_RUNDIR=" + dir_, "OVS_LOGDIR=" + dir_, "OVS_DBDIR=" + dir_,
            "OVS_SYSCONFDIR=" + dir_};
  }
  std::string name() const override { return "ovs"; }
  std::vector<pid_t> pids() const override { return {vswitchd_}; }
  std::string describe() const override {
    return "Open vSwitch " + version_ + " userspace (netdev) datapath, afxdp ports, 1 PMD on CPU " +
           std::to_string(t_.switch_cpu);
  }

  void start() override {
    // Another Open vSwitch's netdev datapath would own the global device "ovs-netdev".
    if (file_exists("/sys/class/net/ovs-netdev"))
      throw std::runtime_error(
          "a device ovs-netdev exists (another Open vSwitch runs): not touching it");
    made_netdev_ = true;  // from here on, an ovs-netdev device is the one our ovs-vswitchd makes
    run_ok({"mkdir", "-p", dir_});
    std::string schema = "/usr/share/openvswitch/vswitch.ovsschema";
    run_ok({find_bin("ovsdb-tool"), "create", dir_ + "/conf.db", schema}, 30, env_);
    db_ = "unix:" + dir_ + "/db.sock";
    ovsdb_ =
        spawn({find_bin("ovsdb-server"), dir_ + "/conf.db", "--remote=punix:" + dir_ + "/db.sock",
               "--unixctl=" + dir_ + "/ovsdb-server.ctl", "--pidfile=" + dir_ + "/ovsdb-server.pid",
               "--log-file=" + dir_ + "/ovsdb-server.log"},
              {dir_ + "/ovsdb-server.out", env_, c_.nice});
    for (int i = 0; i < 100 && !file_exists(dir_ + "/db.sock"); ++i) {
      if (!alive(ovsdb_))
        throw std::runtime_error("ovsdb-server exited: " +
                                 tail(read_file(dir_ + "/ovsdb-server.out")));
      sleep_s(0.05);
    }
    vsctl({"--no-wait", "init"});
    char mask[32];
    std::snprintf(mask, sizeof(mask), "0x%llx", 1ULL << t_.switch_cpu);
    vsctl({"--no-wait", "set", "Open_vSwitch", ".",
           std::string("other_config:pmd-cpu-mask=") + mask});
    vswitchd_ = spawn(
        {find_bin("ovs-vswitchd"), db_, "--unixctl=" + dir_ + "/ovs-vswitchd.ctl",
         "--pidfile=" + dir_ + "/ovs-vswitchd.pid", "--log-file=" + dir_ + "/ovs-vswitchd.log"},
        {dir_ + "/ovs-vswitchd.out", env_, c_.nice});
    vsctl({"add-br", br_, "--", "set", "bridge", br_, "datapath_type=netdev",
           "other_config:mac-table-size=" + std::to_string(c_.max_macs)});
    std::vector<std::string> ports = {t_.gen_port, t_.sink_port};
    for (unsigned i = 0; i < c_.mirror_ports && i < t_.mirror_ports.size(); ++i)
      ports.push_back(t_.mirror_ports[i]);
    for (const auto& p : ports)
      vsctl({"add-port", br_, p, "--", "set", "interface", p, "type=afxdp", "options:n_rxq=1"});
    for (const auto& p : ports) {
      std::string err = vsctl({"get", "interface", p, "error"});
      std::string ofport = vsctl({"get", "interface", p, "ofport"});
      if (err.find('"') != std::string::npos || ofport.rfind("-1", 0) == 0 ||
          ofport.rfind("[]", 0) == 0)
        throw std::runtime_error("Open vSwitch port " + p + ": " + err + " (ofport " + ofport +
                                 "); log: " + tail(read_file(dir_ + "/ovs-vswitchd.log")));
    }
    std::string v;
    run({find_bin("ovs-vswitchd"), "--version"}, &v, 10);
    version_ = v.substr(0, v.find('\n'));
    if (auto sp = version_.rfind(' '); sp != std::string::npos) version_ = version_.substr(sp + 1);
  }

  bool can_mirror() const override { return true; }

  // OVS mirrors like minimega's: select-src-port and select-dst-port <P>g1, output-port
  // <P>d<i> (an output port carries only mirrored traffic). The datapath's flows are flushed
  // afterwards: flows cached with the old mirror set would otherwise keep their actions until
  // a revalidator, slow on a busy machine, gets to them.
  void set_mirrors(unsigned n) override {
    vsctl({"clear", "bridge", br_, "mirrors"});
    for (unsigned i = 0; i < n; ++i) {
      if (i >= t_.mirror_ports.size() || i >= c_.mirror_ports)
        throw std::runtime_error("no mirror destination port " + std::to_string(i));
      const std::string name = "name=m" + std::to_string(i);
      vsctl({"--",
             "--id=@s",
             "get",
             "port",
             t_.gen_port,
             "--",
             "--id=@d",
             "get",
             "port",
             t_.mirror_ports[i],
             "--",
             "--id=@m",
             "create",
             "mirror",
             name,
             "select-src-port=@s",
             "select-dst-port=@s",
             "output-port=@d",
             "--",
             "add",
             "bridge",
             br_,
             "mirrors",
             "@m"});
    }
    appctl({"dpctl/del-flows"});
  }

  // The datapath's live port counters (`dpctl/show -s`; the database's statistics lag by
  // seconds): TX dropped of every port but the mirror destinations are the switch's drops
  // (the datapath's "lookups ... lost" is not: it moves with the mirror copies, not with
  // frames missing at the sink); a destination's TX packets are the copies delivered, its TX
  // dropped the copies dropped, their sum the copies made (OVS counts mirror copies nowhere else).
  // RX dropped is left out: for an afxdp port it is the kernel's AF_XDP RX drops, which the
  // harness already counts at the veth.
  SwitchCounters counters() override {
    std::istringstream is(appctl({"dpctl/show", "-s"}));
    SwitchCounters c;
    c.valid = true;
    c.mirrors.resize(t_.mirror_ports.size());
    auto num = [](const std::string& line, const std::string& key) -> std::uint64_t {
      auto p = line.find(key + ":");
      if (p == std::string::npos) throw std::runtime_error("dpctl/show: no " + key + " in " + line);
      const std::string v = line.substr(p + key.size() + 1);
      // "?" where OVS has no figure (e.g. the internal port).
      return v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) ? 0 : std::stoull(v);
    };
    int dst = -1;
    for (std::string line; std::getline(is, line);) {
      // "  port 3: bk12d0 (afxdp)" starts a port's block.
      if (auto p = line.find("port ");
          p != std::string::npos && line.find(": ", p) != std::string::npos) {
        std::string name = line.substr(line.find(": ", p) + 2);
        name = name.substr(0, name.find(' '));
        dst = -1;
        for (std::size_t i = 0; i < t_.mirror_ports.size(); ++i)
          if (t_.mirror_ports[i] == name) dst = static_cast<int>(i);
      }
      if (line.find("TX packets:") != std::string::npos) {
        std::uint64_t sent = num(line, "packets"), dropped = num(line, "dropped");
        if (dst >= 0) {
          c.mirrors[dst].delivered = sent;
          c.mirrors[dst].dropped = dropped;
          c.mirrors[dst].mirrored = sent + dropped;
        } else {
          c.drops["tx_dropped"] += dropped;
        }
      }
    }
    return c;
  }

  void stop() noexcept override {
    // Open vSwitch makes its taps persistent (the bridge's internal port and the datapath's
    // "ovs-netdev"): delete the bridge first so ovs-vswitchd removes them itself.
    if (vswitchd_ > 0 && alive(vswitchd_)) {
      try {
        vsctl({"--if-exists", "del-br", br_});
      } catch (...) {
      }
    }
    for (pid_t* p : {&vswitchd_, &ovsdb_}) {
      if (*p > 0) {
        try {
          bench::stop(*p, 10);
        } catch (...) {
        }
        *p = -1;
      }
    }
    xdp_detach("", t_.gen_port);
    xdp_detach("", t_.sink_port);
    for (unsigned i = 0; i < c_.mirror_ports && i < t_.mirror_ports.size(); ++i)
      xdp_detach("", t_.mirror_ports[i]);
    try {
      for (const std::string& dev : {br_, std::string("ovs-netdev")})
        if ((dev == br_ || made_netdev_) && file_exists("/sys/class/net/" + dev))
          run({"ip", "link", "del", dev}, nullptr, 10);
      made_netdev_ = false;
      run({"rm", "-rf", dir_}, nullptr, 10);
    } catch (...) {
    }
  }

 private:
  std::string appctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {find_bin("ovs-appctl"), "-t", dir_ + "/ovs-vswitchd.ctl"};
    for (auto& a : args) argv.push_back(std::move(a));
    return run_ok(argv, 30, env_);
  }
  std::string vsctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {find_bin("ovs-vsctl"), "--db=" + db_, "--timeout=30"};
    for (auto& a : args) argv.push_back(std::move(a));
    if (vswitchd_ > 0 && !alive(vswitchd_))
      throw std::runtime_error("ovs-vswitchd exited: " +
                               tail(read_file(dir_ + "/ovs-vswitchd.log")));
    return run_ok(argv, 40, env_);
  }
  Topology t_;
  SwitchConfig c_;
  std::string dir_, br_, db_, version_;
  std::vector<std::string> env_;
  pid_t ovsdb_ = -1, vswitchd_ = -1;
  bool made_netdev_ = false;
};

// ---------------------------------------------------------------------------- bare AF_XDP
class BareAfXdp final : public SwitchUnderTest {
 public:
  BareAfXdp(const Topology& t, const SwitchConfig& c) : t_(t), c_(c) {}
  std::string name() const override { return "afxdp"; }
  std::vector<pid_t> pids() const override { return {pid_}; }
  std::string describe() const override {
    return "bare AF_XDP forwarder (shared UMEM, no copies in userspace) on CPU " +
           std::to_string(t_.switch_cpu);
  }
  void start() override {
    log_ = t_.workdir + "/afxdp.log";
    unlink(log_.c_str());  // this run's lines only
    pid_ = spawn({c_.self_exe, "--afxdp-forwarder", t_.gen_port, t_.sink_port,
                  std::to_string(t_.switch_cpu), c_.brisk_xdp_obj},
                 {log_, {}, c_.nice});
    for (int i = 0; i < 100; ++i) {
      if (!alive(pid_))
        throw std::runtime_error("AF_XDP forwarder exited: " + tail(read_file(log_)));
      if (read_file(log_).find(" on CPU") != std::string::npos) return;
      sleep_s(0.05);
    }
    throw std::runtime_error("AF_XDP forwarder did not start: " + tail(read_file(log_)));
  }
  void stop() noexcept override {
    if (pid_ > 0) {
      try {
        bench::stop(pid_, 5);
      } catch (...) {
      }
      pid_ = -1;
      // The forwarder's socket statistics (XDP_STATISTICS), for the progress log.
      std::istringstream is(read_file(log_));
      for (std::string line; std::getline(is, line);)
        if (line.find("rx_dropped") != std::string::npos)
          std::fprintf(stderr, "  %s\n", line.c_str());
    }
    xdp_detach("", t_.gen_port);
    xdp_detach("", t_.sink_port);
  }

 private:
  Topology t_;
  SwitchConfig c_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace

std::unique_ptr<SwitchUnderTest> make_switch(const std::string& name, const Topology& topo,
                                             const SwitchConfig& cfg) {
  if (topo.vxlan && name != "brisk" && name != "bridge")
    throw std::runtime_error("switch '" + name + "' has no vxlan topology (brisk, bridge)");
  if (name == "brisk") return std::make_unique<Brisk>(topo, cfg);
  if (name == "brisk-noxdp") {  // brisk with its XDP fast path off: every frame in userspace
    SwitchConfig c = cfg;
    c.briskd_args.push_back("--xdp-fastpath");
    c.briskd_args.push_back("off");
    return std::make_unique<Brisk>(topo, c);
  }
  if (name == "bridge") return std::make_unique<KernelBridge>(topo, cfg);
  if (name == "ovs") return std::make_unique<Ovs>(topo, cfg);
  if (name == "afxdp") return std::make_unique<BareAfXdp>(topo, cfg);
  throw std::runtime_error("unknown switch '" + name +
                           "' (known: brisk, brisk-noxdp, bridge, ovs, afxdp)");
}

}  // namespace bench
