// The pieces of the native command table (control/commands.cpp assembles them, in the order
// `help` and docs/commands.md list them) and the argument descriptions several commands
// share. Private to control/commands*.cpp.
#pragma once

#include <span>

#include "control/command_table.hpp"

namespace brisk::commands {

// <b>: a bridge; <p>: a port.
inline const ArgSpec kBridgeArg{.name = "bridge", .shown = "b"};
inline const ArgSpec kPortArg{.name = "port", .shown = "p"};
// `bridge <b>`: the bridge a new object goes on (the default bridge when left out).
inline const OptionSpec kBridgeOption{.keyword = "bridge", .args = {kBridgeArg}};

// tap, bridge (control/commands.cpp)
std::span<const CommandSpec> tap_bridge_commands();
// port, vhost (control/commands_port.cpp)
std::span<const CommandSpec> port_commands();
// fdb, tap mirror, capture (control/commands_show.cpp)
std::span<const CommandSpec> fdb_mirror_commands();
// stats, state, nuke, help (control/commands_show.cpp)
std::span<const CommandSpec> stats_state_commands();

}  // namespace brisk::commands
