// Switch: port mirrors (`tap mirror`, minimega's grammar and error words) and pcap captures
// (`capture pcap`). The datapath side is datapath/mirror.hpp and datapath/capture.hpp.
//
// Model
// -----
// * A mirror copies every frame entering or leaving its source port (OVS select-src-port +
//   select-dst-port), of the VLANs it selects (OVS select_vlan; all when none), to its
//   destination port; source "all" copies every frame entering any
//   port of the bridge (OVS select-all). Mirrors are keyed by their destination: a destination
//   serves one mirror, a source may feed several.
// * A mirror destination receives only mirrored frames: it leaves every flood list, FDB entries
//   pointing at it count as unknown, and what it sends is counted (drop reason mirror_dst) and
//   not forwarded. It cannot itself be a mirror source (no chains).
// * A capture is a mirror whose destination is a pcap file written by the CaptureWriter thread.
// * When a mirror's source or destination port (or its bridge) goes away, the mirror goes with
//   it, and a capture's file is closed.
// * Closing a capture waits for one QSBR grace period (no worker can still push to it), then
//   the writer drains its rings, flushes and closes the file before the command returns.
#include <syslog.h>

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>

#include "control/capture_file.hpp"
#include "control/switch.hpp"
#include "control/views.hpp"

namespace brisk {

bool Switch::is_mirror_dst(const std::string& port) const {
  return std::any_of(mirrors_.begin(), mirrors_.end(),
                     [&](const MirrorModel& m) { return !m.dst.empty() && m.dst == port; });
}

bool Switch::is_mirror_src(const std::string& port) const {
  return std::any_of(mirrors_.begin(), mirrors_.end(),
                     [&](const MirrorModel& m) { return !m.src.empty() && m.src == port; });
}

std::optional<std::uint16_t> Switch::alloc_mirror_slot() {
  // Round-robin, like port ids: a slot a worker may still count into (old snapshot) is not
  // handed out again at once.
  for (std::size_t k = 0; k < kMaxMirrors; ++k) {
    auto slot = static_cast<std::uint16_t>((next_mirror_slot_ + k) % kMaxMirrors);
    if (!mirror_slot_used_[slot]) {
      mirror_slot_used_[slot] = true;
      next_mirror_slot_ = static_cast<std::uint16_t>((slot + 1) % kMaxMirrors);
      return slot;
    }
  }
  return std::nullopt;
}

// Everything counted in m.slot, by who counts: the workers and, for a port mirror, the XDP
// fast path (copies it made, datapath/xdp_fastpath.hpp).
void Switch::slot_tallies(const MirrorModel& m, MirrorModel::Tally& workers,
                          MirrorModel::Tally& kernel) const {
  workers = kernel = {};
  for (unsigned i = 0; i < dp_.workers(); ++i) {
    const MirrorCounters& mc = dp_.context(i).counters.mirror[m.slot];
    workers.mirrored += mc.mirrored.get();
    workers.delivered += mc.delivered.get();
    workers.dropped += mc.dropped.get();
  }
  if (fp_ && !m.capture && !m.dst.empty()) {
    FastpathMirrorCounters f = fp_->mirror_counters(m.slot);
    kernel = {f.mirrored, f.sent, f.dropped};
  }
}

MirrorCounts Switch::mirror_counts(const MirrorModel& m) const {
  MirrorModel::Tally w, k;
  slot_tallies(m, w, k);
  auto since = [](MirrorModel::Tally t, const MirrorModel::Tally& base) {
    t.mirrored -= base.mirrored;
    t.delivered -= base.delivered;
    t.dropped -= base.dropped;
    return t;
  };
  w = since(w, m.base_workers);
  k = since(k, m.base_kernel);
  MirrorCounts c;
  c.kernel = k;
  c.mirrored = w.mirrored + k.mirrored;
  if (m.capture) {
    c.delivered = m.capture->written();
    c.dropped = w.dropped + k.dropped + m.capture->write_errors();
    c.queued = m.capture->queued();
  } else {
    c.delivered = w.delivered + k.delivered;
    c.dropped = w.dropped + k.dropped;
    // Copies made but not yet flushed: at most one batch per worker, zero once idle.
    std::uint64_t done = c.delivered + c.dropped;
    c.queued = c.mirrored > done ? c.mirrored - done : 0;
  }
  return c;
}

// ------------------------------------------------------------------ snapshot hooks

void Switch::prune_mirrors() {
  auto on_bridge = [&](const std::string& port, const std::string& bridge) {
    auto it = ports_.find(port);
    return it != ports_.end() && it->second.bridge == bridge;
  };
  std::vector<MirrorModel> keep;
  for (auto& m : mirrors_) {
    bool ok = bridges_.count(m.bridge) != 0 && (m.src.empty() || on_bridge(m.src, m.bridge)) &&
              (m.dst.empty() || on_bridge(m.dst, m.bridge));
    if (ok) {
      keep.push_back(std::move(m));
      continue;
    }
    mirror_slot_used_[m.slot] = false;
    if (m.capture) {
      syslog(LOG_WARNING, "capture %u of %s: source gone; closing %s", m.capture_id,
             m.src.empty() ? m.bridge.c_str() : m.src.c_str(), m.capture->path().c_str());
      closing_.push_back(m.capture);
    } else {
      syslog(LOG_WARNING, "mirror %s -> %s on %s removed: a port is gone",
             m.src.empty() ? "all" : m.src.c_str(), m.dst.c_str(), m.bridge.c_str());
    }
  }
  mirrors_ = std::move(keep);
}

PortId Switch::mirror_src(const MirrorModel& m) const {
  return m.src.empty() ? kInvalidPort : ports_.at(m.src).id;
}

void Switch::build_mirrors(Snapshot& s, const std::map<std::string, std::uint16_t>& bidx) const {
  for (const auto& m : mirrors_) {
    MirrorConf mc;
    mc.src = mirror_src(m);
    mc.slot = m.slot;
    if (m.capture) {
      mc.capture = m.capture.get();
      mc.tag_as = mc.src;  // a tap's capture shows the tap's wire; a bridge's, every VLAN tag
      s.captures.push_back(m.capture);
    } else {
      mc.dst = ports_.at(m.dst).id;
      mc.tag_as = mc.dst;
      if (m.vlans) {
        mc.vlans = m.vlans.get();
        s.vlan_sets.push_back(m.vlans);
      }
      s.ports[mc.dst].mirror_dst = true;
      s.ports[mc.dst].mirror_slot = m.slot;
    }
    s.bridges[bidx.at(m.bridge)].mirrors.push_back(mc);
  }
}

bool Switch::wait_grace(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (dp_.snapshots().reclaim([this] { drain_learning(); }) == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void Switch::finish_closing() {
  for (auto& c : closing_) {
    if (capture_writer_) {
      capture_writer_->close(c);
    } else {
      c->close();
    }
  }
  closing_.clear();
}

void Switch::close_all_captures() {
  // Workers are stopped (or never started) when a Switch is destroyed.
  capture_writer_.reset();
  for (auto& m : mirrors_)
    if (m.capture) m.capture->close();
  for (auto& c : closing_) c->close();
  closing_.clear();
}

// ------------------------------------------------------------------ tap mirror

Reply Switch::mirror_add(const std::string& src, const std::string& dst, const std::string& bridge,
                         std::shared_ptr<const VlanSet> vlans) {
  if (!bridges_.count(bridge)) return Reply::error("no such bridge: " + bridge);
  const bool all = src == "all";
  if (src == dst) return Reply::error("cannot mirror tap to itself");
  auto on_bridge = [&](const std::string& port) {
    auto it = ports_.find(port);
    return it != ports_.end() && it->second.bridge == bridge;
  };
  if (!all && !on_bridge(src)) return Reply::error("source tap is not on bridge");
  if (!on_bridge(dst)) return Reply::error("destination tap is not on bridge");
  if (is_mirror_dst(dst)) return Reply::error("destination tap is already a mirror");
  if (is_mirror_src(dst))
    return Reply::error("destination tap is the source of a mirror or capture");
  if (!all && is_mirror_dst(src)) return Reply::error("source tap is a mirror destination");
  auto slot = alloc_mirror_slot();
  if (!slot)
    return Reply::error("too many mirrors and captures (limit " + std::to_string(kMaxMirrors) +
                        ")");
  MirrorModel m;
  m.bridge = bridge;
  m.src = all ? "" : src;
  m.dst = dst;
  m.vlans = std::move(vlans);
  m.slot = *slot;
  slot_tallies(m, m.base_workers, m.base_kernel);  // what an earlier user of the slot left
  mirrors_.push_back(std::move(m));
  // What the destination learned before must not attract unicast any more.
  bridges_.at(bridge).fdb->flush(ports_.at(dst).id);
  rebuild();
  syslog(LOG_INFO, "mirror %s -> %s on %s", src.c_str(), dst.c_str(), bridge.c_str());
  return Reply::okay();
}

Reply Switch::mirror_clear(const std::string& dst) {
  if (dst.empty()) {
    for (auto& m : mirrors_)
      if (!m.capture) mirror_slot_used_[m.slot] = false;
    std::erase_if(mirrors_, [](const MirrorModel& m) { return !m.capture; });
    rebuild();
    return Reply::okay();
  }
  auto it = std::find_if(mirrors_.begin(), mirrors_.end(),
                         [&](const MirrorModel& m) { return !m.capture && m.dst == dst; });
  if (it == mirrors_.end()) {
    auto p = ports_.find(dst);
    std::string bridge = p != ports_.end() ? p->second.bridge : opts_.default_bridge;
    return Reply::error("tap is not a mirror on bridge " + bridge + ": " + dst);
  }
  mirror_slot_used_[it->slot] = false;
  mirrors_.erase(it);
  rebuild();
  return Reply::okay();
}

Reply Switch::list_mirrors() const { return render_mirrors(mirror_views()); }

// ------------------------------------------------------------------ capture pcap

Reply Switch::capture_add(const std::string& kind, const std::string& name, const std::string& file,
                          std::uint32_t snaplen, bool overwrite, const Caller& caller) {
  MirrorModel m;
  if (kind == "tap") {
    auto p = ports_.find(name);
    if (p == ports_.end()) return Reply::error("no port named " + name);
    if (is_mirror_dst(name))
      return Reply::error(name + " is a mirror destination: capture its source instead");
    m.bridge = p->second.bridge;
    m.src = name;
  } else if (kind == "bridge") {
    if (!bridges_.count(name)) return Reply::error("no such bridge: " + name);
    m.bridge = name;
  } else {
    return Reply::error("capture pcap wants tap or bridge, not '" + kind + "'");
  }
  if (file.empty() || file[0] != '/')
    return Reply::error("capture file must be an absolute path: " + file);
  for (const auto& o : mirrors_)
    if (o.capture && o.capture->path() == file)
      return Reply::error("already capturing to " + file + " (capture " +
                          std::to_string(o.capture_id) + ")");
  auto slot = alloc_mirror_slot();
  if (!slot)
    return Reply::error("too many mirrors and captures (limit " + std::to_string(kMaxMirrors) +
                        ")");
  CaptureFileOpen f = open_capture_file(file, overwrite, caller);
  if (f.fd < 0) {
    mirror_slot_used_[*slot] = false;
    return Reply::error(f.error);
  }
  try {
    m.capture = std::make_shared<Capture>(f.fd, file, snaplen, dp_.workers());
  } catch (const std::system_error& e) {
    mirror_slot_used_[*slot] = false;
    return Reply::error(std::string(e.what()));
  }
  m.slot = *slot;
  m.capture_id = next_capture_id_++;
  slot_tallies(m, m.base_workers, m.base_kernel);  // what an earlier user of the slot left
  if (!capture_writer_) capture_writer_ = std::make_unique<CaptureWriter>();
  capture_writer_->add(m.capture);
  std::uint32_t id = m.capture_id;
  mirrors_.push_back(std::move(m));
  rebuild();
  syslog(LOG_INFO, "capture %u: %s %s -> %s", id, kind.c_str(), name.c_str(), file.c_str());
  return Reply::okay("", nlohmann::json{{"id", id}, {"file", file}});
}

Reply Switch::capture_clear(std::optional<std::uint32_t> id) {
  std::vector<MirrorModel> doomed;
  std::vector<MirrorModel> keep;
  for (auto& m : mirrors_) {
    if (m.capture && (!id || m.capture_id == *id)) {
      doomed.push_back(std::move(m));
    } else {
      keep.push_back(std::move(m));
    }
  }
  if (id && doomed.empty()) return Reply::error("no capture " + std::to_string(*id));
  mirrors_ = std::move(keep);
  if (doomed.empty()) return Reply::okay();
  rebuild();
  // Once no snapshot naming the captures is left, no worker can push to them: drain and close.
  bool graced = wait_grace(std::chrono::milliseconds(2000));
  std::string text;
  nlohmann::json data = nlohmann::json::array();
  for (auto& m : doomed) {
    if (graced) {
      if (capture_writer_) capture_writer_->close(m.capture);
      MirrorCounts c = mirror_counts(m);
      text += (text.empty() ? "" : "\n") + m.capture->path() + ": " + std::to_string(c.delivered) +
              " frames written, " + std::to_string(c.dropped) + " dropped";
      data.push_back({{"id", m.capture_id},
                      {"file", m.capture->path()},
                      {"captured", c.mirrored},
                      {"written", c.delivered},
                      {"dropped", c.dropped}});
    } else {
      closing_.push_back(m.capture);
      text += (text.empty() ? "" : "\n") + m.capture->path() + ": closing in the background";
    }
    mirror_slot_used_[m.slot] = false;
  }
  return Reply::okay(text, data);
}

Reply Switch::list_captures() const { return render_captures(mirror_views()); }

std::vector<MirrorView> Switch::mirror_views() const {
  std::vector<MirrorView> v;
  for (const auto& m : mirrors_)
    v.push_back({m.bridge, m.src, m.capture ? m.capture->path() : m.dst, m.vlans,
                 m.capture != nullptr, m.capture_id, m.capture ? m.capture->snaplen() : 0,
                 mirror_counts(m)});
  return v;
}

}  // namespace brisk
