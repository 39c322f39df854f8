// netdev_stats: counters of the harness's veth devices, for the loss accounting of the mirror
// test (test_mirror.cpp, --mirrors): where a frame the generator offered was dropped when it
// reached neither the sink nor a counted drop of the switch.
//
// ethtool_stats()  the driver's own statistics (SIOCETHTOOL ETHTOOL_GSTRINGS/GSTATS), read
//                  from inside namespace ns ("" = the harness's own). For a veth:
//                    rx_queue_0_drops             frames its XDP program redirected but the
//                                                 target refused (an AF_XDP RX ring or FILL
//                                                 ring without room), or skbs it could not
//                                                 turn into XDP frames
//                    rx_queue_0_xdp_drops         XDP_DROP/XDP_ABORTED verdicts
//                    tx_queue_0_xdp_xmit_errors   XDP frames this device sent (XDP_TX, a
//                                                 redirect) that did not fit into its peer's
//                                                 ring (counted in the peer's queue, reported
//                                                 here)
// sysfs_stat()     /sys/class/net/<dev>/statistics/<name> of a device in the harness's own
//                  namespace. A veth's tx_dropped counts the skbs it could not hand to its
//                  peer (the peer's ring full) plus its XDP frames its peer's ring refused.
// link_stat()      the same counters for a device in any namespace.
//
// Both return 0 for a counter the device does not have (the accounting then shows the frames
// as unaccounted rather than inventing them) and throw when the device cannot be read.
// Main thread only (NetnsScope switches the calling thread's namespace).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace bench {

std::map<std::string, std::uint64_t> ethtool_stats(const std::string& ns, const std::string& dev);
std::uint64_t sysfs_stat(const std::string& dev, const std::string& name);
// A device's stats64 counter dir ("rx"/"tx") name ("dropped", ...) inside namespace ns,
// from `ip -s -j link` (sysfs shows the harness's own namespace only).
std::uint64_t link_stat(const std::string& ns, const std::string& dev, const std::string& dir,
                        const std::string& name);

inline std::uint64_t stat_of(const std::map<std::string, std::uint64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

}  // namespace bench
