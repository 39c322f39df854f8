#include "control/ovsdb_client.hpp"

#include <syslog.h>

#include <algorithm>
#include <fstream>

namespace brisk {

using json = nlohmann::json;

namespace {

// OFPP_LOCAL: the ofport of a bridge's own interface in Open vSwitch.
constexpr std::int64_t kOfppLocal = 65534;

// The monitored tables and columns: the configuration ovs-vswitchd reads. Columns briskd
// writes are not monitored (its own writes would come back as updates).
json monitor_requests() {
  auto cols = [](std::initializer_list<const char*> c) {
    json a = json::array();
    for (const char* x : c) a.push_back(x);
    return json{{"columns", a}};
  };
  return {{"Open_vSwitch", cols({"next_cfg", "bridges", "other_config"})},
          {"Bridge", cols({"name", "ports", "mirrors", "other_config"})},
          {"Port", cols({"name", "interfaces", "tag", "trunks", "vlan_mode", "cvlans", "qos",
                         "other_config"})},
          {"Interface",
           cols({"name", "type", "options", "ingress_policing_rate", "ingress_policing_burst"})},
          {"Mirror", cols({"name", "select_all", "select_src_port", "select_dst_port",
                           "select_vlan", "output_port", "output_vlan"})},
          {"QoS", cols({"type", "other_config", "queues"})},
          {"Queue", cols({"other_config"})}};
}

json update_op(const char* table, const std::string& uuid, json row) {
  return {{"op", "update"},
          {"table", table},
          {"where", json::array({json::array({"_uuid", "==", ovsdb_uuid_atom(uuid)})})},
          {"row", std::move(row)}};
}

// A device attribute from sysfs (the host namespace); "" if there is no such device.
std::string sysfs(const std::string& dev, const char* attr) {
  std::ifstream f("/sys/class/net/" + dev + "/" + attr);
  std::string v;
  std::getline(f, v);
  return v;
}

// The columns vswitchd reports about a device: admin_state, link_state, mac_in_use, mtu,
// ifindex. Ports without a kernel device (tunnels, vhost-user) are up while brisk has them.
void device_columns(const PortModel& p, json& row) {
  const std::string ifindex = sysfs(p.name, "ifindex");
  if (ifindex.empty() || ifindex.find_first_not_of("0123456789") != std::string::npos) {
    row["admin_state"] = "up";
    row["link_state"] = "up";
    return;
  }
  row["ifindex"] = std::stoll(ifindex);
  const std::string flags = sysfs(p.name, "flags");
  const bool up = !flags.empty() && (std::stoul(flags, nullptr, 16) & 0x1);  // IFF_UP
  row["admin_state"] = up ? "up" : "down";
  const std::string oper = sysfs(p.name, "operstate");
  row["link_state"] = up && (oper == "up" || oper == "unknown") ? "up" : "down";
  const std::string mac = sysfs(p.name, "address");
  if (!mac.empty()) row["mac_in_use"] = mac;
  const std::string mtu = sysfs(p.name, "mtu");
  if (!mtu.empty() && mtu.find_first_not_of("0123456789") == std::string::npos)
    row["mtu"] = std::stoll(mtu);
}

json statistics(const PortTotals& t) {
  const auto d = [&](Drop r) { return t.drops[static_cast<std::size_t>(r)]; };
  // Drops charged to the output port (datapath/counters.hpp) are transmit drops.
  const std::uint64_t tx_dropped =
      d(Drop::kTxError) + d(Drop::kPortDown) + d(Drop::kSecEgress) + d(Drop::kEgressLimit);
  std::map<std::string, std::int64_t> m{
      {"rx_packets", static_cast<std::int64_t>(t.rx_frames)},
      {"rx_bytes", static_cast<std::int64_t>(t.rx_bytes)},
      {"tx_packets", static_cast<std::int64_t>(t.tx_frames)},
      {"tx_bytes", static_cast<std::int64_t>(t.tx_bytes)},
      {"rx_dropped", static_cast<std::int64_t>(t.dropped() - tx_dropped)},
      {"tx_dropped", static_cast<std::int64_t>(tx_dropped)}};
  return ovsdb_map(m);
}

}  // namespace

OvsdbClient::OvsdbClient(Switch& sw, std::string remote)
    : sw_(sw), rpc_(std::move(remote)), rec_(sw) {}

void OvsdbClient::try_connect(Clock::time_point now) {
  if (std::string e = rpc_.connect(); !e.empty()) {
    if (e != last_error_)
      syslog(LOG_WARNING, "ovsdb: cannot connect to %s: %s (retrying)", rpc_.remote().c_str(),
             e.c_str());
    last_error_ = e;
    next_attempt_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, kOvsdbBackoffMax);
    return;
  }
  phase_ = Phase::kConnecting;
}

