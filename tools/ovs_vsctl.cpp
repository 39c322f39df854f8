// ovs-vsctl: the Open vSwitch command line, as far as minimega and libvirt use it, translated
// into brisk commands sent to briskd (socket: $BRISK_SOCKET, else /run/brisk/brisk.sock).
//
//   ovs-vsctl [--timeout=N] [--db=..] [-v..] [--] [cmd-opts] CMD ARGS [-- [cmd-opts] CMD ARGS]...
//
// A command line is a transaction: every command is parsed and checked against briskd's
// current bridges and ports (simulating the earlier commands of the same line) before the
// first one is sent, so a line with an error changes nothing. The errors carry OVS's words
// ("already exists", "no port named", "no bridge named"), which is what minimega parses.
// What only briskd can refuse (a device that does not exist, a feature this briskd lacks)
// stops the line at that command; the commands before it stay done.
//
//   add-br B                             bridge create B
//   del-br B                             bridge destroy B
//   add-port B P [tag=N] [trunks=..]     port add P vlan N | trunk [list] bridge B
//     [vlan_mode=dot1q-tunnel]           port add P dot1q-tunnel N bridge B
//     -- set Interface P type=internal   tap create N bridge B name P      (host tap)
//                                        (+ port vlan P dot1q-tunnel N with vlan_mode=dot1q-tunnel)
//     -- set Interface P type=vxlan|gre options:remote_ip=IP [options:key=K]
//                                        bridge tunnel vxlan|gre B IP [K]
//   del-port [B] P                       port delete P
//   set Port P tag=N                     port vlan P access N   (dot1q-tunnel N if it is one)
//   set Port P vlan_mode=dot1q-tunnel [tag=N]
//                                        port vlan P dot1q-tunnel N (N: the port's VLAN if no tag)
//   set Port P vlan_mode=access|trunk|native-untagged [tag=N] [trunks=..]
//                                        port vlan P access N | trunk [list] [native N]
//     QinQ: every customer VLAN is carried (cvlans must be empty) and the service tag is
//     802.1Q (other_config:qinq-ethtype=802.1q; OVS's default, 802.1ad, is refused when
//     given explicitly); other_config:vlan-limit=2 needs nothing (brisk always parses two).
//   mirror transaction (docs/commands.md) tap mirror SRC DST B | clear tap mirror DST
//   set Bridge B other_config:mac-aging-time=N | other_config:mac-table-size=N
//   set Open_vSwitch . ...               accepted, nothing to do
//   set Interface P external-ids:..      accepted, nothing to do
//   list-br, list-ports B, br-exists B, port-to-br P, iface-to-br P, show
//
// Exit status: 0 success, 1 error (message on stderr: "ovs-vsctl: ..."), 2 br-exists: no.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/validate.hpp"
#include "tools/client.hpp"

namespace {

namespace client = brisk::client;
using Words = std::vector<std::string>;

struct Fail {
  std::string msg;
  int code = 1;
};

[[noreturn]] void fail(const std::string& msg, int code = 1) { throw Fail{msg, code}; }

struct Cmd {
  std::set<std::string> opts;  // --may-exist, --if-exists, ...
  std::string id;              // --id=@name
  std::string name;
  Words args;
};

struct PortInfo {
  std::string bridge;
  std::string kind;  // tap, internal, system, tunnel
  std::string driver;
  std::string mode;  // access, trunk, dot1q-tunnel
  unsigned vlan = 0;
  unsigned native = 0;  // trunk: VLAN of untagged frames
};

// What briskd has now, updated as the transaction's commands are checked.
struct Model {
  std::set<std::string> bridges;
  std::map<std::string, PortInfo> ports;
};

// OVS's spelling of a table name given in any case.
std::string table_name(const std::string& lower_name) {
  if (lower_name == "port") return "Port";
  if (lower_name == "interface") return "Interface";
  if (lower_name == "bridge") return "Bridge";
  if (lower_name == "mirror") return "Mirror";
  return lower_name;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// key=value / key:sub=value settings.
std::pair<std::string, std::string> split_kv(const std::string& s) {
  auto eq = s.find('=');
  if (eq == std::string::npos) fail("'" + s + "': argument does not end in \"=\" followed by a value.");
  std::string v = s.substr(eq + 1);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return {s.substr(0, eq), v};
}

unsigned parse_num(const std::string& s, unsigned max, const std::string& what) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(s) > max)
    fail("\"" + s + "\" is not a valid " + what);
  return static_cast<unsigned>(std::stoul(s));
}

