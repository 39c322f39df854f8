// Switch: a port's rate limits (control/qos.hpp has what they mean and how they are realised).
// Inbound policing and a userspace outbound limit are Policers named by the port's PortConf
// (a new Policer for every new rate, published with the snapshot; datapath/policer.hpp has the
// threading contract), and keep the port off the XDP fast path (fastpath_eligible()). An htb
// brisk installs is a qdisc on the port's device like any other: switch_qdisc.cpp sends the
// port's output through it and keeps the fast path's redirects away from the device.
// Control thread only, like all of Switch.
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <syslog.h>

#include "control/switch.hpp"

namespace brisk {

namespace {

// Limits beyond 1 Tbit/s are typing errors, not configurations.
constexpr std::uint64_t kMaxKbit = 1'000'000'000ull;
constexpr std::uint64_t kMaxBit = kMaxKbit * 1000;

// A system port whose device's qdiscs brisk can use (AF_XDP and AF_PACKET, not DPDK).
bool has_qdisc_device(const PortModel& p) {
  return p.kind == PortKind::kSystem && p.port && p.port->info().qdisc != QdiscPath::kNone;
}

// The root qdisc of `dev` is the htb brisk installs (handle 1:).
bool root_is_brisk_htb(const std::string& dev) {
  const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  const auto all = installed_qdiscs();
  if (ifindex == 0 || !all) return false;
  auto it = all->find(ifindex);
  return it != all->end() && it->second.kind == "htb" && it->second.handle == kQosHtbHandle &&
         it->second.parent == TC_H_ROOT;
}

std::string rate_text(std::uint64_t bit) { return std::to_string(bit) + " bit/s"; }

// Take brisk's htb off the device (when it is still there and still brisk's).
void remove_htb(PortQos& q, const std::string& port) {
  if (q.via != PortQos::Via::kHtb) return;
  if (!root_is_brisk_htb(q.htb_dev)) {
    syslog(LOG_INFO, "port %s: the root qdisc of %s is no longer brisk's htb: left alone",
           port.c_str(), q.htb_dev.c_str());
  } else if (std::string e = remove_root_qdisc(q.htb_dev); !e.empty()) {
    syslog(LOG_WARNING, "port %s: removing brisk's htb from %s: %s", port.c_str(),
           q.htb_dev.c_str(), e.c_str());
  } else {
    syslog(LOG_INFO, "port %s: brisk's htb removed from %s", port.c_str(), q.htb_dev.c_str());
  }
  q.htb_dev.clear();
}

}  // namespace

Reply Switch::port_police(const std::string& port, std::uint64_t rate_kbit,
                          std::uint64_t burst_kbit) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no such port: " + port);
  if (rate_kbit > kMaxKbit || burst_kbit > kMaxKbit)
    return Reply::error("policing rate and burst are at most " + std::to_string(kMaxKbit) +
                        " kbit(/s)");
  PortQos& q = it->second.qos;
  if (rate_kbit == 0) burst_kbit = 0;
  if (q.police_kbit == rate_kbit && q.police_burst_kbit == burst_kbit) return Reply::okay();
  q.police_kbit = rate_kbit;
  q.police_burst_kbit = burst_kbit;
  q.police_in = rate_kbit == 0 ? nullptr : make_ingress_policer(rate_kbit, burst_kbit);
  rebuild();
  if (rate_kbit == 0)
    syslog(LOG_INFO, "port %s: ingress policing off", port.c_str());
  else
    syslog(LOG_INFO, "port %s: ingress policed at %llu kbit/s, burst %llu kbit", port.c_str(),
           static_cast<unsigned long long>(rate_kbit), static_cast<unsigned long long>(burst_kbit));
  return Reply::okay();
}

Reply Switch::port_egress_qos(const std::string& port, const EgressQos& want) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return Reply::error("no such port: " + port);
  if (want.max_rate > kMaxBit || want.min_rate > kMaxBit || want.burst > kMaxBit)
    return Reply::error("QoS rates and burst are at most " + std::to_string(kMaxBit) + " bit(/s)");
  PortModel& p = it->second;
  PortQos& q = p.qos;
  const bool device = has_qdisc_device(p);
  if (q.egress == want && (want.max_rate == 0) == (q.via == PortQos::Via::kNone)) {
    if (want.max_rate == 0) return Reply::okay();
    return Reply::okay(q.via == PortQos::Via::kHtb ? "htb on " + q.htb_dev : "userspace");
  }
  // A qdisc someone else installed is theirs: brisk neither replaces nor removes it.
  if (want.max_rate != 0 && device && q.via != PortQos::Via::kHtb && p.qdisc.present() &&
      !root_is_brisk_htb(p.name))
    return Reply::error("device " + p.name + " has a qdisc brisk did not install (" + p.qdisc.kind +
                        " " + p.qdisc.handle_text() + "): outbound QoS not applied");
  const bool had_htb = q.via == PortQos::Via::kHtb;
  if (had_htb && (want.max_rate == 0 || !device)) remove_htb(q, port);
  q.egress = want;
  q.limit_out.reset();
  q.note.clear();
  q.via = PortQos::Via::kNone;
  if (want.max_rate != 0 && device) {
    if (std::string e = install_htb(p.name, want); e.empty()) {
      q.via = PortQos::Via::kHtb;
      q.htb_dev = p.name;
    } else {
      q.note = e;
      syslog(LOG_WARNING, "port %s: cannot install htb (%s): limited in userspace", port.c_str(),
             e.c_str());
    }
  }
  if (want.max_rate != 0 && q.via == PortQos::Via::kNone) {
    q.via = PortQos::Via::kUserspace;
    q.limit_out = make_egress_limiter(want);
    if (had_htb) remove_htb(q, port);
  }
  rebuild();
  if (device) refresh_qdiscs();  // the port's output through brisk's htb (or not) at once
  if (want.max_rate == 0) {
    syslog(LOG_INFO, "port %s: outbound QoS off", port.c_str());
    return Reply::okay();
  }
  const std::string how = q.via == PortQos::Via::kHtb
                              ? "htb on " + q.htb_dev
                              : "userspace" + (q.note.empty() ? "" : " (" + q.note + ")");
  syslog(LOG_INFO, "port %s: outbound limited to %s (%s)", port.c_str(),
         rate_text(want.max_rate).c_str(), how.c_str());
  return Reply::okay(how);
}

void Switch::release_qos(PortModel& p) { remove_htb(p.qos, p.name); }

}  // namespace brisk
