#include "control/netdev.hpp"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/ipv6.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
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
#include <cstdio>
#include <cstring>
#include <functional>
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

namespace {

// What rtnetlink says about one device.
struct LinkFacts {
  bool found = false;
  unsigned flags = 0;        // IFF_*
  std::uint32_t master = 0;  // IFLA_MASTER: ifindex of the master, 0 if none
  std::string name;          // IFLA_IFNAME
  std::string kind;          // IFLA_INFO_KIND ("bridge", "bond", "openvswitch"...), "" if none
};

void parse_link(const nlmsghdr* nh, LinkFacts& out) {
  const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(nh));
  out.found = true;
  out.flags = ifi->ifi_flags;
  int len = static_cast<int>(IFLA_PAYLOAD(nh));
  for (const rtattr* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    const auto* data = static_cast<const char*>(RTA_DATA(a));
    const std::size_t n = RTA_PAYLOAD(a);
    if (a->rta_type == IFLA_MASTER && n >= sizeof(std::uint32_t)) {
      std::memcpy(&out.master, data, sizeof(std::uint32_t));
    } else if (a->rta_type == IFLA_IFNAME) {
      out.name.assign(data, strnlen(data, n));
    } else if (a->rta_type == IFLA_LINKINFO) {
      int ilen = static_cast<int>(n);
      for (auto* i = static_cast<const rtattr*>(RTA_DATA(a)); RTA_OK(i, ilen);
           i = RTA_NEXT(i, ilen))
        if (i->rta_type == IFLA_INFO_KIND)
          out.kind.assign(static_cast<const char*>(RTA_DATA(i)),
                          strnlen(static_cast<const char*>(RTA_DATA(i)), RTA_PAYLOAD(i)));
    }
  }
}

// One rtnetlink request on a socket of its own, and its replies: every message until
// NLMSG_DONE (a dump, NLM_F_MULTI) or the one reply of a plain request. `on_msg` sees each
// message that is not NLMSG_DONE/NLMSG_ERROR, already checked to lie inside the buffer. True
// when the answer was complete and not an error. A reply that does not come within a second
// (never seen, but the control thread must not hang on it) is a failure.
bool rtnl_exchange(const nlmsghdr& req, const std::function<void(const nlmsghdr&)>& on_msg) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool done = false, ok = false;
  std::vector<char> buf(65536);
  if (::send(fd, &req, req.nlmsg_len, 0) == static_cast<ssize_t>(req.nlmsg_len)) {
    while (!done) {
      ssize_t n;
      do {
        n = ::recv(fd, buf.data(), buf.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) break;
      const std::size_t got = static_cast<std::size_t>(n);
      for (std::size_t off = 0; off + sizeof(nlmsghdr) <= got;) {  // NLMSG_OK/NEXT, unsigned
        const auto* nh = reinterpret_cast<const nlmsghdr*>(buf.data() + off);
        if (nh->nlmsg_len < sizeof(nlmsghdr) || nh->nlmsg_len > got - off) break;
        if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
          // NLMSG_ERROR with error 0 is an acknowledgement; anything else a refusal.
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nh));
          ok = nh->nlmsg_type == NLMSG_DONE ||
               (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) && e->error == 0);
          done = true;
          break;
        }
        on_msg(*nh);
        if ((nh->nlmsg_flags & NLM_F_MULTI) == 0) {  // the one reply of a plain request
          ok = done = true;
          break;
        }
        off += NLMSG_ALIGN(nh->nlmsg_len);
      }
    }
  }
  ::close(fd);
  return ok;
}

