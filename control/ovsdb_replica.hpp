// OvsdbReplica: the rows of the Open vSwitch database that briskd monitors, kept up to date
// from the server's monitor reply and "update" notifications (RFC 7047, 4.1.5 and 4.1.6), and
// helpers to read and write OVSDB's datum encoding.
//
// A row is the JSON object of its monitored columns, exactly as the server sent it ("new" is
// a complete row for the "monitor" method). Datums (RFC 7047, 5.1): an atom is a string,
// number, boolean or ["uuid", "<uuid>"]; a set is a single atom or ["set", [atoms]]; a map is
// ["map", [[key, value], ...]]. Helpers that read a datum of an unexpected shape return the
// empty value (a schema the server enforces leaves no other shape).
//
// Thread-safety: none; the control thread only.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace brisk {

using OvsdbRow = nlohmann::json;
using OvsdbTable = std::map<std::string, OvsdbRow>;  // uuid -> row

class OvsdbReplica {
 public:
  void clear() { tables_.clear(); }
  // Apply a <table-updates> object. "" or why it is malformed (then nothing was applied).
  std::string apply(const nlohmann::json& updates);
  const OvsdbTable& table(const std::string& name) const;
  // The row `uuid` of `table`, or nullptr.
  const OvsdbRow* row(const std::string& table, const std::string& uuid) const;

 private:
  std::map<std::string, OvsdbTable> tables_;
};

// The atoms of a set datum (a lone atom is a set of one); [] for a missing column.
std::vector<nlohmann::json> ovsdb_set_atoms(const OvsdbRow& row, const std::string& column);
// The uuids named by a set of uuids.
std::vector<std::string> ovsdb_uuids(const OvsdbRow& row, const std::string& column);
// A string->string map column.
std::map<std::string, std::string> ovsdb_string_map(const OvsdbRow& row, const std::string& column);
// A column of type "string" (or an optional string: a set of at most one).
std::string ovsdb_string(const OvsdbRow& row, const std::string& column);
// An optional integer column (a set of at most one), or an integer column.
std::optional<std::int64_t> ovsdb_int(const OvsdbRow& row, const std::string& column);
bool ovsdb_bool(const OvsdbRow& row, const std::string& column);

// Writing datums.
nlohmann::json ovsdb_empty_set();
nlohmann::json ovsdb_uuid_atom(const std::string& uuid);
nlohmann::json ovsdb_map(const std::map<std::string, std::string>& m);
nlohmann::json ovsdb_map(const std::map<std::string, std::int64_t>& m);

}  // namespace brisk
