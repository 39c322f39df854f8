// Host-side configuration of brisk's own interfaces: addresses and DHCP clients.
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

}  // namespace brisk