void OvsdbClient::lost(const std::string& why) {
  if (why != last_error_)
    syslog(LOG_WARNING, "ovsdb: connection to %s lost: %s; forwarding goes on, reconnecting",
           rpc_.remote().c_str(), why.c_str());
  last_error_ = why;
  rpc_.close();
  phase_ = Phase::kIdle;
  next_attempt_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, kOvsdbBackoffMax);
}

void OvsdbClient::on_readable() {
  try {
    std::vector<json> msgs;
    const std::string err = rpc_.read(msgs);
    for (const json& m : msgs) {
      if (!rpc_.open()) break;
      handle(m);
    }
    if (!err.empty() && rpc_.open()) lost(err);
  } catch (const std::exception& e) {  // never the daemon's end: drop the session, re-sync
    lost(std::string("internal error: ") + e.what());
  }
}

void OvsdbClient::tick() {
  try {
    step();
  } catch (const std::exception& e) {
    lost(std::string("internal error: ") + e.what());
  }
}

void OvsdbClient::step() {
  const Clock::time_point now = Clock::now();
  if (phase_ == Phase::kIdle && now >= next_attempt_) try_connect(now);
  if (phase_ == Phase::kConnecting) {
    if (std::string e = rpc_.poll_connect(); !e.empty()) {
      lost(e);
    } else if (!rpc_.connecting()) {
      monitor_id_ =
          rpc_.request("monitor", json::array({"Open_vSwitch", "brisk", monitor_requests()}));
      phase_ = Phase::kMonitoring;
    }
  }
  if (rpc_.open() && rpc_.pending_output())
    if (std::string e = rpc_.flush(); !e.empty()) lost(e);
  if (phase_ == Phase::kSynced && now >= next_retry_) {
    next_retry_ = now + kOvsdbRetryPeriod;
    const bool stats = now >= next_stats_;
    if (stats) next_stats_ = now + kOvsdbStatsPeriod;
    apply_and_write(stats);
  }
}

void OvsdbClient::handle(const json& msg) {
  if (!msg.is_object()) return;
  if (auto m = msg.find("method"); m != msg.end() && m->is_string()) {
    const json params = msg.value("params", json::array());
    if (*m == "echo") {
      rpc_.reply(msg.value("id", json()), params);
    } else if (*m == "update" && params.is_array() && params.size() == 2) {
      if (std::string e = db_.apply(params[1]); !e.empty()) return lost("bad update: " + e);
      apply_and_write(false);
    }
    return;
  }
  const json id = msg.value("id", json());
  const json error = msg.value("error", json());
  if (id.is_number_unsigned() && id.get<std::uint64_t>() == monitor_id_) {
    if (!error.is_null()) return lost("monitor refused: " + error.dump());
    db_.clear();
    if (std::string e = db_.apply(msg.value("result", json::object())); !e.empty())
      return lost("bad monitor reply: " + e);
    phase_ = Phase::kSynced;
    backoff_ = kOvsdbBackoffMin;
    last_error_.clear();
    ++connects_;
    written_iface_.clear();
    written_bridge_.clear();
    written_cfg_ = -1;
    rec_.reset_log();
    syslog(LOG_INFO, "ovsdb: connected to %s (%zu bridges, %zu interfaces)", rpc_.remote().c_str(),
           db_.table("Bridge").size(), db_.table("Interface").size());
    next_stats_ = Clock::now() + kOvsdbStatsPeriod;
    next_retry_ = Clock::now() + kOvsdbRetryPeriod;
    apply_and_write(true);
    return;
  }
  // A transaction's answer: an error for the whole, or per operation.
  std::string why = error.is_null() ? "" : error.dump();
  if (const json r = msg.value("result", json()); why.empty() && r.is_array())
    for (const json& op : r)
      if (op.is_object() && op.contains("error")) why = op.dump();
  if (!why.empty()) syslog(LOG_WARNING, "ovsdb: write-back refused: %s", why.c_str());
}

