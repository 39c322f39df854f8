#include "datapath/xdp_fastpath.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>

#include "bpf/brisk_xdp_abi.h"
#include "datapath/frame.hpp"
#include "datapath/mirror.hpp"
#include "datapath/port.hpp"
#include "datapath/xdp_loader.hpp"

namespace brisk {

namespace {

// The program's map layouts and limits (bpf/brisk_xdp_abi.h), by their C++ names here.
using FpPort = brisk_fp_port;
using FpKey = brisk_fp_key;
using FpEntry = brisk_fp_entry;
using FpCounters = brisk_fp_counters;
constexpr std::uint32_t kFpIn = BRISK_FP_IN, kFpOut = BRISK_FP_OUT, kFpMirror = BRISK_FP_MIRROR,
                        kFpSkb = BRISK_FP_SKB, kFpTunnel = BRISK_FP_TUNNEL;
constexpr std::size_t kFpMaxGroups = BRISK_FP_MAX_GROUPS;
static_assert(kMaxMirrors == BRISK_FP_MAX_MIRRORS, "one limit of mirror slots");
static_assert(kMaxPorts == BRISK_FP_MAX_PORTS, "one limit of ports");
static_assert(kMaxFrameLen == BRISK_FP_MAX_FRAME, "one limit of frame length");

// The inode number of this process's network namespace (brisk_fp_dkey.netns: the kernel's
// ns_common.inum of the namespace its devices live in), 0 if it cannot be read.
std::uint32_t own_netns() {
  struct stat st {};
  if (::stat("/proc/self/ns/net", &st) != 0) return 0;
  return static_cast<std::uint32_t>(st.st_ino);
}


FpKey make_key(std::uint32_t bridge, std::uint64_t fdb) {
  FpKey k{};
  k.bridge = bridge;
  k.vlan = fdb_key_vlan(fdb);
  std::uint64_t m = fdb_key_mac(fdb);
  for (int i = 5; i >= 0; --i, m >>= 8) k.mac[i] = static_cast<std::uint8_t>(m & 0xff);
  return k;
}

std::uint64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000ull + std::uint64_t(ts.tv_nsec);
}

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

// The MacTable observer of one bridge: keeps brisk_fp_fdb equal to the table's entries that
// point at accelerated ports of this bridge.
class XdpFastpath::Observer final : public MacTableObserver {
 public:
  Observer(XdpFastpath& fp, std::uint32_t bridge) : fp_(fp), bridge_(bridge) {}
  void fdb_set(std::uint64_t key, PortId port, PortId old, bool) override {
    if (fp_.mirrored(bridge_, port)) {
      fp_.fdb_put(bridge_, key, port);
    } else if (old != kInvalidPort && fp_.mirrored(bridge_, old)) {
      fp_.fdb_del(bridge_, key);
    }
  }
  void fdb_erase(std::uint64_t key, PortId port) override {
    if (fp_.mirrored(bridge_, port)) fp_.fdb_del(bridge_, key);
  }
  std::uint32_t fdb_seen(std::uint64_t key, PortId port, std::uint32_t now) override {
    return fp_.mirrored(bridge_, port) ? fp_.fdb_seen(bridge_, key, port, now) : 0;
  }

