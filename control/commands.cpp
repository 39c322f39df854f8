#include "control/commands.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <functional>
#include <optional>

#include "control/validate.hpp"

namespace brisk {

namespace {

using Args = std::vector<std::string>;

struct Command {
  std::vector<std::string> words;  // leading words that select the command
  std::string usage;
  std::function<Reply(Switch&, const Args&)> handler;  // gets the words after `words`
  // Instead of handler, for a command that acts for the client (writes a file it names).
  std::function<Reply(Switch&, const Args&, const Caller&)> caller_handler = nullptr;
};

std::optional<std::uint32_t> parse_uint(const std::string& s, std::uint32_t max) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

Reply usage_error(const Command& c) { return Reply::error("usage: " + c.usage); }

std::string vlan_list_error(const std::string& s) {
  return "invalid vlan list '" + printable(s) + "': want e.g. 10,20,30-40 or all (VLANs 0-4094)";
}

// A VLAN is a number 0-4094 or a minimega alias (letters first); aliases resolve to the next
// free VLAN from 101 when `allocate`.
std::optional<VlanId> parse_vlan(Switch& sw, const std::string& s, bool allocate,
                                 std::string& alias, std::string& err) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    auto v = parse_vlan_id(s);
    if (!v) err = vlan_id_error(s);
    return v;
  }
  bool ok = !s.empty() && std::isalpha(static_cast<unsigned char>(s[0]));
  for (char c : s)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/');
  if (!ok) {
    err = "invalid vlan '" + printable(s) + "': want 0-4094 or an alias";
    return std::nullopt;
  }
  alias = s;
  auto v = sw.resolve_alias(s, allocate);
  if (!v) err = allocate ? "no free VLAN left for alias " + s : "unknown vlan alias " + s;
  return v;
}

// tap create <vlan> [bridge <b>] [name <t>] [ip <cidr> [t] | dhcp [t] | ip dhcp [t]]
Reply tap_create(Switch& sw, const Args& a, const Command& c) {
  if (a.empty()) return usage_error(c);
  std::string bridge = sw.default_bridge(), name, ip;
  bool have_bridge = false, have_name = false, have_ip = false;
  std::size_t i = 1;
  while (i < a.size()) {
    const std::string& w = a[i];
    if (w == "bridge" && !have_bridge && i + 1 < a.size()) {
      bridge = a[i + 1];
      have_bridge = true;
      i += 2;
    } else if (w == "name" && !have_name && i + 1 < a.size()) {
      name = a[i + 1];
      have_name = true;
      i += 2;
    } else if ((w == "ip" || w == "dhcp") && !have_ip) {
      if (w == "ip") {
        if (i + 1 >= a.size()) return usage_error(c);
        ip = a[i + 1];
        i += 2;
      } else {
        ip = "dhcp";
        i += 1;
      }
      have_ip = true;
      // minimega's positional tap name after the address.
      if (i < a.size() && !have_name && a[i] != "bridge" && a[i] != "name") {
        name = a[i++];
        have_name = true;
      }
    } else {
      return Reply::error("unexpected '" + w + "'; usage: " + c.usage);
    }
  }
  // An empty name given explicitly is refused (Switch::tap_create picks one for "").
  if (have_name && name.empty()) return Reply::error(check_ifname("tap name", name));
  std::string alias, err;
  // A new alias is allocated by Switch::tap_create once everything else has been validated.
  auto vlan = parse_vlan(sw, a[0], /*allocate=*/false, alias, err);
  if (!vlan && alias.empty()) return Reply::error(err);
  return sw.tap_create(bridge, vlan ? *vlan : kNewAliasVlan, alias, name, ip);
}

