// A port's rate limits as Open vSwitch's database states them, and the tc hierarchy brisk
// installs for an outbound limit (what ovs-vswitchd does for QoS type linux-htb).
//
//   Inbound (OVS Interface ingress_policing_rate kbit/s, ingress_policing_burst kbit):
//     brisk polices what it receives from the port in userspace (datapath/policer.hpp),
//     before anything else; drops count as `policed` on the port.
//   Outbound (OVS Port qos, type linux-htb: QoS other_config:max-rate, Queue 0's
//     other_config min-rate, max-rate, burst; bit/s and bits): what brisk sends to the port
//     is limited to the smaller max-rate.
//       * a system port (AF_XDP or AF_PACKET) on a device: brisk installs an htb hierarchy
//         on the device as OVS does (root 1:, class 1:fffe at max-rate, default class 1:1
//         with rate min-rate and ceil max-rate), and the port's output passes it
//         (control/switch_qdisc.cpp), also with the XDP fast path on;
//       * every other port (a brisk host tap, whose frames enter the host rather than a
//         qdisc; tunnels; vhost-user; a device whose kernel has no htb): brisk limits its
//         output in userspace with a token bucket at max-rate (drops count as
//         `egress_limit`), `port` shows `userspace`.
//     Queues other than 0 carry nothing: brisk has no flows that pick a queue (set_queue),
//     and traffic without one goes to queue 0 in OVS too.
//
// Thread-safety: control thread only (tc is run as a child process and waited for).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "datapath/policer.hpp"

namespace brisk {

struct EgressQos {
  std::uint64_t max_rate = 0;  // bit/s; 0: no outbound limit
  std::uint64_t min_rate = 0;  // bit/s guaranteed (htb rate); 0 or above max_rate: max_rate
  std::uint64_t burst = 0;     // bits; 0: the default (htb's; userspace: see below)
  friend bool operator==(const EgressQos&, const EgressQos&) = default;
};

// A port's limits and how they are realised (PortModel::qos).
struct PortQos {
  std::uint64_t police_kbit = 0, police_burst_kbit = 0;  // 0: not policed
  std::shared_ptr<Policer> police_in;
  EgressQos egress;
  enum class Via : std::uint8_t { kNone, kHtb, kUserspace } via = Via::kNone;
  std::shared_ptr<Policer> limit_out;  // kUserspace
  std::string htb_dev;                 // kHtb: the device brisk installed its htb on
  std::string note;                    // kUserspace on a device: why not htb
};

// The userspace bucket for an outbound limit: at least 100 ms of the rate and one largest
// frame deep (a shallow bucket starves TCP), deeper when the burst says so.
std::shared_ptr<Policer> make_egress_limiter(const EgressQos& q);
// The bucket for OVS ingress policing (a burst of 0 is OVS's default).
std::shared_ptr<Policer> make_ingress_policer(std::uint64_t kbit, std::uint64_t burst_kbit);

// Install (replace) brisk's htb hierarchy for `q` on device `dev`. "" or tc's error; on an
// error nothing of brisk's is left on the device.
std::string install_htb(const std::string& dev, const EgressQos& q);
// Remove the root qdisc of `dev` (the caller checked that it is brisk's htb). "" or why not.
std::string remove_root_qdisc(const std::string& dev);

// brisk's htb: its root handle (1:, as OVS's).
inline constexpr std::uint32_t kQosHtbHandle = 0x10000;

}  // namespace brisk
