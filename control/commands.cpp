#include "control/commands.hpp"

#include <algorithm>
#include <cctype>

#include "control/commands_parts.hpp"
#include "control/switch.hpp"
#include "control/validate.hpp"
#include "datapath/counters.hpp"

namespace brisk {

namespace commands {

namespace {

// tap create <vlan> [bridge <b>] [name <tap>] [ip <cidr> [<tap>] | dhcp [<tap>]]
Reply tap_create(CommandContext& cx, const CommandArgs& a) {
  std::string name = a.text("name");
  // An empty name given explicitly is refused (Switch::tap_create picks one for "").
  if (a.has("name") && name.empty()) return Reply::error(check_ifname("tap name", name));
  const ArgValue& v = a.at("vlan");
  // A VLAN alias starts with a letter; a new one is allocated by Switch::tap_create once
  // everything else has been validated.
  bool alias = std::isalpha(static_cast<unsigned char>(v.text[0])) != 0;
  std::optional<VlanId> vlan = alias ? cx.sw.resolve_alias(v.text, false) : v.vlan;
  std::string ip = a.has("dhcp") ? "dhcp" : a.text("cidr");
  return cx.sw.tap_create(a.text("bridge", cx.sw.default_bridge()), vlan ? *vlan : kNewAliasVlan,
                          alias ? v.text : "", name, ip);
}

const ArgSpec kAgeing{.name = "seconds",
                      .kind = ArgKind::kUint,
                      .label = "ageing",
                      .min = 0,
                      .max = 1000000,
                      .unit = "seconds"};
const ArgSpec kFdbLimit{
    .name = "n", .kind = ArgKind::kUint, .label = "fdb-limit", .min = 1, .max = kMacTableMaxLimit};

// bridge config <b> ageing=N|fdb-limit=N: the value is parsed by the description its own
// command uses.
Reply bridge_config(CommandContext& cx, const CommandArgs& a) {
  const std::string& b = a.at("bridge").text;
  const std::string& kv = a.at("setting").text;
  auto eq = kv.find('=');
  std::string key = kv.substr(0, eq), val = eq == std::string::npos ? "" : kv.substr(eq + 1);
  if (eq == std::string::npos || (key != "ageing" && key != "fdb-limit"))
    return Reply::error("unknown bridge config key '" + printable(key) +
                        "' (known: ageing=<seconds>, fdb-limit=<n>)");
  ArgValue v;
  if (std::string e = parse_arg_value(key == "ageing" ? kAgeing : kFdbLimit, val, v); !e.empty())
    return Reply::error(e);
  return key == "ageing" ? cx.sw.set_ageing(b, v.number) : cx.sw.set_fdb_limit(b, v.number);
}

Reply bridge_tunnel(CommandContext& cx, const CommandArgs& a) {
  TunnelType type = a.at("type").text == "gre" ? TunnelType::kGre : TunnelType::kVxlan;
  std::optional<std::uint32_t> key;
  if (a.has("key")) key = a.at("key").number;
  return cx.sw.bridge_tunnel(type, a.at("bridge").text, a.at("remote").text, key);
}

const ArgSpec kIface{.name = "iface"};
const ArgSpec kTapName{.name = "name", .shown = "tap", .label = "tap name"};
const ArgSpec kTrailingTapName{
    .name = "name", .shown = "tap", .label = "tap name", .optional = true};

const CommandSpec kTapBridgeCommands[] = {
    {.words = {"tap"},
     .help = "list host taps",
     .doc = R"md(List host taps: `bridge | tap | vlan` (aliases as `LAN (101)`; a QinQ tap as
`100 dot1q-tunnel`; a trunk as `trunk`). `--json`: also `mode`, and `vlans`/`native` of a
trunk.)md",
     .section = "tap",
     .handler = [](CommandContext& cx, const CommandArgs&) { return cx.sw.list_taps(); }},
    {.words = {"tap", "create"},
     .args = {{.name = "vlan", .kind = ArgKind::kVlanOrAlias}},
     .options = {kBridgeOption,
                 {.keyword = "name", .args = {kTapName}},
                 {.keyword = "ip", .args = {{.name = "cidr"}, kTrailingTapName}, .exclusive = true},
                 {.keyword = "dhcp", .args = {kTrailingTapName}, .exclusive = true}},
     .help = "create a host tap on an access VLAN (or VLAN alias)",
     .doc = R"md(Create a host TAP device on access VLAN `<vlan>` of bridge `<b>` (default bridge if
omitted; created on first use) and print its name (`<tap-prefix><N>` unless `name`).
`ip` assigns an IPv4/IPv6 address on the host and sets the link up; `dhcp` runs
`dhclient` on it. minimega's positional tap name after the address is accepted.
`tap create LAN` uses the VLAN alias `LAN` (the next free VLAN from 101 when new).
Errors: bad VLAN, name in use (`tap X already exists`, `interface X already exists on this
host`), bad address.)md",
     .section = "tap",
     .handler = tap_create},
    {.words = {"tap", "delete"},
     .args = {{.name = "tap", .shown = "name|number|all"}},
     .help = "delete a tap, or all",
     .doc = "Delete a tap (`tap delete 2` is `<prefix>2`) or all taps.",
     .section = "tap",
     .handler = [](CommandContext& cx,
                   const CommandArgs& a) { return cx.sw.tap_delete(a.at("tap").text); }},
    {.words = {"bridge"},
     .help = "list bridges",
     .doc = "List bridges: `bridge | preexisting | vlans | trunks | tunnels | bonds | config`.",
     .section = "bridge",
     .handler = [](CommandContext& cx, const CommandArgs&) { return cx.sw.list_bridges(); }},
    {.words = {"bridge", "create"},
     .args = {kBridgeArg},
     .help = "create a bridge",
     .doc =
         R"md(Create an empty bridge with its own host interface `<b>` (a trunk of every VLAN, native
VLAN 0). Error `bridge <b> already exists`.)md",
     .section = "bridge",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           const std::string& b = a.at("bridge").text;
           if (cx.sw.bridges().count(b)) return Reply::error("bridge " + b + " already exists");
           return cx.sw.ensure_bridge(b);
         }},
    {.words = {"bridge", "destroy"},
     .args = {kBridgeArg},
     .help = "delete a bridge with its ports",
     .doc = "Delete the bridge, its interface and every port on it.",
     .section = "bridge",
     .handler = [](CommandContext& cx,
                   const CommandArgs& a) { return cx.sw.destroy_bridge(a.at("bridge").text); }},
    {.words = {"bridge", "ageing"},
     .args = {kBridgeArg, kAgeing},
     .help = "FDB ageing time (0: hub mode)",
     .doc = R"md(FDB ageing time, 0-1000000 (default 300). `0` is hub mode: learn nothing, flood
everything.)md",
     .section = "bridge",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.set_ageing(a.at("bridge").text, a.at("seconds").number);
         }},
    {.words = {"bridge", "config"},
     .args = {kBridgeArg, {.name = "setting", .shown = "ageing=N|fdb-limit=N"}},
     .help = "set a bridge's ageing or FDB limit",
     .doc =
         R"md(`ageing` as `bridge ageing`. `fdb-limit` (1-4194304, default 65536) caps the bridge's
FDB; the port with the most learned addresses loses its least recently seen one when full.)md",
     .section = "bridge",
     .handler = bridge_config},
    {.words = {"bridge", "trunk"},
     .args = {kBridgeArg, kIface},
     .help = "attach an interface as a trunk of every VLAN",
     .doc =
         R"md(minimega's trunk: attach an existing interface as a trunk of every VLAN (native 0).)md",
     .section = "bridge",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.bridge_trunk(a.at("bridge").text, a.at("iface").text);
         }},
    {.words = {"bridge", "notrunk"},
     .args = {kBridgeArg, kIface},
     .help = "detach a trunk",
     .doc = "Detach an interface `bridge trunk` attached.",
     .section = "bridge",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.bridge_notrunk(a.at("bridge").text, a.at("iface").text);
         }},
    {.words = {"bridge", "tunnel"},
     .args = {{.name = "type",
               .kind = ArgKind::kChoice,
               .label = "tunnel type",
               .choices = {"vxlan", "gre"}},
              kBridgeArg,
              {.name = "remote", .shown = "remote ip"},
              {.name = "key", .kind = ArgKind::kUint, .max = 0xffffffffu, .optional = true}},
     .help = "a VXLAN or GRE tunnel port to another host",
     .doc =
         R"md(A tunnel port to another host over IPv4, named like a tap (`<tap-prefix><N>`, printed):
VXLAN on UDP 4789 with the key as VNI (0 when absent), or Ethernet over GRE (protocol
0x6558) with a key field only when a key is given. A trunk of every VLAN with native VLAN 0;
nothing received from a tunnel is sent into another tunnel (split horizon). One tunnel per
(type, remote, key). Needs CAP_NET_RAW and a free UDP port 4789 for VXLAN
([behaviour.md](behaviour.md#tunnels)).)md",
     .section = "bridge",
     .handler = bridge_tunnel},
    {.words = {"bridge", "notunnel"},
     .args = {kBridgeArg, kIface},
     .help = "remove a tunnel",
     .doc = "Remove a tunnel.",
     .section = "bridge",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.bridge_notunnel(a.at("bridge").text, a.at("iface").text);
         }},
};

}  // namespace

