// The switch's views: typed listings of taps, bridges, ports and counters (control/views.hpp,
// rendered by control/view_render.cpp and control/metrics.cpp), and the FDB and port security
// as text tables and JSON (Reply). Control thread; reads the model, the workers' counters and
// the drivers' descriptions of themselves.
#include <arpa/inet.h>
#include <linux/pkt_sched.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "control/switch.hpp"
#include "control/switch_text.hpp"
#include "control/table.hpp"
#include "control/views.hpp"

namespace brisk {

std::string ip4_text(std::uint32_t be) {
  char b[INET_ADDRSTRLEN];
  in_addr a{be};
  return inet_ntop(AF_INET, &a, b, sizeof(b)) ? b : "?";
}

std::string tunnel_peer(const TunnelKey& t) {
  std::string s = ip4_text(t.remote);
  if (t.has_key && (t.type == TunnelType::kGre || t.key != 0)) s += " key " + std::to_string(t.key);
  return s;
}

std::string fmt_vlans(const std::set<VlanId>& v) {
  std::string s = "[";
  for (VlanId x : v) s += (s.size() > 1 ? " " : "") + std::to_string(x);
  return s + "]";
}

std::string ip4_str(const std::uint8_t* p) {
  char b[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, p, b, sizeof(b)) ? b : "?";
}
std::string ip6_str(const std::uint8_t* p) {
  char b[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, p, b, sizeof(b)) ? b : "?";
}

Reply Switch::show_security(const std::string& port) const {
  if (!port.empty() && !ports_.count(port)) return Reply::error("no port named " + port);
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (auto& [name, p] : ports_) {
    if (!port.empty() && name != port) continue;
    if (!p.security && p.mac_limit == 0 && p.storm_pps == 0 && p.flood_unknown) continue;
    std::vector<const SecurityBinding*> bs;
    if (p.security)
      for (const auto& b : p.security->bindings) bs.push_back(&b);
    if (bs.empty()) bs.push_back(nullptr);
    for (const SecurityBinding* b : bs) {
      std::string ips;
      nlohmann::json jips = nlohmann::json::array();
      if (b != nullptr) {
        for (const auto& a : b->v4) jips.push_back(ip4_str(a.data()));
        for (const auto& a : b->v6) jips.push_back(ip6_str(a.data()));
        for (const auto& a : jips) ips += (ips.empty() ? "" : ",") + a.get<std::string>();
      }
      rows.push_back({name, b ? b->mac.str() : "-", ips.empty() ? "-" : ips,
                      p.mac_limit ? std::to_string(p.mac_limit) : "-",
                      p.flood_unknown ? "on" : "off",
                      p.storm_pps ? std::to_string(p.storm_pps) : "-"});
      data.push_back({{"port", name},
                      {"mac", b ? b->mac.str() : ""},
                      {"ips", jips},
                      {"limit", p.mac_limit},
                      {"flood", p.flood_unknown},
                      {"storm_pps", p.storm_pps}});
    }
  }
  return Reply::okay(format_table({"port", "mac", "ips", "limit", "flood", "storm"}, rows), data);
}

// ------------------------------------------------------------------ typed views

std::vector<TapView> Switch::tap_views() const {
  std::vector<TapView> v;
  for (const auto& [name, p] : ports_)
    if (p.kind == PortKind::kTap)
      v.push_back({name, p.bridge, p.mode, p.vlan, p.native, p.allowed, p.vlan_alias, p.ip});
  return v;
}

std::vector<BridgeView> Switch::bridge_views() const {
  std::vector<BridgeView> v;
  for (const auto& [name, b] : bridges_) {
    BridgeView& bv = v.emplace_back();
    bv.name = name;
    bv.preexisting = b.preexisting;
    for (const auto& [pn, p] : ports_) {
      if (p.bridge != name) continue;
      if (p.mode != VlanMode::kTrunk) bv.vlans.insert(p.vlan);
      if (p.kind == PortKind::kSystem && p.mode == VlanMode::kTrunk) bv.trunks.push_back(pn);
      if (p.kind == PortKind::kTunnel) bv.tunnels.push_back(pn);
    }
    bv.ageing = b.ageing;
    bv.fdb_limit = b.fdb_limit;
    bv.fdb_entries = b.fdb->size();
    bv.fdb = b.fdb->stats();
  }
  return v;
}

namespace {

std::optional<QdiscView> qdisc_view(const PortModel& p, bool through) {
  if (!p.qdisc.present()) return std::nullopt;
  return QdiscView{p.qdisc.kind, p.qdisc.handle_text(), p.qdisc.parent == TC_H_ROOT, through};
}

QosView qos_view(const PortQos& q) {
  QosView v;
  if (q.police_in) {
    v.police_kbit = q.police_kbit;
    v.police_burst_kbit = q.police_burst_kbit;
    v.police_depth_bytes = q.police_in->depth();
  }
  v.via = q.via;
  if (q.via != PortQos::Via::kNone) {
    v.egress = q.egress;
    v.why_userspace = q.note;
  }
  return v;
}

}  // namespace

std::vector<PortView> Switch::port_views() const {
  std::vector<PortView> v;
  for (const auto& [name, p] : ports_) {
    PortView& pv = v.emplace_back();
    pv.name = name;
    pv.bridge = p.bridge;
    pv.id = p.id;
    pv.kind = p.kind;
    pv.driver = p.driver;
    pv.mode = p.mode;
    pv.vlan = p.vlan;
    pv.native = p.native;
    pv.allowed = p.allowed;
    if (p.kind == PortKind::kTunnel) pv.tunnel = p.tunnel;
    pv.devargs = p.devargs;
    pv.worker = p.worker;
    pv.totals = totals(p);
    pv.xdp_fastpath = fastpath_accelerated(p);
    pv.xdp_egress = pv.xdp_fastpath && fp_->egress_ready(p.id);
    pv.tc_fastpath = pv.xdp_fastpath && fastpath_skb(p);
    pv.fastpath = fastpath_counters(p);
    if (pv.xdp_fastpath && p.kind == PortKind::kTunnel)
      pv.fastpath_tunnel = fp_->tunnel_state(p.id);
    pv.qdisc = qdisc_view(p, through_qdisc(p));
    pv.qos = qos_view(p.qos);
    pv.owner = p.owner;
    if (p.port) {
      pv.mtu = p.port->mtu();
      pv.info = p.port->info();
      p.port->describe(pv.figures);
    }
  }
  return v;
}

StatsView Switch::stats_view(const std::string& port, bool fastpath_fdb) const {
  StatsView v;
  v.port = port;
  for (const auto& [name, p] : ports_) {
    if (!port.empty() && name != port) continue;
    PortStatsView& ps = v.ports.emplace_back();
    ps.name = name;
    ps.bridge = p.bridge;
    ps.totals = totals(p);
    for (std::size_t i = 0; i < kDropCount; ++i) v.drops[i] += ps.totals.drops[i];
    if (fp_) {
      ps.fastpath = PortStatsView::Fastpath{fastpath_accelerated(p), fp_->counters(p.id), {}};
      if (fastpath_fdb && !port.empty()) ps.fastpath->fdb_entries = fp_->fdb_count(p.id);
    }
  }
  if (!port.empty()) return v;
  for (unsigned w = 0; w < dp_.workers(); ++w) {
    const WorkerStats& c = dp_.context(w).counters.worker;
    v.learn_requests += c.learn_requests.get();
    v.learn_ring_full += c.learn_ring_full.get();
    v.deny_events_not_logged += c.events_dropped.get();
  }
  v.learn_applied = learn_applied_;
  v.deny_log_lines = denies_logged_;
  v.xdp_fastpath = fp_ != nullptr;
  if (fp_) {
    if (fastpath_fdb) v.fastpath_fdb_entries = fp_->fdb_count();
    v.fastpath_fdb_errors = fp_->fdb_map_errors();
  }
  v.bridges = bridge_views();
  v.mirrors = mirror_views();
  return v;
}

Reply Switch::list_taps() const { return render_taps(tap_views()); }
Reply Switch::list_bridges() const { return render_bridges(bridge_views()); }
Reply Switch::list_ports() const { return render_ports(port_views()); }

Reply Switch::show_stats(const std::string& port) const {
  if (!port.empty() && !ports_.count(port)) return Reply::error("no port named " + port);
  // One port: its fast-path FDB entries too (a walk of the BPF map; also for the whole
  // switch, as `stats` has always shown).
  return render_stats(stats_view(port, true));
}

// ------------------------------------------------------------------ FDB

Reply Switch::show_fdb(const std::string& bridge) const {
  if (!bridge.empty() && !bridges_.count(bridge)) return Reply::error("no such bridge: " + bridge);
  std::map<PortId, std::string> names;
  for (auto& [n, p] : ports_) names[p.id] = n;
  auto port_of = [&](const FdbEntry& e) {
    auto it = names.find(e.port);
    return it == names.end() ? std::string("?") : it->second;
  };
  // The entries, sorted per bridge. The table and then the JSON are made from them, one after
  // the other: a large FDB never has its rows, its table and its JSON in memory at once.
  std::vector<std::pair<const std::string*, FdbEntry>> all;
  for (auto& [name, b] : bridges_) {
    if (!bridge.empty() && name != bridge) continue;
    const std::size_t from = all.size();
    const std::string* bname = &name;  // (a lambda may not capture a structured binding)
    b.fdb->for_each([&](const FdbEntry& e) { all.emplace_back(bname, e); });
    std::sort(all.begin() + static_cast<std::ptrdiff_t>(from), all.end(),
              [](const auto& x, const auto& y) {
                return std::pair(x.second.vlan, x.second.mac.to_u64()) <
                       std::pair(y.second.vlan, y.second.mac.to_u64());
              });
  }
  std::string text;
  {
    std::vector<std::vector<std::string>> rows;
    rows.reserve(all.size());
    for (const auto& [name, e] : all)
      rows.push_back({*name, std::to_string(e.vlan), e.mac.str(), port_of(e),
                      e.is_static ? "static" : "dynamic",
                      e.is_static ? "-" : std::to_string(now_ - e.last_seen)});
    text = format_table({"bridge", "vlan", "mac", "port", "type", "age"}, rows);
  }
  nlohmann::json data = nlohmann::json::array();
  for (const auto& [name, e] : all) {
    nlohmann::json j{{"bridge", *name},
                     {"vlan", e.vlan},
                     {"mac", e.mac.str()},
                     {"port", port_of(e)},
                     {"static", e.is_static}};
    if (!e.is_static) j["age"] = now_ - e.last_seen;
    data.push_back(std::move(j));
  }
  return Reply::okay(std::move(text), std::move(data));
}

}  // namespace brisk
