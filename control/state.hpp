// State: the switch's configuration as a JSON document, written atomically on every change
// and replayed when briskd starts, so a restart or a crash loses no configuration.
//
// The document is the Switch model serialized section by section, not a command log:
//
//   {"brisk_state": 1,
//    "bridges":  [{"name": "mega_bridge", "ageing": 300, "fdb_limit": 65536}, ...],
//    "aliases":  [{"alias": "LAN", "vlan": 101}, ...],
//    "taps":     [{"name": "mega_tap0", "bridge": "...", "vlan": 10, "alias": "", "ip": "...",
//                  ["mode": "dot1q-tunnel"|"trunk", "vlans": "all", "native": 0]}],
//    "ports":    [{"name": "veth0", "bridge": "...", "mode": "access"|"trunk"|"dot1q-tunnel",
//                  "vlan": 10, "vlans": "10,20", "native": 0, "driver": "afxdp"}],
//    "tunnels":  [{"name": "...", "bridge": "...", "type": "vxlan", "remote": "...", "key": 0}],
//    "vhosts":   [{"name": "vhost0", "bridge": "...", "vlan": 10, "socket": "/...", "server":
//    false,
//                  ["mode": ..., as for taps]}],
//    "security": [{"port": "...", "bindings": [{"mac": "...", "ips": [...]}], "limit": 0,
//                  "flood": true, "storm_pps": 0}],
//    "fdb":      [{"bridge": "...", "vlan": 10, "mac": "...", "port": "..."}]}
//
// Sections are replayed in the order of state_sections(), which is an order that works:
// bridges and their settings, VLAN aliases, host taps (names, VLANs, addresses), system
// ports, port security, static FDB entries. A new feature (tunnels, mirrors, ...) adds one
// section to the table in state_sections.cpp: a name, a dump function (model -> array of
// entries), an apply function (one entry -> the Switch's public API, "" or an error), a key
// function (the entry's identity), a withdraw function (the inverse of apply) and, where an
// entry can change in place, an update function. A section this build does not know (written
// by a newer brisk) is kept verbatim and written back, never dropped.
//
// Durable commands: nothing acknowledged is lost
// ----------------------------------------------
// briskd runs every command as a small transaction (StateStore::checkpoint() before,
// StateStore::commit() after): when the command changed the document, the new document is
// written (and fsync'ed) before the client gets its answer. When it cannot be written (a
// directory made immutable, a full disk, a document over kStateMaxBytes), the command's change
// is undone by reconcile_state(): the model is brought back to the checkpoint by withdrawing
// what the command added and applying again what it removed or changed, and the command is
// refused with the write error. Undo re-applies configuration, it cannot bring back a device:
// a tap the command deleted comes back as a new TAP device with its name, VLAN and address
// (as after a restart), not in the namespace it had been moved to. An entry the undo cannot
// restore stays in the state as "pending", like one that fails at replay. So after kill -9 at
// any moment, every command that answered success is in the replayed configuration, and no
// refused one is.
//
// Failures at start:
//   * A file that cannot be used is reported (why: not valid JSON, nested more than
//     kStateMaxDepth deep, larger than kStateMaxBytes, not a regular file, a symbolic link,
//     unreadable, no "brisk_state"; control/state_file.hpp) and renamed to
//     FILE.corrupt-<YYYYmmddTHHMMSS>; briskd starts with an empty configuration. A file that
//     cannot be moved aside either stops briskd (it would otherwise be overwritten).
//   * A section of the wrong type (not a list) is logged by name and ignored.
//   * An entry that cannot be replayed (a system port whose device is gone) is reported, the
//     rest goes on, and the entry stays in the state file as "pending" until it is replayed
//     (`state retry`), replaced (the same name configured again) or dropped (`state forget`).
//
// Writing: control/state_file.hpp (a fresh mkostemp() file in the state directory, fsync,
// rename over FILE, directory fsync). A lock on FILE.lock (flock, released by the kernel when
// briskd dies; opened without following a symlink) keeps a second briskd off the same file.
//
// Only native objects are kept (Owner::kNative, control/switch.hpp): what an Open vSwitch
// database made (briskd --ovsdb, control/ovsdb_reconcile.hpp) is made again from the database.
//
// Host taps are recreated in the host namespace by briskd (a TAP device dies with the process
// that holds it); moving one into another namespace again after a restart is the user's job.
//
// Thread-safety: the control thread only (like Switch).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/result.hpp"
#include "control/switch.hpp"

