#include "control/ovsdb_reconcile.hpp"

#include <syslog.h>

#include <algorithm>
#include <set>

#include "control/validate.hpp"

namespace brisk {

using json = nlohmann::json;

struct OvsdbReconciler::Want {
  std::string iface_uuid, bridge, name, type, driver;
  std::map<std::string, std::string> options;
  VlanMode mode = VlanMode::kTrunk;
  VlanId vlan = 0, native = 0;
  VlanSet allowed;
  bool vlan_default = true;  // no tag, trunks or vlan_mode
  std::string error;         // the row cannot be realised
  std::string vlan_error;    // its VLAN columns cannot be realised
  std::string unenforced;    // columns brisk does not act on (the port works without them)
  std::uint64_t police_kbit = 0, police_burst_kbit = 0;
  EgressQos egress;

  bool self() const { return name == bridge && type == "internal"; }
  bool tunnel() const { return type == "vxlan" || type == "gre"; }
  // What the port is made with: a change makes it again.
  std::string signature() const {
    std::string s = bridge + "|" + type + "|" + driver;
    for (const char* k : {"remote_ip", "key", "in_key", "out_key", "vhost-server-path"}) {
      auto it = options.find(k);
      s += "|" + (it == options.end() ? std::string("-") : it->second);
    }
    return s;
  }
};

struct OvsdbReconciler::WantMirror {
  std::string bridge, src, dst;  // src "all": select_all
  std::shared_ptr<const VlanSet> vlans;  // select_vlan (nullptr: every VLAN)
};

namespace {

// The Port row's tag, trunks and vlan_mode as a brisk VLAN mode; "" or why not.
std::string parse_vlan_columns(const OvsdbRow& port, VlanMode& mode, VlanId& vlan, VlanId& native,
                               VlanSet& allowed, bool& is_default) {
  const std::optional<std::int64_t> tag = ovsdb_int(port, "tag");
  const std::vector<json> trunks = ovsdb_set_atoms(port, "trunks");
  std::string vmode = ovsdb_string(port, "vlan_mode");
  is_default = !tag && trunks.empty() && vmode.empty();
  if (tag && (*tag < 0 || !valid_vlan_id(static_cast<std::uint32_t>(*tag))))
    return vlan_id_error(std::to_string(*tag), "tag");
  allowed.reset();
  for (const json& t : trunks) {
    if (!t.is_number_integer() || t.get<std::int64_t>() < 0 ||
        !valid_vlan_id(static_cast<std::uint32_t>(t.get<std::int64_t>())))
      return vlan_id_error(t.dump(), "trunk");
    allowed.set(static_cast<std::size_t>(t.get<std::int64_t>()));
  }
  if (trunks.empty()) allowed.set();
  if (!ovsdb_set_atoms(port, "cvlans").empty()) return "cvlans is not supported by brisk";
  // brisk's service tag is 0x8100 (behaviour.md): OVS's 802.1ad (0x88a8) asked for explicitly
  // cannot be realised; unset, brisk sends 0x8100 (OVS with qinq-ethtype=802.1q).
  if (const auto oc = ovsdb_string_map(port, "other_config");
      oc.count("qinq-ethtype") && oc.at("qinq-ethtype") != "802.1q")
    return "other_config:qinq-ethtype=" + oc.at("qinq-ethtype") +
           " is not supported by brisk (its service tag is 802.1q, 0x8100)";
  if (vmode.empty()) vmode = tag ? "access" : "trunk";
  const auto t = static_cast<VlanId>(tag.value_or(0));
  vlan = native = 0;
  if (vmode == "access") {
    mode = VlanMode::kAccess;
    vlan = t;
  } else if (vmode == "trunk") {
    mode = VlanMode::kTrunk;
  } else if (vmode == "native-untagged") {
    mode = VlanMode::kTrunk;
    native = t;
  } else if (vmode == "dot1q-tunnel") {
    mode = VlanMode::kDot1qTunnel;
    vlan = t;
  } else {
    return "vlan_mode " + vmode + " is not supported by brisk";
  }
  return "";
}

// The normalised type of an Interface row, and the driver of a system port; "" if unknown.
std::string normal_type(const std::string& type, std::string& driver) {
  driver.clear();
  if (type.empty() || type == "system") return "system";
  if (type == "afxdp") {
    driver = "afxdp";
    return "system";
  }
  if (type == "internal" || type == "tap" || type == "vxlan" || type == "gre" ||
      type == "dpdkvhostuserclient" || type == "dpdkvhostuser")
    return type;
  return "";
}

std::string opt(const std::map<std::string, std::string>& o, const char* k) {
  auto it = o.find(k);
  return it == o.end() ? "" : it->second;
}

// options:key (or equal in_key and out_key) as a number; nullopt: no key.
std::string tunnel_key(const std::map<std::string, std::string>& o,
                       std::optional<std::uint32_t>& key) {
  std::string k = opt(o, "key"), in = opt(o, "in_key"), out = opt(o, "out_key");
  if (k.empty() && in != out) return "different in_key and out_key are not supported by brisk";
  if (k.empty()) k = in;
  key.reset();
  if (k.empty()) return "";
  if (k == "flow") return "key=flow is not supported by brisk";
  if (k.size() > 10 || k.find_first_not_of("0123456789") != std::string::npos ||
      std::stoull(k) > 0xffffffffull)
    return "invalid key " + k + ": want a number of at most 32 bits";
  key = static_cast<std::uint32_t>(std::stoull(k));
  return "";
}

// other_config:<key> of `row` as a number of bit/s or bits into `out` (absent: 0).
std::string rate_key(const OvsdbRow& row, const char* table, const char* key, std::uint64_t& out) {
  const auto oc = ovsdb_string_map(row, "other_config");
  auto it = oc.find(key);
  out = 0;
  if (it == oc.end()) return "";
  const std::string& v = it->second;
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::string(table) + " other_config:" + key + " '" + v + "' is not a number";
  out = std::stoull(v);
  return "";
}

// The Port row's qos as an outbound limit; "" or why it cannot be realised.
std::string parse_qos(const OvsdbReplica& db, const OvsdbRow& port, EgressQos& q) {
  q = {};
  const std::vector<std::string> u = ovsdb_uuids(port, "qos");
  const OvsdbRow* row = u.empty() ? nullptr : db.row("QoS", u[0]);
  if (row == nullptr) return "";
  const std::string type = ovsdb_string(*row, "type");
  if (type != "linux-htb")
    return "QoS type '" + type + "' is not supported by brisk (linux-htb is)";
  std::uint64_t qmax = 0, q0max = 0;
  if (std::string e = rate_key(*row, "QoS", "max-rate", qmax); !e.empty()) return e;
  if (std::string e = rate_key(*row, "QoS", "burst", q.burst); !e.empty()) return e;
  // queues: ["map", [[<queue number>, ["uuid", <Queue>]], ...]]; queue 0 carries the traffic.
  const OvsdbRow* q0 = nullptr;
  if (auto qs = row->find("queues");
      qs != row->end() && qs->is_array() && qs->size() == 2 && (*qs)[1].is_array())
    for (const nlohmann::json& kv : (*qs)[1])
      if (kv.is_array() && kv.size() == 2 && kv[0] == 0 && kv[1].is_array() && kv[1].size() == 2 &&
          kv[1][1].is_string())
        q0 = db.row("Queue", kv[1][1].get<std::string>());
  if (q0 != nullptr) {
    std::uint64_t burst = 0;
    if (std::string e = rate_key(*q0, "Queue", "max-rate", q0max); !e.empty()) return e;
    if (std::string e = rate_key(*q0, "Queue", "min-rate", q.min_rate); !e.empty()) return e;
    if (std::string e = rate_key(*q0, "Queue", "burst", burst); !e.empty()) return e;
    if (burst != 0) q.burst = burst;
  }
  q.max_rate = qmax == 0 ? q0max : (q0max == 0 ? qmax : std::min(qmax, q0max));
  if (q.max_rate == 0) q = {};  // no limit below the link's speed
  return "";
}

// The brisk port name of Port row `puuid`: its one interface's name ("" if none or several).
std::string port_iface(const OvsdbReplica& db, const std::string& puuid) {
  const OvsdbRow* prow = db.row("Port", puuid);
  if (!prow) return "";
  const std::vector<std::string> ifs = ovsdb_uuids(*prow, "interfaces");
  const OvsdbRow* irow = ifs.size() == 1 ? db.row("Interface", ifs[0]) : nullptr;
  return irow ? ovsdb_string(*irow, "name") : "";
}

// A Mirror row as a brisk mirror; "" or why it cannot be one.
std::string read_mirror(const OvsdbReplica& db, const OvsdbRow& m, std::string& src,
                        std::string& dst, std::shared_ptr<const VlanSet>& vlans) {
  if (ovsdb_int(m, "output_vlan"))
    return "output_vlan (RSPAN) is not supported by brisk: use an output_port";
  vlans.reset();
  if (const std::vector<json> sv = ovsdb_set_atoms(m, "select_vlan"); !sv.empty()) {
    auto set = std::make_shared<VlanSet>();
    for (const json& v : sv) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
          v.get<std::int64_t>() >= static_cast<std::int64_t>(kVlanCount))
        return "select_vlan " + v.dump() + " is not a VLAN";
      set->set(static_cast<std::size_t>(v.get<std::int64_t>()));
    }
    vlans = std::move(set);
  }
  const std::vector<std::string> out = ovsdb_uuids(m, "output_port");
  if (out.empty()) return "no output_port";
  dst = port_iface(db, out[0]);
  if (dst.empty()) return "output_port is not a port of one interface";
  if (ovsdb_bool(m, "select_all")) {
    src = "all";
    return "";
  }
  std::vector<std::string> s = ovsdb_uuids(m, "select_src_port"),
                           d = ovsdb_uuids(m, "select_dst_port");
  std::sort(s.begin(), s.end());
  std::sort(d.begin(), d.end());
  if (s.empty() && d.empty()) return "selects nothing";
  if (s != d || s.size() != 1)
    return "brisk mirrors one port's frames in both directions: select_src_port and "
           "select_dst_port must name the same one port (or use select_all)";
  src = port_iface(db, s[0]);
  if (src.empty()) return "the selected port is not a port of one interface";
  return "";
}

