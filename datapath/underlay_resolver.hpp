// resolve_underlay(): how the host would send an IPv4 packet to a tunnel's remote, read from
// the kernel's tables over rtnetlink, for the XDP fast path's encapsulation (the outer
// headers of brisk_fp_tunnel, bpf/brisk_xdp_abi.h) and for choosing the device whose XDP
// program decapsulates (datapath/xdp_fastpath.hpp, "Tunnels").
//
//   route      RTM_GETROUTE for the remote (the kernel's own lookup, policy rules included):
//              output device (RTA_OIF), gateway (RTA_GATEWAY, else the remote is on-link),
//              preferred source (RTA_PREFSRC) and the route's MTU (RTAX_MTU), else the
//              device's; only a unicast route through an Ethernet device counts;
//   neighbour  RTM_GETNEIGH of the next hop on that device: its MAC when the entry is usable
//              (REACHABLE, STALE, DELAY, PROBE, PERMANENT); anything else (INCOMPLETE, FAILED,
//              no entry) leaves the path unresolved, and the tunnel's frames go through its
//              kernel socket, which makes the kernel resolve the neighbour (ARP).
//
// Why netlink and not bpf_fib_lookup() in the program: the helper answers only for a device
// with IP forwarding enabled (BPF_FIB_LKUP_RET_FWD_DISABLED otherwise, net/core/filter.c),
// which a tunnel end host need not have, and it costs a route and neighbour lookup per frame.
// The price is staleness: XdpFastpath re-resolves every tunnel once a second (the control
// thread's tick), so a changed route or neighbour MAC takes up to a second to reach the fast
// path.
//
// Threads: any thread; each call opens its own netlink socket. Never throws.
#pragma once

#include <cstdint>
#include <string>

namespace brisk {

struct UnderlayPath {
  bool route = false;      // a unicast route through an Ethernet device: ifindex..mtu are set
  bool neighbour = false;  // the next hop's MAC is known: dmac is set
  int ifindex = 0;
  std::uint32_t saddr = 0;    // network order
  std::uint32_t nexthop = 0;  // network order: the gateway, or the remote itself
  std::uint32_t mtu = 0;
  std::uint8_t smac[6] = {};
  std::uint8_t dmac[6] = {};
  std::string why;  // when not resolved: what is missing (for `port` and the log)
  bool resolved() const { return route && neighbour; }
};

// `remote`: IPv4 address, network order.
UnderlayPath resolve_underlay(std::uint32_t remote) noexcept;

}  // namespace brisk
