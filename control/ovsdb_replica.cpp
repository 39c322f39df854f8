#include "control/ovsdb_replica.hpp"

namespace brisk {

using json = nlohmann::json;

std::string OvsdbReplica::apply(const json& updates) {
  if (!updates.is_object()) return "table updates are not an object";
  for (auto& [tname, rows] : updates.items()) {
    if (!rows.is_object()) return "updates of table " + tname + " are not an object";
    for (auto& [uuid, change] : rows.items())
      if (!change.is_object() || (change.contains("new") && !change["new"].is_object()))
        return "malformed update of " + tname + " row " + uuid;
  }
  for (auto& [tname, rows] : updates.items()) {
    OvsdbTable& t = tables_[tname];
    for (auto& [uuid, change] : rows.items()) {
      auto n = change.find("new");
      if (n == change.end())
        t.erase(uuid);
      else
        t[uuid] = *n;
    }
  }
  return "";
}

const OvsdbTable& OvsdbReplica::table(const std::string& name) const {
  static const OvsdbTable empty;
  auto it = tables_.find(name);
  return it == tables_.end() ? empty : it->second;
}

const OvsdbRow* OvsdbReplica::row(const std::string& table, const std::string& uuid) const {
  auto t = tables_.find(table);
  if (t == tables_.end()) return nullptr;
  auto r = t->second.find(uuid);
  return r == t->second.end() ? nullptr : &r->second;
}

namespace {

const json* column(const OvsdbRow& row, const std::string& name) {
  if (!row.is_object()) return nullptr;
  auto it = row.find(name);
  return it == row.end() ? nullptr : &*it;
}

bool is_tagged(const json& d, const char* tag) {
  return d.is_array() && d.size() == 2 && d[0].is_string() && d[0].get<std::string>() == tag;
}

}  // namespace

std::vector<json> ovsdb_set_atoms(const OvsdbRow& row, const std::string& name) {
  const json* d = column(row, name);
  if (!d) return {};
  if (is_tagged(*d, "set")) {
    if (!(*d)[1].is_array()) return {};
    return std::vector<json>((*d)[1].begin(), (*d)[1].end());
  }
  return {*d};
}

std::vector<std::string> ovsdb_uuids(const OvsdbRow& row, const std::string& name) {
  std::vector<std::string> out;
  for (const json& a : ovsdb_set_atoms(row, name))
    if (is_tagged(a, "uuid") && a[1].is_string()) out.push_back(a[1].get<std::string>());
  return out;
}

std::map<std::string, std::string> ovsdb_string_map(const OvsdbRow& row, const std::string& name) {
  std::map<std::string, std::string> out;
  const json* d = column(row, name);
  if (!d || !is_tagged(*d, "map") || !(*d)[1].is_array()) return out;
  for (const json& kv : (*d)[1])
    if (kv.is_array() && kv.size() == 2 && kv[0].is_string() && kv[1].is_string())
      out[kv[0].get<std::string>()] = kv[1].get<std::string>();
  return out;
}

std::string ovsdb_string(const OvsdbRow& row, const std::string& name) {
  for (const json& a : ovsdb_set_atoms(row, name))
    if (a.is_string()) return a.get<std::string>();
  return "";
}

std::optional<std::int64_t> ovsdb_int(const OvsdbRow& row, const std::string& name) {
  for (const json& a : ovsdb_set_atoms(row, name))
    if (a.is_number_integer()) return a.get<std::int64_t>();
  return std::nullopt;
}

bool ovsdb_bool(const OvsdbRow& row, const std::string& name) {
  for (const json& a : ovsdb_set_atoms(row, name))
    if (a.is_boolean()) return a.get<bool>();
  return false;
}

json ovsdb_empty_set() { return json::array({"set", json::array()}); }

json ovsdb_uuid_atom(const std::string& uuid) { return json::array({"uuid", uuid}); }

json ovsdb_map(const std::map<std::string, std::string>& m) {
  json pairs = json::array();
  for (auto& [k, v] : m) pairs.push_back(json::array({k, v}));
  return json::array({"map", pairs});
}

json ovsdb_map(const std::map<std::string, std::int64_t>& m) {
  json pairs = json::array();
  for (auto& [k, v] : m) pairs.push_back(json::array({k, v}));
  return json::array({"map", pairs});
}

}  // namespace brisk
