// switch_common: what the switches under test (switch_*.cpp) share, and the factories the
// registry (switches.cpp) lists. Not for the rest of the harness, which sees switches.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/harness/switches.hpp"

namespace bench {

// The factories of the registry, one switch_*.cpp each (brisk-noxdp beside brisk).
std::unique_ptr<SwitchUnderTest> make_brisk(const Topology& t, const SwitchConfig& c);
std::unique_ptr<SwitchUnderTest> make_brisk_noxdp(const Topology& t, const SwitchConfig& c);
std::unique_ptr<SwitchUnderTest> make_bridge(const Topology& t, const SwitchConfig& c);
std::unique_ptr<SwitchUnderTest> make_ovs(const Topology& t, const SwitchConfig& c);
std::unique_ptr<SwitchUnderTest> make_afxdp(const Topology& t, const SwitchConfig& c);

// A file's contents ("" when it cannot be read), and the last n characters of a text, for
// error messages that quote a log.
std::string read_file(const std::string& path);
std::string tail(const std::string& s, std::size_t n = 600);
bool file_exists(const std::string& p);

// Turns IPv6 off on dev in namespace ns ("" = the harness's own).
void disable_ipv6(const std::string& ns, const std::string& dev);

// `ip [-n ns] args...`
std::vector<std::string> ip_in(const std::string& ns, std::vector<std::string> args);

// One switch instance of a topology: its namespace ("" = the host's), the host ends it
// attaches and, on the vxlan topology, its tunnel's local and remote underlay addresses.
struct Side {
  std::string tag;  // "" (switch topology), "a" or "b"
  std::string ns;
  std::vector<std::string> ports;
  std::string under_dev, local_ip, remote_ip;  // vxlan only
  int cpu = 1;
};

// One Side on the switch topology, two (A, B) on the vxlan topology.
std::vector<Side> sides_of(const Topology& t);

}  // namespace bench
