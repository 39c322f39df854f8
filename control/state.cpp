#include "control/state.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
// libbpf: only for detach_stale_brisk_xdp().
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bpf/brisk_xdp_abi.h"

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
  if (!e.is_object() || !e.contains(name)) throw std::runtime_error(std::string("missing field '") + name + "'");
  try {
    return e.at(name).get<T>();
  } catch (const json::exception&) {
    throw std::runtime_error(std::string("bad field '") + name + "'");
  }
}
template <typename T>
T field_or(const json& e, const char* name, T dflt) {
  if (!e.is_object() || !e.contains(name)) return dflt;
  return field<T>(e, name);
}

VlanId vlan_field(const json& e, const char* name, VlanId max = kMaxConfigVlan) {
  auto v = field<long long>(e, name);
  if (v < 0 || v > max) throw std::runtime_error(std::string("bad ") + name + " " + std::to_string(v));
  return static_cast<VlanId>(v);
}

std::string err_of(const Reply& r) { return r.ok ? "" : r.text; }

// ---- the sections, in replay order ----

json dump_bridges(const Switch& sw) {
  json a = json::array();
  for (auto& [name, b] : sw.bridges())
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
std::string apply_mode(Switch& sw, const std::string& name, const json& e) {
  auto m = parse_vlan_mode(field_or<std::string>(e, "mode", "access"));
  if (!m || *m == VlanMode::kAccess) return "";
  if (*m == VlanMode::kTrunk)
    return err_of(sw.port_vlan(name, *m, 0, *parse_vlan_list(field<std::string>(e, "vlans")),
                               vlan_field(e, "native")));
  return err_of(sw.port_vlan(name, *m, vlan_field(e, "vlan"), VlanSet{}, 0));
}

json dump_taps(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
    if (p.kind != PortKind::kTap) continue;
    json j{{"name", name}, {"bridge", p.bridge}, {"vlan", p.vlan}, {"alias", p.vlan_alias},
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
  if (driver == "afxdp" && detach_stale_brisk_xdp(name))
    syslog(LOG_NOTICE, "state: detached the XDP program a previous briskd left on %s", name.c_str());
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
    a.push_back({{"port", name}, {"bindings", bs}, {"limit", p.mac_limit},
                 {"flood", p.flood_unknown}, {"storm_pps", p.storm_pps}});
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
  if (auto r = sw.security_limit(port, field_or<std::uint32_t>(e, "limit", 0)); !r.ok) return r.text;
  if (auto r = sw.set_flood(port, field_or<bool>(e, "flood", true)); !r.ok) return r.text;
  return err_of(sw.set_storm(port, field_or<std::uint32_t>(e, "storm_pps", 0)));
}

json dump_fdb(const Switch& sw) {
  std::map<PortId, std::string> names;
  for (auto& [n, p] : sw.ports()) names[p.id] = n;
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
      a.push_back({{"bridge", bname}, {"vlan", e.vlan}, {"mac", e.mac.str()}, {"port", it->second}});
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

json dump_tunnels(const Switch& sw) {
  json a = json::array();
  for (auto& [name, p] : sw.ports()) {
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
    if (p.kind != PortKind::kVhost) continue;
    json j{{"name", name}, {"bridge", p.bridge}, {"vlan", p.vlan}, {"socket", p.devargs},
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

// Port mirrors (captures write files and are not configuration: they are not kept).
json dump_mirrors(const Switch& sw) {
  json a = json::array();
  for (const MirrorModel& m : sw.mirrors()) {
    if (m.capture || m.dst.empty()) continue;
    a.push_back({{"bridge", m.bridge}, {"src", m.src.empty() ? "all" : m.src}, {"dst", m.dst}});
  }
  return a;
}
std::string apply_mirror(Switch& sw, const json& e) {
  return err_of(sw.mirror_add(field<std::string>(e, "src"), field<std::string>(e, "dst"),
                              field<std::string>(e, "bridge")));
}

std::vector<StateSection> make_sections() {
  auto by = [](const char* f) {
    return [f](const json& e) { return e.is_object() && e.contains(f) && e[f].is_string() ? e[f].get<std::string>() : std::string("?"); };
  };
  return {
      {"bridges", dump_bridges, apply_bridge, by("name")},
      {"aliases", dump_aliases, apply_alias, by("alias")},
      {"taps", dump_taps, apply_tap, by("name")},
      {"ports", dump_ports, apply_port, by("name")},
      {"tunnels", dump_tunnels, apply_tunnel, by("name")},
      {"vhosts", dump_vhosts, apply_vhost, by("name")},
      {"security", dump_security, apply_security, by("port")},
      {"mirrors", dump_mirrors, apply_mirror, by("dst")},
      {"fdb", dump_fdb, apply_fdb,
       [](const json& e) {
         return e.value("bridge", "?") + "/" + std::to_string(e.value("vlan", 0)) + "/" +
                e.value("mac", "?");
       }},
  };
}

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof(b), "%Y%m%dT%H%M%S", &tm);
  return b;
}

bool fsync_dir(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
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

StateStore::StateStore(std::string path) : path_(std::move(path)) {}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string StateStore::write_file(const std::string& path, const json& doc) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string tmp = path + ".tmp";
  std::string text = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string e = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string e = "cannot fsync " + tmp + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string e = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return e;
  }
  fsync_dir(path);
  return "";
}

ReplayReport StateStore::replay(Switch& sw, const json& doc) {
  ReplayReport rep;
  std::set<std::string> known;
  for (const auto& s : state_sections()) {
    known.insert(s.name);
    if (!doc.contains(s.name)) continue;
    const json& arr = doc.at(s.name);
    if (!arr.is_array()) {
      rep.errors.push_back(s.name + ": not a list; section ignored");
      continue;
    }
    for (const auto& e : arr) {
      std::string err;
      try {
        err = s.apply(sw, e);
      } catch (const std::exception& ex) {
        err = ex.what();
      }
      if (err.empty()) {
        ++rep.applied;
        continue;
      }
      std::string key = s.key(e);
      rep.errors.push_back(s.name + " " + key + ": " + err);
      syslog(LOG_ERR, "state: cannot restore %s %s: %s (kept in the state file; `state retry` "
             "replays it)", s.name.c_str(), key.c_str(), err.c_str());
      json kept = e;
      if (kept.is_object()) kept.erase("pending");
      pending_.push_back({s.name, kept, err});
    }
  }
  for (auto& [name, v] : doc.items()) {
    if (known.count(name) || name == "brisk_state" || name == "written") continue;
    unknown_[name] = v;
    syslog(LOG_WARNING, "state: section '%s' is unknown to this briskd; kept as it is",
           name.c_str());
  }
  return rep;
}

std::string StateStore::load(Switch& sw, ReplayReport& report) {
  if (!enabled()) return "";
  std::error_code ec;
  auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string lock = path_ + ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return "cannot open " + lock + ": " + std::strerror(errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return "state file " + path_ + " is in use by another briskd (" + lock + " is locked)";

  std::string problem;
  json doc;
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) {
      syslog(LOG_INFO, "state: %s does not exist yet; starting with an empty configuration",
             path_.c_str());
      return "";
    }
    problem = std::string("cannot read it: ") + std::strerror(errno);
  } else {
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
      problem = std::string("cannot read it: ") + std::strerror(errno);
    } else {
      try {
        doc = json::parse(ss.str());
        if (!doc.is_object() || !doc.contains("brisk_state") || !doc["brisk_state"].is_number_integer())
          problem = "not a brisk state document (no \"brisk_state\" version)";
        else if (doc["brisk_state"].get<int>() < 1)
          problem = "unsupported state format " + doc["brisk_state"].dump();
      } catch (const json::exception& e) {
        problem = std::string("not valid JSON: ") + e.what();
      }
    }
  }
  if (!problem.empty()) {
    std::string aside = path_ + ".corrupt-" + timestamp();
    if (::rename(path_.c_str(), aside.c_str()) != 0)
      return "state file " + path_ + " is unusable (" + problem + ") and cannot be moved aside (" +
             std::strerror(errno) + "); fix or remove it, or start with --state elsewhere";
    load_warning_ = "state file " + path_ + " was unusable (" + problem + "); moved to " + aside +
                    "; started with an empty configuration";
    syslog(LOG_ERR, "state: %s", load_warning_.c_str());
    report.errors.push_back(load_warning_);
    return "";
  }
  if (doc["brisk_state"].get<int>() > kStateFormat)
    syslog(LOG_WARNING, "state: %s has format %d, newer than this briskd's %d; restoring what it "
           "knows", path_.c_str(), doc["brisk_state"].get<int>(), kStateFormat);
  ReplayReport r = replay(sw, doc);
  report.applied += r.applied;
  report.errors.insert(report.errors.end(), r.errors.begin(), r.errors.end());
  syslog(LOG_INFO, "state: restored %zu entries from %s (%zu failed)", r.applied, path_.c_str(),
         r.errors.size());
  // The file as read is what is on disk: the next sync compares against it.
  last_written_ = doc;
  return "";
}

json StateStore::compose(const Switch& sw) const {
  json doc = dump_state(sw);
  // Pending entries (failed at replay) stay until the live configuration has the same key.
  for (const auto& s : state_sections()) {
    std::set<std::string> live;
    for (const auto& e : doc[s.name]) live.insert(s.key(e));
    for (const auto& p : pending_) {
      if (p.section != s.name || live.count(s.key(p.entry))) continue;
      json e = p.entry;
      if (e.is_object()) e["pending"] = p.error;
      doc[s.name].push_back(e);
    }
  }
  for (auto& [name, v] : unknown_.items()) doc[name] = v;
  return doc;
}

std::string StateStore::sync(const Switch& sw, bool force_compare) {
  if (!enabled()) return "";
  if (!force_compare) {
    // A failed write is retried once a second, not on every loop iteration.
    if (!last_error_.empty() && sw.now() == last_attempt_) return last_error_;
    if (sw.config_version() == last_version_ && last_error_.empty()) return "";
  }
  last_attempt_ = sw.now();
  last_version_ = sw.config_version();
  json doc = compose(sw);
  if (doc == last_written_ && last_error_.empty()) return "";
  std::string err = write_file(path_, doc);
  if (!err.empty()) {
    if (err != last_error_) syslog(LOG_ERR, "state: %s", err.c_str());
    last_error_ = err;
    return err;
  }
  last_error_.clear();
  last_written_ = std::move(doc);
  ++writes_;
  return "";
}

std::size_t StateStore::pending_count() const { return pending_.size(); }

std::string StateStore::help() {
  return "  state\n  state retry\n  state forget <key|all>\n";
}

std::optional<Reply> StateStore::command(Switch& sw, const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] != "state") return std::nullopt;
  if (argv.size() == 1) {
    std::string text = "file: " + (enabled() ? path_ : std::string("(none: --no-state)")) + "\n";
    if (!load_warning_.empty()) text += "warning: " + load_warning_ + "\n";
    if (!last_error_.empty()) text += "last write failed: " + last_error_ + "\n";
    json pend = json::array();
    for (const auto& p : pending_) {
      const StateSection* s = nullptr;
      for (const auto& x : state_sections())
        if (x.name == p.section) s = &x;
      std::string key = s ? s->key(p.entry) : "?";
      text += "pending " + p.section + " " + key + ": " + p.error + "\n";
      pend.push_back({{"section", p.section}, {"key", key}, {"error", p.error}, {"entry", p.entry}});
    }
    json data{{"file", path_}, {"enabled", enabled()}, {"writes", writes_}, {"pending", pend},
              {"warning", load_warning_}, {"last_error", last_error_}};
    return Reply::okay(text, data);
  }
  if (argv[1] == "retry" && argv.size() == 2) {
    std::vector<Pending> todo = std::move(pending_);
    pending_.clear();
    json doc = json::object();
    for (const auto& s : state_sections()) doc[s.name] = json::array();
    for (const auto& p : todo) doc[p.section].push_back(p.entry);
    ReplayReport r = replay(sw, doc);
    std::string text = "restored " + std::to_string(r.applied) + ", still pending " +
                       std::to_string(pending_.size());
    for (const auto& e : r.errors) text += "\n" + e;
    return Reply::okay(text, json{{"restored", r.applied}, {"pending", pending_.size()}});
  }
  if (argv[1] == "forget" && argv.size() == 3) {
    std::size_t before = pending_.size();
    std::erase_if(pending_, [&](const Pending& p) {
      if (argv[2] == "all") return true;
      for (const auto& s : state_sections())
        if (s.name == p.section) return s.key(p.entry) == argv[2];
      return false;
    });
    if (pending_.size() == before) return Reply::error("no pending state entry " + argv[2]);
    return Reply::okay("forgot " + std::to_string(before - pending_.size()) + " entries");
  }
  return Reply::error("usage: state | state retry | state forget <key|all>");
}

bool detach_stale_brisk_xdp(const std::string& ifname) {
  int ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return false;
  bool detached = false;
  for (int mode : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE}) {
    __u32 id = 0;
    if (bpf_xdp_query_id(ifindex, mode, &id) != 0 || id == 0) continue;
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    bool ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
                std::strncmp(info.name, BRISK_XDP_PROG_NAME, sizeof(info.name)) == 0;
    if (ours) {
      bpf_xdp_attach_opts o{};
      o.sz = sizeof(o);
      o.old_prog_fd = fd;
      if (bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &o) == 0) detached = true;
    }
    ::close(fd);
  }
  return detached;
}

}  // namespace brisk