// One brisk command to send, and how to describe its failure.
struct Action {
  Words argv;
  std::string feature;  // non-empty: a feature briskd may lack (tunnels, mirrors)
  int port = -1;        // an add-port: argv is filled in once its Interface settings are known
};

// A port being added in this transaction; Interface settings may follow.
struct NewPort {
  std::string bridge, name;
  std::optional<unsigned> tag;
  std::string trunks;  // "" = all
  bool trunks_set = false;  // trunks= was given
  std::string vlan_mode;
  std::string type;
  std::map<std::string, std::string> options;
  bool skip = false;  // --may-exist and it exists
};

struct Mirror {
  std::string name, output;
  std::vector<std::string> src, dst;
  bool all = false;
};

class Vsctl {
 public:
  Vsctl(std::string socket, unsigned timeout) : socket_(std::move(socket)), timeout_(timeout) {}

  int main(const std::vector<Cmd>& cmds) {
    load();
    for (const auto& c : cmds) check(c);
    finish_ports();
    for (const auto& a : actions_) send(a);
    std::fputs(brisk::printable(out_, /*multiline=*/true).c_str(), stdout);
    return 0;
  }

 private:
  client::Answer call(const Words& argv) {
    client::Answer a = client::run(socket_, argv, timeout_);
    if (!a.reached) fail(a.text + " (is briskd running? set BRISK_SOCKET)");
    return a;
  }

  void load() {
    auto b = call({"bridge"});
    if (!b.ok) fail(b.text);
    for (const auto& x : b.data) m_.bridges.insert(x.value("bridge", ""));
    auto p = call({"port"});
    if (!p.ok) fail(p.text);
    for (const auto& x : p.data)
      m_.ports[x.value("port", "")] = {x.value("bridge", ""), x.value("kind", ""), x.value("driver", ""),
                                       x.value("mode", ""), x.value("vlan", 0u), x.value("native", 0u)};
  }

  void send(const Action& a) {
    client::Answer r = call(a.argv);
    if (r.ok) return;
    if (!a.feature.empty() && client::unknown_command(r))
      fail(a.feature + ": not supported by this briskd (it answered: " + r.text + ")");
    std::string cmd;
    for (const auto& w : a.argv) cmd += (cmd.empty() ? "" : " ") + w;
    fail(r.text + " (brisk command: " + cmd + ")");
  }

  void need_bridge(const std::string& b) {
    if (!m_.bridges.count(b)) fail("no bridge named " + b);
  }
  // A port record: a port of brisk's, not a bridge's own interface.
  bool is_port(const std::string& p) const { return m_.ports.count(p) || pending_.count(p); }

  NewPort* pending_port(const std::string& p) {
    auto it = pending_.find(p);
    return it == pending_.end() ? nullptr : &ports_[it->second];
  }

