// The switch's views: listings of taps, bridges, ports, the FDB, counters and port security,
// as text tables and JSON (Reply). Control thread; reads the model and the workers' counters.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "control/switch.hpp"
#include "control/switch_text.hpp"
#include "control/table.hpp"
#include "datapath/afxdp_port.hpp"
#include "datapath/vhost_port.hpp"

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

// ------------------------------------------------------------------ FDB

Reply Switch::list_taps() const {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (auto& [name, p] : ports_) {
    if (p.kind != PortKind::kTap) continue;
    rows.push_back({p.bridge, name, vlan_label(p)});
    nlohmann::json j{
        {"bridge", p.bridge}, {"tap", name}, {"vlan", p.vlan}, {"mode", vlan_mode_name(p.mode)}};
    if (p.mode == VlanMode::kTrunk) {
      j["vlans"] = format_vlan_list(*p.allowed);
      j["native"] = p.native;
    }
    if (!p.vlan_alias.empty()) j["alias"] = p.vlan_alias;
    if (!p.ip.empty()) j["ip"] = p.ip;
    data.push_back(j);
  }
  return Reply::okay(format_table({"bridge", "tap", "vlan"}, rows), data);
}

Reply Switch::list_bridges() const {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (auto& [name, b] : bridges_) {
    std::set<VlanId> vlans;
    std::vector<std::string> trunks, tunnels;
    for (auto& [pn, p] : ports_) {
      if (p.bridge != name) continue;
      if (p.mode != VlanMode::kTrunk) vlans.insert(p.vlan);
      if (p.kind == PortKind::kSystem && p.mode == VlanMode::kTrunk) trunks.push_back(pn);
      if (p.kind == PortKind::kTunnel) tunnels.push_back(pn);
    }
    auto bracket = [](const std::vector<std::string>& v) {
      std::string t = "[";
      for (auto& x : v) t += (t.size() > 1 ? " " : "") + x;
      return t + "]";
    };
    std::string trunk_text = bracket(trunks);
    std::string config =
        "ageing=" + std::to_string(b.ageing) + " fdb-limit=" + std::to_string(b.fdb_limit);
    rows.push_back({name, b.preexisting ? "true" : "false", fmt_vlans(vlans), trunk_text,
                    bracket(tunnels), "[]", config});
    data.push_back({{"bridge", name},
                    {"preexisting", b.preexisting},
                    {"vlans", vlans},
                    {"trunks", trunks},
                    {"tunnels", tunnels},
                    {"bonds", nlohmann::json::array()},
                    {"config", {{"ageing", b.ageing}, {"fdb-limit", b.fdb_limit}}},
                    {"fdb_entries", b.fdb->size()}});
  }
  return Reply::okay(
      format_table({"bridge", "preexisting", "vlans", "trunks", "tunnels", "bonds", "config"},
                   rows),
      data);
}

