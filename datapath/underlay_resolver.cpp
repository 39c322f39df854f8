#include "datapath/underlay_resolver.hpp"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace brisk {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void put_attr(std::vector<std::uint8_t>& m, std::uint16_t type, const void* v, std::size_t len) {
  const std::size_t at = m.size();
  m.resize(at + RTA_ALIGN(RTA_LENGTH(len)), 0);
  auto* a = reinterpret_cast<rtattr*>(m.data() + at);
  a->rta_type = type;
  a->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(a), v, len);
}

// Sends `req` (a netlink message without its header: the family header and attributes) and
// returns the reply's payload after the nlmsghdr, or empty on an error reply.
std::vector<std::uint8_t> request(int fd, std::uint16_t type,
                                  const std::vector<std::uint8_t>& req) {
  std::vector<std::uint8_t> m(NLMSG_HDRLEN, 0);
  m.insert(m.end(), req.begin(), req.end());
  auto* nh = reinterpret_cast<nlmsghdr*>(m.data());
  nh->nlmsg_len = static_cast<std::uint32_t>(m.size());
  nh->nlmsg_type = type;
  nh->nlmsg_flags = NLM_F_REQUEST;
  nh->nlmsg_seq = 1;
  if (::send(fd, m.data(), m.size(), 0) < 0) return {};
  std::vector<std::uint8_t> buf(16384);
  const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
  if (n < static_cast<ssize_t>(NLMSG_HDRLEN)) return {};
  auto* rh = reinterpret_cast<const nlmsghdr*>(buf.data());
  if (rh->nlmsg_type == NLMSG_ERROR || rh->nlmsg_len > static_cast<std::uint32_t>(n) ||
      rh->nlmsg_len < NLMSG_HDRLEN)
    return {};
  return std::vector<std::uint8_t>(buf.begin() + NLMSG_HDRLEN, buf.begin() + rh->nlmsg_len);
}

// Calls f(type, data, len) for each attribute after a family header of `hdr` bytes.
template <typename F>
void each_attr(const std::vector<std::uint8_t>& p, std::size_t hdr, F&& f) {
  std::size_t off = NLMSG_ALIGN(hdr);
  while (off + RTA_LENGTH(0) <= p.size()) {
    auto* a = reinterpret_cast<const rtattr*>(p.data() + off);
    if (a->rta_len < RTA_LENGTH(0) || off + a->rta_len > p.size()) return;
    f(a->rta_type, static_cast<const std::uint8_t*>(RTA_DATA(a)), a->rta_len - RTA_LENGTH(0));
    off += RTA_ALIGN(a->rta_len);
  }
}

std::uint32_t u32_of(const std::uint8_t* d, std::size_t len) {
  std::uint32_t v = 0;
  if (len >= 4) std::memcpy(&v, d, 4);
  return v;
}

bool route_of(int fd, std::uint32_t remote, UnderlayPath& p) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_dst_len = 32;
  std::vector<std::uint8_t> req(NLMSG_ALIGN(sizeof(rt)), 0);
  std::memcpy(req.data(), &rt, sizeof(rt));
  put_attr(req, RTA_DST, &remote, 4);
  const std::vector<std::uint8_t> r = request(fd, RTM_GETROUTE, req);
  if (r.size() < sizeof(rtmsg)) {
    p.why = "no route";
    return false;
  }
  rtmsg got{};
  std::memcpy(&got, r.data(), sizeof(got));
  if (got.rtm_type != RTN_UNICAST) {
    p.why = got.rtm_type == RTN_LOCAL ? "remote is a local address" : "not a unicast route";
    return false;
  }
  std::uint32_t gw = 0;
  each_attr(r, sizeof(rtmsg), [&](std::uint16_t type, const std::uint8_t* d, std::size_t len) {
    if (type == RTA_OIF) p.ifindex = static_cast<int>(u32_of(d, len));
    if (type == RTA_GATEWAY) gw = u32_of(d, len);
    if (type == RTA_PREFSRC) p.saddr = u32_of(d, len);
    if (type == RTA_METRICS) {
      std::vector<std::uint8_t> nested(d, d + len);
      each_attr(nested, 0, [&](std::uint16_t t, const std::uint8_t* v, std::size_t l) {
        if (t == RTAX_MTU) p.mtu = u32_of(v, l);
      });
    }
  });
  p.nexthop = gw != 0 ? gw : remote;
  if (p.ifindex <= 0 || p.saddr == 0) {
    p.why = "route without output device or source address";
    return false;
  }
  return true;
}

bool device_of(UnderlayPath& p) {
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(p.ifindex), name) == nullptr) {
    p.why = "output device gone";
    return false;
  }
  Fd s;
  s.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return false;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name, IF_NAMESIZE);
  if (::ioctl(s.fd, SIOCGIFHWADDR, &ifr) != 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    p.why = std::string("underlay ") + name + " is not an Ethernet device";
    return false;
  }
  std::memcpy(p.smac, ifr.ifr_hwaddr.sa_data, 6);
  if (p.mtu == 0) {
    if (::ioctl(s.fd, SIOCGIFMTU, &ifr) != 0) return false;
    p.mtu = static_cast<std::uint32_t>(ifr.ifr_mtu);
  }
  return true;
}

bool neighbour_of(int fd, UnderlayPath& p) {
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = p.ifindex;
  std::vector<std::uint8_t> req(NLMSG_ALIGN(sizeof(nd)), 0);
  std::memcpy(req.data(), &nd, sizeof(nd));
  put_attr(req, NDA_DST, &p.nexthop, 4);
  const std::vector<std::uint8_t> r = request(fd, RTM_GETNEIGH, req);
  if (r.size() < sizeof(ndmsg)) {
    p.why = "next hop not resolved (no neighbour entry)";
    return false;
  }
  ndmsg got{};
  std::memcpy(&got, r.data(), sizeof(got));
  constexpr std::uint16_t kUsable =
      NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
  bool mac = false;
  each_attr(r, sizeof(ndmsg), [&](std::uint16_t type, const std::uint8_t* d, std::size_t len) {
    if (type == NDA_LLADDR && len == 6) {
      std::memcpy(p.dmac, d, 6);
      mac = true;
    }
  });
  if (!(got.ndm_state & kUsable) || !mac) {
    p.why = "next hop not resolved (neighbour state " + std::to_string(got.ndm_state) + ")";
    return false;
  }
  return true;
}

}  // namespace

UnderlayPath resolve_underlay(std::uint32_t remote) noexcept {
  UnderlayPath p;
  try {
    Fd s;
    s.fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s.fd < 0) {
      p.why = "no rtnetlink socket";
      return p;
    }
    timeval tv{1, 0};
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!route_of(s.fd, remote, p) || !device_of(p)) return p;
    p.route = true;
    p.neighbour = neighbour_of(s.fd, p);
  } catch (...) {  // std::bad_alloc: unresolved
    p.route = p.neighbour = false;
    p.why = "out of memory";
  }
  return p;
}

}  // namespace brisk
