// The state document's sections (control/state.hpp): for each one how the model is dumped,
// how an entry is applied, named, withdrawn and updated; and reconcile_state(), which undoes
// a command by bringing the model back to an earlier document.
#include <arpa/inet.h>
#include <syslog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <type_traits>
#include <utility>

#include "control/state.hpp"
#include "datapath/xdp_loader.hpp"

namespace brisk {

using json = nlohmann::json;

namespace {

std::string ip4_str(const Ipv4& a) {
  char b[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, a.data(), b, sizeof(b)) ? b : "?";
}
std::string ip6_str(const Ipv6& a) {
  char b[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, a.data(), b, sizeof(b)) ? b : "?";
}

// Typed field access that reports a clear error instead of throwing far away.
template <typename T>
T field(const json& e, const char* name) {
  if (!e.is_object() || !e.contains(name))
    throw std::runtime_error(std::string("missing field '") + name + "'");
  const json& v = e.at(name);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // An integer field takes a JSON integer within T's range: never a float (converting
    // 1.8e19 to an integer is undefined behaviour) nor a value that would wrap.
    bool ok = false;
    T out{};
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      ok = std::in_range<T>(u);
      out = static_cast<T>(u);
    } else if (v.is_number_integer()) {
      const auto i = v.get<std::int64_t>();
      ok = std::in_range<T>(i);
      out = static_cast<T>(i);
    }
    if (!ok) throw std::runtime_error(std::string("bad field '") + name + "'");
    return out;
  } else {
    try {
      return v.get<T>();
    } catch (const json::exception&) {
      throw std::runtime_error(std::string("bad field '") + name + "'");
    }
  }
}
template <typename T>
T field_or(const json& e, const char* name, T dflt) {
  if (!e.is_object() || !e.contains(name)) return dflt;
  return field<T>(e, name);
}

VlanId vlan_field(const json& e, const char* name, VlanId max = kMaxConfigVlan) {
  auto v = field<long long>(e, name);
  if (v < 0 || v > max)
    throw std::runtime_error(std::string("bad ") + name + " " + std::to_string(v));
  return static_cast<VlanId>(v);
}

std::string err_of(const Reply& r) { return r.ok ? "" : r.text; }

// ---- the sections, in replay order ----

json dump_bridges(const Switch& sw) {
  json a = json::array();
  for (auto& [name, b] : sw.bridges())
    if (b.owner == Owner::kNative)
      a.push_back({{"name", name}, {"ageing", b.ageing}, {"fdb_limit", b.fdb_limit}});
  return a;
}
std::string apply_bridge(Switch& sw, const json& e) {
  auto name = field<std::string>(e, "name");
  if (auto r = sw.ensure_bridge(name); !r.ok) return r.text;
  auto limit = field_or<std::uint32_t>(e, "fdb_limit", kMacTableDefaultLimit);
  if (sw.bridges().at(name).fdb_limit != limit)
    if (auto r = sw.set_fdb_limit(name, limit); !r.ok) return r.text;
  return err_of(sw.set_ageing(name, field_or<std::uint32_t>(e, "ageing", kMacEntryDefaultAgeSec)));
}
std::string withdraw_bridge(Switch& sw, const json& e) {
  return err_of(sw.destroy_bridge(field<std::string>(e, "name")));
}
std::optional<std::string> update_bridge(Switch& sw, const json& target, const json&) {
  return apply_bridge(sw, target);
}

json dump_aliases(const Switch& sw) {
  json a = json::array();
  for (auto& [alias, v] : sw.aliases()) a.push_back({{"alias", alias}, {"vlan", v}});
  return a;
}
std::string apply_alias(Switch& sw, const json& e) {
  auto alias = field<std::string>(e, "alias");
  VlanId v = vlan_field(e, "vlan");
  auto have = sw.resolve_alias(alias, false);
  if (have && *have != v) return "alias " + alias + " already means vlan " + std::to_string(*have);
  sw.restore_alias(alias, v);
  return "";
}
std::string withdraw_alias(Switch& sw, const json& e) {
  sw.forget_alias(field<std::string>(e, "alias"));
  return "";
}
std::optional<std::string> update_alias(Switch& sw, const json& target, const json&) {
  sw.restore_alias(field<std::string>(target, "alias"), vlan_field(target, "vlan"));
  return "";
}

