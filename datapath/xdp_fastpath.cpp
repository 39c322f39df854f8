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
#include "datapath/afxdp_port.hpp"
#include "datapath/frame.hpp"
#include "datapath/mirror.hpp"

namespace brisk {

namespace {

// The program's map layouts and limits (bpf/brisk_xdp_abi.h), by their C++ names here.
using FpPort = brisk_fp_port;
using FpKey = brisk_fp_key;
using FpEntry = brisk_fp_entry;
using FpCounters = brisk_fp_counters;
using FpPair = brisk_fp_pair;
using FpMGroup = brisk_fp_mgroup;
using FpMCounters = brisk_fp_mcounters;
using FpDstKey = brisk_fp_dkey;
constexpr std::uint32_t kFpIn = BRISK_FP_IN, kFpOut = BRISK_FP_OUT, kFpMirror = BRISK_FP_MIRROR,
                        kFpSkb = BRISK_FP_SKB;
constexpr std::size_t kFpMaxCopies = BRISK_FP_MAX_COPIES, kFpGroupDevs = BRISK_FP_GROUP_DEVS,
                      kFpMaxGroups = BRISK_FP_MAX_GROUPS, kFpMaxPairs = BRISK_FP_MAX_PAIRS;
constexpr std::uint32_t kFpMaxFrame = BRISK_FP_MAX_FRAME;
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

constexpr int kNumMaps = 8;
constexpr const char* kMapNames[kNumMaps] = {"brisk_fp_ifs",    "brisk_fp_ports", "brisk_fp_fdb",
                                             "brisk_fp_stats",  "brisk_fp_mpairs",
                                             "brisk_fp_mdevs",  "brisk_fp_mstats",
                                             "brisk_fp_mdsts"};
constexpr const char* kTracepointProg = "brisk_devmap_xmit";

// SIOCGIF* ioctl `req` on the device with this ifindex; false if it cannot be read.
bool ifreq_of(int ifindex, unsigned long req, ifreq& ifr) {
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return false;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifr = ifreq{};
  std::memcpy(ifr.ifr_name, name, IF_NAMESIZE);
  int rc = ::ioctl(fd, req, &ifr);
  ::close(fd);
  return rc == 0;
}

// Administratively up: a broadcast skips a device that is down without a trace, as above.
bool device_up(int ifindex) {
  ifreq ifr;
  return ifreq_of(ifindex, SIOCGIFFLAGS, ifr) && (ifr.ifr_flags & IFF_UP) != 0;
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
  std::string path = bpf_object.empty() ? AfXdpPort::default_bpf_object() : bpf_object;
  errno = 0;
  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (obj_ == nullptr) fail(errno ? errno : EINVAL, "XDP fast path: open " + path);
  try {
    // The tracepoint program stays unloaded if the kernel refuses it: mirrors then keep
    // their ports in userspace (mirrors_supported()).
    bpf_program* tp = bpf_object__find_program_by_name(obj_, kTracepointProg);
    if (tp != nullptr) bpf_program__set_autoload(tp, false);
    if (int rc = bpf_object__load(obj_); rc != 0)
      fail(rc < 0 ? -rc : EINVAL, "XDP fast path: load " + path);
    int* fds[kNumMaps] = {&ifs_fd_,    &ports_fd_, &fdb_fd_,    &stats_fd_,
                          &mpairs_fd_, &mdevs_fd_, &mstats_fd_, &mdsts_fd_};
    for (int i = 0; i < kNumMaps; ++i) {
      bpf_map* m = bpf_object__find_map_by_name(obj_, kMapNames[i]);
      if (m == nullptr) fail(ENOENT, "XDP fast path: " + path + " lacks map " + kMapNames[i]);
      *fds[i] = bpf_map__fd(m);
    }
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ <= 0) fail(EINVAL, "XDP fast path: cannot count CPUs");
    for (std::size_t i = 0; i < kFpMaxGroups; ++i)
      free_groups_.push_back(static_cast<std::uint32_t>(kFpMaxGroups - 1 - i));
    attach_tracepoint(path);
  } catch (...) {
    bpf_object__close(obj_);
    throw;
  }
}

// The mirror transmit counter (brisk_devmap_xmit on xdp:xdp_devmap_xmit) lives in a second
// instance of the object that reuses the shared maps: the first one is already loaded, and a
// program of it that was not loaded cannot be loaded later.
void XdpFastpath::attach_tracepoint(const std::string& path) {
  tp_obj_ = bpf_object__open_file(path.c_str(), nullptr);
  std::string why;
  if (tp_obj_ == nullptr) {
    why = "open failed";
  } else {
    bpf_program* tp = bpf_object__find_program_by_name(tp_obj_, kTracepointProg);
    bpf_program* xdp = bpf_object__find_program_by_name(tp_obj_, BRISK_XDP_PROG_NAME);
    if (tp == nullptr) {
      why = "no program " + std::string(kTracepointProg);
    } else {
      if (xdp != nullptr) bpf_program__set_autoload(xdp, false);
      for (const char* other : {BRISK_TC_PROG_NAME, BRISK_XDP_GENERIC_PROG_NAME})
        if (bpf_program* p = bpf_object__find_program_by_name(tp_obj_, other))
          bpf_program__set_autoload(p, false);
      int rc = reuse_maps(tp_obj_);
      bpf_program__set_autoload(tp, true);  // reuse_maps() turned it off, as for ports
      if (rc == 0) rc = bpf_object__load(tp_obj_);
      if (rc != 0) {
        why = "load: " + std::string(std::strerror(rc < 0 ? -rc : EINVAL));
      } else {
        // Attached once to prove it can be, then only while mirrors need it (count_transmits).
        tp_prog_ = tp;
        netns_ = own_netns();
        if (netns_ == 0)
          why = "cannot read /proc/self/ns/net";
        else if (!count_transmits(true))
          why = "attach to xdp:xdp_devmap_xmit: " + std::string(std::strerror(errno));
        count_transmits(false);
      }
    }
  }
  mirrors_ok_ = why.empty();
  if (!mirrors_ok_) {
    syslog(LOG_WARNING, "XDP fast path: no mirror copies in the kernel (%s): mirrored ports stay in userspace",
           why.c_str());
    if (tp_obj_ != nullptr) bpf_object__close(tp_obj_);
    tp_obj_ = nullptr;
    tp_prog_ = nullptr;
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
  if (tp_link_ != nullptr) bpf_link__destroy(tp_link_);
  if (tp_obj_ != nullptr) bpf_object__close(tp_obj_);
  for (auto& [devs, g] : groups_)
    if (g.fd >= 0) ::close(g.fd);
  if (obj_ != nullptr) bpf_object__close(obj_);
}

int XdpFastpath::reuse_maps(bpf_object* obj) const {
  const int fds[kNumMaps] = {ifs_fd_,    ports_fd_, fdb_fd_,    stats_fd_,
                             mpairs_fd_, mdevs_fd_, mstats_fd_, mdsts_fd_};
  // A port's instance never loads the tracepoint program (XdpFastpath's own does).
  if (bpf_program* tp = bpf_object__find_program_by_name(obj, kTracepointProg); tp != nullptr)
    bpf_program__set_autoload(tp, false);
  for (int i = 0; i < kNumMaps; ++i) {
    bpf_map* m = bpf_object__find_map_by_name(obj, kMapNames[i]);
    if (m == nullptr) return -ENOENT;
    if (int rc = bpf_map__reuse_fd(m, fds[i]); rc != 0) return rc < 0 ? rc : -EINVAL;
  }
  return 0;
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
  v.flags =
      c.accelerated
          ? (kFpIn | (egress ? kFpOut : 0) | (c.mirrored ? kFpMirror : 0) | (c.skb ? kFpSkb : 0))
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
      if (old.qdisc != conf.qdisc) st.egress = egress_of(conf);
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
  if (st.published && old.ifindex != conf.ifindex) {
    std::uint32_t oi = static_cast<std::uint32_t>(old.ifindex);
    bpf_map_delete_elem(ifs_fd_, &oi);
  }
  // 3. The new configuration, its entries, then the flags that turn it on.
  st.conf = conf;
  st.published = true;
  if (conf.accelerated && !(old.accelerated && old.bridge == conf.bridge)) {
    table.for_each([&](const FdbEntry& e) {
      if (e.port == id) fdb_put(conf.bridge, fdb_key(e.vlan, e.mac.to_u64()), id);
    });
  }
  st.egress = egress_of(conf);
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
  std::uint32_t ifi = static_cast<std::uint32_t>(off.ifindex);
  bpf_map_delete_elem(ifs_fd_, &ifi);
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
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    PortState& st = ports_[i];
    if (!st.published || !st.conf.accelerated) continue;
    const bool egress = egress_of(st.conf);
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

// ------------------------------------------------------------------ mirrors

bool XdpFastpath::dst_ready(int ifindex) {
  auto it = dst_ready_.find(ifindex);
  if (it != dst_ready_.end()) return it->second;
  bool ok = takes_redirects(ifindex);
  dst_ready_[ifindex] = ok;
  return ok;
}

// A mirror destination the kernel can copy to: it takes redirected frames (NDO_XMIT) and is
// up. A broadcast skips a device failing either without a trace.
bool XdpFastpath::takes_redirects(int ifindex) {
  std::int64_t feat = xdp_features(ifindex);
  return feat > 0 && (static_cast<std::uint64_t>(feat) & kXdpActNdoXmit) && device_up(ifindex);
}

void XdpFastpath::set_mirrors(const std::vector<FastpathMirror>& mirrors) {
  mirrors_ = mirrors;
  apply_mirrors();
}

// Publish what mirrors_ and the ports' state ask for, in the order the program needs:
//   1. brisk_fp_mdsts (copies are counted from the first one on);
//   2. new groups: the inner devmap filled, then its index in brisk_fp_mdevs;
//   3. brisk_fp_mpairs: inserted or replaced (one atomic element swap each), then the pairs
//      that are no longer wanted deleted (their frames: plain fast path if the ports lost
//      BRISK_FP_MIRROR, else userspace);
//   4. groups no pair names any more leave brisk_fp_mdevs, and their devmaps are closed (a
//      program still holding one finishes under RCU);
//   5. brisk_fp_mdsts entries of gone mirrors;
//   6. slots no pair names any more: once no program runs with the old pairs, their copies
//      neither sent nor dropped were skipped by a broadcast (skipped_, counted as dropped).
void XdpFastpath::apply_mirrors() {
  for (PortState& st : ports_) st.held = false;
  std::map<std::uint32_t, std::uint32_t> want_dsts;
  std::map<std::uint64_t, FpMGroup> want;
  std::map<std::uint64_t, std::vector<std::uint32_t>> want_devs;
  std::set<PortId> dsts;
  for (const FastpathMirror& m : mirrors_) dsts.insert(m.dst);
  std::map<std::uint32_t, std::uint32_t> mtus;
  auto mtu_of = [&](std::uint32_t ifi) {
    auto it = mtus.find(ifi);
    if (it == mtus.end()) it = mtus.emplace(ifi, device_mtu(static_cast<int>(ifi))).first;
    return it->second;
  };
  if (mirrors_ok_) {
    for (const FastpathMirror& m : mirrors_)
      if (m.dst_ifindex > 0) want_dsts[static_cast<std::uint32_t>(m.dst_ifindex)] = m.slot;
    std::set<std::uint32_t> bridges;
    for (const FastpathMirror& m : mirrors_) bridges.insert(m.bridge);
    for (std::uint32_t b : bridges) {
      std::vector<PortId> ps;
      for (PortId id = 0; id < kMaxPorts; ++id) {
        const PortState& st = ports_[id];
        if (st.published && st.conf.accelerated && st.conf.bridge == b && !dsts.count(id))
          ps.push_back(id);
      }
      // Mirrors whose copies the kernel cannot make hold their ports in userspace.
      for (const FastpathMirror& m : mirrors_) {
        if (m.bridge != b || (m.dst_ifindex > 0 && dst_ready(m.dst_ifindex))) continue;
        for (PortId id : ps)
          if (mirror_covers(m.src, id)) ports_[id].held = true;
      }
      for (PortId in : ps) {
        for (PortId out : ps) {
          if (in == out || ports_[in].held || ports_[out].held) continue;
          FpMGroup g{};
          std::vector<std::uint32_t> devs{static_cast<std::uint32_t>(ports_[out].conf.ifindex)};
          std::uint32_t max_len = kFpMaxFrame;
          bool ok = true;
          for (const FastpathMirror& m : mirrors_) {
            if (m.bridge != b || !mirror_selects(m.src, in, out)) continue;
            if (g.ncopies == kFpMaxCopies) {
              ok = false;
              break;
            }
            g.dst_port[g.ncopies] = m.dst;
            g.slot[g.ncopies] = m.slot;
            g.dst_mode[g.ncopies] = m.dst_trunk ? BRISK_VLAN_TRUNK : BRISK_VLAN_ACCESS;
            g.dst_native[g.ncopies] = m.dst_native;
            ++g.ncopies;
            devs.push_back(static_cast<std::uint32_t>(m.dst_ifindex));
          }
          if (!ok || g.ncopies == 0) continue;
          for (std::uint32_t ifi : devs) {
            std::uint32_t mtu = mtu_of(ifi);
            if (mtu == 0) ok = false;
            max_len = std::min(max_len, mtu + 18);
          }
          if (!ok || want.size() >= kFpMaxPairs) continue;
          g.max_len = static_cast<std::uint16_t>(max_len);
          std::sort(devs.begin(), devs.end());
          std::uint64_t key = std::uint64_t{in} << 32 | out;
          want[key] = g;
          want_devs[key] = std::move(devs);
        }
      }
    }
  }

  // 1. (the transmit counter first: it counts from the first destination on)
  if (!want_dsts.empty() && !count_transmits(true)) {
    syslog(LOG_WARNING, "XDP fast path: attach to xdp:xdp_devmap_xmit: %s: mirror copies in userspace",
           std::strerror(errno));
    want_dsts.clear();
    want.clear();
  }
  for (auto [ifi, slot] : want_dsts) {
    auto it = mdsts_.find(ifi);
    if (it != mdsts_.end() && it->second == slot) continue;
    FpDstKey k{netns_, ifi};
    std::uint32_t v = slot;
    bpf_map_update_elem(mdsts_fd_, &k, &v, BPF_ANY);
    mdsts_[ifi] = slot;
  }
  // 2. + 3.
  std::set<std::vector<std::uint32_t>> used;
  for (auto& [key, g] : want) {
    const std::vector<std::uint32_t>& devs = want_devs[key];
    auto git = groups_.find(devs);
    if (git == groups_.end()) {
      if (free_groups_.empty() || devs.size() > kFpGroupDevs) continue;  // userspace
      // Sized to its devices: a broadcast walks every bucket of the map (a 16-entry map cost
      // ~25 ns per mirrored frame more than a 2-entry one). An inner map's max_entries may
      // differ from the template's (bpf_map_meta_equal does not compare it).
      int fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, "brisk_fp_grp", 4, 4,
                              static_cast<std::uint32_t>(devs.size()), nullptr);
      if (fd < 0) {
        syslog(LOG_WARNING, "XDP fast path: mirror group devmap: %s", std::strerror(errno));
        continue;
      }
      bool ok = true;
      for (std::uint32_t ifi : devs) ok = ok && bpf_map_update_elem(fd, &ifi, &ifi, BPF_ANY) == 0;
      std::uint32_t index = free_groups_.back();
      if (ok) ok = bpf_map_update_elem(mdevs_fd_, &index, &fd, BPF_ANY) == 0;
      if (!ok) {
        syslog(LOG_WARNING, "XDP fast path: mirror group: %s", std::strerror(errno));
        ::close(fd);
        continue;
      }
      free_groups_.pop_back();
      git = groups_.emplace(devs, Group{index, fd}).first;
    }
    used.insert(devs);
    g.group = git->second.index;
    std::vector<std::uint8_t> bytes(sizeof(FpMGroup));
    std::memcpy(bytes.data(), &g, sizeof g);
    auto pit = pairs_.find(key);
    if (pit != pairs_.end() && pit->second == bytes) continue;
    FpPair k{static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>(key)};
    if (bpf_map_update_elem(mpairs_fd_, &k, &g, BPF_ANY) != 0) {
      bpf_map_delete_elem(mpairs_fd_, &k);
      pairs_.erase(key);
      continue;
    }
    pairs_[key] = std::move(bytes);
  }
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    auto w = want.find(it->first);
    bool keep = w != want.end() && used.count(want_devs[it->first]);
    if (keep) {
      ++it;
      continue;
    }
    FpPair k{static_cast<std::uint32_t>(it->first >> 32), static_cast<std::uint32_t>(it->first)};
    bpf_map_delete_elem(mpairs_fd_, &k);
    it = pairs_.erase(it);
  }
  // 4.
  bool waited = false;  // an element of brisk_fp_mdevs changed: the kernel waited for programs
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (used.count(it->first)) {
      ++it;
      continue;
    }
    std::uint32_t index = it->second.index;
    waited = bpf_map_delete_elem(mdevs_fd_, &index) == 0 || waited;
    ::close(it->second.fd);
    free_groups_.push_back(index);
    it = groups_.erase(it);
  }
  // 5.
  for (auto it = mdsts_.begin(); it != mdsts_.end();) {
    if (want_dsts.count(it->first)) {
      ++it;
      continue;
    }
    FpDstKey k{netns_, it->first};
    bpf_map_delete_elem(mdsts_fd_, &k);
    it = mdsts_.erase(it);
  }
  // 6.
  std::set<std::uint16_t> slots;
  for (const auto& [key, bytes] : pairs_) {
    FpMGroup g;
    std::memcpy(&g, bytes.data(), sizeof g);
    for (std::uint16_t i = 0; i < g.ncopies && i < kFpMaxCopies; ++i) slots.insert(g.slot[i]);
  }
  std::vector<std::uint16_t> left;
  for (std::uint16_t slot : kernel_slots_)
    if (!slots.count(slot)) left.push_back(slot);
  if (!left.empty() && (waited || wait_for_programs()))
    for (std::uint16_t slot : left) count_skipped(slot, raw_mirror_counters(slot).mirrored);
  kernel_slots_ = std::move(slots);
  if (mdsts_.empty()) count_transmits(false);
}