// tap mirror, clear tap mirror, capture pcap, clear capture (control/mirror.cpp).
void add_mirror_commands(std::vector<Command>& cmds) {
  cmds.push_back({{"tap", "mirror"}, "tap mirror [<src tap|all> <dst tap> [bridge]]", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.empty()) return sw.list_mirrors();
    if (a.size() != 2 && a.size() != 3) return usage_error(c);
    return sw.mirror_add(a[0], a[1], a.size() == 3 ? a[2] : sw.default_bridge());
  };
  cmds.push_back({{"clear", "tap", "mirror"}, "clear tap mirror [<dst tap>]", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() > 1) return usage_error(c);
    return sw.mirror_clear(a.empty() ? "" : a[0]);
  };
  cmds.push_back({{"capture"}, "capture", [](Switch& sw, const Args& a) {
                    return a.empty() ? sw.list_captures()
                                     : Reply::error("unknown capture command '" + a[0] + "'");
                  }});
  cmds.push_back(
      {{"capture", "pcap"},
       "capture pcap [tap <tap> <file> | bridge <bridge> <file>] [snaplen <n>] [overwrite]",
       nullptr});
  cmds.back().caller_handler = [c = cmds.back()](Switch& sw, const Args& a, const Caller& caller) {
    if (a.empty()) return sw.list_captures();
    if (a.size() < 3 || (a[0] != "tap" && a[0] != "bridge")) return usage_error(c);
    std::uint32_t snaplen = kCaptureDefaultSnaplen;
    bool have_snaplen = false, overwrite = false;
    for (std::size_t i = 3; i < a.size(); ++i) {
      if (a[i] == "overwrite" && !overwrite) {
        overwrite = true;
      } else if (a[i] == "snaplen" && !have_snaplen && i + 1 < a.size()) {
        auto n = parse_uint(a[++i], 262144);
        if (!n || *n < 14)
          return Reply::error("invalid snaplen '" + a[i] + "': want 14-262144 bytes");
        snaplen = *n;
        have_snaplen = true;
      } else {
        return usage_error(c);
      }
    }
    return sw.capture_add(a[0], a[1], a[2], snaplen, overwrite, caller);
  };
  cmds.push_back({{"clear", "capture"}, "clear capture [pcap [<id>]]", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.empty() || (a.size() == 1 && a[0] == "pcap")) return sw.capture_clear(std::nullopt);
    if (a.size() == 2 && a[0] == "pcap") {
      auto id = parse_uint(a[1], 0xffffffffu);
      if (!id) return Reply::error("invalid capture id '" + a[1] + "'");
      return sw.capture_clear(*id);
    }
    return usage_error(c);
  };
}

