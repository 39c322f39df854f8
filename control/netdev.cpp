#include "control/netdev.hpp"

#include <arpa/inet.h>
#include <linux/ipv6.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "control/validate.hpp"

extern char** environ;

namespace brisk {

namespace {

struct Cidr {
  int family = 0;
  in_addr v4{};
  in6_addr v6{};
  int prefix = -1;
};

bool parse_cidr(const std::string& s, Cidr& out) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return false;
  std::string addr = s.substr(0, slash), len = s.substr(slash + 1);
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out.prefix = std::stoi(len);
  if (inet_pton(AF_INET, addr.c_str(), &out.v4) == 1) {
    out.family = AF_INET;
    return out.prefix <= 32;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &out.v6) == 1) {
    out.family = AF_INET6;
    return out.prefix <= 128;
  }
  return false;
}

}  // namespace

std::string validate_cidr(const std::string& cidr) {
  Cidr c;
  if (!parse_cidr(cidr, c)) return "invalid ip '" + cidr + "': want address/prefix, e.g. 198.18.0.1/24";
  return "";
}

std::string assign_address(const std::string& ifname, const std::string& cidr) {
  Cidr c;
  if (!parse_cidr(cidr, c)) return validate_cidr(cidr);
  int s = ::socket(c.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::string("socket: ") + std::strerror(errno);
  std::string err;
  if (c.family == AF_INET) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    sin->sin_addr = c.v4;
    if (::ioctl(s, SIOCSIFADDR, &ifr) < 0) {
      err = "set address on " + ifname + ": " + std::strerror(errno);
    } else {
      sin->sin_addr.s_addr = c.prefix == 0 ? 0 : htonl(0xffffffffu << (32 - c.prefix));
      if (::ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
        err = "set netmask on " + ifname + ": " + std::strerror(errno);
    }
  } else {
    in6_ifreq r{};
    r.ifr6_addr = c.v6;
    r.ifr6_prefixlen = static_cast<__u32>(c.prefix);
    r.ifr6_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (r.ifr6_ifindex == 0 || ::ioctl(s, SIOCSIFADDR, &r) < 0)
      err = "set address on " + ifname + ": " + std::strerror(errno);
  }
  ::close(s);
  return err;
}

pid_t start_dhcp_client(const std::string& ifname, std::string& err) {
  // No `--` before the name: ISC dhclient refuses it ("Unknown command: --"). A name that
  // could read as an option never gets here.
  if (std::string e = check_ifname("interface name", ifname); !e.empty()) {
    err = "dhcp: " + e;
    return -1;
  }
  const char* candidates[] = {"/usr/sbin/dhclient", "/sbin/dhclient"};
  const char* bin = nullptr;
  for (const char* c : candidates)
    if (::access(c, X_OK) == 0) bin = c;
  if (bin == nullptr) {
    err = "dhcp needs dhclient (Debian package isc-dhcp-client)";
    return -1;
  }
  ::mkdir("/run/brisk", 0755);
  std::string pidf = "/run/brisk/dhclient." + ifname + ".pid";
  std::string leases = "/run/brisk/dhclient." + ifname + ".leases";
  std::vector<std::string> args = {bin, "-d", "-q", "-pf", pidf, "-lf", leases, ifname};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, bin, nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    err = std::string("start dhclient: ") + std::strerror(rc);
    return -1;
  }
  return pid;
}

void stop_child(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace brisk