json OvsdbClient::interface_ops(bool stats) {
  json ops = json::array();
  std::erase_if(written_iface_, [&](const auto& kv) { return !rec_.interfaces().count(kv.first); });
  for (auto& [uuid, st] : rec_.interfaces()) {
    auto it = sw_.ports().find(st.name);
    const bool up = st.realised && it != sw_.ports().end();
    json row = json::object();
    row["ofport"] = up ? (st.self ? kOfppLocal : static_cast<std::int64_t>(it->second.id) + 1) : -1;
    row["error"] = st.error.empty() ? ovsdb_empty_set() : json(st.error);
    row["status"] = ovsdb_map(st.status);
    for (const char* c : {"admin_state", "link_state", "mac_in_use", "mtu", "ifindex"})
      row[c] = ovsdb_empty_set();
    if (up) device_columns(it->second, row);
    json& before = written_iface_[uuid];
    if (before != row) {
      ops.push_back(update_op("Interface", uuid, row));
      before = std::move(row);
    }
    if (stats && up)
      ops.push_back(
          update_op("Interface", uuid, {{"statistics", statistics(sw_.totals(it->second))}}));
  }
  return ops;
}

json OvsdbClient::mirror_ops() {
  json ops = json::array();
  for (auto& [uuid, dst] : rec_.mirrors())
    for (const MirrorModel& m : sw_.mirrors())
      if (!m.capture && m.dst == dst) {
        const MirrorCounts c = sw_.mirror_counts(m);
        std::map<std::string, std::int64_t> s{
            {"tx_packets", static_cast<std::int64_t>(c.delivered)}};
        ops.push_back(update_op("Mirror", uuid, {{"statistics", ovsdb_map(s)}}));
      }
  return ops;
}

void OvsdbClient::apply_and_write(bool stats) {
  rec_.reconcile(db_);
  json ops = interface_ops(stats);
  if (stats)
    for (json& op : mirror_ops()) ops.push_back(std::move(op));
  std::erase_if(written_bridge_, [&](const auto& kv) { return !db_.row("Bridge", kv.first); });
  for (auto& [uuid, row] : db_.table("Bridge")) {
    auto s = rec_.bridge_status().find(uuid);
    json status = ovsdb_map(s == rec_.bridge_status().end() ? std::map<std::string, std::string>{}
                                                            : s->second);
    auto w = written_bridge_.find(uuid);
    if (w != written_bridge_.end() && w->second == status) continue;
    ops.push_back(update_op("Bridge", uuid, {{"status", status}}));
    written_bridge_[uuid] = std::move(status);
  }
  // cur_cfg last: ovs-vsctl returns when it reaches next_cfg, after the rows above.
  for (auto& [uuid, row] : db_.table("Open_vSwitch")) {
    const std::int64_t next = ovsdb_int(row, "next_cfg").value_or(0);
    if (next == written_cfg_) continue;
    // iface_types: the Interface types brisk realises (OpenStack and others read it).
    json types = json::array();
    for (const char* t : {"afxdp", "dpdkvhostuser", "dpdkvhostuserclient", "gre", "internal",
                          "system", "tap", "vxlan"})
      types.push_back(t);
    ops.push_back(update_op("Open_vSwitch", uuid,
                            {{"cur_cfg", next}, {"iface_types", json::array({"set", types})}}));
    written_cfg_ = next;
  }
  if (!ops.empty()) transact(std::move(ops));
}

void OvsdbClient::transact(json ops) {
  json params = json::array({"Open_vSwitch"});
  for (json& op : ops) params.push_back(std::move(op));
  rpc_.request("transact", std::move(params));
}

}  // namespace brisk
