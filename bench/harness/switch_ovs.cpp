// switch_ovs: Open vSwitch's userspace datapath under test (switches.hpp): ovsdb-server and
// ovs-vswitchd from a private directory in the workdir, a netdev bridge <P>ob with afxdp
// ports. Switch topology only.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "bench/harness/proc.hpp"
#include "bench/harness/switch_common.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {
namespace {

// An Open vSwitch program from the usual directories, else its bare name (looked up in PATH).
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

}  // namespace

std::unique_ptr<SwitchUnderTest> make_ovs(const Topology& t, const SwitchConfig& c) {
  return std::make_unique<Ovs>(t, c);
}

}  // namespace bench