// Taps and vhost-user ports are created as access ports; one whose VLAN mode was changed
// (`port vlan`) keeps "mode" (and for a trunk "vlans" and "native") in its entry, replayed
// with Switch::port_vlan() right after it is created. Entries without "mode" are access.
void dump_mode(const PortModel& p, json& j) {
  if (p.mode == VlanMode::kAccess) return;
  j["mode"] = vlan_mode_name(p.mode);
  if (p.mode == VlanMode::kTrunk) {
    j["vlans"] = format_vlan_list(*p.allowed);
    j["native"] = p.native;
  }
}
// Check the entry's mode before anything is created ("" or the error).
std::string check_mode(const json& e) {
  auto mode = field_or<std::string>(e, "mode", "access");
  auto m = parse_vlan_mode(mode);
  if (!m) return "bad mode '" + mode + "'";
  if (*m == VlanMode::kTrunk) {
    if (!parse_vlan_list(field<std::string>(e, "vlans")))
      return "bad vlan list '" + field<std::string>(e, "vlans") + "'";
    vlan_field(e, "native");
  }
  return "";
}
// Give port `name` the entry's VLAN mode, whatever it is now.
std::string set_mode(Switch& sw, const std::string& name, const json& e) {
  if (auto err = check_mode(e); !err.empty()) return err;
  VlanMode m = *parse_vlan_mode(field_or<std::string>(e, "mode", "access"));
  if (m == VlanMode::kTrunk)
    return err_of(sw.port_vlan(name, m, 0, *parse_vlan_list(field<std::string>(e, "vlans")),
                               vlan_field(e, "native")));
  return err_of(sw.port_vlan(name, m, vlan_field(e, "vlan"), VlanSet{}, 0));
}
// After creating an access port: its mode when the entry says another one.
std::string apply_mode(Switch& sw, const std::string& name, const json& e) {
  if (field_or<std::string>(e, "mode", "access") == "access") return "";
  return set_mode(sw, name, e);
}
// Update of a tap, system port or vhost-user port whose entry differs only in its VLAN mode
// (`port vlan` undone): the mode changed in place, keeping the device; nullopt otherwise.
std::optional<std::string> update_mode(Switch& sw, const json& target, const json& live) {
  auto identity = [](json j) {
    for (const char* f : {"mode", "vlan", "vlans", "native", "alias"}) j.erase(f);
    return j;
  };
  if (!target.is_object() || !live.is_object() || identity(target) != identity(live))
    return std::nullopt;
  auto name = field<std::string>(target, "name");
  if (auto err = set_mode(sw, name, target); !err.empty()) return err;
  // port_vlan() drops a minimega alias label the new VLAN does not match; the entry's comes back.
  if (target.contains("alias")) sw.restore_port_alias(name, field<std::string>(target, "alias"));
  return "";
}
// Withdrawal of a tap, system port, tunnel or vhost-user port (a tap may be named "all").
std::string withdraw_port(Switch& sw, const json& e) {
  return err_of(sw.port_delete(field<std::string>(e, "name")));
}

json dump_taps(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
    if (p.owner != Owner::kNative) continue;
    if (p.kind != PortKind::kTap) continue;
    json j{{"name", name},
           {"bridge", p.bridge},
           {"vlan", p.vlan},
           {"alias", p.vlan_alias},
           {"ip", p.ip}};
    dump_mode(p, j);
    a.push_back(j);
  }
  return a;
}
std::string apply_tap(Switch& sw, const json& e) {
  auto name = field<std::string>(e, "name");
  auto alias = field_or<std::string>(e, "alias", "");
  VlanId v = vlan_field(e, "vlan");
  if (auto err = check_mode(e); !err.empty()) return err;
  if (!alias.empty()) sw.restore_alias(alias, v);
  Reply r = sw.tap_create(field<std::string>(e, "bridge"), v, alias, name,
                          field_or<std::string>(e, "ip", ""));
  if (!r.ok) return r.text;
  return apply_mode(sw, name, e);
}