std::span<const CommandSpec> tap_bridge_commands() { return kTapBridgeCommands; }

}  // namespace commands

namespace {

const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> t = [] {
    std::vector<CommandSpec> v;
    for (auto part : {commands::tap_bridge_commands(), commands::port_commands(),
                      commands::fdb_mirror_commands(), commands::stats_state_commands()})
      v.insert(v.end(), part.begin(), part.end());
    return v;
  }();
  return t;
}

const char* kCaptureNotes =
    R"md(Files are standard pcap (nanosecond timestamps, LINKTYPE_ETHERNET) for `tcpdump -r` and
`tshark -r`; `snaplen` is 14-262144 bytes (default 65535). Deleting the captured port or
bridge closes the file, and so does stopping briskd. Captures are not kept in the state file.

Where captures may be written: briskd (root) opens the file with the identity of the client
that asked (its uid and gid from the socket, no supplementary groups), so a capture goes only
where that client could create the file itself, and a new file belongs to it, mode 0600 (a
briskd that does not run as root opens it as itself). The file must be new: an existing file
is refused (`E: capture file <file> exists: add overwrite ...`), and a symbolic link at the
path is never followed, with or without `overwrite`. `overwrite` replaces an existing file
only if it is a regular file (not a FIFO, device or directory) owned by the client. The path
must be absolute after the client's conversion.
)md";