bool same_vlans(const std::shared_ptr<const VlanSet>& a, const std::shared_ptr<const VlanSet>& b) {
  return a == b || (a && b && *a == *b);
}

}  // namespace

void OvsdbReconciler::reconcile_mirrors(const OvsdbReplica& db,
                                        const std::map<std::string, std::string>& bridges) {
  std::map<std::string, WantMirror> want;        // by mirror uuid
  std::map<std::string, std::string> errors;     // mirror uuid -> error
  std::map<std::string, std::string> bridge_of;  // mirror uuid -> bridge uuid
  for (auto& [bname, buuid] : bridges) {
    for (const std::string& muuid : ovsdb_uuids(*db.row("Bridge", buuid), "mirrors")) {
      const OvsdbRow* m = db.row("Mirror", muuid);
      if (!m) continue;
      bridge_of[muuid] = buuid;
      WantMirror w{bname, "", "", nullptr};
      if (std::string e = read_mirror(db, *m, w.src, w.dst, w.vlans); !e.empty())
        errors[muuid] = e;
      else
        want[muuid] = w;
    }
  }
  // Brisk mirrors made for rows that are gone or changed go first.
  for (auto it = mirror_dst_.begin(); it != mirror_dst_.end();) {
    auto w = want.find(it->first);
    const MirrorModel* have = nullptr;
    for (const MirrorModel& m : sw_.mirrors())
      if (!m.capture && m.dst == it->second && m.owner == Owner::kOvsdb) have = &m;
    const bool same = have && w != want.end() && w->second.dst == have->dst &&
                      w->second.bridge == have->bridge &&
                      (w->second.src == "all" ? have->src.empty() : w->second.src == have->src) &&
                      same_vlans(w->second.vlans, have->vlans);
    if (same) {
      ++it;
      continue;
    }
    if (have) sw_.mirror_clear(it->second);
    it = mirror_dst_.erase(it);
  }
  for (auto& [muuid, w] : want) {
    if (mirror_dst_.count(muuid)) continue;
    Reply r = sw_.mirror_add(w.src, w.dst, w.bridge, w.vlans);
    if (!r.ok) {
      errors[muuid] = r.text;
      continue;
    }
    sw_.set_mirror_owner(w.dst, Owner::kOvsdb);
    mirror_dst_[muuid] = w.dst;
  }
  for (auto& [muuid, buuid] : bridge_of) {
    const std::string name = ovsdb_string(*db.row("Mirror", muuid), "name");
    auto e = errors.find(muuid);
    note("mirror " + muuid, "mirror " + name, e == errors.end() ? "" : e->second);
    if (e != errors.end()) bridge_status_[buuid]["mirror " + name] = e->second;
  }
}

