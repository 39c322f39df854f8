// Host-side configuration of brisk's own interfaces (addresses, DHCP clients), and what the
// host says about a device before brisk takes it as a port and while it is one (rtnetlink).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace brisk {

// Parse "a.b.c.d/len" or "x:y::z/len". Returns "" when valid, else the reason.
std::string validate_cidr(const std::string& cidr);
// Assign `cidr` to interface `ifname` in the current namespace and set the link up.
// Returns "" on success, else an error message.
std::string assign_address(const std::string& ifname, const std::string& cidr);
// Start a DHCP client (dhclient, foreground, as our child) on `ifname`. Returns its pid, or
// -1 with `err` set.
// `ifname` must be a valid interface name (control/validate.hpp): it is refused otherwise,
// because ISC dhclient reads a word starting with '-' as an option and has no `--`.
pid_t start_dhcp_client(const std::string& ifname, std::string& err);
void stop_child(pid_t pid);

// Why the existing device `ifname` must not become a port of brisk, or "" when nothing is in
// the way. Asked of the kernel by rtnetlink in briskd's network namespace:
//   * the loopback device (IFF_LOOPBACK): brisk's XDP program would take the host's local
//     traffic (the kernel bridge refuses it too, EINVAL);
//   * a device with a master: a port of a kernel bridge, a bond or team slave, a port of
//     Open vSwitch's kernel datapath (master ovs-system), a VRF member. Its master owns its
//     frames; the reply names the master and its kind.
// A device that does not exist, or a failed query, is not refused here: the port driver then
// says what is wrong.
std::string attach_refusal(const std::string& ifname);

// A queueing discipline on a device's transmit side, as rtnetlink reports it (RTM_NEWQDISC:
// tcmsg's tcm_handle and tcm_parent, the TCA_KIND attribute).
struct Qdisc {
  std::string kind;          // "tbf", "netem", "htb", ...
  std::uint32_t handle = 0;  // major << 16; the kernel's default qdiscs have 0 ("noqueue 0:")
  std::uint32_t parent = 0;  // TC_H_ROOT for a device's root qdisc
  bool present() const { return handle != 0; }
  std::string handle_text() const;  // as tc prints it: "8001:"
  friend bool operator==(const Qdisc&, const Qdisc&) = default;
};

// The qdiscs someone installed (tc qdisc add/replace: minimega's `qos add`, libvirt...) on the
// devices of briskd's network namespace, by ifindex; one RTM_GETQDISC dump. A device is listed
// when a qdisc on its transmit side has a non-zero handle: the kernel gives its own default
// qdiscs (noqueue, pfifo_fast, fq_codel, mq and mq's children) handle 0, and a qdisc created by
// tc gets one (given, or allocated from 8001:). The root qdisc is reported when it is such a
// qdisc, else the first one below a default root (e.g. a tbf under the default mq). Not
// counted: ingress and clsact (parent ffff:fff1: they see received frames) and noqueue (it
// queues nothing). nullopt when the kernel could not be asked.
std::optional<std::map<int, Qdisc>> installed_qdiscs();

}  // namespace brisk