namespace brisk {

inline constexpr int kStateFormat = 1;

struct StateSection {
  std::string name;
  std::function<nlohmann::json(const Switch&)> dump;                 // -> array of entries
  std::function<std::string(Switch&, const nlohmann::json&)> apply;  // "" or the error
  std::function<std::string(const nlohmann::json&)> key;             // the entry's identity
  // Take a live entry (as dump() gives it) out of the model: "" or the error.
  std::function<std::string(Switch&, const nlohmann::json&)> withdraw;
  // Turn the live entry `live` into `target` (same key) in place: "" or the error; nullopt
  // when it cannot be done in place (then it is withdrawn and applied again). May be empty:
  // always withdraw and apply.
  std::function<std::optional<std::string>(Switch&, const nlohmann::json& target,
                                           const nlohmann::json& live)>
      update;
};
const std::vector<StateSection>& state_sections();

// The model as a state document (live configuration only).
nlohmann::json dump_state(const Switch& sw);

// Bring the model to `target` (a dump_state() document): withdraw live entries the target
// does not have (last section first, so dependents go before what they depend on), then
// update or apply what differs (in replay order). Returns what could not be done; empty when
// dump_state(sw) == target afterwards.
struct ReconcileFailure {
  std::string section;
  nlohmann::json entry;
  std::string error;
  bool withdrawing = false;  // true: a live entry stayed; false: a target entry is missing
};
std::vector<ReconcileFailure> reconcile_state(Switch& sw, const nlohmann::json& target);

struct ReplayReport {
  std::size_t applied = 0;
  std::vector<std::string> errors;  // "<section> <key>: <error>"
};

class StateStore {
 public:
  struct Pending {
    std::string section;
    nlohmann::json entry;
    std::string error;
    bool operator==(const Pending&) const = default;
  };
  // The configuration before a command (see "Durable commands" above).
  struct Checkpoint {
    nlohmann::json live;  // dump_state(); null when persistence is off
    std::vector<Pending> pending;
  };

  // path "" disables persistence (every call is then a no-op).
  explicit StateStore(std::string path);
  ~StateStore();
  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // Take the lock, read the file and replay it into `sw`. Returns "" or a fatal error (lock
  // held by another briskd; a corrupt file that cannot be moved aside). Problems that are not
  // fatal (corrupt file moved aside, entries that failed) are logged and listed in `report`.
  std::string load(Switch& sw, ReplayReport& report);
  // Replay an already parsed document (also used by load() and by the unit tests).
  ReplayReport replay(Switch& sw, const nlohmann::json& doc);

  // Write the state when the configuration differs from what was last written. Cheap when
  // nothing changed since the last call with the same config_version() (tick) unless
  // `force_compare` (after a command: FDB static entries change no snapshot).
  std::string sync(const Switch& sw, bool force_compare = true);

  // The document that would be written now: live entries, pending ones, unknown sections.
  nlohmann::json compose(const Switch& sw) const;

  // A command's transaction. checkpoint() before the command; commit() after it succeeded:
  // writes the state when the command changed it. When it cannot be written, the command's
  // change is undone (reconcile_state() back to the checkpoint; entries that cannot be
  // restored become pending) and the write error is returned: the command must be refused.
  // "" when written, or when the command changed nothing (whether or not a write works).
  Checkpoint checkpoint(const Switch& sw) const;
  std::string commit(Switch& sw, const Checkpoint& before);

  // The commands `state`, `state retry` and `state forget <key|all>` (control/commands.cpp).
  Reply show() const;
  Reply retry(Switch& sw);
  Reply forget(const std::string& key);

  std::size_t pending_count() const;
  std::size_t writes() const { return writes_; }

 private:
  std::string path_;
  int lock_fd_ = -1;
  std::vector<Pending> pending_;
  nlohmann::json unknown_ = nlohmann::json::object();  // sections of newer builds, verbatim
  nlohmann::json last_written_;
  std::uint64_t last_version_ = ~std::uint64_t{0};
  std::string last_error_;
  std::uint32_t last_attempt_ = 0;  // Switch::now() of the last failed write
  std::string load_warning_;
  std::size_t writes_ = 0;
};

}  // namespace brisk