void OvsdbReconciler::note(const std::string& key, const std::string& what,
                           const std::string& error) {
  auto it = logged_.find(key);
  const std::string before = it == logged_.end() ? "" : it->second;
  if (error == before) return;
  // Names come from database rows: escaped, as everything brisk prints (validate.hpp).
  if (!error.empty())
    syslog(LOG_WARNING, "ovsdb: %s: %s", printable(what).c_str(), printable(error).c_str());
  else
    syslog(LOG_INFO, "ovsdb: %s: realised", printable(what).c_str());
  logged_[key] = error;
}

void OvsdbReconciler::ensure_bridge(const std::string& name, const OvsdbRow& row,
                                    std::string& error) {
  if (!sw_.bridges().count(name)) {
    Reply r = sw_.ensure_bridge(name);
    if (!r.ok) {
      error = "bridge " + name + ": " + r.text;
      return;
    }
    sw_.set_bridge_owner(name, Owner::kOvsdb);
    if (const std::string& self = sw_.bridges().at(name).self_port; !self.empty())
      sw_.set_port_owner(self, Owner::kOvsdb);
  }
  const BridgeModel& b = sw_.bridges().at(name);
  const bool ours = b.owner == Owner::kOvsdb;
  const auto oc = ovsdb_string_map(row, "other_config");
  auto number = [&](const char* key, std::uint32_t dflt, std::uint32_t& out) {
    auto it = oc.find(key);
    if (it == oc.end()) {
      out = dflt;
      return ours;  // a native bridge keeps its own setting
    }
    const std::string& v = it->second;
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
      error = "other_config:" + std::string(key) + " '" + v + "' is not a number";
      return false;
    }
    out = static_cast<std::uint32_t>(std::stoul(v));
    return true;
  };
  std::uint32_t ageing = 0, limit = 0;
  if (number("mac-aging-time", kMacEntryDefaultAgeSec, ageing) && ageing != b.ageing)
    if (Reply r = sw_.set_ageing(name, ageing); !r.ok) error = "mac-aging-time: " + r.text;
  if (number("mac-table-size", kMacTableDefaultLimit, limit) &&
      limit != sw_.bridges().at(name).fdb_limit)
    if (Reply r = sw_.set_fdb_limit(name, limit); !r.ok) error = "mac-table-size: " + r.text;
}

