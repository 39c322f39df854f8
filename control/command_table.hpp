// The native command table's vocabulary: commands declared as data (VPP's VLIB_CLI_COMMAND,
// FastClick's typed Args). A command is its words, its typed arguments, a one-line help, a
// longer description for docs/commands.md, and a handler. Everything said about a command's
// shape lives in its CommandSpec, and everything derived from the shape is derived here:
//
//   * parsing and refusing a command's words (parse_command_args): a handler gets typed,
//     validated values and never counts words;
//   * the usage line every error and help text shows (command_usage);
//   * the daemon's `help`, `brisk --help`'s command list and `briskd --print-commands text`
//     (command_help);
//   * the command sections of docs/commands.md (`briskd --print-commands markdown`,
//     command_markdown; the unit test docs.commands_md fails when the committed file differs).
//
// The grammar a CommandSpec describes:
//
//   <words> <positional>... [<option> ...]
//
// Positionals come first, in order. A positional marked `optional` may be left out, and
// with it everything after it: the positionals after an optional one belong to it (they
// are required once it is given, absent when it is not), so `[<src> <dst> [<bridge>]]` is
// src optional, dst plain, bridge optional. An optional positional is not taken from a word
// that is one of the command's option keywords, and an optional choice only from one of its
// choices. A `repeated` positional (the last) takes every word left.
// Options follow in any order, each at most once: a keyword, then its values (a value marked
// `optional` is not taken from a keyword). Options marked `exclusive` form the command's one
// set of alternatives (`vlan <id> | trunk [<vlans>] | dot1q-tunnel <id>`): at most one of
// them, exactly one when `exclusive_required`. An option with `needs` is accepted only when
// the option or positional of that name is given too (`native` needs `trunk`).
//
// Errors are one line, in the words of the argument's description: "invalid ageing 'x':
// want 0-1000000 seconds", "unknown driver 'x': want afxdp, afpacket or dpdk", "missing
// <vlan>; usage: tap create ...", "unexpected 'x'; usage: ...".
//
// Thread-safety: the table is immutable after its first use (a function-local static);
// parsing and rendering are pure functions. Handlers run on the control thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brisk/types.hpp"
#include "control/caller.hpp"
#include "control/result.hpp"
#include "datapath/port_security.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

class Switch;
class StateStore;

enum class ArgKind : std::uint8_t {
  kWord,         // any word; the verb validates names (control/validate.hpp)
  kUint,         // decimal min..max; `alt` is a word standing for 0 ("off")
  kVlan,         // 0-4094
  kVlanOrAlias,  // 0-4094, or a minimega VLAN alias: a letter, then letters, digits, _ - /
  kVlanList,     // all | 10,20,30-40
  kMac,          // aa:bb:cc:dd:ee:ff
  kIpList,       // IPv4 or IPv6 addresses separated by commas
  kPath,         // a file name (not empty)
  kChoice,       // one of `choices`
};

struct ArgSpec {
  std::string_view name;  // what handlers read it by; errors call it this (unless `label`)
  ArgKind kind = ArgKind::kWord;
  std::string_view shown;          // in usage lines: <shown> (default <name>; a choice: a|b|c)
  std::string_view label;          // in errors ("native vlan"); default: name
  std::uint32_t min = 0, max = 0;  // kUint
  std::string_view unit;           // kUint: "seconds"
  std::string_view alt;            // kUint: a word meaning 0
  std::vector<std::string_view> choices;  // kChoice
  bool optional = false;
  bool repeated = false;
};

struct OptionSpec {
  std::string_view keyword;
  std::vector<ArgSpec> args;  // its values; none: a flag
  bool exclusive = false;     // one of the command's alternatives
  bool required = false;
  std::string_view needs;  // accepted only with this option or positional
};

// One parsed value. Which fields are set depends on the kind: text always (the word as
// given); number for kUint; vlan for kVlan (and kVlanOrAlias given as a number); vlans for
// kVlanList; mac for kMac; v4/v6 for kIpList; words for a repeated positional.
struct ArgValue {
  std::string text;
  std::uint32_t number = 0;
  VlanId vlan = 0;
  VlanSet vlans;
  MacAddr mac{};
  std::vector<Ipv4> v4;
  std::vector<Ipv6> v6;
  std::vector<std::string> words;
};

// A command's arguments after parsing: values by name, options by keyword.
class CommandArgs {
 public:
  // A value of that name, or an option with that keyword, was given.
  bool has(std::string_view name) const;
  const ArgValue* find(std::string_view name) const;
  // The value's text, or `fallback` when it was not given.
  std::string text(std::string_view name, std::string fallback = {}) const;
  // The typed value of an argument the grammar guarantees (a required one, or after has()).
  const ArgValue& at(std::string_view name) const;
  bool add(std::string_view name, ArgValue v);  // false: already given
  bool add_option(std::string_view keyword);    // false: already given

 private:
  std::vector<std::pair<std::string_view, ArgValue>> values_;
  std::vector<std::string_view> options_;
};

// What a handler works with: the switch, who asks (control/caller.hpp), the state store
// (null in processes without one: tests).
struct CommandContext {
  Switch& sw;
  const Caller& caller;
  StateStore* state;
};

using CommandHandler = Reply (*)(CommandContext&, const CommandArgs&);

struct CommandSpec {
  std::vector<std::string_view> words;
  std::vector<ArgSpec> args;
  std::vector<OptionSpec> options;
  std::string_view exclusive_name;  // the alternatives' name in errors: "vlan mode"
  bool exclusive_required = false;
  std::string_view help;     // one line
  std::string_view doc;      // markdown for docs/commands.md; "" uses help
  std::string_view section;  // the docs/commands.md heading it is listed under
  CommandHandler handler = nullptr;
};

// A heading of the command reference: its title, a line for the overview table, and prose
// shown after its commands.
struct CommandSection {
  std::string_view title;
  std::string_view summary;
  std::string notes;  // markdown, ends with a newline; "" for none
};

// `words` are the words after the command's own. Values are parsed and checked by kind;
// the error is one line.
struct ParsedCommand {
  CommandArgs args;
  std::string error;  // "" when parsed
};
ParsedCommand parse_command_args(const CommandSpec& c, std::span<const std::string> words);
// One value by its description ("" or the error): also for handlers that take a value apart
// (`bridge config <b> ageing=N`).
std::string parse_arg_value(const ArgSpec& a, const std::string& word, ArgValue& out);

std::string command_usage(const CommandSpec& c);
// The command list of `help` and `brisk --help`: usage and one-line help of each command.
std::string command_help(std::span<const CommandSpec> table);
// The generated part of docs/commands.md: the overview table and one section per heading.
std::string command_markdown(std::span<const CommandSpec> table,
                             std::span<const CommandSection> sections);

}  // namespace brisk