// RTM_GETLINK for the device named `name` (index 0) or with ifindex `index`.
LinkFacts query_link(const std::string& name, std::uint32_t index) {
  LinkFacts out;
  if (name.size() >= IFNAMSIZ) return out;
  struct {
    nlmsghdr nh;
    ifinfomsg ifi;
    char attrs[RTA_SPACE(IFNAMSIZ) + RTA_SPACE(sizeof(std::uint32_t))];
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  req.nh.nlmsg_type = RTM_GETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST;
  req.nh.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = static_cast<int>(index);
  auto add_attr = [&](unsigned short type, const void* data, std::size_t len) {
    auto* rta =
        reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(rta), data, len);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  };
  if (index == 0) add_attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
  const std::uint32_t mask = RTEXT_FILTER_SKIP_STATS;
  add_attr(IFLA_EXT_MASK, &mask, sizeof(mask));
  rtnl_exchange(req.nh, [&](const nlmsghdr& nh) {
    if (nh.nlmsg_type == RTM_NEWLINK) parse_link(&nh, out);
  });
  return out;
}

// "a port of kernel bridge br0", "a slave of bond bond0", ... of a master device.
std::string describe_master(const LinkFacts& m) {
  const std::string name = printable(m.name);
  if (m.kind == "bridge") return "a port of kernel bridge " + name;
  if (m.kind == "bond") return "a slave of bond " + name;
  if (m.kind == "team") return "a port of team " + name;
  if (m.kind == "openvswitch") return "a port of Open vSwitch's kernel datapath " + name;
  if (m.kind == "vrf") return "a member of VRF " + name;
  return "held by " + name + (m.kind.empty() ? "" : " (" + printable(m.kind) + ")");
}

}  // namespace

std::string attach_refusal(const std::string& ifname) {
  const LinkFacts link = query_link(ifname, 0);
  if (!link.found) return "";
  const std::string dev = printable(ifname);
  if ((link.flags & IFF_LOOPBACK) != 0)
    return dev +
           " is the loopback device: brisk does not take it as a port (its XDP "
           "program would cut this host's local traffic)";
  if (link.master == 0) return "";
  LinkFacts master = query_link("", link.master);
  if (!master.found) master.name = "ifindex " + std::to_string(link.master);
  return dev + " is " + describe_master(master) + " (its master): brisk does not take a device " +
         "another master holds; release it from " + printable(master.name) + " first";
}

std::string Qdisc::handle_text() const {
  char b[16];
  std::snprintf(b, sizeof(b), "%x:", handle >> 16);
  return b;
}

std::optional<std::map<int, Qdisc>> installed_qdiscs() {
  struct {
    nlmsghdr nh;
    tcmsg tc;
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(tcmsg));
  req.nh.nlmsg_type = RTM_GETQDISC;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.tc.tcm_family = AF_UNSPEC;
  std::map<int, Qdisc> out;
  const bool ok = rtnl_exchange(req.nh, [&](const nlmsghdr& nh) {
    if (nh.nlmsg_type != RTM_NEWQDISC || nh.nlmsg_len < NLMSG_LENGTH(sizeof(tcmsg))) return;
    const auto* tc = static_cast<const tcmsg*>(NLMSG_DATA(&nh));
    // Ingress and clsact (parent ffff:fff1) see what the device receives, not what it sends;
    // the kernel's own qdiscs have handle 0.
    if (tc->tcm_handle == 0 || tc->tcm_parent == TC_H_INGRESS) return;
    Qdisc q;
    q.handle = tc->tcm_handle;
    q.parent = tc->tcm_parent;
    int len = static_cast<int>(nh.nlmsg_len - NLMSG_LENGTH(sizeof(tcmsg)));
    for (const auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(tc) +
                                                         NLMSG_ALIGN(sizeof(tcmsg)));
         RTA_OK(a, len); a = RTA_NEXT(a, len))
      if (a->rta_type == TCA_KIND)
        q.kind.assign(static_cast<const char*>(RTA_DATA(a)),
                      strnlen(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a)));
    if (q.kind == "noqueue") return;  // queues nothing: frames go straight to the driver
    auto [it, fresh] = out.emplace(tc->tcm_ifindex, q);
    if (!fresh && q.parent == TC_H_ROOT) it->second = q;  // the root wins over a child
  });
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace brisk