json dump_ports(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
    if (p.owner != Owner::kNative) continue;
    if (p.kind != PortKind::kSystem) continue;
    json j{{"name", name}, {"bridge", p.bridge}, {"driver", p.driver}};
    if (p.mode != VlanMode::kTrunk) {
      j["mode"] = vlan_mode_name(p.mode);
      j["vlan"] = p.vlan;
    } else {
      j["mode"] = "trunk";
      j["vlans"] = format_vlan_list(*p.allowed);
      j["native"] = p.native;
    }
    a.push_back(j);
  }
  return a;
}
std::string apply_port(Switch& sw, const json& e) {
  auto name = field<std::string>(e, "name");
  auto mode = field<std::string>(e, "mode");
  auto driver = field_or<std::string>(e, "driver", "");
  if (driver == "afxdp" && detach_stale_brisk_programs(name))
    syslog(LOG_NOTICE, "state: detached the XDP/tc programs a previous briskd left on %s",
           name.c_str());
  if (mode == "access" || mode == "dot1q-tunnel")
    return err_of(sw.port_add(name, field<std::string>(e, "bridge"),
                              mode == "access" ? VlanMode::kAccess : VlanMode::kDot1qTunnel,
                              vlan_field(e, "vlan"), VlanSet{}, 0, driver));
  if (mode != "trunk") return "bad mode '" + mode + "'";
  auto set = parse_vlan_list(field<std::string>(e, "vlans"));
  if (!set) return "bad vlan list '" + field<std::string>(e, "vlans") + "'";
  return err_of(sw.port_add(name, field<std::string>(e, "bridge"), VlanMode::kTrunk, 0, *set,
                            vlan_field(e, "native"), driver));
}

json dump_security(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
    if (p.owner != Owner::kNative) continue;
    if (!p.security && p.mac_limit == 0 && p.flood_unknown && p.storm_pps == 0) continue;
    json bs = json::array();
    if (p.security) {
      for (const auto& b : p.security->bindings) {
        json ips = json::array();
        for (const auto& x : b.v4) ips.push_back(ip4_str(x));
        for (const auto& x : b.v6) ips.push_back(ip6_str(x));
        bs.push_back({{"mac", b.mac.str()}, {"ips", ips}});
      }
    }
    a.push_back({{"port", name},
                 {"bindings", bs},
                 {"limit", p.mac_limit},
                 {"flood", p.flood_unknown},
                 {"storm_pps", p.storm_pps}});
  }
  return a;
}
std::string apply_security(Switch& sw, const json& e) {
  auto port = field<std::string>(e, "port");
  if (!sw.ports().count(port)) return "no port named " + port;
  for (const auto& b : field_or<json>(e, "bindings", json::array())) {
    auto mac = MacAddr::parse(field<std::string>(b, "mac"));
    if (!mac) return "bad mac '" + field<std::string>(b, "mac") + "'";
    std::vector<Ipv4> v4;
    std::vector<Ipv6> v6;
    for (const auto& ipj : field_or<json>(b, "ips", json::array())) {
      std::string ip = ipj.is_string() ? ipj.get<std::string>() : "";
      if (!parse_ip_into(ip, v4, v6)) return "bad ip '" + ip + "'";
    }
    if (auto r = sw.security_bind(port, *mac, v4, v6); !r.ok) return r.text;
  }
  if (auto r = sw.security_limit(port, field_or<std::uint32_t>(e, "limit", 0)); !r.ok)
    return r.text;
  if (auto r = sw.set_flood(port, field_or<bool>(e, "flood", true)); !r.ok) return r.text;
  return err_of(sw.set_storm(port, field_or<std::uint32_t>(e, "storm_pps", 0)));
}
// Back to no bindings, no limit, flooding on, no storm control.
std::string withdraw_security(Switch& sw, const json& e) {
  auto port = field<std::string>(e, "port");
  for (const Reply& r : {sw.security_off(port), sw.security_limit(port, 0),
                         sw.set_flood(port, true), sw.set_storm(port, 0)})
    if (!r.ok) return r.text;
  return "";
}