  void check(const Cmd& c) {
    const bool may_exist = c.opts.count("--may-exist"), if_exists = c.opts.count("--if-exists");
    const Words& a = c.args;
    auto nargs = [&](std::size_t lo, std::size_t hi) {
      if (a.size() < lo || a.size() > hi)
        fail("'" + c.name + "' command requires at least " + std::to_string(lo) + " arguments");
    };
    if (c.name == "add-br") {
      nargs(1, 3);
      if (a.size() == 3) fail("fake bridges (add-br BRIDGE PARENT VLAN) are not supported by brisk");
      // briskd's own rule (control/validate.hpp), checked before anything is sent.
      if (std::string e = brisk::check_ifname("bridge name", a[0]); !e.empty()) fail(e);
      if (m_.bridges.count(a[0])) {
        if (may_exist) return;
        fail("cannot create a bridge named " + a[0] + " because a bridge named " + a[0] +
             " already exists");
      }
      if (m_.ports.count(a[0]))
        fail("cannot create a bridge named " + a[0] + " because a port named " + a[0] +
             " already exists on bridge " + m_.ports[a[0]].bridge);
      m_.bridges.insert(a[0]);
      actions_.push_back({{"bridge", "create", a[0]}, ""});
    } else if (c.name == "del-br") {
      nargs(1, 1);
      if (!m_.bridges.count(a[0])) {
        if (if_exists) return;
        fail("no bridge named " + a[0]);
      }
      m_.bridges.erase(a[0]);
      std::erase_if(m_.ports, [&](const auto& kv) { return kv.second.bridge == a[0]; });
      actions_.push_back({{"bridge", "destroy", a[0]}, ""});
    } else if (c.name == "add-port") {
      nargs(2, 64);
      need_bridge(a[0]);
      const std::string& p = a[1];
      if (std::string e = brisk::check_ifname("port name", p); !e.empty()) fail(e);
      NewPort np;
      np.bridge = a[0];
      np.name = p;
      if (m_.ports.count(p) || pending_.count(p)) {
        std::string on = m_.ports.count(p) ? m_.ports[p].bridge : ports_[pending_[p]].bridge;
        if (!may_exist || on != a[0])
          fail("cannot create a port named " + p + " because a port named " + p +
               " already exists on bridge " + on);
        np.skip = true;
      } else if (m_.bridges.count(p)) {
        fail("cannot create a port named " + p + " because a bridge named " + p + " already exists");
      }
      for (std::size_t i = 2; i < a.size(); ++i) port_column(np, a[i]);
      if (!np.skip) m_.ports[p] = {a[0], "new", ""};
      pending_[p] = ports_.size();
      actions_.push_back({{}, "", static_cast<int>(ports_.size())});
      ports_.push_back(np);
    } else if (c.name == "del-port") {
      nargs(1, 2);
      const std::string& p = a.back();
      auto it = m_.ports.find(p);
      if (it == m_.ports.end() || it->second.kind == "internal") {
        if (if_exists) return;
        fail("no port named " + p);
      }
      if (a.size() == 2 && it->second.bridge != a[0]) {
        need_bridge(a[0]);
        fail("bridge " + a[0] + " does not have a port " + p);
      }
      if (auto* np = pending_port(p)) {  // added earlier in this transaction
        np->skip = true;
        pending_.erase(p);
      } else {
        actions_.push_back({{"port", "delete", p}, ""});
      }
      m_.ports.erase(it);
    } else if (c.name == "set" || c.name == "add" || c.name == "remove" || c.name == "clear") {
      nargs(2, 64);
      table_cmd(c);
    } else if (c.name == "get") {
      nargs(2, 64);
      std::string table = lower(a[0]);
      if (table == "port" || table == "interface") {
        if (!is_port(a[1])) fail("no row \"" + a[1] + "\" in table " + table_name(table));
        if (!c.id.empty()) refs_[c.id] = a[1];
      } else if (table == "mirror") {
        if (!c.id.empty()) refs_[c.id] = "mirror:" + a[1];
      } else if (table == "bridge") {
        need_bridge(a[1]);
        if (!c.id.empty()) refs_[c.id] = a[1];
      } else {
        fail("unknown table \"" + a[0] + "\"");
      }
      for (std::size_t i = 2; i < a.size(); ++i) out_ += "[]\n";  // columns: nothing kept
    } else if (c.name == "create") {
      nargs(1, 64);
      if (lower(a[0]) != "mirror") fail("create " + a[0] + " is not supported by brisk");
      if (c.id.empty()) fail("create mirror needs --id=@name");
      Mirror mi;
      for (std::size_t i = 1; i < a.size(); ++i) {
        auto [k, v] = split_kv(a[i]);
        if (k == "name") {
          mi.name = v;
        } else if (k == "output-port") {
          mi.output = ref(v);
        } else if (k == "select-src-port") {
          mi.src.push_back(ref(v));
        } else if (k == "select-dst-port") {
          mi.dst.push_back(ref(v));
        } else if (k == "select-all") {
          mi.all = v == "true";
        } else {
          fail("mirror column " + k + " is not supported by brisk");
        }
      }
      if (mi.output.empty()) fail("a mirror needs output-port (brisk has no output-vlan)");
      mirrors_[c.id] = mi;
    } else if (c.name == "list-br") {
      for (const auto& b : m_.bridges) out_ += b + "\n";
    } else if (c.name == "br-exists") {
      nargs(1, 1);
      if (!m_.bridges.count(a[0])) fail("", 2);
    } else if (c.name == "list-ports" || c.name == "list-ifaces") {
      nargs(1, 1);
      need_bridge(a[0]);
      for (const auto& [n, p] : m_.ports)
        if (p.bridge == a[0] && p.kind != "internal") out_ += n + "\n";
    } else if (c.name == "port-to-br" || c.name == "iface-to-br") {
      nargs(1, 1);
      auto it = m_.ports.find(a[0]);
      if (it == m_.ports.end()) fail(std::string(c.name == "port-to-br" ? "no port named " : "no interface named ") + a[0]);
      out_ += it->second.bridge + "\n";
    } else if (c.name == "show") {
      for (const auto& b : m_.bridges) {
        out_ += "    Bridge " + b + "\n";
        for (const auto& [n, p] : m_.ports) {
          if (p.bridge != b) continue;
          out_ += "        Port " + n + "\n            Interface " + n + "\n";
          if (p.kind == "internal" || p.kind == "tap") out_ += "                type: internal\n";
        }
      }
      out_ += "    ovs_version: \"2.17.0\"\n";
    } else if (c.name == "init" || c.name == "emer-reset") {
      // nothing to do
    } else {
      fail("unknown command '" + c.name + "'; use --help for help");
    }
  }

