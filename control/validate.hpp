// What users may name and number, defined once and checked wherever a name or a VLAN id
// enters brisk: the commands (control/commands.cpp, control/switch.cpp), the state file's
// replay (which goes through the same Switch calls), briskd's options (control/main.cpp) and
// an Open vSwitch database's rows (control/ovsdb_reconcile.cpp, through the Switch calls too).
// And how text is made safe to print on a terminal (the clients, every minimega-style table,
// control/table.cpp, and log lines naming what a database row named).
//
// Interface names
// ---------------
// Every name that becomes a network device or may reach a command line is an interface name:
// tap, system port, vhost-user port, tunnel and bridge names (a bridge has a host interface
// of its own). A valid one is
//   * 1 to 15 bytes (IFNAMSIZ - 1, the kernel's limit),
//   * printable ASCII only: no whitespace, no control character, no NUL, nothing above 0x7e,
//   * without '/' or ':' (the kernel refuses them: sysfs paths, alias labels) and without '%'
//     (the kernel treats a name with '%' as a template it numbers itself),
//   * not "." or ".." (the kernel refuses them), not "all" (`tap delete all`, `tap mirror all`)
//     and not "default" (the kernel's /proc/sys/net/.../conf/default),
//   * not starting with '-': a name is passed to dhclient (`tap create ... dhcp`), and ISC
//     dhclient reads every word starting with '-' as an option and has no `--` to end them.
// The kernel itself accepts some names refused here (UTF-8, a leading '-'); brisk does not
// create, attach or accept them.
//
// VLAN ids
// --------
// A configured VLAN id is 0-4094 (kMaxConfigVlan, include/brisk/types.hpp): 1-4094 are
// 802.1Q VLANs, 0 is brisk's VLAN of untagged frames (an access port with no tag, a trunk's
// native VLAN 0, like Open vSwitch's port without tag=), and 4095 is reserved by 802.1Q.
//
// Printing
// --------
// printable() escapes what a terminal would act on: C0 control characters (ESC, BEL, ...),
// DEL, C1 controls (U+0080-U+009F) and bytes that are not well-formed UTF-8 are written as
// \xNN, so a name or a state file entry with terminal escapes shows as text. What comes out
// is printable, so escaping twice (a table cell, then the client's whole answer) changes
// nothing more.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "brisk/types.hpp"

namespace brisk {

inline constexpr std::size_t kMaxIfnameLen = 15;  // IFNAMSIZ - 1

// "" when `name` is a valid interface name (see above), else why not, e.g. "starts with '-'".
std::string ifname_problem(std::string_view name);
inline bool valid_ifname(std::string_view name) { return ifname_problem(name).empty(); }
// "" when valid, else the error line for a refused name: "invalid <what> '<name>': <why>"
// (`what` says which name: "tap name", "bridge name", "interface name"...).
std::string check_ifname(std::string_view what, std::string_view name);

// A decimal VLAN id 0-4094; nullopt for anything else (4095, signs, spaces, letters...).
std::optional<VlanId> parse_vlan_id(std::string_view s);
constexpr bool valid_vlan_id(std::uint32_t v) { return v <= kMaxConfigVlan; }
// The error line for a refused VLAN id: "invalid <what> '<s>': want 0-4094 (...)".
std::string vlan_id_error(std::string_view s, std::string_view what = "vlan");

// `s` with what a terminal would act on escaped (see above). multiline: keep '\n' (a whole
// answer); otherwise '\n' is escaped too (a name, a table cell).
std::string printable(std::string_view s, bool multiline = false);

}  // namespace brisk