void OvsdbReconciler::remove_stale(const std::map<std::string, Want>& want,
                                   const std::map<std::string, std::string>& bridges) {
  std::vector<std::string> doomed;
  for (auto& [name, p] : sw_.ports()) {
    if (p.owner != Owner::kOvsdb || p.kind == PortKind::kInternal) continue;  // bridges: below
    auto w = want.find(name);
    auto made = made_.find(name);
    if (w == want.end() || !w->second.error.empty() || made == made_.end() ||
        made->second != w->second.signature() || p.bridge != w->second.bridge)
      doomed.push_back(name);
  }
  for (const std::string& name : doomed) {
    if (Reply r = sw_.port_delete(name); !r.ok)
      syslog(LOG_WARNING, "ovsdb: removing port %s: %s", printable(name).c_str(),
             printable(r.text).c_str());
    else
      syslog(LOG_INFO, "ovsdb: port %s removed", printable(name).c_str());
    made_.erase(name);
  }
  std::erase_if(made_, [&](const auto& kv) { return !sw_.ports().count(kv.first); });
  std::vector<std::string> gone;
  for (auto& [name, b] : sw_.bridges())
    if (b.owner == Owner::kOvsdb && !bridges.count(name)) gone.push_back(name);
  for (const std::string& name : gone) sw_.destroy_bridge(name);
}

