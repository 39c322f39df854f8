// Host-side configuration of brisk's own interfaces (addresses, DHCP clients), and what the
// host says about a device before brisk takes it as a port.
#pragma once

#include <sys/types.h>

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

}  // namespace brisk