Reply Switch::list_ports() const {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (auto& [name, p] : ports_) {
    PortTotals t = totals(p);
    std::string mode(vlan_mode_name(p.mode));
    std::string vlans = p.mode != VlanMode::kTrunk
                            ? std::to_string(p.vlan)
                            : format_vlan_list(*p.allowed) + " native " + std::to_string(p.native);
    std::string kind(port_kind_name(p.kind));
    if (!p.driver.empty()) kind += "/" + p.driver;
    if (p.kind == PortKind::kTunnel) kind += " " + tunnel_peer(p.tunnel);
    const bool accel = fastpath_accelerated(p);
    FastpathCounters fc = fp_ ? fp_->counters(p.id) : FastpathCounters{};
    const std::uint32_t mtu = p.port ? p.port->mtu() : 0;
    rows.push_back({name, p.bridge, kind, mode, vlans, mtu ? std::to_string(mtu) : "-",
                    std::to_string(t.rx_frames), std::to_string(t.tx_frames),
                    std::to_string(t.dropped()),
                    accel ? (fp_->egress_ready(p.id) ? "xdp" : "xdp-in") : "-", qdisc_cell(p),
                    std::string(owner_name(p.owner)), qos_cell(p)});
    data.push_back({{"port", name},
                    {"id", p.id},
                    {"bridge", p.bridge},
                    {"kind", port_kind_name(p.kind)},
                    {"driver", p.driver},
                    {"mode", mode},
                    {"vlans", vlans},
                    {"vlan", p.vlan},
                    {"mtu", mtu},
                    {"rx_frames", t.rx_frames},
                    {"tx_frames", t.tx_frames},
                    {"tx_segmented", t.tx_segmented},
                    {"tx_csum_completed", t.tx_csum_completed},
                    {"dropped", t.dropped()},
                    {"xdp_fastpath", accel},
                    {"xdp_egress", accel && fp_->egress_ready(p.id)},
                    {"tc_fastpath", accel && fastpath_skb(p)},
                    {"fastpath_rx_frames", fc.rx_frames},
                    {"fastpath_tx_frames", fc.tx_frames},
                    {"fastpath_encap", fc.encap},
                    {"fastpath_decap", fc.decap},
                    {"qdisc", qdisc_json(p)},
                    {"qos", qos_json(p)},
                    {"owner", owner_name(p.owner)}});
    if (p.mode == VlanMode::kTrunk) data.back()["native"] = p.native;
    if (p.kind == PortKind::kTunnel) {
      data.back()["remote"] = ip4_text(p.tunnel.remote);
      if (p.tunnel.has_key) data.back()["key"] = p.tunnel.key;
      if (accel) {
        const FastpathTunnelState ts = fp_->tunnel_state(p.id);
        data.back()["fastpath_tunnel"] = {{"resolved", ts.resolved},
                                          {"underlay", ts.underlay},
                                          {"decap", ts.decap},
                                          {"why", ts.why}};
      }
    }
    if (!p.devargs.empty()) data.back()["device"] = p.devargs;
    if (auto* x = dynamic_cast<const AfXdpPort*>(p.port.get())) {
      data.back()["afxdp_mode"] = x->mode();
      data.back()["afxdp_umem"] = x->umem_shared() ? "shared" : "private";
      data.back()["afxdp_worker"] = p.worker;
      data.back()["tx_zero_copy"] = x->tx_zero_copy();
      data.back()["tx_via_qdisc"] = x->tx_via_qdisc_frames();
      data.back()["afxdp_multi_buffer"] = x->multi_buffer();
      data.back()["rx_gathered"] = x->rx_gathered();
      const AfXdpStats k = x->kernel_stats();  // the socket's own counters (XDP_STATISTICS)
      data.back()["xsk"] = {{"rx_dropped", k.rx_dropped},
                            {"rx_ring_full", k.rx_ring_full},
                            {"rx_fill_ring_empty", k.rx_fill_ring_empty},
                            {"rx_invalid_descs", k.rx_invalid_descs},
                            {"tx_invalid_descs", k.tx_invalid_descs},
                            {"tx_ring_empty", k.tx_ring_empty},
                            {"tx_refused", x->tx_refused()}};
      const UmemPool::Census c = x->umem().census();  // a scan of the chunk tags
      data.back()["umem"] = {{"members", x->umem().members()},
                             {"shared_chunks", x->umem().shared_frames()},
                             {"free", c.free},
                             {"in_frames", c.frames},
                             {"held", c.by_slot[x->umem_slot()]}};
    }
    if (auto* vh = dynamic_cast<const VhostPort*>(p.port.get())) {
      data.back()["connected"] = vh->connected();
      data.back()["queue_pairs"] = vh->queue_pairs();
      data.back()["connects"] = vh->connects();
      // What the guest negotiated and how its offloads fared (datapath/vhost_port.hpp).
      char feat[24];
      std::snprintf(feat, sizeof(feat), "0x%llx", static_cast<unsigned long long>(vh->features()));
      data.back()["features"] = feat;
      data.back()["tx_caps"] = vh->tx_caps();
      data.back()["tx_max"] = vh->tx_max();
      data.back()["rx_offloaded"] = vh->rx_offloaded();
      data.back()["rx_lent"] = vh->rx_lent();
      data.back()["tx_refused"] = vh->tx_refused();
    }
  }
  return Reply::okay(format_table({"port", "bridge", "kind", "mode", "vlans", "mtu", "rx", "tx",
                                   "dropped", "fastpath", "qdisc", "owner", "qos"},
                                  rows),
                     data);
}

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

