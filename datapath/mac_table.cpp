#include "datapath/mac_table.hpp"

#include <bit>
#include <stdexcept>

namespace brisk {

MacTable::MacTable(std::uint32_t limit, std::uint64_t seed) : limit_(limit) {
  if (limit == 0 || limit > kMacTableMaxLimit) throw std::invalid_argument("fdb limit out of range");
  std::size_t n = std::bit_ceil(std::size_t{limit} * 2);
  if (n < 1024) n = 1024;
  mask_ = n - 1;
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
  slots_.reset(new Slot[n]);
  slot_pos_.assign(n, 0);
  if (seed == 0) seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  seed_ = seed;
  rng_.seed(seed);
}

// ---------------------------------------------------------------- readers

FdbHit MacTable::read_slot(std::size_t i, std::uint64_t key) const noexcept {
  const Slot& s = slots_[i];
  std::uint64_t v = s.val.load(std::memory_order_acquire);
  // Loads after an acquire load are not hoisted above it: this re-check sees the key as it
  // was no earlier than the val read.
  if (s.key.load(std::memory_order_relaxed) != key || val_tag(v) != key_tag(key)) return {};
  return FdbHit{static_cast<std::int32_t>(i), val_port(v), val_static(v), val_seen(v)};
}

FdbHit MacTable::lookup(std::uint64_t key) const noexcept {
  for (std::size_t i = home(key), probes = 0; probes <= mask_; i = (i + 1) & mask_, ++probes) {
    std::uint64_t k = slots_[i].key.load(std::memory_order_acquire);
    if (k == 0) return {};
    if (k == key) {
      // A failed re-check means the writer changed this slot under us: report a miss (the
      // frame floods in its VLAN), as the header's contract allows.
      return read_slot(i, key);
    }
  }
  return {};
}

void MacTable::lookup_bulk(const std::uint64_t* keys, unsigned n, FdbHit* out) const noexcept {
  std::size_t homes[kBatchSize];
  for (unsigned j = 0; j < n; ++j) {
    homes[j] = home(keys[j]);
    __builtin_prefetch(&slots_[homes[j]]);
  }
  for (unsigned j = 0; j < n; ++j) {
    const std::uint64_t key = keys[j];
    std::size_t i = homes[j];
    // Fast path: the entry sits in its home slot (the common case at <= 50% load).
    std::uint64_t k = slots_[i].key.load(std::memory_order_acquire);
    if (k == key) {
      out[j] = read_slot(i, key);
    } else if (k == 0) {
      out[j] = FdbHit{};
    } else {
      out[j] = lookup(key);
    }
  }
}

void MacTable::touch(const FdbHit& hit, std::uint64_t key, std::uint32_t now) noexcept {
  if (!hit.found() || hit.last_seen == now || hit.is_static) return;
  Slot& s = slots_[static_cast<std::size_t>(hit.slot)];
  std::uint64_t v = s.val.load(std::memory_order_relaxed);
  if (val_port(v) != hit.port || val_seen(v) == now || val_static(v)) return;
  if (s.key.load(std::memory_order_relaxed) != key) return;
  std::uint64_t nv = (v & ~std::uint64_t{0xffffffff}) | now;
  // Failure means the writer changed the entry: leave it, the next frame refreshes it.
  s.val.compare_exchange_strong(v, nv, std::memory_order_relaxed, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- writer

std::int64_t MacTable::find(std::uint64_t key) const {
  for (std::size_t i = home(key);; i = (i + 1) & mask_) {
    std::uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
    if (k == 0) return -1;
    if (k == key) return static_cast<std::int64_t>(i);
  }
}

void MacTable::insert_at(std::size_t slot, std::uint64_t key, std::uint64_t val) {
  slots_[slot].val.store(val, std::memory_order_relaxed);
  slots_[slot].key.store(key, std::memory_order_release);
}

void MacTable::index_add(PortId port, std::size_t slot) {
  if (port >= port_slots_.size()) port_slots_.resize(std::size_t{port} + 1);
  slot_pos_[slot] = static_cast<std::uint32_t>(port_slots_[port].size());
  port_slots_[port].push_back(static_cast<std::uint32_t>(slot));
}

void MacTable::index_del(PortId port, std::size_t slot) {
  auto& list = port_slots_[port];
  std::uint32_t pos = slot_pos_[slot];
  std::uint32_t last = list.back();
  list[pos] = last;
  slot_pos_[last] = pos;
  list.pop_back();
}

void MacTable::index_move(PortId port, std::size_t from, std::size_t to) {
  std::uint32_t pos = slot_pos_[from];
  port_slots_[port][pos] = static_cast<std::uint32_t>(to);
  slot_pos_[to] = pos;
}

// Backward-shift deletion: pull later members of the probe chain into the hole so that no
// tombstone is left behind. Readers see each moved entry in its new slot before its old slot
// is reused (val before key, release).
void MacTable::erase_at(std::size_t hole) {
  std::uint64_t v = slots_[hole].val.load(std::memory_order_relaxed);
  if (observer_ != nullptr) observer_->fdb_erase(slots_[hole].key.load(std::memory_order_relaxed), val_port(v));
  if (val_static(v)) {
    --static_count_;
  } else {
    index_del(val_port(v), hole);
  }
  --size_;
  std::size_t j = hole;
  for (;;) {
    j = (j + 1) & mask_;
    std::uint64_t k = slots_[j].key.load(std::memory_order_relaxed);
    if (k == 0) break;
    std::size_t h = home(k);
    // Entry at j may move to the hole unless its home lies cyclically in (hole, j].
    bool stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (stays) continue;
    std::uint64_t jv = slots_[j].val.load(std::memory_order_relaxed);
    insert_at(hole, k, jv);
    if (!val_static(jv)) index_move(val_port(jv), j, hole);
    hole = j;
  }
  slots_[hole].key.store(0, std::memory_order_release);
}

bool MacTable::evict_one(PortId only_port) {
  PortId victim = only_port;
  if (victim == kInvalidPort) {
    std::size_t most = 0;
    for (std::size_t p = 0; p < port_slots_.size(); ++p) {
      if (port_slots_[p].size() > most) {
        most = port_slots_[p].size();
        victim = static_cast<PortId>(p);
      }
    }
    if (victim == kInvalidPort) return false;  // nothing dynamic to evict
  }
  if (victim >= port_slots_.size() || port_slots_[victim].empty()) return false;
  const auto& list = port_slots_[victim];
  std::size_t best = list[rng_() % list.size()];
  std::uint32_t best_seen = val_seen(slots_[best].val.load(std::memory_order_relaxed));
  for (int i = 1; i < 8 && i < static_cast<int>(list.size()); ++i) {
    std::size_t s = list[rng_() % list.size()];
    std::uint32_t seen = val_seen(slots_[s].val.load(std::memory_order_relaxed));
    if (seen < best_seen) {
      best = s;
      best_seen = seen;
    }
  }
  erase_at(best);
  ++stats_.evicted;
  return true;
}

LearnResult MacTable::learn(std::uint64_t key, PortId port, std::uint32_t now) {
  std::int64_t at = find(key);
  if (at >= 0) {
    Slot& s = slots_[static_cast<std::size_t>(at)];
    std::uint64_t v = s.val.load(std::memory_order_relaxed);
    if (val_static(v)) {
      ++stats_.static_conflicts;
      return LearnResult::kStaticConflict;
    }
    PortId old = val_port(v);
    if (old == port) {
      if (val_seen(v) != now) s.val.store(make_val(port, 0, key_tag(key), now), std::memory_order_release);
      return LearnResult::kRefreshed;
    }
    // A MAC move. Respect the new port's limit by evicting its own oldest entry first.
    std::uint32_t plimit = port_limit(port);
    if (plimit != 0 && dynamic_count(port) >= plimit) {
      if (!evict_one(port)) return LearnResult::kFull;
      at = find(key);  // eviction may have shifted our entry
    }
    std::size_t slot = static_cast<std::size_t>(at);
    if (observer_ != nullptr) observer_->fdb_set(key, port, old, false);
    index_del(old, slot);
    index_add(port, slot);
    slots_[slot].val.store(make_val(port, 0, key_tag(key), now), std::memory_order_release);
    ++stats_.moved;
    return LearnResult::kMoved;
  }
  std::uint32_t plimit = port_limit(port);
  if (plimit != 0 && dynamic_count(port) >= plimit) {
    if (!evict_one(port)) {
      ++stats_.full_drops;
      return LearnResult::kFull;
    }
  } else if (size_ >= limit_ && !evict_one(kInvalidPort)) {
    ++stats_.full_drops;
    return LearnResult::kFull;
  }
  std::size_t i = home(key);
  while (slots_[i].key.load(std::memory_order_relaxed) != 0) i = (i + 1) & mask_;
  if (observer_ != nullptr) observer_->fdb_set(key, port, kInvalidPort, false);
  insert_at(i, key, make_val(port, 0, key_tag(key), now));
  index_add(port, i);
  ++size_;
  ++stats_.learned;
  return LearnResult::kAdded;
}

bool MacTable::add_static(std::uint64_t key, PortId port, std::uint32_t now) {
  std::int64_t at = find(key);
  if (at >= 0) {
    std::size_t slot = static_cast<std::size_t>(at);
    std::uint64_t v = slots_[slot].val.load(std::memory_order_relaxed);
    if (observer_ != nullptr) observer_->fdb_set(key, port, val_port(v), true);
    if (!val_static(v)) {
      index_del(val_port(v), slot);
      ++static_count_;
    }
    slots_[slot].val.store(make_val(port, kFlagStatic, key_tag(key), now),
                           std::memory_order_release);
    return true;
  }
  if (size_ >= limit_ && !evict_one(kInvalidPort)) return false;
  std::size_t i = home(key);
  while (slots_[i].key.load(std::memory_order_relaxed) != 0) i = (i + 1) & mask_;
  if (observer_ != nullptr) observer_->fdb_set(key, port, kInvalidPort, true);
  insert_at(i, key, make_val(port, kFlagStatic, key_tag(key), now));
  ++size_;
  ++static_count_;
  return true;
}

bool MacTable::remove(std::uint64_t key) {
  std::int64_t at = find(key);
  if (at < 0) return false;
  erase_at(static_cast<std::size_t>(at));
  return true;
}

// One pass is complete: backward shifting moves an entry only into the slot being examined or
// into a later one, except along a chain that wraps past the end of the array, where entries
// move between slots the pass has already examined (and kept).
std::size_t MacTable::flush(PortId port, std::uint32_t vlan, bool include_static) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i <= mask_; ++i) {
    for (;;) {
      std::uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
      if (k == 0) break;
      std::uint64_t v = slots_[i].val.load(std::memory_order_relaxed);
      bool match = (include_static || !val_static(v)) &&
                   (port == kInvalidPort || val_port(v) == port) &&
                   (vlan > kMaxVlan || fdb_key_vlan(k) == vlan);
      if (!match) break;
      erase_at(i);  // slot i may now hold a shifted entry: examine it again
      ++removed;
    }
  }
  return removed;
}

std::size_t MacTable::age(std::uint32_t now, std::uint32_t max_age) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i <= mask_; ++i) {
    for (;;) {
      std::uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
      if (k == 0) break;
      std::uint64_t v = slots_[i].val.load(std::memory_order_relaxed);
      if (val_static(v) || now - val_seen(v) < max_age) break;
      if (observer_ != nullptr) {
        // Forwarded by the fast path since? Then it is alive: take the newer time.
        std::uint32_t seen = observer_->fdb_seen(k, val_port(v), now);
        if (seen != 0 && now - seen < max_age && seen > val_seen(v)) {
          slots_[i].val.store((v & ~std::uint64_t{0xffffffff}) | seen, std::memory_order_release);
          break;
        }
      }
      erase_at(i);
      ++removed;
    }
  }
  stats_.aged += removed;
  return removed;
}

void MacTable::set_port_limit(PortId port, std::uint32_t limit) {
  if (port >= port_limits_.size()) port_limits_.resize(std::size_t{port} + 1, 0);
  port_limits_[port] = limit;
  while (limit != 0 && dynamic_count(port) > limit) evict_one(port);
}

std::uint32_t MacTable::port_limit(PortId port) const {
  return port < port_limits_.size() ? port_limits_[port] : 0;
}

std::size_t MacTable::dynamic_count(PortId port) const {
  return port < port_slots_.size() ? port_slots_[port].size() : 0;
}

void MacTable::for_each(const std::function<void(const FdbEntry&)>& fn) const {
  for (std::size_t i = 0; i <= mask_; ++i) {
    std::uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
    if (k == 0) continue;
    std::uint64_t v = slots_[i].val.load(std::memory_order_relaxed);
    fn(FdbEntry{fdb_key_vlan(k), MacAddr::from_u64(fdb_key_mac(k)), val_port(v), val_static(v),
                val_seen(v)});
  }
}

}  // namespace brisk
