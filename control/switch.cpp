#include "control/switch.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/wait.h>
#include <syslog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "control/netdev.hpp"
#include "control/switch_text.hpp"
#include "control/table.hpp"
#include "control/validate.hpp"
#include "datapath/afpacket_port.hpp"
#include "datapath/afxdp_port.hpp"
#include "datapath/dpdk_port.hpp"
#include "datapath/tap_port.hpp"
#include "datapath/tunnel_port.hpp"
#include "datapath/vhost_port.hpp"

namespace brisk {

namespace {

std::shared_ptr<const VlanSet> all_vlans() {
  auto s = std::make_shared<VlanSet>();
  s->set();
  return s;
}

}  // namespace

std::optional<VlanSet> parse_vlan_list(const std::string& s) {
  VlanSet v;
  if (s == "all") {
    v.set();
    return v;
  }
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    std::size_t dash = item.find('-');
    std::string lo = item.substr(0, dash),
                hi = dash == std::string::npos ? lo : item.substr(dash + 1);
    auto num = [](const std::string& t) -> std::optional<unsigned> {
      if (t.empty() || t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      unsigned n = static_cast<unsigned>(std::stoul(t));
      if (!valid_vlan_id(n)) return std::nullopt;
      return n;
    };
    auto a = num(lo), b = num(hi);
    if (!a || !b || *a > *b) return std::nullopt;
    for (unsigned x = *a; x <= *b; ++x) v.set(x);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return v;
}

std::string_view owner_name(Owner o) { return o == Owner::kOvsdb ? "ovsdb" : "native"; }

bool Switch::set_bridge_owner(const std::string& name, Owner o) {
  auto it = bridges_.find(name);
  if (it == bridges_.end()) return false;
  it->second.owner = o;
  return true;
}

bool Switch::set_port_owner(const std::string& name, Owner o) {
  auto it = ports_.find(name);
  if (it == ports_.end()) return false;
  it->second.owner = o;
  return true;
}

bool Switch::set_mirror_owner(const std::string& dst, Owner o) {
  for (MirrorModel& m : mirrors_)
    if (!m.capture && m.dst == dst) {
      m.owner = o;
      return true;
    }
  return false;
}

std::string_view vlan_mode_name(VlanMode m) {
  switch (m) {
    case VlanMode::kAccess:
      return "access";
    case VlanMode::kTrunk:
      return "trunk";
    case VlanMode::kDot1qTunnel:
      return "dot1q-tunnel";
  }
  return "?";
}

std::optional<VlanMode> parse_vlan_mode(std::string_view s) {
  for (VlanMode m : {VlanMode::kAccess, VlanMode::kTrunk, VlanMode::kDot1qTunnel})
    if (s == vlan_mode_name(m)) return m;
  return std::nullopt;
}

std::string format_vlan_list(const VlanSet& v) {
  if (v.all()) return "all";
  std::string out;
  for (std::size_t i = 0; i < kVlanCount;) {
    if (!v.test(i)) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < kVlanCount && v.test(j + 1)) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(i);
    if (j > i) out += "-" + std::to_string(j);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

Switch::Switch(Datapath& dp, SwitchOptions opts) : dp_(dp), opts_(std::move(opts)) {
  if (opts_.xdp_fastpath) {
    try {
      fp_ = std::make_unique<XdpFastpath>();
      fp_->set_underlay_mode(opts_.afxdp_xdp);
    } catch (const std::exception& e) {
      syslog(LOG_WARNING, "XDP fast path off: %s", e.what());
    }
  }
  if (opts_.afxdp_shared_umem) umems_ = std::make_unique<UmemRegistry>();
  if (!opts_.make_port) {
    opts_.make_port = [this](const PortSpec& spec) -> std::shared_ptr<Port> {
      if (spec.kind == PortKind::kTunnel)
        return std::make_shared<TunnelPort>(spec.name, spec.tunnel);
      if (spec.kind == PortKind::kVhost)
        return std::make_shared<VhostPort>(spec.name,
                                           VhostOptions{spec.devargs, spec.driver == "server"});
      if (spec.kind != PortKind::kSystem) return std::make_shared<TapPort>(spec.name, spec.kind);
      if (spec.driver == "dpdk") return std::make_shared<DpdkPort>(spec.devargs);
      if (spec.driver == "afpacket") {
        auto a = std::make_shared<AfPacketPort>(spec.name, fp_ ? &fp_->shared_maps() : nullptr);
        if (!a->fastpath_error().empty())
          syslog(LOG_WARNING, "port %s: no fast path: %s", spec.name.c_str(),
                 a->fastpath_error().c_str());
        return a;
      }
      AfXdpOptions o;
      o.fastpath_maps = fp_ ? &fp_->shared_maps() : nullptr;
      o.umems = umems_.get();
      o.worker = spec.worker;
      o.xdp_mode = opts_.afxdp_xdp;
      return std::make_shared<AfXdpPort>(spec.name, o);
    };
  }
  now_ = dp_.clock();
  rebuild();
}

Switch::~Switch() {
  close_all_captures();
  for (auto& [name, p] : ports_) stop_child(p.dhcp_pid);
  for (auto& [name, b] : bridges_) b.fdb->set_observer(nullptr);  // fp_ goes first
}

// ------------------------------------------------------------------ helpers

std::optional<PortId> Switch::alloc_id() {
  // Round-robin allocation: an id is reused only after every other id was handed out, so a
  // learn request still in flight for a deleted port cannot land on its successor.
  for (unsigned k = 0; k < kMaxPorts; ++k) {
    PortId id = static_cast<PortId>((next_id_ + k) % kMaxPorts);
    if (!used_[id]) {
      used_[id] = true;
      next_id_ = static_cast<PortId>((id + 1) % kMaxPorts);
      return id;
    }
  }
  return std::nullopt;
}

std::string Switch::next_tap_name() {
  for (unsigned n = 0;; ++n) {
    std::string name = opts_.tap_prefix + std::to_string(n);
    if (!ports_.count(name) && !bridges_.count(name) && host_name_free(name)) return name;
  }
}

// A device brisk deleted a moment ago lingers until the last snapshot naming its port is
// reclaimed (one QSBR grace period), and a TAP device a moment longer: a worker asleep in
// poll(2) (offline, so the grace period does not wait for it) still holds the device's file
// until it wakes. When a name is taken and retired ports are pending, or the name is a port
// removed less than a second ago, wait for it (bounded, 1 s) before deciding that it is in use.
bool Switch::host_name_free(const std::string& name) {
  if (if_nametoindex(name.c_str()) == 0) return true;
  auto now = std::chrono::steady_clock::now();
  auto deadline = now + std::chrono::seconds(1);
  std::erase_if(released_, [&](const auto& r) { return now - r.second > std::chrono::seconds(1); });
  while ((dp_.snapshots().pending() > 0 || released_.count(name)) &&
         std::chrono::steady_clock::now() < deadline) {
    dp_.snapshots().reclaim([this] { drain_learning(); });
    if (if_nametoindex(name.c_str()) == 0) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return if_nametoindex(name.c_str()) == 0;
}

PortTotals Switch::totals(const PortModel& p) const {
  PortTotals t;
  for (unsigned w = 0; w < dp_.workers(); ++w) t.add(dp_.context(w).counters.port[p.id]);
  if (p.port)  // frames the driver itself discarded (a tunnel's malformed encapsulation)
    for (std::size_t i = 0; i < kDropCount; ++i)
      t.drops[i] += p.port->driver_drops(static_cast<Drop>(i));
  if (fp_) {  // frames the XDP fast path forwarded never reached a worker
    FastpathCounters f = fp_->counters(p.id);
    t.rx_frames += f.rx_frames;
    t.rx_bytes += f.rx_bytes;
    t.tx_frames += f.tx_frames;
    t.tx_bytes += f.tx_bytes;
    t.drops[static_cast<std::size_t>(Drop::kOversize)] += f.oversize;
  }
  t.subtract(p.base);
  return t;
}

std::optional<VlanId> Switch::resolve_alias(const std::string& alias, bool allocate) {
  auto it = aliases_.find(alias);
  if (it != aliases_.end()) return it->second;
  if (!allocate) return std::nullopt;
  std::set<VlanId> taken;
  for (auto& [a, v] : aliases_) taken.insert(v);
  for (VlanId v = 101; v <= kMaxConfigVlan; ++v) {
    if (!taken.count(v)) {
      aliases_[alias] = v;
      return v;
    }
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ snapshot

void Switch::rebuild() {
  prune_mirrors();
  auto s = std::make_unique<Snapshot>();
  s->version = ++version_;
  s->rx_by_worker.resize(dp_.workers());
  std::map<std::string, std::uint16_t> bidx;
  for (auto& [name, b] : bridges_) {
    bidx[name] = static_cast<std::uint16_t>(s->bridges.size());
    BridgeConf bc;
    bc.name = name;
    bc.fdb = b.fdb.get();
    bc.ageing_s = b.ageing;
    s->bridges.push_back(std::move(bc));
    s->table_refs.push_back(b.fdb);
  }
  // Per bridge, per VLAN member lists (counting sort over VLANs).
  std::vector<std::vector<std::vector<PortId>>> members(s->bridges.size());
  for (auto& m : members) m.resize(kVlanCount);
  learn_target_.fill(nullptr);
  for (auto& [name, p] : ports_) {
    const BridgeModel& bm = bridges_.at(p.bridge);
    if (bm.ageing != 0) learn_target_[p.id] = bm.fdb.get();
    PortConf& pc = s->ports[p.id];
    pc.port = p.port.get();
    pc.bridge = bidx.at(p.bridge);
    pc.mode = p.mode;
    pc.access_vlan = p.vlan;
    pc.native_vlan = p.native;
    pc.flood_unknown = p.flood_unknown;
    pc.storm_pps = p.storm_pps;
    pc.tunnel = p.kind == PortKind::kTunnel;
    pc.police_in = p.qos.police_in.get();
    pc.limit_out = p.qos.limit_out.get();
    for (const auto* pol : {&p.qos.police_in, &p.qos.limit_out})
      if (*pol) s->policers.push_back(*pol);
    if (p.security) {
      pc.sec = p.security.get();
      pc.sec_egress = p.security->egress_filter();
      s->security.push_back(p.security);
    }
    if (p.mode == VlanMode::kTrunk) {
      pc.allowed = p.allowed.get();
      s->vlan_sets.push_back(p.allowed);
    }
    s->port_refs.push_back(p.port);
    s->rx_by_worker[p.worker].push_back(p.id);
    if (is_mirror_dst(name)) continue;  // receives mirrored frames only: in no flood list
    auto& m = members[pc.bridge];
    if (p.mode != VlanMode::kTrunk) {  // access and dot1q-tunnel: one VLAN
      m[p.vlan].push_back(p.id);
    } else {
      for (std::size_t v = 0; v < kVlanCount; ++v)
        if (p.allowed->test(v)) m[v].push_back(p.id);
    }
  }
  for (std::size_t b = 0; b < s->bridges.size(); ++b) {
    BridgeConf& bc = s->bridges[b];
    bc.flood_offs.resize(kVlanCount + 1);
    for (std::size_t v = 0; v < kVlanCount; ++v) {
      bc.flood_offs[v] = static_cast<std::uint32_t>(bc.flood_ports.size());
      for (PortId id : members[b][v]) bc.flood_ports.push_back(id);
    }
    bc.flood_offs[kVlanCount] = static_cast<std::uint32_t>(bc.flood_ports.size());
  }
  build_mirrors(*s, bidx);
  sync_fastpath();  // the fast path stops using what this snapshot removes before it is live
  dp_.publish(std::move(s));
}

// ------------------------------------------------------------------ bridges

Reply Switch::ensure_bridge(const std::string& name) {
  if (bridges_.count(name)) return Reply::okay();
  if (auto e = check_ifname("bridge name", name); !e.empty()) return Reply::error(e);
  if (ports_.count(name)) return Reply::error("name " + name + " is already used by a port");
  BridgeModel b;
  b.name = name;
  b.fdb_limit = opts_.fdb_limit;
  b.fdb = std::make_shared<MacTable>(b.fdb_limit);
  if (opts_.bridge_interface) {
    if (!host_name_free(name))
      return Reply::error("interface " + name + " already exists on this host");
    PortModel self;
    self.name = name;
    self.kind = PortKind::kInternal;
    self.bridge = name;
    self.mode = VlanMode::kTrunk;
    self.native = 0;
    self.allowed = all_vlans();
    bridges_[name] = b;
    Reply r = add_port(std::move(self));
    if (!r.ok) {
      bridges_.erase(name);
      return r;
    }
    bridges_[name].self_port = name;
  } else {
    bridges_[name] = b;
    rebuild();
  }
  syslog(LOG_INFO, "bridge %s created", name.c_str());
  return Reply::okay();
}

Reply Switch::destroy_bridge(const std::string& name) {
  auto it = bridges_.find(name);
  if (it == bridges_.end()) return Reply::error("no such bridge: " + name);
  std::vector<std::string> doomed;
  for (auto& [pname, p] : ports_)
    if (p.bridge == name) doomed.push_back(pname);
  for (auto& pname : doomed) remove_port_model(pname);
  bridges_.erase(it);
  rebuild();
  syslog(LOG_INFO, "bridge %s destroyed", name.c_str());
  return Reply::okay();
}

Reply Switch::set_ageing(const std::string& bridge, std::uint32_t seconds) {
  auto it = bridges_.find(bridge);
  if (it == bridges_.end()) return Reply::error("no such bridge: " + bridge);
  if (seconds > 1000000) return Reply::error("ageing must be 0..1000000 seconds");
  it->second.ageing = seconds;
  if (seconds == 0) it->second.fdb->flush();  // hub mode: forget dynamic entries
  rebuild();
  return Reply::okay();
}

Reply Switch::set_fdb_limit(const std::string& bridge, std::uint32_t limit) {
  auto it = bridges_.find(bridge);
  if (it == bridges_.end()) return Reply::error("no such bridge: " + bridge);
  if (limit == 0 || limit > kMacTableMaxLimit)
    return Reply::error("fdb-limit must be 1.." + std::to_string(kMacTableMaxLimit));
  // A new table, refilled with the static entries and the most recent dynamic ones.
  auto fresh = std::make_shared<MacTable>(limit);
  for (auto& [pname, p] : ports_)  // `port security <p> limit` carries over
    if (p.bridge == bridge && p.mac_limit != 0) fresh->set_port_limit(p.id, p.mac_limit);
  std::vector<FdbEntry> dyn;
  it->second.fdb->for_each([&](const FdbEntry& e) {
    std::uint64_t key = fdb_key(e.vlan, e.mac.to_u64());
    if (e.is_static) {
      fresh->add_static(key, e.port, e.last_seen);
    } else {
      dyn.push_back(e);
    }
  });
  std::sort(dyn.begin(), dyn.end(),
            [](const FdbEntry& a, const FdbEntry& b) { return a.last_seen > b.last_seen; });
  for (const auto& e : dyn) {
    if (fresh->size() >= limit) break;
    fresh->learn(fdb_key(e.vlan, e.mac.to_u64()), e.port, e.last_seen);
  }
  drain_learning();  // requests naming the old table are applied to it before it is retired
  it->second.fdb = std::move(fresh);
  it->second.fdb_limit = limit;
  rebuild();
  return Reply::okay();
}

Reply Switch::nuke() {
  std::vector<std::string> names;
  for (auto& [n, b] : bridges_) names.push_back(n);
  for (auto& n : names) destroy_bridge(n);
  aliases_.clear();
  return ensure_bridge(opts_.default_bridge);
}

// ------------------------------------------------------------------ ports

Reply Switch::add_port(PortModel pm) {
  if (ports_.count(pm.name)) return Reply::error("port " + pm.name + " already exists");
  auto id = alloc_id();
  if (!id) return Reply::error("too many ports (limit " + std::to_string(kMaxPorts) + ")");
  // The least loaded worker polls the new port (an AF_XDP port joins that worker's UMEM).
  std::vector<unsigned> load(dp_.workers(), 0);
  for (auto& [n, other] : ports_) ++load[other.worker];
  pm.worker = static_cast<unsigned>(std::min_element(load.begin(), load.end()) - load.begin());
  try {
    pm.port =
        opts_.make_port(PortSpec{pm.name, pm.kind, pm.driver, pm.tunnel, pm.devargs, pm.worker});
  } catch (const std::exception& e) {
    used_[*id] = false;
    return Reply::error(e.what());
  }
  pm.id = *id;
  pm.base = PortTotals{};
  pm.base = totals(pm);  // counters left over from an earlier owner of this id
  watch_qdisc(pm);       // a qdisc already on the device shapes its first frame
  std::string name = pm.name;
  ports_[name] = std::move(pm);
  rebuild();
  return Reply::okay();
}

void Switch::remove_port_model(const std::string& name) {
  auto it = ports_.find(name);
  if (it == ports_.end()) return;
  PortModel& p = it->second;
  stop_child(p.dhcp_pid);
  release_qos(p);
  auto b = bridges_.find(p.bridge);
  if (b != bridges_.end()) {
    b->second.fdb->flush(p.id, 0xffffffff, /*include_static=*/true);
    b->second.fdb->set_port_limit(p.id, 0);  // the id's next owner starts without a cap
  }
  used_[p.id] = false;
  learn_target_[p.id] = nullptr;
  released_[name] = std::chrono::steady_clock::now();
  ports_.erase(it);
  // The Port object (and its device) goes away when the last snapshot naming it is reclaimed.
}

Reply Switch::tap_create(const std::string& bridge, VlanId vlan, const std::string& alias,
                         std::string name, const std::string& ip) {
  if (vlan != kNewAliasVlan && !valid_vlan_id(vlan))
    return Reply::error(vlan_id_error(std::to_string(vlan)));
  if (!name.empty())
    if (auto e = check_ifname("tap name", name); !e.empty()) return Reply::error(e);
  if (!name.empty() && (ports_.count(name) || bridges_.count(name)))
    return Reply::error("tap " + name + " already exists");
  if (!name.empty() && !host_name_free(name))
    return Reply::error("interface " + name + " already exists on this host");
  if (!ip.empty() && ip != "dhcp") {
    std::string e = validate_cidr(ip);
    if (!e.empty()) return Reply::error(e);
  }
  bool new_alias = vlan == kNewAliasVlan;
  if (new_alias) {
    auto v = resolve_alias(alias, /*allocate=*/true);
    if (!v) return Reply::error("no free VLAN left for alias " + alias);
    vlan = *v;
  }
  auto undo_alias = [&] {
    if (new_alias) aliases_.erase(alias);
  };
  bool new_bridge = !bridges_.count(bridge);
  if (new_bridge) {
    Reply r = ensure_bridge(bridge);
    if (!r.ok) {
      undo_alias();
      return r;
    }
  }
  if (name.empty()) name = next_tap_name();
  if (std::string e = check_ifname("tap name", name); !e.empty()) {  // a long --tap-prefix
    if (new_bridge) destroy_bridge(bridge);
    undo_alias();
    return Reply::error(e);
  }
  PortModel pm;
  pm.name = name;
  pm.kind = PortKind::kTap;
  pm.bridge = bridge;
  pm.mode = VlanMode::kAccess;
  pm.vlan = vlan;
  pm.vlan_alias = alias;
  pm.ip = ip;
  Reply r = add_port(std::move(pm));
  if (r.ok && !ip.empty() && opts_.bridge_interface) {
    std::string err;
    if (ip == "dhcp") {
      pid_t pid = start_dhcp_client(name, err);
      if (pid > 0) ports_[name].dhcp_pid = pid;
    } else {
      err = assign_address(name, ip);
    }
    if (!err.empty()) {
      remove_port_model(name);
      rebuild();
      r = Reply::error(err);
    }
  }
  if (!r.ok) {
    if (new_bridge) destroy_bridge(bridge);
    undo_alias();
    return r;
  }
  syslog(LOG_INFO, "tap %s created on %s vlan %u", name.c_str(), bridge.c_str(), vlan);
  return Reply::okay(name, nlohmann::json{{"tap", name}, {"bridge", bridge}, {"vlan", vlan}});
}

Reply Switch::tap_delete(const std::string& name) {
  if (name == "all") {
    std::vector<std::string> taps;
    for (auto& [n, p] : ports_)
      if (p.kind == PortKind::kTap) taps.push_back(n);
    for (auto& n : taps) remove_port_model(n);
    rebuild();
    return Reply::okay();
  }
  std::string target = name;
  auto it = ports_.find(target);
  // minimega also deletes "by number": `tap delete 2` is <prefix>2.
  if (it == ports_.end() && !name.empty() &&
      name.find_first_not_of("0123456789") == std::string::npos) {
    target = opts_.tap_prefix + name;
    it = ports_.find(target);
  }
  if (it == ports_.end() || it->second.kind != PortKind::kTap)
    return Reply::error("no such tap: " + name);
  remove_port_model(target);
  rebuild();
  return Reply::okay();
}

Reply Switch::port_add(const std::string& dev, const std::string& bridge, VlanMode mode,
                       VlanId vlan, const VlanSet& allowed, VlanId native,
                       const std::string& driver) {
  // DPDK ports are named after the device (PCI address or vdev name before its arguments).
  const bool dpdk = driver == "dpdk";
  const std::string iface = dpdk ? DpdkPort::device_name(dev) : dev;
  if (dpdk && iface.empty())
    return Reply::error("invalid DPDK device '" + dev +
                        "': want a PCI address (0000:03:00.0) or a vdev string (net_pcap0,iface=veth1)");
  if (!dpdk)
    if (auto e = check_ifname("interface name", iface); !e.empty()) return Reply::error(e);
  if (ports_.count(iface)) return Reply::error("port " + iface + " already exists");
  if (bridges_.count(iface)) return Reply::error(iface + " is a bridge");
  if (mode != VlanMode::kTrunk && !valid_vlan_id(vlan))
    return Reply::error(vlan_id_error(std::to_string(vlan)));
  if (mode == VlanMode::kTrunk && !valid_vlan_id(native))
    return Reply::error(vlan_id_error(std::to_string(native), "native vlan"));
  if (!driver.empty() && driver != "afxdp" && driver != "afpacket" && !dpdk)
    return Reply::error("unknown driver '" + driver + "': want afxdp, afpacket or dpdk");
  // The loopback device, a kernel bridge's port, a bond slave... (control/netdev.hpp).
  if (!dpdk)
    if (std::string why = attach_refusal(iface); !why.empty()) return Reply::error(why);
  bool new_bridge = !bridges_.count(bridge);
  if (new_bridge) {
    Reply r = ensure_bridge(bridge);
    if (!r.ok) return r;
  }
  PortModel pm;
  pm.name = iface;
  pm.kind = PortKind::kSystem;
  pm.bridge = bridge;
  pm.mode = mode;
  pm.vlan = mode != VlanMode::kTrunk ? vlan : 0;
  pm.native = native;
  if (mode == VlanMode::kTrunk) {
    auto set = std::make_shared<VlanSet>(allowed);
    set->set(native);
    pm.allowed = std::move(set);
  }
  if (dpdk) pm.devargs = dev;
  std::string note;
  pm.driver = driver.empty() ? "afxdp" : driver;
  Reply r = add_port(pm);
  if (!r.ok && driver.empty()) {
    // AF_XDP unavailable (old kernel, no permission, driver refuses): fall back, and say so.
    note = "AF_XDP unavailable on " + iface + " (" + r.text + "); using afpacket";
    pm.driver = "afpacket";
    r = add_port(pm);
  }
  if (!r.ok) {
    if (new_bridge) destroy_bridge(bridge);
    return r;
  }
  if (!note.empty()) syslog(LOG_WARNING, "%s", note.c_str());
  syslog(LOG_INFO, "port %s attached to %s with %s", iface.c_str(), bridge.c_str(),
         pm.driver.c_str());
  return Reply::okay(
      note,
      nlohmann::json{{"port", iface}, {"bridge", bridge}, {"driver", pm.driver}, {"note", note}});
}

Reply Switch::bridge_trunk(const std::string& bridge, const std::string& iface) {
  if (!bridges_.count(bridge)) return Reply::error("no such bridge: " + bridge);
  VlanSet all;
  all.set();
  return port_add(iface, bridge, VlanMode::kTrunk, 0, all, 0, "");
}

Reply Switch::bridge_notrunk(const std::string& bridge, const std::string& iface) {
  auto it = ports_.find(iface);
  if (it == ports_.end() || it->second.bridge != bridge || it->second.kind != PortKind::kSystem ||
      it->second.mode != VlanMode::kTrunk)
    return Reply::error("no trunk " + iface + " on bridge " + bridge);
  remove_port_model(iface);
  rebuild();
  return Reply::okay();
}

Reply Switch::bridge_tunnel(TunnelType type, const std::string& bridge, const std::string& remote,
                            std::optional<std::uint32_t> key, const std::string& want_name) {
  const char* tname = type == TunnelType::kVxlan ? "vxlan" : "gre";
  if (!bridges_.count(bridge)) return Reply::error("no such bridge: " + bridge);
  in_addr a{};
  if (inet_pton(AF_INET, remote.c_str(), &a) != 1)
    return Reply::error("invalid remote ip '" + remote + "': want an IPv4 address");
  const std::uint32_t h = ntohl(a.s_addr);
  if (h == 0 || h == 0xffffffffu || (h >> 24) == 127 || (h >> 28) == 0xe)
    return Reply::error("invalid remote ip " + remote + ": want a unicast address of another host");
  if (type == TunnelType::kVxlan && key && *key > kVxlanMaxVni)
    return Reply::error("invalid vxlan key " + std::to_string(*key) + ": the VNI is 0-16777215");
  TunnelKey t;
  t.type = type;
  t.remote = a.s_addr;
  t.key = key.value_or(0);
  t.has_key = type == TunnelType::kVxlan || key.has_value();
  for (auto& [n, p] : ports_) {
    if (p.kind == PortKind::kTunnel && p.tunnel.type == t.type && p.tunnel.remote == t.remote &&
        p.tunnel.has_key == t.has_key && p.tunnel.key == t.key)
      return Reply::error(std::string(tname) + " tunnel to " + tunnel_peer(t) +
                          " already exists: " + n + " on bridge " + p.bridge);
  }
  if (!want_name.empty() && (ports_.count(want_name) || bridges_.count(want_name)))
    return Reply::error("port " + want_name + " already exists");
  PortModel pm;
  pm.name = want_name.empty() ? next_tap_name() : want_name;
  if (auto e = check_ifname("tunnel name", pm.name); !e.empty()) return Reply::error(e);
  pm.kind = PortKind::kTunnel;
  pm.bridge = bridge;
  pm.mode = VlanMode::kTrunk;
  pm.native = 0;
  pm.allowed = all_vlans();
  pm.driver = tname;
  pm.tunnel = t;
  std::string name = pm.name;
  Reply r = add_port(std::move(pm));
  if (!r.ok) return r;
  syslog(LOG_INFO, "%s tunnel %s on %s to %s", tname, name.c_str(), bridge.c_str(),
         tunnel_peer(t).c_str());
  return Reply::okay(name, nlohmann::json{{"tunnel", name},
                                          {"bridge", bridge},
                                          {"type", tname},
                                          {"remote", remote},
                                          {"key", t.key}});
}

Reply Switch::bridge_notunnel(const std::string& bridge, const std::string& iface) {
  auto it = ports_.find(iface);
  if (it == ports_.end() || it->second.bridge != bridge || it->second.kind != PortKind::kTunnel)
    return Reply::error("no tunnel " + iface + " on bridge " + bridge);
  remove_port_model(iface);
  rebuild();
  return Reply::okay();
}

Reply Switch::vhost_create(const std::string& bridge, VlanId vlan, std::string name,
                           const std::string& socket, bool server) {
  if (!valid_vlan_id(vlan)) return Reply::error(vlan_id_error(std::to_string(vlan)));
  if (!name.empty())
    if (auto e = check_ifname("port name", name); !e.empty()) return Reply::error(e);
  if (!name.empty() && (ports_.count(name) || bridges_.count(name)))
    return Reply::error("port " + name + " already exists");
  if (socket.empty() || socket[0] != '/')
    return Reply::error("vhost-user socket must be an absolute path, not '" + socket + "'");
  for (auto& [n, p] : ports_)
    if (p.kind == PortKind::kVhost && p.devargs == socket)
      return Reply::error("socket " + socket + " is already used by vhost port " + n);
  if (name.empty()) {
    for (unsigned i = 0;; ++i) {
      name = "vhost" + std::to_string(i);
      if (!ports_.count(name) && !bridges_.count(name)) break;
    }
  }
  bool new_bridge = !bridges_.count(bridge);
  if (new_bridge) {
    Reply r = ensure_bridge(bridge);
    if (!r.ok) return r;
  }
  PortModel pm;
  pm.name = name;
  pm.kind = PortKind::kVhost;
  pm.bridge = bridge;
  pm.mode = VlanMode::kAccess;
  pm.vlan = vlan;
  pm.driver = server ? "server" : "client";
  pm.devargs = socket;
  Reply r = add_port(std::move(pm));
  if (!r.ok) {
    if (new_bridge) destroy_bridge(bridge);
    return r;
  }
  syslog(LOG_INFO, "vhost %s (%s, socket %s) on %s vlan %u", name.c_str(),
         server ? "server" : "client", socket.c_str(), bridge.c_str(), vlan);
  return Reply::okay(name, nlohmann::json{{"port", name},
                                          {"bridge", bridge},
                                          {"vlan", vlan},
                                          {"socket", socket},
                                          {"mode", server ? "server" : "client"}});
}

Reply Switch::port_vlan(const std::string& name, VlanMode mode, VlanId vlan, const VlanSet& allowed,
                        VlanId native) {
  auto it = ports_.find(name);
  if (it == ports_.end()) return Reply::error("no port named " + name);
  PortModel& p = it->second;
  if (p.kind == PortKind::kInternal)
    return Reply::error(name + " is a bridge's own interface: it is always a trunk of every VLAN");
  if (p.kind == PortKind::kTunnel)
    return Reply::error(name + " is a tunnel: it is always a trunk of every VLAN");
  if (mode != VlanMode::kTrunk && !valid_vlan_id(vlan))
    return Reply::error(vlan_id_error(std::to_string(vlan)));
  if (mode == VlanMode::kTrunk && !valid_vlan_id(native))
    return Reply::error(vlan_id_error(std::to_string(native), "native vlan"));
  std::shared_ptr<const VlanSet> set;
  if (mode == VlanMode::kTrunk) {
    auto s = std::make_shared<VlanSet>(allowed);
    s->set(native);
    set = std::move(s);
  }
  const bool same =
      p.mode == mode &&
      (mode == VlanMode::kTrunk ? p.native == native && *p.allowed == *set : p.vlan == vlan);
  if (same) return Reply::okay();
  p.mode = mode;
  p.vlan = mode != VlanMode::kTrunk ? vlan : 0;
  p.native = mode == VlanMode::kTrunk ? native : 0;
  p.allowed = std::move(set);
  // A minimega alias names the tap's old VLAN; the new one has no alias.
  if (mode == VlanMode::kTrunk ||
      vlan != resolve_alias(p.vlan_alias, false).value_or(kNewAliasVlan))
    p.vlan_alias.clear();
  // What the port learned belongs to its old VLANs; static entries stay for the VLANs it
  // still carries.
  MacTable& fdb = *bridges_.at(p.bridge).fdb;
  fdb.flush(p.id, 0xffffffff, /*include_static=*/false);
  const bool trunk = mode == VlanMode::kTrunk;
  std::vector<std::uint64_t> stale;
  fdb.for_each([&](const FdbEntry& e) {
    if (e.port == p.id && e.is_static && !(trunk ? p.allowed->test(e.vlan) : e.vlan == vlan))
      stale.push_back(fdb_key(e.vlan, e.mac.to_u64()));
  });
  for (std::uint64_t k : stale) fdb.remove(k);
  rebuild();
  syslog(LOG_INFO, "port %s: vlan mode %s %s", name.c_str(),
         std::string(vlan_mode_name(mode)).c_str(),
         mode == VlanMode::kTrunk
             ? (format_vlan_list(*p.allowed) + " native " + std::to_string(native)).c_str()
             : std::to_string(vlan).c_str());
  return Reply::okay(
      "", nlohmann::json{{"port", name}, {"mode", vlan_mode_name(mode)}, {"vlan", p.vlan}});
}

Reply Switch::port_delete(const std::string& name) {
  auto it = ports_.find(name);
  if (it == ports_.end()) return Reply::error("no port named " + name);
  if (it->second.kind == PortKind::kInternal)
    return Reply::error(name + " is a bridge's own interface: use bridge destroy");
  remove_port_model(name);
  rebuild();
  return Reply::okay();
}

// ------------------------------------------------------------------ security and limits

Reply Switch::security_bind(const std::string& port, const MacAddr& mac,
                            const std::vector<Ipv4>& v4, const std::vector<Ipv6>& v6) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no port named " + port);
  if (mac.is_multicast() || mac.is_zero())
    return Reply::error("a binding needs a unicast MAC, not " + mac.str());
  auto sec =
      std::make_shared<PortSecurity>(it->second.security ? *it->second.security : PortSecurity{});
  auto& bs = sec->bindings;
  bs.erase(
      std::remove_if(bs.begin(), bs.end(), [&](const SecurityBinding& b) { return b.mac == mac; }),
      bs.end());
  if (bs.size() >= 64) return Reply::error("port " + port + " has the maximum of 64 bindings");
  bs.push_back(SecurityBinding{mac, v4, v6});
  it->second.security = std::move(sec);
  // Forget what the port learned before: it may have been spoofed.
  bridges_.at(it->second.bridge).fdb->flush(it->second.id);
  rebuild();
  return Reply::okay();
}

Reply Switch::security_off(const std::string& port) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no port named " + port);
  it->second.security.reset();
  rebuild();
  return Reply::okay();
}

Reply Switch::security_limit(const std::string& port, std::uint32_t limit) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no port named " + port);
  it->second.mac_limit = limit;
  bridges_.at(it->second.bridge).fdb->set_port_limit(it->second.id, limit);
  return Reply::okay();
}

Reply Switch::set_flood(const std::string& port, bool on) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no port named " + port);
  it->second.flood_unknown = on;
  rebuild();
  return Reply::okay();
}

Reply Switch::set_storm(const std::string& port, std::uint32_t pps) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no port named " + port);
  it->second.storm_pps = pps;
  rebuild();
  return Reply::okay();
}

Reply Switch::fdb_add(const std::string& bridge, VlanId vlan, const MacAddr& mac,
                      const std::string& port) {
  auto b = bridges_.find(bridge);
  if (b == bridges_.end()) return Reply::error("no such bridge: " + bridge);
  if (!valid_vlan_id(vlan)) return Reply::error(vlan_id_error(std::to_string(vlan)));
  if (mac.is_multicast() || mac.is_zero())
    return Reply::error("fdb entries need a unicast MAC, not " + mac.str());
  auto p = ports_.find(port);
  if (p == ports_.end() || p->second.bridge != bridge)
    return Reply::error("no port named " + port + " on bridge " + bridge);
  if (!b->second.fdb->add_static(fdb_key(vlan, mac.to_u64()), p->second.id, now_))
    return Reply::error("fdb of " + bridge + " is full of static entries");
  return Reply::okay();
}

Reply Switch::fdb_del(const std::string& bridge, VlanId vlan, const MacAddr& mac) {
  auto b = bridges_.find(bridge);
  if (b == bridges_.end()) return Reply::error("no such bridge: " + bridge);
  if (!valid_vlan_id(vlan)) return Reply::error(vlan_id_error(std::to_string(vlan)));
  if (!b->second.fdb->remove(fdb_key(vlan, mac.to_u64())))
    return Reply::error("no fdb entry for " + mac.str() + " vlan " + std::to_string(vlan) + " on " +
                        bridge);
  return Reply::okay();
}

Reply Switch::fdb_flush(const std::string& bridge, const std::string& port,
                        std::optional<VlanId> vlan) {
  if (!bridge.empty() && !bridges_.count(bridge))
    return Reply::error("no such bridge: " + bridge);
  if (vlan && !valid_vlan_id(*vlan)) return Reply::error(vlan_id_error(std::to_string(*vlan)));
  PortId pid = kInvalidPort;
  if (!port.empty()) {
    auto p = ports_.find(port);
    if (p == ports_.end() || (!bridge.empty() && p->second.bridge != bridge))
      return Reply::error("no port named " + port);
    pid = p->second.id;
  }
  std::size_t n = 0;
  for (auto& [name, b] : bridges_) {
    if (!bridge.empty() && name != bridge) continue;
    if (pid != kInvalidPort && ports_.at(port).bridge != name) continue;
    n += b.fdb->flush(pid, vlan ? *vlan : 0xffffffff);
  }
  return Reply::okay("flushed " + std::to_string(n) + " entries", nlohmann::json{{"flushed", n}});
}

// ------------------------------------------------------------------ listings


void Switch::drain_learning() {
  for (unsigned w = 0; w < dp_.workers(); ++w) {
    dp_.context(w).learn.consume_all([&](const LearnRequest& r) {
      // Apply only to the live table of the port's bridge (not a retired one, not hub mode).
      if (r.port >= kMaxPorts || learn_target_[r.port] != r.table) return;
      r.table->learn(r.key, r.port, now_);
      ++learn_applied_;
    });
  }
}

std::string Switch::port_name(PortId id) const {
  for (auto& [n, p] : ports_)
    if (p.id == id) return n;
  return "-";
}

// One line per refused frame, in the spirit of the seed's netfilter log lines:
//   DENY sec_arp PHYSIN=vk63 PHYSOUT=- MAC=dst:src:type SRC=... DST=... LEN=...
// At most 20 lines per second; the number suppressed is reported in the next second.
void Switch::drain_events() {
  for (unsigned w = 0; w < dp_.workers(); ++w) {
    dp_.context(w).events.consume_all([&](const DropEvent& ev) {
      if (log_second_ != now_) {
        if (log_suppressed_ != 0)
          syslog(LOG_WARNING, "DENY: %llu more refused frames not logged",
                 static_cast<unsigned long long>(log_suppressed_));
        log_second_ = now_;
        logged_this_second_ = 0;
        log_suppressed_ = 0;
      }
      if (logged_this_second_ >= 20) {
        ++log_suppressed_;
        return;
      }
      ++logged_this_second_;
      ++denies_logged_;
      const std::uint8_t* h = ev.head;
      char mac[64];
      std::snprintf(mac, sizeof(mac), "%s:%s:%02x:%02x", MacAddr::from_bytes(h).str().c_str(),
                    MacAddr::from_bytes(h + 6).str().c_str(), h[12], h[13]);
      std::uint16_t et = static_cast<std::uint16_t>((h[12] << 8) | h[13]);
      std::string l3;
      if (et == ethertype::kIpv4 && ev.len >= 34) {
        l3 = " SRC=" + ip4_str(h + 26) + " DST=" + ip4_str(h + 30) +
             " PROTO=" + std::to_string(h[23]);
      } else if (et == ethertype::kArp && ev.len >= 42) {
        l3 = " ARP OP=" + std::to_string(h[21]) + " SHA=" + MacAddr::from_bytes(h + 22).str() +
             " SPA=" + ip4_str(h + 28) + " TPA=" + ip4_str(h + 38);
      } else if (et == ethertype::kIpv6 && ev.len >= 54) {
        l3 = " SRC=" + ip6_str(h + 22) + " DST=" + ip6_str(h + 38) + " NH=" + std::to_string(h[20]);
      }
      std::string out = ev.out_port == kInvalidPort ? "-" : port_name(ev.out_port);
      syslog(LOG_WARNING, "DENY %s PHYSIN=%s PHYSOUT=%s MAC=%s%s LEN=%u",
             std::string(kDropNames[static_cast<std::size_t>(ev.reason)]).c_str(),
             port_name(ev.in_port).c_str(), out.c_str(), mac, l3.c_str(), ev.len);
    });
  }
}

// A device's MTU may change while brisk holds it (`ip link set dev X mtu 9000`): re-read once a
// second, so `port` shows it and the transmit path limits frames by it (datapath/port.hpp).
void Switch::refresh_mtus() {
  for (auto& [name, p] : ports_) {
    if (!p.port || p.port->ifindex() <= 0) continue;
    const std::uint32_t mtu = p.port->read_mtu();
    if (mtu != 0) p.port->set_mtu(mtu);
  }
}

bool Switch::tick(std::uint32_t now) {
  now_ = now;
  dp_.set_clock(now);
  const std::uint64_t seen_before = learn_applied_ + denies_logged_ + log_suppressed_;
  drain_learning();
  drain_events();
  const bool worked = learn_applied_ + denies_logged_ + log_suppressed_ != seen_before;
  if (now != last_aged_) {
    last_aged_ = now;
    for (auto& [name, b] : bridges_)
      if (b.ageing != 0) b.fdb->age(now, b.ageing);
    refresh_qdiscs();
    if (fp_) fp_->refresh_egress();
    refresh_mtus();
  }
  // Ports whose device vanished.
  std::vector<std::string> gone;
  for (auto& [name, p] : ports_)
    if (p.port->failed()) gone.push_back(name);
  for (auto& name : gone) {
    syslog(LOG_WARNING, "port %s: device vanished (%s); removing it", name.c_str(),
           std::strerror(ports_[name].port->error()));
    bool internal = ports_[name].kind == PortKind::kInternal;
    std::string bridge = ports_[name].bridge;
    remove_port_model(name);
    if (internal) bridges_[bridge].self_port.clear();
  }
  if (!gone.empty()) rebuild();
  for (auto& [name, p] : ports_) {
    if (p.dhcp_pid > 0 && ::waitpid(p.dhcp_pid, nullptr, WNOHANG) == p.dhcp_pid) {
      syslog(LOG_WARNING, "dhclient on %s exited", name.c_str());
      p.dhcp_pid = 0;
    }
  }
  dp_.snapshots().reclaim([this] { drain_learning(); });
  if (!closing_.empty() && dp_.snapshots().pending() == 0) finish_closing();
  return worked || dp_.snapshots().pending() > 0 || !closing_.empty();
}

}  // namespace brisk