  std::string ref(const std::string& v) {
    if (v.empty() || v[0] != '@') return v;
    auto it = refs_.find(v);
    if (it == refs_.end()) fail("row id \"" + v + "\" is referenced but never created (e.g. with \"-- --id=" + v + " create ...\")");
    return it->second;
  }

  // A Port column of add-port or `set Port`.
  void port_column(NewPort& np, const std::string& kv) {
    auto [k, v] = split_kv(kv);
    if (k == "tag") {
      np.tag = parse_num(v, 4094, "VLAN tag");
    } else if (k == "trunks") {
      std::string t;
      for (char ch : v)
        if (ch != '[' && ch != ']' && ch != ' ' && ch != '"') t += ch;
      np.trunks = t;
      np.trunks_set = true;
    } else if (k == "vlan_mode") {
      if (v != "access" && v != "trunk" && v != "native-untagged" && v != "native-tagged" &&
          v != "dot1q-tunnel")
        fail("\"" + v + "\" is not a valid vlan_mode");
      np.vlan_mode = v;
    } else if (k == "cvlans") {
      std::string t;
      for (char ch : v)
        if (ch != '[' && ch != ']' && ch != ' ' && ch != '"') t += ch;
      if (!t.empty())
        fail("cvlans=" + v + " is not supported by brisk: its dot1q-tunnel ports carry every "
             "customer VLAN (leave cvlans empty)");
    } else if (k == "other_config:qinq-ethtype" || k == "other-config:qinq-ethtype") {
      if (v == "802.1ad")
        fail("other_config:qinq-ethtype=802.1ad is not supported by brisk: its service tags are "
             "802.1Q (0x8100), as with qinq-ethtype=802.1q");
      if (v != "802.1q") fail("\"" + v + "\" is not a valid qinq-ethtype (802.1ad or 802.1q)");
    } else if (k.rfind("external_ids", 0) == 0 || k.rfind("external-ids", 0) == 0 ||
               k.rfind("other_config", 0) == 0 || k.rfind("other-config", 0) == 0) {
      // metadata: nothing for brisk to do
    } else {
      fail("Port column " + k + " is not supported by brisk");
    }
  }

  void iface_column(NewPort* np, const std::string& port, const std::string& kv) {
    auto [k, v] = split_kv(kv);
    if (k.rfind("external_ids", 0) == 0 || k.rfind("external-ids", 0) == 0 ||
        k.rfind("other_config", 0) == 0 || k.rfind("other-config", 0) == 0 || k == "mtu_request" ||
        k == "ofport_request")
      return;  // metadata: nothing for brisk to do
    if (np == nullptr) {
      // An existing interface: only what it already is can be "set".
      const PortInfo& p = m_.ports[port];
      if (k == "type") {
        bool same = (v == "internal" && (p.kind == "tap" || p.kind == "internal")) ||
                    ((v.empty() || v == "system") && p.kind == "system");
        if (!same) fail("changing the type of existing interface " + port + " is not supported by brisk");
        return;
      }
      fail("changing Interface column " + k + " of existing interface " + port +
           " is not supported by brisk");
    }
    if (k == "type") {
      if (v != "internal" && v != "system" && !v.empty() && v != "vxlan" && v != "gre" && v != "tap")
        fail("interface type \"" + v + "\" is not supported by brisk");
      np->type = v;
    } else if (k.rfind("options:", 0) == 0) {
      np->options[k.substr(8)] = v;
    } else {
      fail("Interface column " + k + " is not supported by brisk");
    }
  }