 private:
  XdpFastpath& fp_;
  std::uint32_t bridge_;
};

XdpFastpath::XdpFastpath(const std::string& bpf_object) {
  const std::string who = "XDP fast path";
  const std::string path = xdp_object_path(bpf_object, who);
  // The instance that creates the shared maps (never attached). The tracepoint program is
  // loaded by a second instance, so that the kernel refusing it leaves the rest working:
  // mirrors then keep their ports in userspace (mirrors_supported()).
  obj_path_ = path;
  obj_ = std::make_unique<XdpObject>(path, who);
  XdpPrograms programs;
  programs.tc = true;
  obj_->prepare(programs, nullptr);
  obj_->load();
  for (int i = 0; i < kXdpSharedMaps; ++i) {
    int fd = obj_->map_fd(kXdpSharedMapNames[i]);
    if (fd < 0) fail(ENOENT, who + ": " + path + " lacks map " + kXdpSharedMapNames[i]);
    shared_.fds[static_cast<std::size_t>(i)] = fd;
  }
  ifs_fd_ = shared_.fds[0];
  ports_fd_ = shared_.fds[1];
  fdb_fd_ = shared_.fds[2];
  stats_fd_ = shared_.fds[3];
  mpairs_fd_ = shared_.fds[4];
  mdevs_fd_ = shared_.fds[5];
  mstats_fd_ = shared_.fds[6];
  mdsts_fd_ = shared_.fds[7];
  tunnels_fd_ = shared_.fds[8];
  tunrx_fd_ = shared_.fds[9];
  ncpus_ = libbpf_num_possible_cpus();
  if (ncpus_ <= 0) fail(EINVAL, who + ": cannot count CPUs");
  for (std::size_t i = 0; i < kFpMaxGroups; ++i)
    free_groups_.push_back(static_cast<std::uint32_t>(kFpMaxGroups - 1 - i));
  attach_tracepoint(path);
}

// The mirror transmit counter (brisk_devmap_xmit on xdp:xdp_devmap_xmit) lives in a second
// instance of the object that reuses the shared maps: the first one is already loaded, and a
// program of it that was not loaded cannot be loaded later.
void XdpFastpath::attach_tracepoint(const std::string& path) {
  std::string why;
  try {
    tp_obj_ = std::make_unique<XdpObject>(path, "XDP fast path tracepoint");
    XdpPrograms programs;
    programs.xdp = false;
    programs.tracepoint = true;
    tp_obj_->prepare(programs, &shared_);
    tp_obj_->load();
    // Attached once to prove it can be, then only while mirrors need it (count_transmits).
    tp_prog_ = tp_obj_->program(BRISK_DEVMAP_PROG_NAME);
    netns_ = own_netns();
    if (netns_ == 0)
      why = "cannot read /proc/self/ns/net";
    else if (!count_transmits(true))
      why = "attach to xdp:xdp_devmap_xmit: " + std::string(std::strerror(errno));
    count_transmits(false);
  } catch (const std::exception& e) {
    why = e.what();
  }
  mirrors_ok_ = why.empty();
  if (!mirrors_ok_) {
    syslog(LOG_WARNING, "XDP fast path: no mirror copies in the kernel (%s): mirrored ports stay in userspace",
           why.c_str());
    tp_prog_ = nullptr;
    tp_obj_.reset();
  }
}

// The devmap transmit counter on or off (see "Counters" in the header). False: it could not
// be attached.
bool XdpFastpath::count_transmits(bool on) {
  if (on && tp_link_ == nullptr && tp_prog_ != nullptr)
    tp_link_ = bpf_program__attach_trace(tp_prog_);
  if (!on && tp_link_ != nullptr) {
    bpf_link__destroy(tp_link_);
    tp_link_ = nullptr;
  }
  return !on || tp_link_ != nullptr;
}

XdpFastpath::~XdpFastpath() {
  underlays_.clear();  // detaches brisk's program from the underlay devices
  tunnels_.clear();
  if (tp_link_ != nullptr) bpf_link__destroy(tp_link_);
  tp_obj_.reset();
  for (auto& [devs, g] : groups_)
    if (g.fd >= 0) ::close(g.fd);
  obj_.reset();
}

// ------------------------------------------------------------------ maps

bool XdpFastpath::mirrored(std::uint32_t bridge, PortId port) const {
  return port < kMaxPorts && ports_[port].conf.accelerated && ports_[port].conf.bridge == bridge;
}

void XdpFastpath::fdb_put(std::uint32_t bridge, std::uint64_t key, PortId port) {
  FpKey k = make_key(bridge, key);
  FpEntry v{port, 0, 0};
  if (bpf_map_update_elem(fdb_fd_, &k, &v, BPF_ANY) != 0) {
    ++fdb_errors_;
    // Never leave an older mapping of the key behind.
    bpf_map_delete_elem(fdb_fd_, &k);
  }
}

void XdpFastpath::fdb_del(std::uint32_t bridge, std::uint64_t key) {
  FpKey k = make_key(bridge, key);
  bpf_map_delete_elem(fdb_fd_, &k);  // ENOENT (never inserted: map was full) is fine
}

std::uint32_t XdpFastpath::fdb_seen(std::uint32_t bridge, std::uint64_t key, PortId port,
                                    std::uint32_t now) const {
  FpKey k = make_key(bridge, key);
  FpEntry v{};
  if (bpf_map_lookup_elem(fdb_fd_, &k, &v) != 0 || v.port != port || v.seen_ns == 0) return 0;
  std::uint64_t t = mono_ns();
  std::uint64_t ago = t > v.seen_ns ? (t - v.seen_ns) / 1000000000ull : 0;
  return ago < now ? now - static_cast<std::uint32_t>(ago) : 0;
}

void XdpFastpath::write_port(PortId id, const FastpathPortConf& c, bool egress) {
  FpPort v{};
  v.ifindex = static_cast<std::uint32_t>(c.ifindex);
  v.bridge = c.bridge;
  v.flags = c.accelerated ? (kFpIn | (egress ? kFpOut : 0) | (c.mirrored ? kFpMirror : 0) |
                             (c.skb ? kFpSkb : 0) | (c.tunnel ? kFpTunnel : 0))
                          : 0;
  v.mode = c.trunk ? BRISK_VLAN_TRUNK : BRISK_VLAN_ACCESS;
  v.access_vlan = c.access_vlan;
  v.native_vlan = c.native_vlan;
  std::memcpy(v.allowed, c.allowed.data(), sizeof(v.allowed));
  std::uint32_t key = id;
  bpf_map_update_elem(ports_fd_, &key, &v, BPF_ANY);  // arrays: cannot fail for a valid key
}

// Walk the map; delete what `match` selects. Keys are collected first: deleting while
// iterating a hash map can restart the walk.
template <typename F>
static std::size_t scan_fdb(int fd, F&& match, bool erase) {
  std::vector<FpKey> doomed;
  FpKey cur{}, next{};
  std::size_t n = 0;
  bool first = true;
  while (bpf_map_get_next_key(fd, first ? nullptr : &cur, &next) == 0) {
    first = false;
    FpEntry v{};
    if (bpf_map_lookup_elem(fd, &next, &v) == 0 && match(next, v)) {
      ++n;
      if (erase) doomed.push_back(next);
    }
    cur = next;
  }
  for (const FpKey& k : doomed) bpf_map_delete_elem(fd, &k);
  return n;
}

void XdpFastpath::drop_port_entries(PortId id) {
  scan_fdb(fdb_fd_, [&](const FpKey&, const FpEntry& v) { return v.port == id; }, true);
}

void XdpFastpath::drop_bridge_entries(std::uint32_t bridge) {
  scan_fdb(fdb_fd_, [&](const FpKey& k, const FpEntry&) { return k.bridge == bridge; }, true);
}

std::size_t XdpFastpath::fdb_count(PortId port) const {
  return scan_fdb(
      fdb_fd_, [&](const FpKey&, const FpEntry& v) { return port == kInvalidPort || v.port == port; },
      false);
}

// ------------------------------------------------------------------ bridges

std::uint32_t XdpFastpath::bridge_id(const std::string& name) {
  BridgeState& b = bridges_[name];
  if (b.id == 0) {
    b.id = next_bridge_++;
    b.observer = std::make_unique<Observer>(*this, b.id);
  }
  return b.id;
}

void XdpFastpath::attach_table(const std::string& name, MacTable& table) {
  std::uint32_t id = bridge_id(name);
  BridgeState& b = bridges_[name];
  if (b.table == &table) return;
  if (b.table != nullptr) {
    // A replaced table (fdb-limit): the old one's mirror goes, the new one is mirrored.
    if (b.table->observer() == b.observer.get()) b.table->set_observer(nullptr);
    drop_bridge_entries(id);
  }
  b.table = &table;
  table.set_observer(b.observer.get());
  table.for_each([&](const FdbEntry& e) {
    if (mirrored(id, e.port)) fdb_put(id, fdb_key(e.vlan, e.mac.to_u64()), e.port);
  });
}

void XdpFastpath::retain_bridges(const std::vector<std::string>& live) {
  for (auto it = bridges_.begin(); it != bridges_.end();) {
    bool keep = false;
    for (const auto& n : live) keep = keep || n == it->first;
    if (keep) {
      ++it;
      continue;
    }
    // The table itself may already be gone (bridge destroyed): never touch it.
    drop_bridge_entries(it->second.id);
    it = bridges_.erase(it);
  }
}

// ------------------------------------------------------------------ ports

void XdpFastpath::set_port(PortId id, const FastpathPortConf& conf, const MacTable& table) {
  PortState& st = ports_[id];
  if (st.published && st.conf == conf) return;
  const FastpathPortConf old = st.conf;
  std::uint32_t key = id;
  if (st.published && old.accelerated && conf.accelerated) {
    // Only BRISK_FP_MIRROR or the qdisc changes: one update of the flags word, nothing else
    // moves.
    FastpathPortConf o = old;
    o.mirrored = conf.mirrored;
    o.qdisc = conf.qdisc;
    if (o == conf) {
      st.conf = conf;
      if (old.qdisc != conf.qdisc) st.egress = egress_for(id, conf);
      write_port(id, conf, st.egress);
      return;
    }
  }
  if (st.published && old.accelerated) {
    // 1. Stop: frames neither enter nor leave the fast path through this port any more.
    FastpathPortConf off = old;
    off.accelerated = false;
    write_port(id, off, false);
    st.conf.accelerated = false;
    st.egress = false;
    // 2. Its entries go unless they stay valid (same bridge, still accelerated).
    if (!conf.accelerated || conf.bridge != old.bridge) drop_port_entries(id);
  }
  if (st.published && old.ifindex != conf.ifindex && old.ifindex != 0) {
    std::uint32_t oi = static_cast<std::uint32_t>(old.ifindex);
    bpf_map_delete_elem(ifs_fd_, &oi);
  }
  // A tunnel's entries go after its flags (above); they come back before the flags (below).
  if (tunnels_.count(id) != 0) drop_tunnel(id);
  // 3. The new configuration, its entries, then the flags that turn it on.
  st.conf = conf;
  st.published = true;
  if (conf.accelerated && !(old.accelerated && old.bridge == conf.bridge)) {
    table.for_each([&](const FdbEntry& e) {
      if (e.port == id) fdb_put(conf.bridge, fdb_key(e.vlan, e.mac.to_u64()), id);
    });
  }
  if (conf.tunnel && conf.accelerated) publish_tunnel(id, conf);
  st.egress = egress_for(id, conf);
  write_port(id, conf, st.egress);
  std::uint32_t ifi = static_cast<std::uint32_t>(conf.ifindex);
  if (ifi != 0) bpf_map_update_elem(ifs_fd_, &ifi, &key, BPF_ANY);
}

void XdpFastpath::clear_port(PortId id) {
  PortState& st = ports_[id];
  if (!st.published) return;
  FastpathPortConf off = st.conf;
  off.accelerated = false;
  write_port(id, off, false);
  st.conf.accelerated = false;
  drop_port_entries(id);
  if (tunnels_.count(id) != 0) drop_tunnel(id);
  std::uint32_t ifi = static_cast<std::uint32_t>(off.ifindex);
  if (ifi != 0) bpf_map_delete_elem(ifs_fd_, &ifi);
  write_port(id, FastpathPortConf{}, false);
  // Counters start from zero for the id's next owner.
  std::vector<FpCounters> zero(static_cast<std::size_t>(ncpus_));
  std::uint32_t key = id;
  bpf_map_update_elem(stats_fd_, &key, zero.data(), BPF_ANY);
  st = PortState{};
}

void XdpFastpath::refresh_egress() {
  // Mirror destinations (not accelerated themselves) and the devices' MTUs.
  bool changed = false;
  for (auto& [ifi, ready] : dst_ready_) {
    bool ok = takes_redirects(ifi);
    changed = changed || ok != ready;
    ready = ok;
  }
  std::erase_if(dst_ready_, [&](const auto& e) {
    return std::none_of(mirrors_.begin(), mirrors_.end(),
                        [&](const FastpathMirror& m) { return m.dst_ifindex == e.first; });
  });
  if (changed || !mirrors_.empty()) apply_mirrors();  // unchanged pairs are not rewritten
  settle_idle_mirrors();
  for (auto& [id, t] : tunnels_) refresh_tunnel(id);
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    PortState& st = ports_[i];
    if (!st.published || !st.conf.accelerated) continue;
    const bool egress = egress_for(static_cast<PortId>(i), st.conf);
    if (egress == st.egress) continue;
    st.egress = egress;
    write_port(static_cast<PortId>(i), st.conf, egress);  // only the flags change
  }
}

