#include "datapath/port.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace brisk {

std::string_view port_kind_name(PortKind k) {
  switch (k) {
    case PortKind::kTap:
      return "tap";
    case PortKind::kInternal:
      return "internal";
    case PortKind::kMemory:
      return "memory";
    case PortKind::kSystem:
      return "system";
    case PortKind::kTunnel:
      return "tunnel";
    case PortKind::kVhost:
      return "vhost";
  }
  return "?";
}

std::uint32_t device_mtu(int ifindex) noexcept {
  char name[IF_NAMESIZE];
  if (ifindex <= 0 || ::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return 0;
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 0;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name, IF_NAMESIZE);
  std::uint32_t mtu = 0;
  if (::ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
    mtu = static_cast<std::uint32_t>(ifr.ifr_mtu);
  ::close(s);
  return mtu;
}

std::string device_driver(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IF_NAMESIZE) return {};
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return {};
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  std::string driver;
  if (::ioctl(s, SIOCETHTOOL, &ifr) == 0)
    driver.assign(info.driver, ::strnlen(info.driver, sizeof info.driver));
  ::close(s);
  return driver;
}

}  // namespace brisk