  void table_cmd(const Cmd& c) {
    const Words& a = c.args;
    std::string table = lower(a[0]);
    const std::string& rec = a[1];
    if (table == "open_vswitch") {
      if (c.name == "set") return;  // other_config:vlan-limit=2 etc.: nothing to do
      return;
    }
    if (table == "bridge") {
      need_bridge(rec);
      if (c.name == "set") {
        for (std::size_t i = 2; i < a.size(); ++i) {
          auto [k, v] = split_kv(a[i]);
          if (k == "other_config:mac-aging-time" || k == "other-config:mac-aging-time") {
            actions_.push_back({{"bridge", "ageing", rec, std::to_string(parse_num(v, 1000000, "ageing time"))}, ""});
          } else if (k == "other_config:mac-table-size" || k == "other-config:mac-table-size") {
            actions_.push_back({{"bridge", "config", rec, "fdb-limit=" + std::to_string(parse_num(v, 100000000, "table size"))}, ""});
          }
          // Other columns (stp_enable, fail_mode, protocols, external_ids...): nothing to do.
        }
        return;
      }
      if (a.size() >= 3 && a[2] == "mirrors") {
        if (c.name == "add") {
          for (std::size_t i = 3; i < a.size(); ++i) {
            auto it = mirrors_.find(a[i]);
            if (it == mirrors_.end()) fail("row id \"" + a[i] + "\" is not a mirror created in this transaction");
            add_mirror(rec, it->second);
          }
        } else if (c.name == "remove") {
          for (std::size_t i = 3; i < a.size(); ++i) {
            std::string r = ref(a[i]);
            std::string name = r.rfind("mirror:", 0) == 0 ? r.substr(7) : r;
            if (name.rfind("mirror-", 0) != 0)
              fail("mirror " + name + ": brisk names mirrors after their output port (mirror-<port>)");
            actions_.push_back({{"clear", "tap", "mirror", name.substr(7)}, "mirroring"});
          }
        } else if (c.name == "clear") {
          actions_.push_back({{"clear", "tap", "mirror"}, "mirroring"});
        }
        return;
      }
      fail(c.name + " Bridge " + (a.size() > 2 ? a[2] : "") + " is not supported by brisk");
    }
    if (table == "port" || table == "interface") {
      if (!is_port(rec)) fail("no row \"" + rec + "\" in table " + table_name(table));
      if (c.name != "set") {
        if (c.name == "remove" || c.name == "clear") return;  // external_ids etc.
        fail(c.name + " " + a[0] + " is not supported by brisk");
      }
      NewPort* np = pending_port(rec);
      if (np != nullptr && np->skip) np = nullptr;
      NewPort existing;  // the Port columns set on a port that exists already
      for (std::size_t i = 2; i < a.size(); ++i) {
        if (table == "interface") {
          iface_column(np, rec, a[i]);
          continue;
        }
        if (np != nullptr) {
          port_column(*np, a[i]);
          continue;
        }
        port_column(existing, a[i]);
      }
      if (table == "port" && np == nullptr) set_existing_port(rec, existing);
      return;
    }
    if (table == "mirror") {
      if (c.name == "set" || c.name == "clear") return;
    }
    fail("unknown table \"" + a[0] + "\"");
  }

