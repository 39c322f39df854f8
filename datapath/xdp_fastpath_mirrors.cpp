// XdpFastpath (datapath/xdp_fastpath.hpp): the fast path's mirrors ("Mirrors": the plan of
// datapath/xdp_mirror_plan.hpp published into brisk_fp_mdsts, brisk_fp_mdevs and
// brisk_fp_mpairs, and the copies' counters) and the per-port counters.
#include <bpf/bpf.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/brisk_xdp_abi.h"
#include "datapath/port.hpp"
#include "datapath/xdp_fastpath.hpp"

namespace brisk {

namespace {

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

// Administratively up: a broadcast skips a device that is down without a trace
// (xdp_fastpath.hpp, "Mirrors").
bool device_up(int ifindex) {
  ifreq ifr;
  return ifreq_of(ifindex, SIOCGIFFLAGS, ifr) && (ifr.ifr_flags & IFF_UP) != 0;
}

// Every CPU's element `key` of a per-CPU array map; empty if it cannot be read.
template <typename T>
std::vector<T> percpu_values(int fd, std::uint32_t key, int ncpus) {
  std::vector<T> v(static_cast<std::size_t>(ncpus));
  if (fd < 0 || bpf_map_lookup_elem(fd, &key, v.data()) != 0) v.clear();
  return v;
}

}  // namespace

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
  MirrorPlan plan;
  if (mirrors_ok_) {
    std::vector<MirrorPlanPort> ports;
    for (PortId id = 0; id < kMaxPorts; ++id) {
      const PortState& st = ports_[id];
      if (!st.published || !st.conf.accelerated) continue;
      ports.push_back(
          {id, st.conf.bridge, st.conf.ifindex,
           static_cast<std::uint8_t>(st.conf.trunk ? BRISK_VLAN_TRUNK : BRISK_VLAN_ACCESS),
           st.conf.access_vlan, st.conf.native_vlan});
    }
    MirrorPlanDevices devices{[this](int ifi) { return dst_ready(ifi); },
                              [](std::uint32_t ifi) { return device_mtu(static_cast<int>(ifi)); }};
    plan = plan_mirrors(mirrors_, ports, devices);
  }
  for (PortId id = 0; id < kMaxPorts; ++id) ports_[id].held = plan.held.count(id) != 0;
  publish_mirrors(plan);
}

// The publication of a plan: the steps above, in order.
void XdpFastpath::publish_mirrors(MirrorPlan& plan) {
  // 1. (the transmit counter first: it counts from the first destination on)
  if (!plan.dsts.empty() && !count_transmits(true)) {
    syslog(LOG_WARNING,
           "XDP fast path: attach to xdp:xdp_devmap_xmit: %s: mirror copies in userspace",
           std::strerror(errno));
    plan.dsts.clear();
    plan.pairs.clear();
  }
  for (auto [ifi, slot] : plan.dsts) {
    auto it = mdsts_.find(ifi);
    if (it != mdsts_.end() && it->second == slot) continue;
    brisk_fp_dkey k{netns_, ifi};
    std::uint32_t v = slot;
    bpf_map_update_elem(mdsts_fd_, &k, &v, BPF_ANY);
    mdsts_[ifi] = slot;
  }
  // 2. + 3.
  const std::set<std::vector<std::uint32_t>> used = publish_pairs(plan);
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
    if (plan.dsts.count(it->first)) {
      ++it;
      continue;
    }
    brisk_fp_dkey k{netns_, it->first};
    bpf_map_delete_elem(mdsts_fd_, &k);
    it = mdsts_.erase(it);
  }
  // 6.
  settle_left_slots(waited);
  if (mdsts_.empty()) count_transmits(false);
}

