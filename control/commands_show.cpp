// The table's fdb, mirror, capture, stats, state, nuke and help commands
// (control/commands.hpp).
#include <algorithm>

#include "control/commands.hpp"
#include "control/commands_parts.hpp"
#include "control/state.hpp"
#include "control/switch.hpp"
#include "control/validate.hpp"

namespace brisk::commands {

namespace {

const ArgSpec kOptionalBridge{.name = "bridge", .shown = "b", .optional = true};
const ArgSpec kVlan{.name = "vlan", .kind = ArgKind::kVlan};
const ArgSpec kMac{.name = "mac", .kind = ArgKind::kMac};

Reply show_fdb(CommandContext& cx, const CommandArgs& a) {
  return cx.sw.show_fdb(a.text("bridge"));
}

Reply fdb_flush(CommandContext& cx, const CommandArgs& a) {
  std::optional<VlanId> vlan;
  if (a.has("vlan")) vlan = a.at("vlan").vlan;
  return cx.sw.fdb_flush(a.text("bridge"), a.text("port"), vlan);
}

Reply capture_pcap(CommandContext& cx, const CommandArgs& a) {
  if (!a.has("file")) return cx.sw.list_captures();
  std::uint32_t snaplen = a.has("snaplen") ? a.at("snaplen").number : kCaptureDefaultSnaplen;
  return cx.sw.capture_add(a.at("type").text, a.at("name").text, a.at("file").text, snaplen,
                           a.has("overwrite"), cx.caller);
}

Reply clear_capture(CommandContext& cx, const CommandArgs& a) {
  if (!a.has("id")) return cx.sw.capture_clear(std::nullopt);
  return cx.sw.capture_clear(a.at("id").number);
}

// help [<words>...]: the whole list, or the commands starting with the words.
Reply help(CommandContext&, const CommandArgs& a) {
  if (!a.has("command")) return Reply::okay(CommandSet::help());
  const std::vector<std::string>& w = a.at("command").words;
  std::vector<CommandSpec> match;
  for (const auto& c : CommandSet::table())
    if (c.words.size() >= w.size() && std::equal(w.begin(), w.end(), c.words.begin()))
      match.push_back(c);
  if (match.empty())
    return Reply::error("no command starts with '" + printable(a.at("command").text) +
                        "'; try help");
  return Reply::okay(command_help(match));
}

StateStore* state_of(CommandContext& cx) { return cx.state; }
Reply no_state() { return Reply::error("this briskd keeps no state store"); }

const char* kStatsDoc =
    R"md(Per-port `port | bridge | rx_frames | rx_bytes | tx_frames | tx_bytes | dropped`, then the
drop reasons with counts and meanings (all of them when a port is given, else the nonzero
ones). Without a port also each bridge's FDB: `bridge | fdb entries | limit | learned |
moved | evicted | aged | full`, and one row per mirror and capture: `mirror bridge |
source | destination | mirrored | delivered | dropped | queued`. `--json` adds per port a
`fastpath` object (frames the XDP fast path forwarded, included in the totals) and, overall,
`learn_requests`, `learn_ring_full`, `learn_applied`, `deny_log_lines`,
`deny_events_not_logged`, `xdp_fastpath`, `fastpath_fdb_entries`.)md";

const CommandSpec kFdbMirrorCommands[] = {
    {.words = {"fdb"},
     .args = {kOptionalBridge},
     .help = "list the FDB",
     .doc = "`bridge | vlan | mac | port | type | age`.",
     .section = "fdb",
     .handler = show_fdb},
    {.words = {"fdb", "show"},
     .args = {kOptionalBridge},
     .help = "the same as fdb",
     .doc = "The same as `fdb`.",
     .section = "fdb",
     .handler = show_fdb},
    {.words = {"fdb", "flush"},
     .args = {kOptionalBridge},
     .options = {{.keyword = "port", .args = {kPortArg}}, {.keyword = "vlan", .args = {kVlan}}},
     .help = "forget learned entries",
     .doc = "Forget dynamic entries (all bridges if `<b>` is omitted).",
     .section = "fdb",
     .handler = fdb_flush},
    {.words = {"fdb", "add"},
     .args = {kBridgeArg, kVlan, kMac, kPortArg},
     .help = "add a static entry",
     .doc = "A static entry: never ages, never moves; kept in the state file.",
     .section = "fdb",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.fdb_add(a.at("bridge").text, a.at("vlan").vlan, a.at("mac").mac,
                                a.at("port").text);
         }},
    {.words = {"fdb", "del"},
     .args = {kBridgeArg, kVlan, kMac},
     .help = "delete a static entry",
     .doc = "Delete a static entry.",
     .section = "fdb",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.fdb_del(a.at("bridge").text, a.at("vlan").vlan, a.at("mac").mac);
         }},
    {.words = {"tap", "mirror"},
     .args = {{.name = "src", .shown = "src tap|all", .optional = true},
              {.name = "dst", .shown = "dst tap"},
              {.name = "bridge", .optional = true}},
     .help = "list mirrors, or mirror a tap (or all) to another",
     .doc =
         R"md(Without arguments: list mirrors, `bridge | source | destination | mirrored | delivered |
dropped`; `--json` adds `in_flight` (copies not yet delivered or dropped) and `kernel` (the
share of the counts that the XDP fast path's copies make up). Once traffic stops, mirrored =
delivered + dropped ([behaviour.md](behaviour.md#mirrors-and-captures)).
`<src> <dst>`: minimega's mirror (OVS `select-src-port` + `select-dst-port`): copy every
frame entering `src` (after VLAN and security checks) or leaving it to port `dst` (both on
`bridge`, default the default bridge). `all <dst>`: bridge-wide mirror (OVS `select-all`):
every frame entering any port of the bridge, once. A destination serves one mirror and
receives only mirrored frames: it is taken out of flooding, and what it sends is not
forwarded (drop reason `mirror_dst`). Errors use minimega's words: `cannot mirror tap to
itself`, `source tap is not on bridge`, `destination tap is already a mirror`, `destination
tap is not on bridge`.)md",
     .section = "tap mirror",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           if (!a.has("src")) return cx.sw.list_mirrors();
           return cx.sw.mirror_add(a.at("src").text, a.at("dst").text,
                                   a.text("bridge", cx.sw.default_bridge()));
         }},
    {.words = {"clear", "tap", "mirror"},
     .args = {{.name = "dst", .optional = true}},
     .help = "remove a mirror, or all",
     .doc =
         R"md(Remove the mirror to `dst` (mirrors are keyed by destination; error `tap is not a mirror
on bridge <b>: <dst>`), or every mirror. Deleting a mirror's source or destination port
removes the mirror too.)md",
     .section = "tap mirror",
     .handler = [](CommandContext& cx,
                   const CommandArgs& a) { return cx.sw.mirror_clear(a.text("dst")); }},
    {.words = {"capture"},
     .help = "list captures",
     .doc = R"md(List captures: `id | type | bridge | source | file | snaplen | captured | written |
dropped`.)md",
     .section = "capture",
     .handler = [](CommandContext& cx, const CommandArgs&) { return cx.sw.list_captures(); }},
    {.words = {"capture", "pcap"},
     .args = {{.name = "type",
               .kind = ArgKind::kChoice,
               .label = "capture type",
               .choices = {"tap", "bridge"},
               .optional = true},
              {.name = "name", .shown = "port|b"},
              {.name = "file", .kind = ArgKind::kPath, .label = "capture file"}},
     .options = {{.keyword = "snaplen",
                  .args = {{.name = "snaplen",
                            .kind = ArgKind::kUint,
                            .shown = "n",
                            .min = 14,
                            .max = 262144,
                            .unit = "bytes"}},
                  .needs = "file"},
                 {.keyword = "overwrite", .args = {}, .needs = "file"}},
     .help = "list captures, or capture a port or a bridge to a pcap file",
     .doc =
         R"md(Without arguments: list captures, as `capture`. `tap <port> <file>`: write every frame
entering or leaving `port` to a pcap file (the port's own wire). `bridge <b> <file>`:
write every frame entering bridge `b` to a pcap file, once, 802.1Q-tagged with its VLAN
(VLAN 0 untagged).)md",
     .section = "capture",
     .handler = capture_pcap},
    {.words = {"clear", "capture"},
     .args = {{.name = "pcap", .kind = ArgKind::kChoice, .choices = {"pcap"}, .optional = true},
              {.name = "id",
               .kind = ArgKind::kUint,
               .label = "capture id",
               .max = 0xffffffffu,
               .optional = true}},
     .help = "stop a capture, or all",
     .doc =
         R"md(Stop one or every capture: write what is queued, flush and close the files, then answer
with the frames written and dropped per file.)md",
     .section = "capture",
     .handler = clear_capture},
};

const CommandSpec kStatsStateCommands[] = {
    {.words = {"stats"},
     .args = {{.name = "port", .optional = true}},
     .help = "counters and drops by reason",
     .doc = kStatsDoc,
     .section = "stats",
     .handler = [](CommandContext& cx,
                   const CommandArgs& a) { return cx.sw.show_stats(a.text("port")); }},
    {.words = {"state"},
     .help = "the state file and its pending entries",
     .doc =
         R"md(The state file, whether the last write failed, and the `pending` entries: those that could
not be restored at start (`pending <section> <key>: <reason>`).)md",
     .section = "state",
     .handler =
         [](CommandContext& cx, const CommandArgs&) {
           return state_of(cx) ? state_of(cx)->show() : no_state();
         }},
    {.words = {"state", "retry"},
     .help = "replay the pending entries",
     .doc = "Replay the pending entries again (e.g. the device of a system port is back).",
     .section = "state",
     .handler =
         [](CommandContext& cx, const CommandArgs&) {
           return state_of(cx) ? state_of(cx)->retry(cx.sw) : no_state();
         }},
    {.words = {"state", "forget"},
     .args = {{.name = "key", .shown = "key|all"}},
     .help = "drop pending entries",
     .doc =
         R"md(Drop pending entries (the key as `state` prints it: a port or tap name, a bridge, an FDB
entry `bridge/vlan/mac`).)md",
     .section = "state",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return state_of(cx) ? state_of(cx)->forget(a.at("key").text) : no_state();
         }},
    {.words = {"nuke"},
     .help = "back to the default bridge only",
     .doc = "Delete every bridge and tap, forget VLAN aliases, recreate the default bridge.",
     .section = "nuke, help",
     .handler = [](CommandContext& cx, const CommandArgs&) { return cx.sw.nuke(); }},
    {.words = {"help"},
     .args = {{.name = "command", .optional = true, .repeated = true}},
     .help = "this list, or the commands starting with the words given",
     .doc =
         R"md(The daemon's list of commands with their usage; `help port` only the commands starting
with `port`.)md",
     .section = "nuke, help",
     .handler = help},
};

}  // namespace

std::span<const CommandSpec> fdb_mirror_commands() { return kFdbMirrorCommands; }
std::span<const CommandSpec> stats_state_commands() { return kStatsStateCommands; }

}  // namespace brisk::commands