json dump_fdb(const Switch& sw) {
  std::map<PortId, std::string> names;
  for (auto& [n, p] : sw.ports())
    if (p.owner == Owner::kNative) names[p.id] = n;
  json a = json::array();
  for (auto& [bname, b] : sw.bridges()) {
    std::vector<FdbEntry> statics;
    b.fdb->for_each([&](const FdbEntry& e) {
      if (e.is_static) statics.push_back(e);
    });
    std::sort(statics.begin(), statics.end(), [](const FdbEntry& x, const FdbEntry& y) {
      return std::pair(x.vlan, x.mac.to_u64()) < std::pair(y.vlan, y.mac.to_u64());
    });
    for (const auto& e : statics) {
      auto it = names.find(e.port);
      if (it == names.end()) continue;
      a.push_back(
          {{"bridge", bname}, {"vlan", e.vlan}, {"mac", e.mac.str()}, {"port", it->second}});
    }
  }
  return a;
}
std::string apply_fdb(Switch& sw, const json& e) {
  auto mac = MacAddr::parse(field<std::string>(e, "mac"));
  if (!mac) return "bad mac '" + field<std::string>(e, "mac") + "'";
  return err_of(sw.fdb_add(field<std::string>(e, "bridge"), vlan_field(e, "vlan"), *mac,
                           field<std::string>(e, "port")));
}
std::string withdraw_fdb(Switch& sw, const json& e) {
  auto mac = MacAddr::parse(field<std::string>(e, "mac"));
  if (!mac) return "bad mac '" + field<std::string>(e, "mac") + "'";
  return err_of(sw.fdb_del(field<std::string>(e, "bridge"), vlan_field(e, "vlan"), *mac));
}
std::optional<std::string> update_fdb(Switch& sw, const json& target, const json&) {
  return apply_fdb(sw, target);  // a static entry moves to the target's port
}
// The identity of an FDB entry, "bridge/vlan/mac"; "?" for a field that is missing or malformed.
std::string fdb_entry_key(const json& e) {
  auto get = [&](const char* f) -> std::string {
    if (!e.is_object() || !e.contains(f)) return "?";
    const json& v = e[f];
    if (v.is_string()) return v.get<std::string>();
    return v.is_number_integer() ? v.dump() : "?";
  };
  return get("bridge") + "/" + get("vlan") + "/" + get("mac");
}

json dump_tunnels(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
    if (p.owner != Owner::kNative) continue;
    if (p.kind != PortKind::kTunnel) continue;
    char remote[INET_ADDRSTRLEN] = {};
    in_addr ra{};
    ra.s_addr = p.tunnel.remote;
    inet_ntop(AF_INET, &ra, remote, sizeof(remote));
    json j{{"name", name}, {"bridge", p.bridge}, {"type", p.driver}, {"remote", remote}};
    if (p.tunnel.type == TunnelType::kVxlan || p.tunnel.has_key) j["key"] = p.tunnel.key;
    a.push_back(j);
  }
  return a;
}
std::string apply_tunnel(Switch& sw, const json& e) {
  auto type = field<std::string>(e, "type");
  if (type != "vxlan" && type != "gre") return "bad tunnel type '" + type + "'";
  std::optional<std::uint32_t> key;
  if (e.contains("key")) key = field<std::uint32_t>(e, "key");
  return err_of(sw.bridge_tunnel(type == "vxlan" ? TunnelType::kVxlan : TunnelType::kGre,
                                 field<std::string>(e, "bridge"), field<std::string>(e, "remote"),
                                 key, field<std::string>(e, "name")));
}

json dump_vhosts(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
    if (p.owner != Owner::kNative) continue;
    if (p.kind != PortKind::kVhost) continue;
    json j{{"name", name},
           {"bridge", p.bridge},
           {"vlan", p.vlan},
           {"socket", p.devargs},
           {"server", p.driver == "server"}};
    dump_mode(p, j);
    a.push_back(j);
  }
  return a;
}
std::string apply_vhost(Switch& sw, const json& e) {
  auto name = field<std::string>(e, "name");
  if (auto err = check_mode(e); !err.empty()) return err;
  Reply r = sw.vhost_create(field<std::string>(e, "bridge"), vlan_field(e, "vlan"), name,
                            field<std::string>(e, "socket"), field_or<bool>(e, "server", false));
  if (!r.ok) return r.text;
  return apply_mode(sw, name, e);
}