std::vector<Command> make_commands() {
  std::vector<Command> cmds;
  cmds.push_back({{"tap"}, "tap", [](Switch& sw, const Args& a) {
                    return a.empty() ? sw.list_taps()
                                     : Reply::error("unknown tap command '" + a[0] + "'");
                  }});
  cmds.push_back({{"tap", "create"},
                  "tap create <vlan> [bridge <b>] [name <tap>] [ip <cidr> [tap] | dhcp [tap]]",
                  nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return tap_create(sw, a, c);
  };
  cmds.push_back({{"tap", "delete"}, "tap delete <name|number|all>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return a.size() == 1 ? sw.tap_delete(a[0]) : usage_error(c);
  };
  cmds.push_back({{"bridge"}, "bridge", [](Switch& sw, const Args& a) {
                    return a.empty() ? sw.list_bridges()
                                     : Reply::error("unknown bridge command '" + a[0] + "'");
                  }});
  cmds.push_back({{"bridge", "destroy"}, "bridge destroy <bridge>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return a.size() == 1 ? sw.destroy_bridge(a[0]) : usage_error(c);
  };
  cmds.push_back({{"bridge", "create"}, "bridge create <bridge>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 1) return usage_error(c);
    if (sw.bridges().count(a[0])) return Reply::error("bridge " + a[0] + " already exists");
    return sw.ensure_bridge(a[0]);
  };
  cmds.push_back(
      {{"bridge", "ageing"}, "bridge ageing <bridge> <seconds (0 = hub mode)>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 2) return usage_error(c);
    auto s = parse_uint(a[1], 1000000);
    if (!s) return Reply::error("invalid ageing '" + a[1] + "': want 0-1000000 seconds");
    return sw.set_ageing(a[0], *s);
  };
  cmds.push_back({{"bridge", "config"}, "bridge config <bridge> <ageing=N|fdb-limit=N>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 2) return usage_error(c);
    auto eq = a[1].find('=');
    if (eq == std::string::npos) return usage_error(c);
    std::string key = a[1].substr(0, eq), val = a[1].substr(eq + 1);
    if (key == "ageing") {
      auto s = parse_uint(val, 1000000);
      if (!s) return Reply::error("invalid ageing '" + val + "': want 0-1000000 seconds");
      return sw.set_ageing(a[0], *s);
    }
    if (key == "fdb-limit") {
      auto s = parse_uint(val, kMacTableMaxLimit);
      if (!s || *s == 0)
        return Reply::error("invalid fdb-limit '" + val + "': want 1-" +
                            std::to_string(kMacTableMaxLimit));
      return sw.set_fdb_limit(a[0], *s);
    }
    return Reply::error("unknown bridge config key '" + key + "' (known: ageing, fdb-limit)");
  };
  cmds.push_back({{"port"}, "port", [](Switch& sw, const Args& a) {
                    return a.empty() ? sw.list_ports()
                                     : Reply::error("unknown port command '" + a[0] + "'");
                  }});
  cmds.push_back({{"port", "add"},
                  "port add <iface> vlan <id> | trunk [<vlans>] [native <id>] | dot1q-tunnel <id>  "
                  "[bridge <b>] [driver afxdp|afpacket|dpdk]   (dpdk: <iface> is a PCI address or "
                  "vdev string)",
                  nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() < 2) return usage_error(c);
    std::string bridge = sw.default_bridge(), driver;
    VlanMode mode;
    VlanId vlan = 0, native = 0;
    VlanSet allowed;
    std::size_t i = 1;
    if (a[i] == "vlan") {
      if (i + 1 >= a.size()) return usage_error(c);
      auto v = parse_vlan_id(a[i + 1]);
      if (!v) return Reply::error(vlan_id_error(a[i + 1]));
      mode = VlanMode::kAccess;
      vlan = *v;
      i += 2;
    } else if (a[i] == "dot1q-tunnel") {
      if (i + 1 >= a.size()) return usage_error(c);
      auto v = parse_vlan_id(a[i + 1]);
      if (!v) return Reply::error(vlan_id_error(a[i + 1]));
      mode = VlanMode::kDot1qTunnel;
      vlan = *v;
      i += 2;
    } else if (a[i] == "trunk") {
      mode = VlanMode::kTrunk;
      allowed.set();
      ++i;
      if (i < a.size() && a[i] != "native" && a[i] != "bridge" && a[i] != "driver") {
        auto set = parse_vlan_list(a[i]);
        if (!set) return Reply::error(vlan_list_error(a[i]));
        allowed = *set;
        ++i;
      }
    } else {
      return usage_error(c);
    }
    bool have_native = false, have_bridge = false, have_driver = false;
    while (i < a.size()) {
      if (i + 1 >= a.size()) return usage_error(c);
      if (a[i] == "native" && mode == VlanMode::kTrunk && !have_native) {
        auto v = parse_vlan_id(a[i + 1]);
        if (!v) return Reply::error(vlan_id_error(a[i + 1], "native vlan"));
        native = *v;
        have_native = true;
      } else if (a[i] == "bridge" && !have_bridge) {
        bridge = a[i + 1];
        have_bridge = true;
      } else if (a[i] == "driver" && !have_driver) {
        driver = a[i + 1];
        if (driver != "afxdp" && driver != "afpacket" && driver != "dpdk")
          return Reply::error("unknown driver '" + driver + "': want afxdp, afpacket or dpdk");
        have_driver = true;
      } else {
        return Reply::error("unexpected '" + a[i] + "'; usage: " + c.usage);
      }
      i += 2;
    }
    return sw.port_add(a[0], bridge, mode, vlan, allowed, native, driver);
  };
  cmds.push_back(
      {{"port", "vlan"},
       "port vlan <port> access <id> | trunk [<vlans>] [native <id>] | dot1q-tunnel <id>",
       nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() < 2) return usage_error(c);
    auto mode = parse_vlan_mode(a[1]);
    if (!mode)
      return Reply::error("unknown vlan mode '" + a[1] + "': want access, trunk or dot1q-tunnel");
    if (*mode != VlanMode::kTrunk) {
      if (a.size() != 3) return usage_error(c);
      auto v = parse_vlan_id(a[2]);
      if (!v) return Reply::error(vlan_id_error(a[2]));
      return sw.port_vlan(a[0], *mode, *v, VlanSet{}, 0);
    }
    VlanSet allowed;
    allowed.set();
    VlanId native = 0;
    std::size_t i = 2;
    if (i < a.size() && a[i] != "native") {
      auto set = parse_vlan_list(a[i]);
      if (!set) return Reply::error(vlan_list_error(a[i]));
      allowed = *set;
      ++i;
    }
    if (i < a.size()) {
      if (a[i] != "native" || i + 2 != a.size()) return usage_error(c);
      auto v = parse_vlan_id(a[i + 1]);
      if (!v) return Reply::error(vlan_id_error(a[i + 1], "native vlan"));
      native = *v;
    }
    return sw.port_vlan(a[0], VlanMode::kTrunk, 0, allowed, native);
  };
  cmds.push_back({{"vhost", "create"},
                  "vhost create <vlan> socket <path> [bridge <b>] [name <n>] [server]",
                  nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.empty()) return usage_error(c);
    auto v = parse_vlan_id(a[0]);
    if (!v) return Reply::error(vlan_id_error(a[0]));
    std::string bridge = sw.default_bridge(), name, socket;
    bool have_bridge = false, have_name = false, server = false;
    for (std::size_t i = 1; i < a.size();) {
      if (a[i] == "server" && !server) {
        server = true;
        ++i;
        continue;
      }
      if (i + 1 >= a.size()) return usage_error(c);
      if (a[i] == "socket" && socket.empty()) {
        socket = a[i + 1];
        if (socket.empty()) return usage_error(c);
      } else if (a[i] == "bridge" && !have_bridge) {
        bridge = a[i + 1];
        have_bridge = true;
      } else if (a[i] == "name" && !have_name) {
        name = a[i + 1];
        have_name = true;
      } else {
        return Reply::error("unexpected '" + a[i] + "'; usage: " + c.usage);
      }
      i += 2;
    }
    if (socket.empty()) return Reply::error("missing socket <path>; usage: " + c.usage);
    if (have_name && name.empty()) return Reply::error(check_ifname("port name", name));
    return sw.vhost_create(bridge, *v, name, socket, server);
  };
  cmds.push_back({{"bridge", "trunk"}, "bridge trunk <bridge> <iface>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return a.size() == 2 ? sw.bridge_trunk(a[0], a[1]) : usage_error(c);
  };
  cmds.push_back({{"bridge", "notrunk"}, "bridge notrunk <bridge> <iface>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return a.size() == 2 ? sw.bridge_notrunk(a[0], a[1]) : usage_error(c);
  };
  cmds.push_back(
      {{"bridge", "tunnel"}, "bridge tunnel <vxlan|gre> <bridge> <remote ip> [key]", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 3 && a.size() != 4) return usage_error(c);
    TunnelType type;
    if (a[0] == "vxlan") {
      type = TunnelType::kVxlan;
    } else if (a[0] == "gre") {
      type = TunnelType::kGre;
    } else {
      return Reply::error("unknown tunnel type '" + a[0] + "': want vxlan or gre");
    }
    std::optional<std::uint32_t> key;
    if (a.size() == 4) {
      key = parse_uint(a[3], 0xffffffffu);
      if (!key) return Reply::error("invalid key '" + a[3] + "': want 0-4294967295");
    }
    return sw.bridge_tunnel(type, a[1], a[2], key);
  };
  cmds.push_back({{"bridge", "notunnel"}, "bridge notunnel <bridge> <iface>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return a.size() == 2 ? sw.bridge_notunnel(a[0], a[1]) : usage_error(c);
  };
  cmds.push_back(
      {{"port", "security"},
       "port security [<port>] | <port> mac <mac> [ip <addr>[,<addr>...]] | <port> off | "
       "<port> limit <n>",
       nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() <= 1) return sw.show_security(a.empty() ? "" : a[0]);
    if (a[1] == "off" && a.size() == 2) return sw.security_off(a[0]);
    if (a[1] == "limit" && a.size() == 3) {
      auto n = parse_uint(a[2], kMacTableMaxLimit);
      if (!n) return Reply::error("invalid limit '" + a[2] + "': want 0 (none) or a count");
      return sw.security_limit(a[0], *n);
    }
    if (a[1] == "mac" && (a.size() == 3 || (a.size() == 5 && a[3] == "ip"))) {
      auto mac = MacAddr::parse(a[2]);
      if (!mac) return Reply::error("invalid mac '" + a[2] + "': want aa:bb:cc:dd:ee:ff");
      std::vector<Ipv4> v4;
      std::vector<Ipv6> v6;
      if (a.size() == 5) {
        std::size_t pos = 0;
        const std::string& list = a[4];
        while (pos <= list.size()) {
          std::size_t comma = list.find(',', pos);
          std::string ip =
              list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
          if (!parse_ip_into(ip, v4, v6)) return Reply::error("invalid ip '" + ip + "' in binding");
          if (comma == std::string::npos) break;
          pos = comma + 1;
        }
      }
      return sw.security_bind(a[0], *mac, v4, v6);
    }
    return usage_error(c);
  };
  cmds.push_back({{"port", "flood"}, "port flood <port> on|off", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 2 || (a[1] != "on" && a[1] != "off")) return usage_error(c);
    return sw.set_flood(a[0], a[1] == "on");
  };
  cmds.push_back({{"port", "storm"}, "port storm <port> <frames/s>|off", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 2) return usage_error(c);
    if (a[1] == "off") return sw.set_storm(a[0], 0);
    auto n = parse_uint(a[1], 100000000);
    if (!n || *n == 0)
      return Reply::error("invalid rate '" + a[1] + "': want 1-100000000 frames/s or off");
    return sw.set_storm(a[0], *n);
  };
  cmds.push_back({{"port", "delete"}, "port delete <port>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    return a.size() == 1 ? sw.port_delete(a[0]) : usage_error(c);
  };
  cmds.push_back({{"fdb"}, "fdb [show] [<bridge>]", [](Switch& sw, const Args& a) {
                    if (a.size() > 1) return Reply::error("usage: fdb [show] [<bridge>]");
                    return sw.show_fdb(a.empty() ? "" : a[0]);
                  }});
  cmds.push_back({{"fdb", "show"}, "fdb show [<bridge>]", [](Switch& sw, const Args& a) {
                    if (a.size() > 1) return Reply::error("usage: fdb show [<bridge>]");
                    return sw.show_fdb(a.empty() ? "" : a[0]);
                  }});
  cmds.push_back({{"fdb", "flush"}, "fdb flush [<bridge>] [port <port>] [vlan <vlan>]", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    std::string bridge, port;
    std::optional<VlanId> vlan;
    std::size_t i = 0;
    if (i < a.size() && a[i] != "port" && a[i] != "vlan") bridge = a[i++];
    while (i < a.size()) {
      if (a[i] == "port" && i + 1 < a.size() && port.empty()) {
        port = a[i + 1];
      } else if (a[i] == "vlan" && i + 1 < a.size() && !vlan) {
        vlan = parse_vlan_id(a[i + 1]);
        if (!vlan) return Reply::error(vlan_id_error(a[i + 1]));
      } else {
        return usage_error(c);
      }
      i += 2;
    }
    return sw.fdb_flush(bridge, port, vlan);
  };
  cmds.push_back({{"fdb", "add"}, "fdb add <bridge> <vlan> <mac> <port>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 4) return usage_error(c);
    auto v = parse_vlan_id(a[1]);
    if (!v) return Reply::error(vlan_id_error(a[1]));
    auto mac = MacAddr::parse(a[2]);
    if (!mac) return Reply::error("invalid mac '" + a[2] + "': want aa:bb:cc:dd:ee:ff");
    return sw.fdb_add(a[0], *v, *mac, a[3]);
  };
  cmds.push_back({{"fdb", "del"}, "fdb del <bridge> <vlan> <mac>", nullptr});
  cmds.back().handler = [c = cmds.back()](Switch& sw, const Args& a) {
    if (a.size() != 3) return usage_error(c);
    auto v = parse_vlan_id(a[1]);
    if (!v) return Reply::error(vlan_id_error(a[1]));
    auto mac = MacAddr::parse(a[2]);
    if (!mac) return Reply::error("invalid mac '" + a[2] + "': want aa:bb:cc:dd:ee:ff");
    return sw.fdb_del(a[0], *v, *mac);
  };
  cmds.push_back({{"stats"}, "stats [<port>]", [](Switch& sw, const Args& a) {
                    if (a.size() > 1) return Reply::error("usage: stats [<port>]");
                    return sw.show_stats(a.empty() ? "" : a[0]);
                  }});
  cmds.push_back({{"nuke"}, "nuke", [](Switch& sw, const Args& a) {
                    return a.empty() ? sw.nuke() : Reply::error("usage: nuke");
                  }});
  add_mirror_commands(cmds);
  return cmds;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> cmds = make_commands();
  return cmds;
}

}  // namespace

std::string CommandSet::help() {
  std::string s = "commands:\n";
  for (const auto& c : commands()) s += "  " + c.usage + "\n";
  s += "  help\n";
  return s;
}

Reply CommandSet::run(const std::vector<std::string>& argv, const Caller& caller) {
  if (argv.empty()) return Reply::error("empty command; try help");
  if (argv[0] == "help") return Reply::okay(help());
  // The longest matching word prefix selects the command.
  const Command* best = nullptr;
  for (const auto& c : commands()) {
    if (c.words.size() > argv.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < c.words.size(); ++i) match = match && argv[i] == c.words[i];
    if (match && (best == nullptr || c.words.size() > best->words.size())) best = &c;
  }
  if (best == nullptr) return Reply::error("unknown command '" + argv[0] + "'; try help");
  Args rest(argv.begin() + static_cast<std::ptrdiff_t>(best->words.size()), argv.end());
  return best->caller_handler ? best->caller_handler(sw_, rest, caller) : best->handler(sw_, rest);
}

}  // namespace brisk