std::string OvsdbReconciler::create(const Want& w) {
  const bool access = w.mode == VlanMode::kAccess;
  Reply r;
  if (w.type == "system") {
    r = sw_.port_add(w.name, w.bridge, w.mode, w.vlan, w.allowed, w.native, w.driver);
  } else if (w.type == "internal" || w.type == "tap") {
    r = sw_.tap_create(w.bridge, access ? w.vlan : 0, "", w.name, "");
  } else if (w.tunnel()) {
    const std::string remote = opt(w.options, "remote_ip");
    if (remote.empty()) return "options:remote_ip is required";
    if (remote == "flow") return "remote_ip=flow is not supported by brisk";
    std::optional<std::uint32_t> key;
    if (std::string e = tunnel_key(w.options, key); !e.empty()) return e;
    const bool vxlan = w.type == "vxlan";
    if (vxlan) key = key.value_or(0) & 0xffffffu;  // the VNI: 24 bits on the wire, as OVS
    r = sw_.bridge_tunnel(vxlan ? TunnelType::kVxlan : TunnelType::kGre, w.bridge, remote, key,
                          w.name);
  } else if (w.type == "dpdkvhostuserclient") {  // brisk connects to the server's socket
    const std::string path = opt(w.options, "vhost-server-path");
    if (path.empty()) return "options:vhost-server-path is required";
    r = sw_.vhost_create(w.bridge, access ? w.vlan : 0, w.name, path, /*server=*/false);
  } else {  // dpdkvhostuser: brisk serves <rundir>/<vhost-sock-dir>/<name>, as OVS does
    if (w.name.find('/') != std::string::npos) return "a vhost-user port name has no '/'";
    r = sw_.vhost_create(w.bridge, access ? w.vlan : 0, w.name, sock_dir_ + "/" + w.name,
                         /*server=*/true);
  }
  return r.ok ? "" : r.text;
}

void OvsdbReconciler::realise(const Want& w, OvsdbIfaceState& st) {
  st.name = w.name;
  st.self = w.self();
  if (!w.error.empty()) {
    st.error = w.error;
    return;
  }
  auto it = sw_.ports().find(w.name);
  if (st.self) {
    if (it == sw_.ports().end() || it->second.kind != PortKind::kInternal)
      st.error = "the bridge's own interface " + w.name + " is missing";
    else if (w.police_kbit != 0 || w.egress.max_rate != 0 || !w.unenforced.empty())
      st.error = "QoS and policing are not supported by brisk on a bridge's own interface";
    return;
  }
  if (it != sw_.ports().end() && it->second.owner != Owner::kOvsdb) {
    st.error = "brisk has a port " + w.name + " made by a brisk command (owner native)";
    return;
  }
  if (it == sw_.ports().end()) {
    if (!w.vlan_error.empty() && !w.tunnel()) {
      st.error = w.vlan_error;
      return;
    }
    if (std::string e = create(w); !e.empty()) {
      st.error = e;
      return;
    }
    sw_.set_port_owner(w.name, Owner::kOvsdb);
    made_[w.name] = w.signature();
  }
  const std::string limits = apply_limits(w, st);
  if (w.tunnel()) {
    st.error =
        !w.vlan_default
            ? "a tunnel carries every VLAN: tag, trunks and vlan_mode are not supported on it"
            : limits;
    return;
  }
  if (!w.vlan_error.empty()) {
    st.error = w.vlan_error;
    return;
  }
  if (Reply r = sw_.port_vlan(w.name, w.mode, w.vlan, w.allowed, w.native); !r.ok)
    st.error = r.text;
  else
    st.error = limits;
}

// Inbound policing and the outbound limit of a port brisk has; "" or what is not realised.
std::string OvsdbReconciler::apply_limits(const Want& w, OvsdbIfaceState& st) {
  std::string error = w.unenforced;
  if (Reply r = sw_.port_police(w.name, w.police_kbit, w.police_burst_kbit); !r.ok)
    error = "ingress_policing_rate: " + r.text;
  if (!w.unenforced.empty()) {  // the QoS row cannot be realised: no outbound limit
    sw_.port_egress_qos(w.name, {});
    return error;
  }
  Reply r = sw_.port_egress_qos(w.name, w.egress);
  if (!r.ok) return "qos: " + r.text;
  if (w.egress.max_rate != 0) st.status["qos"] = r.text;
  if (w.police_kbit != 0) st.status["ingress_policing"] = "userspace";
  return error;
}