// The group (device set) of a pair: an existing one, or a new devmap filled and then put into
// brisk_fp_mdevs (step 2). nullptr when none can be had (the pair's frames stay in userspace).
const XdpFastpath::Group* XdpFastpath::group_for(const std::vector<std::uint32_t>& devs) {
  auto git = groups_.find(devs);
  if (git != groups_.end()) return &git->second;
  if (free_groups_.empty() || devs.size() > BRISK_FP_GROUP_DEVS) return nullptr;
  // Sized to its devices: a broadcast walks every bucket of the map (a 16-entry map cost
  // ~25 ns per mirrored frame more than a 2-entry one). An inner map's max_entries may
  // differ from the template's (bpf_map_meta_equal does not compare it).
  int fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, "brisk_fp_grp", 4, 4,
                          static_cast<std::uint32_t>(devs.size()), nullptr);
  if (fd < 0) {
    syslog(LOG_WARNING, "XDP fast path: mirror group devmap: %s", std::strerror(errno));
    return nullptr;
  }
  bool ok = true;
  for (std::uint32_t ifi : devs) ok = ok && bpf_map_update_elem(fd, &ifi, &ifi, BPF_ANY) == 0;
  std::uint32_t index = free_groups_.back();
  if (ok) ok = bpf_map_update_elem(mdevs_fd_, &index, &fd, BPF_ANY) == 0;
  if (!ok) {
    syslog(LOG_WARNING, "XDP fast path: mirror group: %s", std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  free_groups_.pop_back();
  return &groups_.emplace(devs, Group{index, fd}).first->second;
}

// Steps 2 and 3: the plan's pairs inserted or replaced (with their groups), then the pairs no
// longer wanted deleted. Returns the device sets the published pairs use.
std::set<std::vector<std::uint32_t>> XdpFastpath::publish_pairs(MirrorPlan& plan) {
  std::set<std::vector<std::uint32_t>> used;
  for (auto& [key, g] : plan.pairs) {
    const std::vector<std::uint32_t>& devs = plan.devs[key];
    const Group* group = group_for(devs);
    if (group == nullptr) continue;  // userspace
    used.insert(devs);
    g.group = group->index;
    std::vector<std::uint8_t> bytes(sizeof g);
    std::memcpy(bytes.data(), &g, sizeof g);
    auto pit = pairs_.find(key);
    if (pit != pairs_.end() && pit->second == bytes) continue;
    brisk_fp_pair k{static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>(key)};
    if (bpf_map_update_elem(mpairs_fd_, &k, &g, BPF_ANY) != 0) {
      bpf_map_delete_elem(mpairs_fd_, &k);
      pairs_.erase(key);
      continue;
    }
    pairs_[key] = std::move(bytes);
  }
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    const bool keep = plan.pairs.count(it->first) && used.count(plan.devs[it->first]);
    if (keep) {
      ++it;
      continue;
    }
    brisk_fp_pair k{static_cast<std::uint32_t>(it->first >> 32),
                    static_cast<std::uint32_t>(it->first)};
    bpf_map_delete_elem(mpairs_fd_, &k);
    it = pairs_.erase(it);
  }
  return used;
}

// Step 6: slots no published pair names any more. Once no program runs with the old pairs
// (`waited`: the kernel already waited), their copies neither sent nor dropped were skipped.
void XdpFastpath::settle_left_slots(bool waited) {
  std::set<std::uint16_t> slots;
  for (const auto& [key, bytes] : pairs_) {
    brisk_fp_mgroup g;
    std::memcpy(&g, bytes.data(), sizeof g);
    for (std::uint16_t i = 0; i < g.ncopies && i < BRISK_FP_MAX_COPIES; ++i)
      slots.insert(g.slot[i]);
  }
  std::vector<std::uint16_t> left;
  for (std::uint16_t slot : kernel_slots_)
    if (!slots.count(slot)) left.push_back(slot);
  if (!left.empty() && (waited || wait_for_programs()))
    for (std::uint16_t slot : left) count_skipped(slot, raw_mirror_counters(slot).mirrored);
  kernel_slots_ = std::move(slots);
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

FastpathMirrorCounters XdpFastpath::mirror_counters(std::uint16_t slot) const {
  FastpathMirrorCounters t = raw_mirror_counters(slot);
  if (slot < skipped_.size()) t.dropped += skipped_[slot];
  return t;
}

FastpathMirrorCounters XdpFastpath::raw_mirror_counters(std::uint16_t slot) const {
  FastpathMirrorCounters t;
  for (const brisk_fp_mcounters& c : percpu_values<brisk_fp_mcounters>(mstats_fd_, slot, ncpus_)) {
    t.mirrored += c.mirrored;
    t.sent += c.sent;
    t.dropped += c.dropped;
  }
  return t;
}

FastpathCounters XdpFastpath::counters(PortId id) const {
  FastpathCounters t;
  for (const brisk_fp_counters& c : percpu_values<brisk_fp_counters>(stats_fd_, id, ncpus_)) {
    t.rx_frames += c.rx_frames;
    t.rx_bytes += c.rx_bytes;
    t.tx_frames += c.tx_frames;
    t.tx_bytes += c.tx_bytes;
    t.oversize += c.oversize;
    t.encap += c.encap;
    t.decap += c.decap;
  }
  return t;
}

}  // namespace brisk