  // `set Port P` on an existing port: tag, vlan_mode and trunks -> one `port vlan`, in OVS's
  // meaning (a column not given keeps its value: tag=N alone keeps a dot1q-tunnel port one).
  // trunks= alone changes the VLANs of a trunk (its native VLAN kept) and, as in OVS, does
  // nothing to a port that has a tag (access or dot1q-tunnel: trunks is ignored there).
  void set_existing_port(const std::string& rec, const NewPort& c) {
    PortInfo& p = m_.ports[rec];
    const bool trunks_only = !c.tag && c.vlan_mode.empty();
    if (trunks_only && !(c.trunks_set && p.mode == "trunk")) return;
    if (p.kind == "internal" || p.kind == "tunnel")
      fail("changing the VLAN of " + p.kind + " port " + rec + " is not supported by brisk");
    std::string mode = c.vlan_mode;
    if (trunks_only) mode = "trunk";
    if (mode.empty()) mode = p.mode == "dot1q-tunnel" ? "dot1q-tunnel" : "access";
    Words w{"port", "vlan", rec};
    unsigned vlan = 0;
    if (mode == "access" || mode == "dot1q-tunnel") {
      if (c.tag) {
        vlan = *c.tag;
      } else if (p.mode == "access" || p.mode == "dot1q-tunnel") {
        vlan = p.vlan;
      } else {
        fail("vlan_mode=" + mode + " on trunk " + rec + " needs tag=N");
      }
      w.insert(w.end(), {mode, std::to_string(vlan)});
    } else if (mode == "trunk" || mode == "native-untagged") {
      w.insert(w.end(), {"trunk", c.trunks.empty() ? "all" : c.trunks});
      if (mode == "native-untagged" && c.tag) w.insert(w.end(), {"native", std::to_string(*c.tag)});
      else if (trunks_only && p.native != 0) w.insert(w.end(), {"native", std::to_string(p.native)});
    } else {
      fail("vlan_mode=" + mode + " is not supported by brisk");
    }
    actions_.push_back({w, mode == "dot1q-tunnel" ? "QinQ (dot1q-tunnel ports)" : ""});
    p.mode = mode == "native-untagged" ? "trunk" : mode;
    p.vlan = vlan;
  }

  void add_mirror(const std::string& bridge, const Mirror& mi) {
    std::string dst = mi.output;
    std::set<std::string> srcs(mi.src.begin(), mi.src.end());
    srcs.insert(mi.dst.begin(), mi.dst.end());
    if (mi.all) {
      // brisk mirrors named ports: every port of the bridge now, except the output.
      for (const auto& [n, p] : m_.ports)
        if (p.bridge == bridge && n != dst) srcs.insert(n);
    }
    if (srcs.empty()) fail("mirror " + mi.name + " selects no port");
    for (const auto& s : srcs) actions_.push_back({{"tap", "mirror", s, dst, bridge}, "mirroring"});
  }

  // add-port ... plus its Interface settings -> one brisk command, in the add-port's place.
  void finish_ports() {
    std::vector<Action> done;
    for (auto& act : actions_) {
      if (act.port < 0) {
        done.push_back(act);
        continue;
      }
      const NewPort& np = ports_[static_cast<std::size_t>(act.port)];
      if (np.skip) continue;
      const bool qinq = np.vlan_mode == "dot1q-tunnel";
      if (np.vlan_mode == "native-tagged") fail("vlan_mode=native-tagged is not supported by brisk");
      if (qinq && (np.type == "vxlan" || np.type == "gre"))
        fail("vlan_mode=dot1q-tunnel on a " + np.type + " interface is not supported by brisk");
      if (np.type == "internal" || np.type == "tap") {
        act.argv = {"tap", "create", std::to_string(np.tag.value_or(0)), "bridge", np.bridge, "name", np.name};
        if (qinq) {  // a host tap is created as an access port, then made a QinQ port
          done.push_back(act);
          act = Action{{"port", "vlan", np.name, "dot1q-tunnel", std::to_string(np.tag.value_or(0))},
                       "QinQ (dot1q-tunnel ports)"};
        }
      } else if (qinq) {
        act.argv = {"port", "add", np.name, "dot1q-tunnel", std::to_string(np.tag.value_or(0)), "bridge", np.bridge};
        act.feature = "QinQ (dot1q-tunnel ports)";
      } else if (np.type == "vxlan" || np.type == "gre") {
        auto rip = np.options.find("remote_ip");
        if (rip == np.options.end()) fail(np.type + " interface " + np.name + " needs options:remote_ip");
        act.argv = {"bridge", "tunnel", np.type, np.bridge, rip->second};
        if (auto k = np.options.find("key"); k != np.options.end()) act.argv.push_back(k->second);
        act.feature = np.type + " tunnels";
      } else if (np.tag && np.vlan_mode != "trunk") {
        act.argv = {"port", "add", np.name, "vlan", std::to_string(*np.tag), "bridge", np.bridge};
      } else {
        // No tag: a trunk of every VLAN whose untagged frames are VLAN 0 (OVS's meaning).
        act.argv = {"port", "add", np.name, "trunk"};
        if (!np.trunks.empty()) act.argv.push_back(np.trunks);
        if (np.tag) act.argv.insert(act.argv.end(), {"native", std::to_string(*np.tag)});
        act.argv.insert(act.argv.end(), {"bridge", np.bridge});
      }
      done.push_back(act);
    }
    actions_ = std::move(done);
  }