// Frames may be redirected to the port: accelerated, no qdisc to pass, and the device takes
// redirected frames (NDO_XMIT; asked of the kernel only then).
bool XdpFastpath::egress_of(const FastpathPortConf& c) {
  if (!c.accelerated || c.qdisc) return false;
  const std::int64_t feat = xdp_features(c.ifindex);
  return feat > 0 && (static_cast<std::uint64_t>(feat) & kXdpActNdoXmit);
}

// ------------------------------------------------------------------ netdev genetlink

namespace {

constexpr std::uint8_t kNetdevCmdDevGet = 1;       // NETDEV_CMD_DEV_GET
constexpr std::uint16_t kNetdevADevIfindex = 1;    // NETDEV_A_DEV_IFINDEX
constexpr std::uint16_t kNetdevADevXdpFeatures = 3;  // NETDEV_A_DEV_XDP_FEATURES

struct NlSock {
  int fd = -1;
  ~NlSock() {
    if (fd >= 0) ::close(fd);
  }
};

// Send one request, return the first reply message's payload after the genl header.
bool nl_request(int fd, std::uint16_t type, std::uint8_t cmd, std::uint8_t version,
                const void* attrs, std::size_t attrs_len, std::vector<std::uint8_t>& reply) {
  alignas(4) std::uint8_t buf[256] = {};
  auto* nh = reinterpret_cast<nlmsghdr*>(buf);
  nh->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(GENL_HDRLEN) + attrs_len);
  nh->nlmsg_type = type;
  nh->nlmsg_flags = NLM_F_REQUEST;
  nh->nlmsg_seq = 1;
  auto* gh = reinterpret_cast<genlmsghdr*>(NLMSG_DATA(nh));
  gh->cmd = cmd;
  gh->version = version;
  std::memcpy(buf + NLMSG_LENGTH(GENL_HDRLEN), attrs, attrs_len);
  if (::send(fd, buf, nh->nlmsg_len, 0) < 0) return false;
  reply.resize(8192);
  ssize_t n = ::recv(fd, reply.data(), reply.size(), 0);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(GENL_HDRLEN))) return false;
  auto* rh = reinterpret_cast<nlmsghdr*>(reply.data());
  if (rh->nlmsg_type == NLMSG_ERROR || rh->nlmsg_len > static_cast<std::uint32_t>(n)) return false;
  std::size_t off = NLMSG_LENGTH(GENL_HDRLEN);
  reply = std::vector<std::uint8_t>(reply.begin() + static_cast<long>(off),
                                    reply.begin() + static_cast<long>(rh->nlmsg_len));
  return true;
}