void OvsdbReconciler::reconcile(const OvsdbReplica& db) {
  // Where dpdkvhostuser sockets are: other_config:vhost-sock-dir, relative to OVS's rundir.
  sock_dir_ = kOvsRundir;
  for (auto& [uuid, row] : db.table("Open_vSwitch")) {
    const auto oc = ovsdb_string_map(row, "other_config");
    // Relative to the run directory only, never above it.
    if (auto d = oc.find("vhost-sock-dir"); d != oc.end() && !d->second.empty() &&
                                            d->second[0] != '/' &&
                                            d->second.find("..") == std::string::npos)
      sock_dir_ = std::string(kOvsRundir) + "/" + d->second;
  }
  std::map<std::string, std::string> bridges;  // name -> uuid
  std::map<std::string, Want> want;            // by port name
  for (auto& [buuid, brow] : db.table("Bridge")) {
    const std::string bname = ovsdb_string(brow, "name");
    bridges[bname] = buuid;
    for (const std::string& puuid : ovsdb_uuids(brow, "ports")) {
      const OvsdbRow* prow = db.row("Port", puuid);
      if (!prow) continue;
      const std::vector<std::string> ifs = ovsdb_uuids(*prow, "interfaces");
      for (const std::string& iuuid : ifs) {
        const OvsdbRow* irow = db.row("Interface", iuuid);
        if (!irow) continue;
        Want w;
        w.iface_uuid = iuuid;
        w.bridge = bname;
        w.name = ovsdb_string(*irow, "name");
        const std::string type = ovsdb_string(*irow, "type");
        w.type = normal_type(type, w.driver);
        w.options = ovsdb_string_map(*irow, "options");
        if (w.type.empty()) w.error = "interface type '" + type + "' is not supported by brisk";
        if (ifs.size() > 1)
          w.error = "port " + ovsdb_string(*prow, "name") + " has " + std::to_string(ifs.size()) +
                    " interfaces: bonds are not supported by brisk";
        w.vlan_error =
            parse_vlan_columns(*prow, w.mode, w.vlan, w.native, w.allowed, w.vlan_default);
        w.police_kbit = static_cast<std::uint64_t>(
            std::max<std::int64_t>(0, ovsdb_int(*irow, "ingress_policing_rate").value_or(0)));
        w.police_burst_kbit = static_cast<std::uint64_t>(
            std::max<std::int64_t>(0, ovsdb_int(*irow, "ingress_policing_burst").value_or(0)));
        w.unenforced = parse_qos(db, *prow, w.egress);
        if (want.count(w.name)) w.error = "another interface row is named " + w.name;
        want[w.name] = std::move(w);
      }
    }
  }
  remove_stale(want, bridges);
  std::map<std::string, std::string> bridge_error;  // bridge name -> error
  bridge_status_.clear();
  for (auto& [bname, buuid] : bridges) {
    std::string e;
    ensure_bridge(bname, *db.row("Bridge", buuid), e);
    note("bridge " + buuid, "bridge " + bname, e);
    if (!e.empty()) bridge_status_[buuid]["error"] = e;
    if (!e.empty() && !sw_.bridges().count(bname)) bridge_error[bname] = e;
  }
  ifaces_.clear();
  for (auto& [name, w] : want) {
    OvsdbIfaceState st;
    auto be = bridge_error.find(w.bridge);
    if (be != bridge_error.end()) {
      st.name = w.name;
      st.error = be->second;
    } else {
      realise(w, st);
    }
    auto p = sw_.ports().find(w.name);
    st.realised = p != sw_.ports().end() && (st.self || p->second.owner == Owner::kOvsdb);
    note("interface " + w.iface_uuid, "interface " + w.name, st.error);
    ifaces_[w.iface_uuid] = std::move(st);
  }
  reconcile_mirrors(db, bridges);
}

}  // namespace brisk
