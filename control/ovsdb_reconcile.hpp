// OvsdbReconciler: brings brisk's model to what the Open vSwitch database says, playing
// ovs-vswitchd's part, through the Switch's verbs (the validation of the native commands).
//
// What the rows mean (ovs-vswitchd.conf.db(5); docs/operations.md lists it for users):
//   Bridge            a brisk bridge of that name (its own interface: the Port/Interface
//                     row named like the bridge, type internal). other_config:mac-aging-time
//                     (seconds, 0: hub) and mac-table-size set its ageing and FDB limit.
//   Port + Interface  one brisk port named by the Interface row. A Port with more than one
//                     Interface (a bond) is not realised.
//     type "" / system / afxdp   an existing device attached as a system port
//     internal / tap             a brisk host tap, created with the row's name
//     vxlan / gre                a tunnel port named by the row: options:remote_ip (IPv4),
//                                options:key (a number; VXLAN sends its low 24 bits, as OVS)
//     dpdkvhostuserclient        a vhost-user port; brisk connects to options:vhost-server-path
//     dpdkvhostuser              a vhost-user port; brisk serves <vhost-sock-dir>/<name>
//                                (Open_vSwitch other_config:vhost-sock-dir, relative to
//                                kOvsRundir, as OVS)
//     anything else              not realised
//   Port tag/trunks/vlan_mode     access (tag), trunk (trunks, empty: all), native-untagged
//                                (tag is the native VLAN), dot1q-tunnel (tag: the service
//                                VLAN); no vlan_mode: access with a tag, else trunk. Cleared
//                                columns go back to these defaults. native-tagged, cvlans
//                                and other_config:qinq-ethtype other than 802.1q are not
//                                realised. Tunnels carry every VLAN and take no VLAN columns.
//   Interface ingress_policing_rate (kbit/s) / ingress_policing_burst (kbit; 0: 8000)
//                     brisk polices what it receives from the port (control/qos.hpp).
//   Port qos          a QoS row of type linux-htb: what brisk sends to the port is limited to
//                     the smaller of QoS other_config:max-rate and Queue 0's max-rate (bit/s),
//                     with Queue 0's min-rate and burst (control/qos.hpp: an htb on a system
//                     port's device, else a userspace limit). No max-rate: no limit (OVS's
//                     is the link's speed). Another type is not realised (Interface error;
//                     the port works). Interface status:qos says how it is realised.
//   Mirror            a brisk port mirror: select_all, or select_src_port = select_dst_port =
//                     one port (brisk mirrors a port's frames in both directions), to
//                     output_port; select_vlan: only frames of those VLANs. output_vlan is
//                     not realised.
// A row that cannot be realised changes nothing in brisk (never half made), gets an error
// (Interface `error`; a Mirror's error goes to its Bridge's `status` as
// "mirror <name>": "<error>"), and one log line each time the error changes. Rows in error
// are tried again on every reconcile (at least once a second): a system port whose device is
// missing keeps its row and comes back when the device appears.
//
// Ownership: what the reconciler creates is marked Owner::kOvsdb in the Switch (the state file
// leaves it out) and removed when its row goes. Objects of the same name made by native
// commands are not taken over: such a row gets an error. An OVSDB row may name a native
// bridge: its ports are added to it, and the bridge stays when the row goes.
//
// Thread-safety: the control thread only (it calls the Switch).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "control/ovsdb_replica.hpp"
#include "control/switch.hpp"

namespace brisk {

// Open vSwitch's run directory (Debian's build): dpdkvhostuser sockets live under it.
inline constexpr const char* kOvsRundir = "/var/run/openvswitch";

// The realisation of one Interface row.
struct OvsdbIfaceState {
  std::string name;
  // "" when everything the rows say is realised. An error with `realised` set: the port
  // forwards, but not everything its rows ask for is done (VLAN columns on a tunnel, a VLAN
  // change brisk refused, QoS and policing that brisk does not enforce).
  std::string error;
  bool realised = false;  // brisk has the port (ofport valid)
  bool self = false;      // the bridge's own interface (ofport 65534, OFPP_LOCAL)
  std::map<std::string, std::string> status;  // Interface status (qos: how it is realised)
};

class OvsdbReconciler {
 public:
  explicit OvsdbReconciler(Switch& sw) : sw_(sw) {}

  // Bring brisk to `db`. Logs each error once (when it first appears or changes).
  void reconcile(const OvsdbReplica& db);
  // Interface uuid -> its state after the last reconcile (rows of ports on bridges only).
  const std::map<std::string, OvsdbIfaceState>& interfaces() const { return ifaces_; }
  // Bridge uuid -> its status column ("mirror <name>" -> error).
  const std::map<std::string, std::map<std::string, std::string>>& bridge_status() const {
    return bridge_status_;
  }
  // Mirror uuid -> the destination port of the brisk mirror that realises it.
  const std::map<std::string, std::string>& mirrors() const { return mirror_dst_; }
  // Forget what was logged (a new connection logs its errors again).
  void reset_log() { logged_.clear(); }

 private:
  struct Want;        // one Interface row as a brisk port (ovsdb_reconcile.cpp)
  struct WantMirror;  // one Mirror row as a brisk mirror
  void remove_stale(const std::map<std::string, Want>& want,
                    const std::map<std::string, std::string>& bridges);
  void ensure_bridge(const std::string& name, const OvsdbRow& row, std::string& error);
  void realise(const Want& w, OvsdbIfaceState& st);
  std::string create(const Want& w);
  std::string apply_limits(const Want& w, OvsdbIfaceState& st);
  void reconcile_mirrors(const OvsdbReplica& db, const std::map<std::string, std::string>& bridges);
  void note(const std::string& key, const std::string& what, const std::string& error);

  Switch& sw_;
  std::map<std::string, OvsdbIfaceState> ifaces_;
  std::map<std::string, std::map<std::string, std::string>> bridge_status_;
  std::map<std::string, std::string> mirror_dst_;
  std::string sock_dir_ = kOvsRundir;
  // Port name -> the creation parameters it was made with (a change makes it again).
  std::map<std::string, std::string> made_;
  // What was logged, by row: the error last logged.
  std::map<std::string, std::string> logged_;
};

}  // namespace brisk
