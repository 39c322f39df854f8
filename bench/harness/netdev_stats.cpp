#include "bench/harness/netdev_stats.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "bench/harness/netns.hpp"
#include "bench/harness/proc.hpp"

namespace bench {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

void ethtool_ioctl(int fd, const std::string& dev, void* cmd, const char* what) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = static_cast<char*>(cmd);
  if (ioctl(fd, SIOCETHTOOL, &ifr) != 0)
    throw std::runtime_error("ethtool " + std::string(what) + " " + dev + ": " + strerror(errno));
}

}  // namespace

std::map<std::string, std::uint64_t> ethtool_stats(const std::string& ns, const std::string& dev) {
  NetnsScope scope(ns);
  Fd s{socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
  // How many statistics the driver has.
  std::vector<std::uint8_t> sset(sizeof(ethtool_sset_info) + sizeof(std::uint32_t));
  auto* si = reinterpret_cast<ethtool_sset_info*>(sset.data());
  si->cmd = ETHTOOL_GSSET_INFO;
  si->sset_mask = 1ULL << ETH_SS_STATS;
  ethtool_ioctl(s.fd, dev, si, "sset info");
  std::uint32_t n = (si->sset_mask & (1ULL << ETH_SS_STATS)) != 0 ? si->data[0] : 0;
  std::map<std::string, std::uint64_t> out;
  if (n == 0) return out;
  std::vector<std::uint8_t> sb(sizeof(ethtool_gstrings) + std::size_t{n} * ETH_GSTRING_LEN);
  auto* gs = reinterpret_cast<ethtool_gstrings*>(sb.data());
  gs->cmd = ETHTOOL_GSTRINGS;
  gs->string_set = ETH_SS_STATS;
  gs->len = n;
  ethtool_ioctl(s.fd, dev, gs, "strings");
  std::vector<std::uint8_t> vb(sizeof(struct ::ethtool_stats) +
                               std::size_t{n} * sizeof(std::uint64_t));
  auto* st = reinterpret_cast<struct ::ethtool_stats*>(vb.data());
  st->cmd = ETHTOOL_GSTATS;
  st->n_stats = n;
  ethtool_ioctl(s.fd, dev, st, "stats");
  for (std::uint32_t i = 0; i < n && i < gs->len && i < st->n_stats; ++i) {
    const char* name = reinterpret_cast<const char*>(gs->data + std::size_t{i} * ETH_GSTRING_LEN);
    out[std::string(name, strnlen(name, ETH_GSTRING_LEN))] = st->data[i];
  }
  return out;
}

std::uint64_t sysfs_stat(const std::string& dev, const std::string& name) {
  std::ifstream f("/sys/class/net/" + dev + "/statistics/" + name);
  std::uint64_t v = 0;
  if (!(f >> v)) throw std::runtime_error("cannot read statistics/" + name + " of " + dev);
  return v;
}

std::uint64_t link_stat(const std::string& ns, const std::string& dev, const std::string& dir,
                        const std::string& name) {
  std::vector<std::string> argv = {"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  argv.insert(argv.end(), {"-s", "-j", "link", "show", "dev", dev});
  std::string out;
  if (run(argv, &out, 10) != 0) throw std::runtime_error("cannot read the statistics of " + dev);
  try {
    return nlohmann::json::parse(out).at(0).at("stats64").at(dir).at(name).get<std::uint64_t>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("no " + dir + " " + name + " statistic for " + dev);
  }
}

}  // namespace bench