// Find attribute `type` in a flat attribute list.
const nlattr* nl_attr(const std::vector<std::uint8_t>& p, std::uint16_t type) {
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= p.size()) {
    auto* a = reinterpret_cast<const nlattr*>(p.data() + off);
    if (a->nla_len < NLA_HDRLEN || off + a->nla_len > p.size()) return nullptr;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    off += NLA_ALIGN(a->nla_len);
  }
  return nullptr;
}

int netdev_family(int fd) {
  static int family = 0;  // control thread only
  if (family > 0) return family;
  alignas(4) std::uint8_t attr[NLA_HDRLEN + 8] = {};
  auto* a = reinterpret_cast<nlattr*>(attr);
  a->nla_type = CTRL_ATTR_FAMILY_NAME;
  a->nla_len = NLA_HDRLEN + 7;  // "netdev\0"
  std::memcpy(attr + NLA_HDRLEN, "netdev", 7);
  std::vector<std::uint8_t> reply;
  if (!nl_request(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, attr, NLA_ALIGN(a->nla_len), reply))
    return -1;
  const nlattr* id = nl_attr(reply, CTRL_ATTR_FAMILY_ID);
  if (id == nullptr) return -1;
  std::uint16_t v;
  std::memcpy(&v, reinterpret_cast<const std::uint8_t*>(id) + NLA_HDRLEN, 2);
  family = v;
  return family;
}

}  // namespace

