#include "bench/harness/switch_common.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "bench/harness/proc.hpp"

namespace bench {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string tail(const std::string& s, std::size_t n) {
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

std::vector<std::string> ip_in(const std::string& ns, std::vector<std::string> args) {
  std::vector<std::string> argv = {"ip"};
  if (!ns.empty()) {
    argv.push_back("-n");
    argv.push_back(ns);
  }
  for (auto& a : args) argv.push_back(std::move(a));
  return argv;
}

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

}  // namespace bench