Reply Switch::show_stats(const std::string& port) const {
  if (!port.empty() && !ports_.count(port)) return Reply::error("no port named " + port);
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::object();
  data["ports"] = nlohmann::json::array();
  std::array<std::uint64_t, kDropCount> drops{};
  for (auto& [name, p] : ports_) {
    if (!port.empty() && name != port) continue;
    PortTotals t = totals(p);
    for (std::size_t i = 0; i < kDropCount; ++i) drops[i] += t.drops[i];
    rows.push_back({name, p.bridge, std::to_string(t.rx_frames), std::to_string(t.rx_bytes),
                    std::to_string(t.tx_frames), std::to_string(t.tx_bytes),
                    std::to_string(t.dropped())});
    nlohmann::json d = nlohmann::json::object();
    for (std::size_t i = 0; i < kDropCount; ++i) d[std::string(kDropNames[i])] = t.drops[i];
    data["ports"].push_back({{"port", name},
                             {"bridge", p.bridge},
                             {"rx_frames", t.rx_frames},
                             {"rx_bytes", t.rx_bytes},
                             {"tx_frames", t.tx_frames},
                             {"tx_bytes", t.tx_bytes},
                             {"drops", d}});
    if (fp_) {
      FastpathCounters fc = fp_->counters(p.id);
      data["ports"].back()["fastpath"] = {{"accelerated", fastpath_accelerated(p)},
                                          {"rx_frames", fc.rx_frames},
                                          {"rx_bytes", fc.rx_bytes},
                                          {"tx_frames", fc.tx_frames},
                                          {"tx_bytes", fc.tx_bytes},
                                          {"encap", fc.encap},
                                          {"decap", fc.decap}};
      // Walks the BPF map: only when one port is asked for.
      if (!port.empty()) data["ports"].back()["fastpath"]["fdb_entries"] = fp_->fdb_count(p.id);
    }
  }
  std::string text = format_table(
      {"port", "bridge", "rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "dropped"}, rows);
  std::vector<std::vector<std::string>> drows;
  nlohmann::json dj = nlohmann::json::object();
  for (std::size_t i = 0; i < kDropCount; ++i) {
    dj[std::string(kDropNames[i])] = drops[i];
    if (drops[i] != 0 || !port.empty())
      drows.push_back(
          {std::string(kDropNames[i]), std::to_string(drops[i]), std::string(kDropHelp[i])});
  }
  data["drops"] = dj;
  if (port.empty()) {
    std::uint64_t lr = 0, lrf = 0;
    for (unsigned w = 0; w < dp_.workers(); ++w) {
      lr += dp_.context(w).counters.worker.learn_requests.get();
      lrf += dp_.context(w).counters.worker.learn_ring_full.get();
    }
    data["learn_requests"] = lr;
    data["learn_ring_full"] = lrf;
    data["learn_applied"] = learn_applied_;
    std::uint64_t evd = 0;
    for (unsigned w = 0; w < dp_.workers(); ++w)
      evd += dp_.context(w).counters.worker.events_dropped.get();
    data["deny_log_lines"] = denies_logged_;
    data["deny_events_not_logged"] = evd;
    data["xdp_fastpath"] = fp_ != nullptr;
    if (fp_) {
      data["fastpath_fdb_entries"] = fp_->fdb_count();
      data["fastpath_fdb_errors"] = fp_->fdb_map_errors();
    }
  }
  if (!drows.empty()) text += "\n" + format_table({"drop reason", "frames", "meaning"}, drows);
  if (port.empty()) {
    // FDB of each bridge: size, limit and what learning did (evictions show a MAC flood
    // hitting the bridge's fdb-limit or a port's `port security <p> limit`).
    std::vector<std::vector<std::string>> frows;
    nlohmann::json fj = nlohmann::json::object();
    for (auto& [name, b] : bridges_) {
      const MacTableStats& st = b.fdb->stats();
      frows.push_back({name, std::to_string(b.fdb->size()), std::to_string(b.fdb->limit()),
                       std::to_string(st.learned), std::to_string(st.moved),
                       std::to_string(st.evicted), std::to_string(st.aged),
                       std::to_string(st.full_drops)});
      fj[name] = {{"entries", b.fdb->size()}, {"limit", b.fdb->limit()},
                  {"learned", st.learned},    {"moved", st.moved},
                  {"evicted", st.evicted},    {"aged", st.aged},
                  {"full", st.full_drops},    {"static_conflicts", st.static_conflicts}};
    }
    data["fdb"] = fj;
    if (!frows.empty())
      text += "\n" + format_table({"bridge", "fdb entries", "limit", "learned", "moved", "evicted",
                                   "aged", "full"},
                                  frows);
  }
  if (port.empty()) append_mirror_stats(text, data);
  return Reply::okay(text, data);
}

// ------------------------------------------------------------------ periodic work
}  // namespace brisk
