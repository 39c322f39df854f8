// The native commands: minimega's `tap` and `bridge` commands plus brisk's own (`port`,
// `vhost`, `fdb`, mirrors and captures, `stats`, `state`, `nuke`, `help`), as one typed table
// (control/command_table.hpp: words, typed arguments, help, description, handler). The
// daemon's `help`, `brisk --help`'s command list and docs/commands.md's command reference are
// generated from it (`briskd --print-commands text|markdown`). Every handler gets validated
// values and checks everything else before it changes anything; a refused command answers one
// `E: ` line.
//
// Thread-safety: the control thread only (like Switch).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "control/caller.hpp"
#include "control/command_table.hpp"
#include "control/result.hpp"

namespace brisk {

class Switch;
class StateStore;

class CommandSet {
 public:
  // `state`: what `state`, `state retry` and `state forget` act on; without one (tests) they
  // are refused.
  explicit CommandSet(Switch& sw, StateStore* state = nullptr) : sw_(sw), state_(state) {}
  void set_state(StateStore* state) { state_ = state; }
  // `caller`: who asked (the client's credentials; control/caller.hpp).
  Reply run(const std::vector<std::string>& argv, const Caller& caller = Caller::self());

  static std::span<const CommandSpec> table();
  static std::span<const CommandSection> sections();
  static std::string help();      // "commands:\n" and the command list (`help`)
  static std::string markdown();  // docs/commands.md's generated part

 private:
  Switch& sw_;
  StateStore* state_;
};

}  // namespace brisk