// Copies of a mirror still in the kernel that were lost without a trace (a broadcast that
// skipped its destination, or failed as a whole) stay mirrored but neither sent nor dropped.
// Once a mirror made no copy between two calls (a second apart, refresh_egress()), every
// copy it made has been flushed, so after waiting for running programs: what it mirrored
// before the wait, less what was sent or dropped after it, is a lower bound of what was
// lost (exact while it stays idle) and never counts a copy in flight.
void XdpFastpath::settle_idle_mirrors() {
  std::vector<std::pair<std::uint16_t, std::uint64_t>> idle;  // slot, mirrored before the wait
  for (std::uint16_t slot : kernel_slots_) {
    FastpathMirrorCounters raw = raw_mirror_counters(slot);
    bool was_idle = raw.mirrored == last_mirrored_[slot];
    last_mirrored_[slot] = raw.mirrored;
    if (was_idle && raw.mirrored > raw.sent + raw.dropped + skipped_[slot])
      idle.emplace_back(slot, raw.mirrored);
  }
  if (idle.empty() || !wait_for_programs()) return;
  for (auto [slot, mirrored] : idle) count_skipped(slot, mirrored);
}

// After wait_for_programs(): of the slot's `mirrored` copies (read before the wait), those not
// sent or dropped by now were lost. Only ever raised: a later reading with copies still
// being made is a lower bound.
void XdpFastpath::count_skipped(std::uint16_t slot, std::uint64_t mirrored) {
  FastpathMirrorCounters raw = raw_mirror_counters(slot);
  std::uint64_t done = raw.sent + raw.dropped;
  if (mirrored > done) skipped_[slot] = std::max(skipped_[slot], mirrored - done);
}