  std::string socket_;
  unsigned timeout_;
  Model m_;
  std::vector<Action> actions_;
  std::vector<NewPort> ports_;
  std::map<std::string, std::size_t> pending_;  // port name -> ports_ index
  std::map<std::string, std::string> refs_;      // @id -> port name / "mirror:<name>"
  std::map<std::string, Mirror> mirrors_;
  std::string out_;
};

const char* kUsage = R"(ovs-vsctl (brisk front end): drive briskd with Open vSwitch's command line
usage: ovs-vsctl [OPTIONS] COMMAND [ARG...] [-- [OPTIONS] COMMAND [ARG...]]...
  add-br BRIDGE | del-br BRIDGE | list-br | br-exists BRIDGE
  add-port BRIDGE PORT [tag=N] [trunks=..] [-- set Interface PORT type=internal|vxlan|gre options:..]
  del-port [BRIDGE] PORT | list-ports BRIDGE | port-to-br PORT | show
  set Port|Interface|Bridge|Open_vSwitch REC COL=VAL..., get, create mirror, add/remove Bridge B mirrors
options: --may-exist --if-exists --timeout=N --id=@NAME -V/--version
briskd's socket: $BRISK_SOCKET, else /run/brisk/brisk.sock
)";

}  // namespace

int main(int argc, char** argv) {
  unsigned timeout = 0;
  std::vector<Cmd> cmds;
  Cmd cur;
  bool in_cmd = false;  // the current segment's command name has been seen
  try {
    for (int i = 1; i < argc; ++i) {
      std::string w = argv[i];
      if (w == "--") {
        if (in_cmd) cmds.push_back(cur);
        cur = Cmd{};
        in_cmd = false;
        continue;
      }
      if (!in_cmd && w.size() > 1 && w[0] == '-') {
        if (w == "-V" || w == "--version") {
          std::printf("ovs-vsctl (Open vSwitch) 2.17.0\nDB Schema 8.3.0\n(brisk compatibility front end)\n");
          return 0;
        }
        if (w == "-h" || w == "--help") {
          std::fputs(kUsage, stdout);
          return 0;
        }
        if (w.rfind("--timeout=", 0) == 0 || w == "-t" || w == "--timeout") {
          std::string v = w.rfind("--timeout=", 0) == 0 ? w.substr(10) : (i + 1 < argc ? argv[++i] : "");
          timeout = parse_num(v, 86400, "timeout");
        } else if (w.rfind("--id=", 0) == 0) {
          cur.id = w.substr(5);
        } else if (w == "--may-exist" || w == "--if-exists" || w == "--all" || w == "--no-wait" ||
                   w == "--columns" || w.rfind("--db=", 0) == 0 || w.rfind("-v", 0) == 0 ||
                   w.rfind("--verbose", 0) == 0 || w == "--oneline" || w == "--dry-run" ||
                   w.rfind("--format=", 0) == 0 || w.rfind("--columns=", 0) == 0 ||
                   w == "--no-syslog" || w == "--retry") {
          cur.opts.insert(w);
        } else {
          fail("unrecognized option '" + w + "'");
        }
        continue;
      }
      if (!in_cmd) {
        cur.name = w;
        in_cmd = true;
      } else {
        cur.args.push_back(w);
      }
    }
    if (in_cmd) cmds.push_back(cur);
    if (cmds.empty()) fail("missing command name (use --help for help)");
    return Vsctl(brisk::client::default_socket(), timeout).main(cmds);
  } catch (const Fail& f) {
    if (!f.msg.empty()) std::fprintf(stderr, "ovs-vsctl: %s\n", brisk::printable(f.msg).c_str());
    return f.code;
  }
}
