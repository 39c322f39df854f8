// The command grammar: minimega's `tap` and `bridge` commands plus brisk's own (`fdb`,
// `stats`, `port`, `nuke`, `help`), declared as data (VPP style): each entry has its words,
// a usage line for help and errors, and a handler. Every handler validates all of its
// arguments before it changes anything; a refused command answers one `E: ` line.
#pragma once

#include <string>
#include <vector>

#include "control/caller.hpp"
#include "control/result.hpp"
#include "control/switch.hpp"

namespace brisk {

class CommandSet {
 public:
  explicit CommandSet(Switch& sw) : sw_(sw) {}
  // `caller`: who asked (the client's credentials; control/caller.hpp).
  Reply run(const std::vector<std::string>& argv, const Caller& caller = Caller::self());
  static std::string help();

 private:
  Switch& sw_;
};

}  // namespace brisk
