// The control socket's rendering of the typed views (control/views.hpp): a minimega-style
// table and the same as JSON. Plain functions of their view: any thread.
#include <string>
#include <vector>

#include "control/switch_text.hpp"
#include "control/table.hpp"
#include "control/views.hpp"

namespace brisk {

namespace {

std::string bracket(const std::vector<std::string>& v) {
  std::string t = "[";
  for (const auto& x : v) t += (t.size() > 1 ? " " : "") + x;
  return t + "]";
}

// minimega's `tap` VLAN column: "10", "alias (101)", "trunk", "10 dot1q-tunnel".
std::string vlan_label(const TapView& t) {
  if (t.mode == VlanMode::kTrunk) return "trunk";
  std::string s =
      t.alias.empty() ? std::to_string(t.vlan) : t.alias + " (" + std::to_string(t.vlan) + ")";
  if (t.mode == VlanMode::kDot1qTunnel) s += " dot1q-tunnel";
  return s;
}

// `port`'s vlans: "10", or a trunk's "10,20-30 native 0".
std::string vlans_text(const PortView& p) {
  if (p.mode != VlanMode::kTrunk) return std::to_string(p.vlan);
  return format_vlan_list(*p.allowed) + " native " + std::to_string(p.native);
}

std::string qdisc_cell(const PortView& p) {
  if (!p.qdisc) return "-";
  return p.qdisc->kind + " " + p.qdisc->handle + (p.qdisc->through ? "" : " bypassed");
}

nlohmann::json qdisc_json(const PortView& p) {
  if (!p.qdisc) return nullptr;
  return {{"kind", p.qdisc->kind},
          {"handle", p.qdisc->handle},
          {"root", p.qdisc->root},
          {"through", p.qdisc->through}};
}

const char* via_name(PortQos::Via v) { return v == PortQos::Via::kHtb ? "htb" : "userspace"; }

std::string qos_cell(const QosView& q) {
  std::string s;
  if (q.police_kbit != 0) s = "in " + std::to_string(q.police_kbit) + "kbit";
  if (q.via != PortQos::Via::kNone) {
    if (!s.empty()) s += " ";
    s += "out " + std::to_string(q.egress.max_rate) + "bit " + via_name(q.via);
  }
  return s.empty() ? "-" : s;
}

nlohmann::json qos_json(const QosView& q) {
  nlohmann::json j = nlohmann::json::object();
  if (q.police_kbit != 0)
    j["ingress_policing"] = {{"rate_kbit", q.police_kbit},
                             {"burst_kbit", q.police_burst_kbit},
                             {"depth_bytes", q.police_depth_bytes}};
  if (q.via != PortQos::Via::kNone) {
    j["egress"] = {{"max_rate", q.egress.max_rate},
                   {"min_rate", q.egress.min_rate},
                   {"burst", q.egress.burst},
                   {"via", via_name(q.via)}};
    if (!q.why_userspace.empty()) j["egress"]["why_userspace"] = q.why_userspace;
  }
  return j.empty() ? nlohmann::json(nullptr) : j;
}

// A driver's figures into the port's JSON object: group "" as keys of their own, a group as an
// object of its figures.
void figures_json(const DriverFigures& figures, nlohmann::json& j) {
  for (const DriverFigure& f : figures) {
    nlohmann::json& at = f.group.empty() ? j[f.name] : j[f.group][f.name];
    switch (f.type) {
      case DriverFigure::Type::kFlag:
        at = f.value != 0;
        break;
      case DriverFigure::Type::kText:
        at = f.text;
        break;
      case DriverFigure::Type::kCounter:
      case DriverFigure::Type::kGauge:
        at = f.value;
        break;
    }
  }
}

nlohmann::json port_json(const PortView& p) {
  nlohmann::json j{{"port", p.name},
                   {"id", p.id},
                   {"bridge", p.bridge},
                   {"kind", port_kind_name(p.kind)},
                   {"driver", p.driver},
                   {"mode", vlan_mode_name(p.mode)},
                   {"vlans", vlans_text(p)},
                   {"vlan", p.vlan},
                   {"mtu", p.mtu},
                   {"rx_frames", p.totals.rx_frames},
                   {"tx_frames", p.totals.tx_frames},
                   {"tx_segmented", p.totals.tx_segmented},
                   {"tx_csum_completed", p.totals.tx_csum_completed},
                   {"dropped", p.totals.dropped()},
                   {"xdp_fastpath", p.xdp_fastpath},
                   {"xdp_egress", p.xdp_egress},
                   {"tc_fastpath", p.tc_fastpath},
                   {"fastpath_rx_frames", p.fastpath.rx_frames},
                   {"fastpath_tx_frames", p.fastpath.tx_frames},
                   {"fastpath_encap", p.fastpath.encap},
                   {"fastpath_decap", p.fastpath.decap},
                   {"qdisc", qdisc_json(p)},
                   {"qos", qos_json(p.qos)},
                   {"owner", owner_name(p.owner)}};
  if (p.mode == VlanMode::kTrunk) j["native"] = p.native;
  if (p.tunnel) {
    j["remote"] = ip4_text(p.tunnel->remote);
    if (p.tunnel->has_key) j["key"] = p.tunnel->key;
    if (p.fastpath_tunnel)
      j["fastpath_tunnel"] = {{"resolved", p.fastpath_tunnel->resolved},
                              {"underlay", p.fastpath_tunnel->underlay},
                              {"decap", p.fastpath_tunnel->decap},
                              {"why", p.fastpath_tunnel->why}};
  }
  if (!p.devargs.empty()) j["device"] = p.devargs;
  if (p.info.xdp_program) j["afxdp_worker"] = p.worker;
  figures_json(p.figures, j);
  return j;
}

}  // namespace

Reply render_taps(const std::vector<TapView>& v) {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (const TapView& t : v) {
    rows.push_back({t.bridge, t.name, vlan_label(t)});
    nlohmann::json j{
        {"bridge", t.bridge}, {"tap", t.name}, {"vlan", t.vlan}, {"mode", vlan_mode_name(t.mode)}};
    if (t.mode == VlanMode::kTrunk) {
      j["vlans"] = format_vlan_list(*t.allowed);
      j["native"] = t.native;
    }
    if (!t.alias.empty()) j["alias"] = t.alias;
    if (!t.ip.empty()) j["ip"] = t.ip;
    data.push_back(std::move(j));
  }
  return Reply::okay(format_table({"bridge", "tap", "vlan"}, rows), data);
}

Reply render_bridges(const std::vector<BridgeView>& v) {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (const BridgeView& b : v) {
    std::string config =
        "ageing=" + std::to_string(b.ageing) + " fdb-limit=" + std::to_string(b.fdb_limit);
    rows.push_back({b.name, b.preexisting ? "true" : "false", fmt_vlans(b.vlans), bracket(b.trunks),
                    bracket(b.tunnels), "[]", config});
    data.push_back({{"bridge", b.name},
                    {"preexisting", b.preexisting},
                    {"vlans", b.vlans},
                    {"trunks", b.trunks},
                    {"tunnels", b.tunnels},
                    {"bonds", nlohmann::json::array()},
                    {"config", {{"ageing", b.ageing}, {"fdb-limit", b.fdb_limit}}},
                    {"fdb_entries", b.fdb_entries}});
  }
  return Reply::okay(
      format_table({"bridge", "preexisting", "vlans", "trunks", "tunnels", "bonds", "config"},
                   rows),
      data);
}

Reply render_ports(const std::vector<PortView>& v) {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (const PortView& p : v) {
    std::string kind(port_kind_name(p.kind));
    if (!p.driver.empty()) kind += "/" + p.driver;
    if (p.tunnel) kind += " " + tunnel_peer(*p.tunnel);
    rows.push_back({p.name, p.bridge, kind, std::string(vlan_mode_name(p.mode)), vlans_text(p),
                    p.mtu ? std::to_string(p.mtu) : "-", std::to_string(p.totals.rx_frames),
                    std::to_string(p.totals.tx_frames), std::to_string(p.totals.dropped()),
                    p.xdp_fastpath ? (p.xdp_egress ? "xdp" : "xdp-in") : "-", qdisc_cell(p),
                    std::string(owner_name(p.owner)), qos_cell(p.qos)});
    data.push_back(port_json(p));
  }
  return Reply::okay(format_table({"port", "bridge", "kind", "mode", "vlans", "mtu", "rx", "tx",
                                   "dropped", "fastpath", "qdisc", "owner", "qos"},
                                  rows),
                     data);
}

Reply render_mirrors(const std::vector<MirrorView>& v) {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (const MirrorView& m : v) {
    if (m.capture) continue;
    const MirrorCounts& c = m.counts;
    const std::string src = m.src.empty() ? "all" : m.src;
    rows.push_back({m.bridge, src, m.dst, std::to_string(c.mirrored), std::to_string(c.delivered),
                    std::to_string(c.dropped)});
    data.push_back({{"bridge", m.bridge},
                    {"source", src},
                    {"destination", m.dst},
                    {"mirrored", c.mirrored},
                    {"delivered", c.delivered},
                    {"dropped", c.dropped},
                    {"in_flight", c.queued},
                    {"vlans", m.vlans ? format_vlan_list(*m.vlans) : "all"},
                    {"kernel",
                     {{"mirrored", c.kernel.mirrored},
                      {"delivered", c.kernel.delivered},
                      {"dropped", c.kernel.dropped}}}});
  }
  return Reply::okay(
      format_table({"bridge", "source", "destination", "mirrored", "delivered", "dropped"}, rows),
      data);
}

Reply render_captures(const std::vector<MirrorView>& v) {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::array();
  for (const MirrorView& m : v) {
    if (!m.capture) continue;
    const MirrorCounts& c = m.counts;
    const std::string type = m.src.empty() ? "bridge" : "tap";
    const std::string src = m.src.empty() ? m.bridge : m.src;
    rows.push_back({std::to_string(m.capture_id), "pcap " + type, m.bridge, src, m.dst,
                    std::to_string(m.snaplen), std::to_string(c.mirrored),
                    std::to_string(c.delivered), std::to_string(c.dropped)});
    data.push_back({{"id", m.capture_id},
                    {"type", "pcap"},
                    {"kind", type},
                    {"bridge", m.bridge},
                    {"source", src},
                    {"file", m.dst},
                    {"snaplen", m.snaplen},
                    {"captured", c.mirrored},
                    {"written", c.delivered},
                    {"dropped", c.dropped},
                    {"queued", c.queued}});
  }
  return Reply::okay(format_table({"id", "type", "bridge", "source", "file", "snaplen", "captured",
                                   "written", "dropped"},
                                  rows),
                     data);
}

namespace {

nlohmann::json port_stats_json(const PortStatsView& p) {
  nlohmann::json d = nlohmann::json::object();
  for (std::size_t i = 0; i < kDropCount; ++i) d[std::string(kDropNames[i])] = p.totals.drops[i];
  nlohmann::json j{{"port", p.name},
                   {"bridge", p.bridge},
                   {"rx_frames", p.totals.rx_frames},
                   {"rx_bytes", p.totals.rx_bytes},
                   {"tx_frames", p.totals.tx_frames},
                   {"tx_bytes", p.totals.tx_bytes},
                   {"drops", d}};
  if (p.fastpath) {
    const FastpathCounters& fc = p.fastpath->counters;
    j["fastpath"] = {{"accelerated", p.fastpath->accelerated},
                     {"rx_frames", fc.rx_frames},
                     {"rx_bytes", fc.rx_bytes},
                     {"tx_frames", fc.tx_frames},
                     {"tx_bytes", fc.tx_bytes},
                     {"encap", fc.encap},
                     {"decap", fc.decap}};
    if (p.fastpath->fdb_entries) j["fastpath"]["fdb_entries"] = *p.fastpath->fdb_entries;
  }
  return j;
}

// The switch-wide part of `stats`: learning, deny log, fast path, FDBs, mirrors.
void switch_stats(const StatsView& v, std::string& text, nlohmann::json& data) {
  data["learn_requests"] = v.learn_requests;
  data["learn_ring_full"] = v.learn_ring_full;
  data["learn_applied"] = v.learn_applied;
  data["deny_log_lines"] = v.deny_log_lines;
  data["deny_events_not_logged"] = v.deny_events_not_logged;
  data["xdp_fastpath"] = v.xdp_fastpath;
  if (v.xdp_fastpath) {
    if (v.fastpath_fdb_entries) data["fastpath_fdb_entries"] = *v.fastpath_fdb_entries;
    data["fastpath_fdb_errors"] = v.fastpath_fdb_errors;
  }
  // FDB of each bridge: size, limit and what learning did (evictions show a MAC flood
  // hitting the bridge's fdb-limit or a port's `port security <p> limit`).
  std::vector<std::vector<std::string>> frows;
  nlohmann::json fj = nlohmann::json::object();
  for (const BridgeView& b : v.bridges) {
    const MacTableStats& st = b.fdb;
    frows.push_back({b.name, std::to_string(b.fdb_entries), std::to_string(b.fdb_limit),
                     std::to_string(st.learned), std::to_string(st.moved),
                     std::to_string(st.evicted), std::to_string(st.aged),
                     std::to_string(st.full_drops)});
    fj[b.name] = {{"entries", b.fdb_entries}, {"limit", b.fdb_limit},
                  {"learned", st.learned},    {"moved", st.moved},
                  {"evicted", st.evicted},    {"aged", st.aged},
                  {"full", st.full_drops},    {"static_conflicts", st.static_conflicts}};
  }
  data["fdb"] = fj;
  if (!frows.empty())
    text += "\n" + format_table({"bridge", "fdb entries", "limit", "learned", "moved", "evicted",
                                 "aged", "full"},
                                frows);
  // One row per mirror and capture, so a user can check mirrored = delivered + dropped.
  std::vector<std::vector<std::string>> mrows;
  nlohmann::json mj = nlohmann::json::array();
  for (const MirrorView& m : v.mirrors) {
    const MirrorCounts& c = m.counts;
    const std::string src = m.src.empty() ? "all" : m.src;
    mrows.push_back({m.bridge, src, m.dst, std::to_string(c.mirrored), std::to_string(c.delivered),
                     std::to_string(c.dropped), std::to_string(c.queued)});
    mj.push_back({{"bridge", m.bridge},
                  {"source", src},
                  {"destination", m.dst},
                  {"capture", m.capture},
                  {"mirrored", c.mirrored},
                  {"delivered", c.delivered},
                  {"dropped", c.dropped},
                  {"queued", c.queued}});
  }
  data["mirrors"] = mj;
  if (!mrows.empty())
    text += "\n" + format_table({"mirror bridge", "source", "destination", "mirrored", "delivered",
                                 "dropped", "queued"},
                                mrows);
}

}  // namespace

Reply render_stats(const StatsView& v) {
  std::vector<std::vector<std::string>> rows;
  nlohmann::json data = nlohmann::json::object();
  data["ports"] = nlohmann::json::array();
  for (const PortStatsView& p : v.ports) {
    rows.push_back({p.name, p.bridge, std::to_string(p.totals.rx_frames),
                    std::to_string(p.totals.rx_bytes), std::to_string(p.totals.tx_frames),
                    std::to_string(p.totals.tx_bytes), std::to_string(p.totals.dropped())});
    data["ports"].push_back(port_stats_json(p));
  }
  std::string text = format_table(
      {"port", "bridge", "rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "dropped"}, rows);
  std::vector<std::vector<std::string>> drows;
  nlohmann::json dj = nlohmann::json::object();
  for (std::size_t i = 0; i < kDropCount; ++i) {
    dj[std::string(kDropNames[i])] = v.drops[i];
    if (v.drops[i] != 0 || !v.port.empty())
      drows.push_back(
          {std::string(kDropNames[i]), std::to_string(v.drops[i]), std::string(kDropHelp[i])});
  }
  data["drops"] = dj;
  if (!drows.empty()) text += "\n" + format_table({"drop reason", "frames", "meaning"}, drows);
  if (v.port.empty()) switch_stats(v, text, data);
  return Reply::okay(text, data);
}

}  // namespace brisk