// Port mirrors, by destination (captures write files and are not configuration: they are
// not kept).
json dump_mirrors(const Switch& sw) {
  std::map<std::string, json> by_dst;
  for (const MirrorModel& m : sw.mirrors()) {
    if (m.capture || m.dst.empty() || m.owner != Owner::kNative) continue;
    by_dst[m.dst] = {{"bridge", m.bridge}, {"src", m.src.empty() ? "all" : m.src}, {"dst", m.dst}};
  }
  json a = json::array();
  for (auto& [dst, j] : by_dst) a.push_back(std::move(j));
  return a;
}
std::string apply_mirror(Switch& sw, const json& e) {
  return err_of(sw.mirror_add(field<std::string>(e, "src"), field<std::string>(e, "dst"),
                              field<std::string>(e, "bridge")));
}
std::string withdraw_mirror(Switch& sw, const json& e) {
  return err_of(sw.mirror_clear(field<std::string>(e, "dst")));
}

// A section function that throws (a malformed field) reports the exception as its error.
std::string attempt(const std::function<std::string()>& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::vector<StateSection> make_sections() {
  auto by = [](const char* f) {
    return [f](const json& e) {
      return e.is_object() && e.contains(f) && e[f].is_string() ? e[f].get<std::string>()
                                                                : std::string("?");
    };
  };
  return {
      {"bridges", dump_bridges, apply_bridge, by("name"), withdraw_bridge, update_bridge},
      {"aliases", dump_aliases, apply_alias, by("alias"), withdraw_alias, update_alias},
      {"taps", dump_taps, apply_tap, by("name"), withdraw_port, update_mode},
      {"ports", dump_ports, apply_port, by("name"), withdraw_port, update_mode},
      {"tunnels", dump_tunnels, apply_tunnel, by("name"), withdraw_port, nullptr},
      {"vhosts", dump_vhosts, apply_vhost, by("name"), withdraw_port, update_mode},
      {"security", dump_security, apply_security, by("port"), withdraw_security, nullptr},
      {"mirrors", dump_mirrors, apply_mirror, by("dst"), withdraw_mirror, nullptr},
      {"fdb", dump_fdb, apply_fdb, fdb_entry_key, withdraw_fdb, update_fdb},
  };
}

}  // namespace

const std::vector<StateSection>& state_sections() {
  static const std::vector<StateSection> s = make_sections();
  return s;
}

json dump_state(const Switch& sw) {
  json doc{{"brisk_state", kStateFormat}};
  for (const auto& s : state_sections()) doc[s.name] = s.dump(sw);
  return doc;
}

std::vector<ReconcileFailure> reconcile_state(Switch& sw, const json& target) {
  std::vector<ReconcileFailure> failed;
  auto wanted = [&](const StateSection& s) {
    const json none = json::array();
    return target.is_object() && target.contains(s.name) && target[s.name].is_array()
               ? target[s.name]
               : none;
  };
  auto note = [&](const StateSection& s, const json& e, std::string err, bool withdrawing) {
    if (!err.empty()) failed.push_back({s.name, e, std::move(err), withdrawing});
  };
  const auto& sections = state_sections();
  // 1. Withdraw the live entries the target does not have, last section first (an FDB entry
  //    before its port, a port before its bridge).
  for (auto s = sections.rbegin(); s != sections.rend(); ++s) {
    std::set<std::string> keep;
    for (const auto& e : wanted(*s)) keep.insert(s->key(e));
    for (const auto& e : s->dump(sw))
      if (!keep.count(s->key(e))) note(*s, e, attempt([&] { return s->withdraw(sw, e); }), true);
  }
  // 2. Update or apply the target's entries that differ from the live ones, in replay order.
  for (const auto& s : sections) {
    std::map<std::string, json> live;
    for (const auto& e : s.dump(sw)) live[s.key(e)] = e;
    for (const auto& e : wanted(s)) {
      auto it = live.find(s.key(e));
      if (it != live.end() && it->second == e) continue;
      note(s, e, attempt([&] {
             if (it != live.end()) {
               if (s.update)
                 if (std::optional<std::string> r = s.update(sw, e, it->second)) return *r;
               if (std::string err = s.withdraw(sw, it->second); !err.empty()) return err;
             }
             return s.apply(sw, e);
           }),
           false);
    }
  }
  return failed;
}

}  // namespace brisk