std::int64_t XdpFastpath::xdp_features(int ifindex) {
  NlSock s;
  s.fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (s.fd < 0) return -1;
  timeval tv{1, 0};
  ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int fam = netdev_family(s.fd);
  if (fam <= 0) return -1;
  alignas(4) std::uint8_t attr[NLA_HDRLEN + 4] = {};
  auto* a = reinterpret_cast<nlattr*>(attr);
  a->nla_type = kNetdevADevIfindex;
  a->nla_len = NLA_HDRLEN + 4;
  std::uint32_t ifi = static_cast<std::uint32_t>(ifindex);
  std::memcpy(attr + NLA_HDRLEN, &ifi, 4);
  std::vector<std::uint8_t> reply;
  if (!nl_request(s.fd, static_cast<std::uint16_t>(fam), kNetdevCmdDevGet, 1, attr, sizeof(attr),
                  reply))
    return -1;
  const nlattr* f = nl_attr(reply, kNetdevADevXdpFeatures);
  if (f == nullptr || f->nla_len < NLA_HDRLEN + 8) return -1;
  std::uint64_t v;
  std::memcpy(&v, reinterpret_cast<const std::uint8_t*>(f) + NLA_HDRLEN, 8);
  return static_cast<std::int64_t>(v);
}

}  // namespace brisk