// "Drop reasons: `runt`, ..." from the drop table (datapath/counters.hpp), wrapped.
std::string drop_reason_notes() {
  std::string s, line = "Drop reasons:";
  for (std::size_t i = 0; i < kDropCount; ++i) {
    std::string item = " `" + std::string(kDropNames[i]) + "`" + (i + 1 < kDropCount ? "," : "");
    if (line.size() + item.size() > 95) {
      s += line + "\n";
      line.clear();
      item.erase(0, 1);
    }
    line += item;
  }
  return s + line + " (meanings: [behaviour.md](behaviour.md#drops)).\n";
}

const std::vector<CommandSection>& command_sections() {
  static const std::vector<CommandSection> v = {
      {"tap", "host TAP devices (minimega)",
       "A tap can be moved into another network namespace (`ip link set mega_tap0 netns ns1`) "
       "and\nkeeps working ([behaviour.md](behaviour.md#host-taps)).\n"},
      {"bridge", "bridges, minimega's trunks, VXLAN and GRE tunnels", ""},
      {"port",
       "system ports (existing devices, DPDK devices), VLAN modes, port security, flooding, "
       "storm control",
       ""},
      {"vhost", "vhost-user ports for VMs", ""},
      {"fdb", "the forwarding database", ""},
      {"tap mirror", "port and bridge mirrors (minimega)", ""},
      {"capture", "pcap captures", kCaptureNotes},
      {"stats", "counters and drops by reason", drop_reason_notes()},
      {"state", "the state file and entries that could not be restored", ""},
      {"nuke, help", "reset; list commands", ""},
  };
  return v;
}

// The command whose words are the longest prefix of argv.
const CommandSpec* lookup(const std::vector<std::string>& argv) {
  const CommandSpec* best = nullptr;
  for (const auto& c : command_table()) {
    if (c.words.size() > argv.size() || (best && c.words.size() <= best->words.size())) continue;
    if (std::equal(c.words.begin(), c.words.end(), argv.begin())) best = &c;
  }
  return best;
}

// `tap frob`: `tap` takes no arguments and heads other commands.
bool heads_others(const CommandSpec& c) {
  if (!c.args.empty() || !c.options.empty()) return false;
  return std::any_of(command_table().begin(), command_table().end(), [&](const CommandSpec& o) {
    return o.words.size() > c.words.size() &&
           std::equal(c.words.begin(), c.words.end(), o.words.begin());
  });
}

std::string joined(std::span<const std::string_view> words) {
  std::string s;
  for (auto w : words) s += (s.empty() ? "" : " ") + std::string(w);
  return s;
}

}  // namespace

std::span<const CommandSpec> CommandSet::table() { return command_table(); }
std::span<const CommandSection> CommandSet::sections() { return command_sections(); }
std::string CommandSet::help() { return "commands:\n" + command_help(table()); }
std::string CommandSet::markdown() { return command_markdown(table(), sections()); }

Reply CommandSet::run(const std::vector<std::string>& argv, const Caller& caller) {
  if (argv.empty()) return Reply::error("empty command; try help");
  const CommandSpec* c = lookup(argv);
  if (c == nullptr) return Reply::error("unknown command '" + printable(argv[0]) + "'; try help");
  std::span<const std::string> rest(argv.begin() + static_cast<std::ptrdiff_t>(c->words.size()),
                                    argv.end());
  if (!rest.empty() && heads_others(*c))
    return Reply::error("unknown " + joined(c->words) + " command '" + printable(rest[0]) + "'");
  ParsedCommand p = parse_command_args(*c, rest);
  if (!p.error.empty()) return Reply::error(p.error);
  CommandContext cx{sw_, caller, state_};
  return c->handler(cx, p.args);
}

}  // namespace brisk