// Returns once no XDP program that could have read the pairs or groups as they were before
// this call is still running (nor, as a copy is flushed in the NAPI poll that made it, any of
// their copies unflushed): writing and deleting an unused element of brisk_fp_mdevs, an
// ARRAY_OF_MAPS, makes the kernel wait for running programs (synchronize_rcu). False if
// there is no unused index or no devmap to write.
bool XdpFastpath::wait_for_programs() {
  if (free_groups_.empty() || groups_.empty()) return false;
  std::uint32_t index = free_groups_.back();
  int fd = groups_.begin()->second.fd;
  if (bpf_map_update_elem(mdevs_fd_, &index, &fd, BPF_ANY) != 0) return false;
  return bpf_map_delete_elem(mdevs_fd_, &index) == 0;
}

namespace {

// Every CPU's element `key` of a per-CPU array map; empty if it cannot be read.
template <typename T>
std::vector<T> percpu_values(int fd, std::uint32_t key, int ncpus) {
  std::vector<T> v(static_cast<std::size_t>(ncpus));
  if (fd < 0 || bpf_map_lookup_elem(fd, &key, v.data()) != 0) v.clear();
  return v;
}

}  // namespace

FastpathMirrorCounters XdpFastpath::mirror_counters(std::uint16_t slot) const {
  FastpathMirrorCounters t = raw_mirror_counters(slot);
  if (slot < skipped_.size()) t.dropped += skipped_[slot];
  return t;
}

FastpathMirrorCounters XdpFastpath::raw_mirror_counters(std::uint16_t slot) const {
  FastpathMirrorCounters t;
  for (const FpMCounters& c : percpu_values<FpMCounters>(mstats_fd_, slot, ncpus_)) {
    t.mirrored += c.mirrored;
    t.sent += c.sent;
    t.dropped += c.dropped;
  }
  return t;
}

FastpathCounters XdpFastpath::counters(PortId id) const {
  FastpathCounters t;
  for (const FpCounters& c : percpu_values<FpCounters>(stats_fd_, id, ncpus_)) {
    t.rx_frames += c.rx_frames;
    t.rx_bytes += c.rx_bytes;
    t.tx_frames += c.tx_frames;
    t.tx_bytes += c.tx_bytes;
    t.oversize += c.oversize;
  }
  return t;
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
