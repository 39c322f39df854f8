// The registry of the switches under test: name -> factory, in the order of the default
// --switches. A new switch is a switch_<name>.cpp with its factory (declared in
// switch_common.hpp) and a line here; the names in usage checks and errors come from here.
#include "bench/harness/switches.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include "bench/harness/switch_common.hpp"

namespace bench {
namespace {

struct SwitchKind {
  std::string_view name;
  bool vxlan;  // has a vxlan topology (two instances joined by a tunnel)
  std::unique_ptr<SwitchUnderTest> (*make)(const Topology&, const SwitchConfig&);
};

constexpr SwitchKind kSwitches[] = {
    {"brisk", true, make_brisk},   {"brisk-noxdp", false, make_brisk_noxdp},
    {"bridge", true, make_bridge}, {"ovs", false, make_ovs},
    {"afxdp", false, make_afxdp},
};

const SwitchKind* find(const std::string& name) {
  auto it = std::find_if(std::begin(kSwitches), std::end(kSwitches),
                         [&](const SwitchKind& k) { return k.name == name; });
  return it == std::end(kSwitches) ? nullptr : it;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

std::vector<std::string> switch_names() {
  std::vector<std::string> v;
  for (const auto& k : kSwitches) v.emplace_back(k.name);
  return v;
}

std::vector<std::string> vxlan_switch_names() {
  std::vector<std::string> v;
  for (const auto& k : kSwitches)
    if (k.vxlan) v.emplace_back(k.name);
  return v;
}

bool switch_known(const std::string& name) { return find(name) != nullptr; }

bool switch_has_vxlan(const std::string& name) {
  const SwitchKind* k = find(name);
  return k != nullptr && k->vxlan;
}

std::unique_ptr<SwitchUnderTest> make_switch(const std::string& name, const Topology& topo,
                                             const SwitchConfig& cfg) {
  const SwitchKind* k = find(name);
  if (topo.vxlan && (k == nullptr || !k->vxlan))
    throw std::runtime_error("switch '" + name + "' has no vxlan topology (" +
                             join(vxlan_switch_names(), ", ") + ")");
  if (k == nullptr)
    throw std::runtime_error("unknown switch '" + name + "' (known: " + join(switch_names(), ", ") +
                             ")");
  return k->make(topo, cfg);
}

}  // namespace bench
