// Switch <-> qdiscs on system ports' devices. A qdisc someone installs on the device of a
// system port (tc qdisc replace dev D root tbf ...: minimega's `qos add`, libvirt, an
// operator) shapes what brisk sends to that device, as it shapes what the kernel bridge sends:
//   * AF_PACKET ports always pass it (their sends go through dev_queue_xmit; nothing to do:
//     QdiscPath::kAlways, datapath/port.hpp);
//   * AF_XDP ports send through an AF_PACKET socket while it is there (QdiscPath::kSwitchable,
//     Port::set_tx_via_qdisc), because the XSK's transmit skips the qdisc layer;
//   * the XDP fast path stops redirecting frames to the port (FastpathPortConf::qdisc clears
//     BRISK_FP_OUT: the port shows `xdp-in`) and makes no mirror copies to it in the kernel
//     (FastpathMirror::dst_ifindex 0), since ndo_xdp_xmit skips the qdisc too;
//   * DPDK ports are not looked at: DPDK's drivers own their devices' transmit (kNone).
// What counts as installed, and how the kernel is asked: control/netdev.hpp installed_qdiscs().
// When: watch_qdisc() while a port is attached (before the snapshot that carries it, so its
// first frame already takes the right path), and refresh_qdiscs() once a second from tick(),
// so a `tc qdisc replace/del` while brisk runs takes effect within about a second; removing
// the qdisc puts the port back on the XSK and the fast path. Control thread only (like all of
// Switch); the switch-over of a running port's transmit path is AfXdpPort's contract.
#include <linux/pkt_sched.h>
#include <syslog.h>

#include "control/switch.hpp"

namespace brisk {

namespace {

// The device whose qdisc matters for `p`, or 0 when brisk does not look (not a system port,
// DPDK).
int qdisc_device(const PortModel& p) {
  if (p.kind != PortKind::kSystem || !p.port || p.port->info().qdisc == QdiscPath::kNone) return 0;
  return p.port->ifindex();
}

Qdisc qdisc_of(const std::map<int, Qdisc>& all, int ifindex) {
  auto it = all.find(ifindex);
  return it == all.end() ? Qdisc{} : it->second;
}

}  // namespace

bool Switch::through_qdisc(const PortModel& p) const {
  return p.qdisc.present() && p.port && p.port->info().tx_via_qdisc;
}

// Put the port's output on the path that passes its qdisc (p.qdisc, just changed from `was`),
// or back on the XSK when it has none.
void Switch::set_tx_path(PortModel& p, const Qdisc& was) {
  const Qdisc& q = p.qdisc;
  if (p.port && p.port->info().qdisc == QdiscPath::kSwitchable) {
    const std::string e = p.port->set_tx_via_qdisc(q.present());
    if (!e.empty())
      syslog(LOG_WARNING, "port %s: %s: its output bypasses qdisc %s %s", p.name.c_str(), e.c_str(),
             q.kind.c_str(), q.handle_text().c_str());
  }
  if (q.present())
    syslog(LOG_INFO, "port %s: qdisc %s %s on its device: brisk's output to it %s", p.name.c_str(),
           q.kind.c_str(), q.handle_text().c_str(),
           through_qdisc(p) ? "goes through it" : "cannot go through it");
  else
    syslog(LOG_INFO, "port %s: qdisc %s %s removed from its device", p.name.c_str(),
           was.kind.c_str(), was.handle_text().c_str());
}

void Switch::watch_qdisc(PortModel& p) {
  const int ifindex = qdisc_device(p);
  if (ifindex == 0) return;
  const auto all = installed_qdiscs();
  if (!all) {
    syslog(LOG_WARNING, "port %s: cannot read its device's qdiscs (rtnetlink)", p.name.c_str());
    return;
  }
  const Qdisc was = p.qdisc;
  p.qdisc = qdisc_of(*all, ifindex);
  if (p.qdisc != was) set_tx_path(p, was);
}

void Switch::refresh_qdiscs() {
  bool any = false;
  for (auto& [name, p] : ports_) any = any || qdisc_device(p) != 0;
  if (!any) return;
  const auto all = installed_qdiscs();
  if (!all) return;  // the kernel could not be asked this time: keep what is known
  std::vector<std::pair<PortModel*, Qdisc>> changed;  // with the qdisc it had
  for (auto& [name, p] : ports_) {
    const int ifindex = qdisc_device(p);
    if (ifindex == 0) continue;
    const Qdisc q = qdisc_of(*all, ifindex);
    if (q == p.qdisc) continue;
    changed.emplace_back(&p, p.qdisc);
    p.qdisc = q;
  }
  if (changed.empty()) return;
  // The fast path's view first (redirects to a port with a qdisc stop before its userspace
  // output switches), then the ports' transmit paths.
  sync_fastpath();
  for (auto& [p, was] : changed) set_tx_path(*p, was);
}

}  // namespace brisk
