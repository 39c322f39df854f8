#include "bench/harness/testbed.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "bench/harness/proc.hpp"

namespace bench {
namespace {

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

// Every name of the topology, from the prefix; the MACs and CPUs.
void name_topology(const Options& o, Topology& t) {
  t.prefix = o.prefix.empty() ? rand_prefix() : o.prefix;
  const std::string& p = t.prefix;
  t.vxlan = o.topology == "vxlan";
  t.gen_ns = p + "-gen";
  t.sink_ns = p + "-sink";
  t.gen_dev = p + "g0";
  t.gen_port = p + "g1";
  t.sink_port = p + "s1";
  t.sink_dev = p + "s0";
  t.ceil_gen_dev = p + "c0";
  t.ceil_sink_dev = p + "c1";
  t.loop_a = p + "l0";
  t.loop_b = p + "l1";
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
  if (o.max_mirrors() > 0) {
    t.mirror_ns = p + "-mir";
    for (unsigned i = 0; i < o.max_mirrors(); ++i) {
      t.mirror_ports.push_back(p + "d" + std::to_string(i));
      t.mirror_devs.push_back(p + "m" + std::to_string(i));
    }
  }
}

}  // namespace

Testbed::Testbed(const Options& o, Topology& t) : t_(t) {
  name_topology(o, t);
  for (const auto& ns : namespaces())
    if (access(("/run/netns/" + ns).c_str(), F_OK) == 0)
      throw std::runtime_error("namespace " + ns + " already exists; choose another --prefix");
  char tmpl[] = "/tmp/brisk-bench.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  t.workdir = tmpl;
  created_ = true;
  try {
    make();
  } catch (...) {
    teardown();
    throw;
  }
}

void Testbed::make() {
  for (const auto& ns : namespaces()) {
    run_ok({"ip", "netns", "add", ns});
    // Devices made or moved here later start with IPv6 off (no router solicitations).
    run_ok({"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"});
    run_ok({"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"});
    run_ok({"ip", "-n", ns, "link", "set", "lo", "up"});
  }
  veth(t_.gen_ns, t_.gen_dev, t_.gen_port, t_.gen_mac, t_.gen_ip, t_.gen_port_ns);
  veth(t_.sink_ns, t_.sink_dev, t_.sink_port, t_.sink_mac, t_.sink_ip, t_.sink_port_ns);
  if (t_.vxlan) underlay();
  ceiling_pair();
  mirror_pairs();
}

void Testbed::teardown() noexcept {
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

void Testbed::set_mtu(unsigned mtu) {
  const std::string m = std::to_string(mtu);
  for (const auto& [ns, dev] :
       {std::pair{t_.gen_ns, t_.gen_dev}, std::pair{t_.gen_port_ns, t_.gen_port},
        std::pair{t_.sink_port_ns, t_.sink_port}, std::pair{t_.sink_ns, t_.sink_dev}})
    run_ok(ns.empty() ? std::vector<std::string>{"ip", "link", "set", dev, "mtu", m}
                      : std::vector<std::string>{"ip", "-n", ns, "link", "set", dev, "mtu", m});
}

std::vector<std::string> Testbed::namespaces() const {
  std::vector<std::string> v = {t_.gen_ns, t_.sink_ns};
  if (!t_.mirror_ns.empty()) v.push_back(t_.mirror_ns);
  if (t_.vxlan) {
    v.push_back(t_.gen_port_ns);
    v.push_back(t_.sink_port_ns);
  }
  return v;
}

void Testbed::veth(const std::string& ns, const std::string& inner, const std::string& outer,
                   const std::uint8_t mac[6], const std::string& ip, const std::string& outer_ns) {
  run_ok(
      {"ip", "link", "add", inner, "address", mac_str(mac), "type", "veth", "peer", "name", outer});
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

void Testbed::ceiling_pair() {
  run_ok({"ip", "link", "add", t_.loop_a, "type", "veth", "peer", "name", t_.loop_b});
  for (const auto& dev : {t_.loop_a, t_.loop_b}) {
    run_ok({"ip", "link", "set", dev, "netns", t_.gen_ns});
    run_ok({"ip", "-n", t_.gen_ns, "link", "set", dev, "up"});
  }
  run_ok({"ip", "link", "add", t_.ceil_gen_dev, "type", "veth", "peer", "name", t_.ceil_sink_dev});
  for (const auto& [dev, ns] :
       {std::pair{t_.ceil_gen_dev, t_.gen_ns}, std::pair{t_.ceil_sink_dev, t_.sink_ns}}) {
    run_ok({"ip", "link", "set", dev, "netns", ns});
    run_ok({"ip", "-n", ns, "link", "set", dev, "up"});
  }
}

void Testbed::underlay() {
  run_ok({"ip", "link", "add", t_.under_a, "type", "veth", "peer", "name", t_.under_b});
  const std::string mtu = std::to_string(t_.underlay_mtu);
  for (const auto& [dev, ns, ip] : {std::tuple{t_.under_a, t_.gen_port_ns, t_.under_a_ip},
                                    std::tuple{t_.under_b, t_.sink_port_ns, t_.under_b_ip}}) {
    run_ok({"ip", "link", "set", dev, "netns", ns});
    run_ok(
        {"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf." + dev + ".disable_ipv6=1"});
    run_ok({"ip", "-n", ns, "link", "set", dev, "mtu", mtu});
    run_ok({"ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev});
    run_ok({"ip", "-n", ns, "link", "set", dev, "up"});
  }
}

void Testbed::mirror_pairs() {
  for (std::size_t i = 0; i < t_.mirror_ports.size(); ++i) {
    // A mirror destination's far end: no address, nothing to say, bench_count_all (the mirror
    // test attaches it, measure.hpp).
    run_ok({"ip", "link", "add", t_.mirror_devs[i], "type", "veth", "peer", "name",
            t_.mirror_ports[i]});
    run_ok({"ip", "link", "set", t_.mirror_devs[i], "netns", t_.mirror_ns});
    run_ok({"ip", "-n", t_.mirror_ns, "link", "set", t_.mirror_devs[i], "up"});
    std::ofstream f("/proc/sys/net/ipv6/conf/" + t_.mirror_ports[i] + "/disable_ipv6");
    if (f) f << "1\n";
    f.close();
    run_ok({"ip", "link", "set", t_.mirror_ports[i], "up"});
  }
}

}  // namespace bench
