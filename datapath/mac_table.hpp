// MacTable: the forwarding database (FDB) of one bridge, keyed by (VLAN, MAC).
//
// Design
// ------
// An open-addressing hash table with linear probing over 16-byte slots, sized at creation to
// a power of two at least twice the entry limit (load factor <= 50%). Deletion shifts later
// entries of the probe chain back (no tombstones), so lookups never slow down with churn.
// The hash is multiply-shift over the 64-bit key xor a per-table random seed, so a MAC flood
// with chosen addresses cannot aim for one probe chain.
//
//   key  (64 bits): bit 63 set (0 means an empty slot) | VLAN in bits 48..59 | MAC in 0..47
//   val  (64 bits): port (16) | flags (8) | key tag (8) | last-seen seconds (32)
//
// Thread-safety
// -------------
// * ONE writer: the control thread. Every mutating call (learn, add_static, remove, flush,
//   age, set_limit...) must come from that single thread. Workers never insert; they ask for
//   learning through their SPSC ring (see datapath/learn.hpp).
// * MANY lock-free readers: workers call lookup()/lookup_bulk()/touch() concurrently with the
//   writer. A reader loads key (acquire), val (acquire) and key again; if the key changed it
//   retries the slot. The writer stores val before key (release) when filling a slot.
// * Consequences a reader may observe while the writer deletes or shifts entries: an entry
//   may be missed for an instant (the frame is flooded in its VLAN, which is always correct
//   L2 behaviour), or a deleted entry may still be returned for an instant (the frame goes to
//   the port that owned the address a moment ago). A frame is never sent out of a bridge or
//   VLAN it does not belong to, because the VLAN is part of the key and tables are per bridge.
// * touch() refreshes last-seen with a CAS that keeps port and flags; it fails silently if
//   the writer changed the entry meanwhile (the next frame refreshes it). Workers write an
//   entry at most once per second of clock, so hot entries do not bounce cache lines.
//
// Limits and eviction
// -------------------
// `limit` caps the entries (static + dynamic). When learning a new address in a full table,
// the port with the most dynamic entries loses its least recently seen entry, approximated by
// sampling 8 of that port's entries (OVS's "fair" policy: one port flooding MACs evicts its own
// entries first, never a quiet port's). A static add into a full table evicts the same way;
// if every entry is static the add fails. An optional per-port limit makes a port at its cap
// replace its own oldest entry instead of growing.
//
// Ageing: age(now, max_age) removes dynamic entries not seen for max_age seconds. Static
// entries never age and never move. max_age == 0 is hub mode (the bridge learns nothing and
// floods everything), handled by the learn stage, not here.
//
// Observer (the XDP fast path's mirror, datapath/xdp_fastpath.hpp)
// ----------------------------------------------------------------
// An optional MacTableObserver hears every change of an entry's (key -> port) mapping, on the
// writer thread, BEFORE the table makes it visible to readers: fdb_set() before an insert, a
// move or a static replace; fdb_erase() before an entry is removed (remove, flush, age,
// eviction). So a copy of the table kept by the observer never holds an address the table
// has already moved or forgotten. Refreshing last-seen is not reported. Before age() expires
// an entry it asks fdb_seen() whether the observer saw the address more recently (the fast
// path forwards frames the workers never see); a later time keeps the entry alive.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "brisk/types.hpp"

namespace brisk {

inline constexpr std::uint32_t kMacTableDefaultLimit = 65536;
inline constexpr std::uint32_t kMacTableMaxLimit = 4u << 20;  // 4M entries
inline constexpr std::uint32_t kMacEntryDefaultAgeSec = 300;  // like the kernel bridge / OVS

// Build the 64-bit table key; never 0.
constexpr std::uint64_t fdb_key(VlanId vlan, std::uint64_t mac48) {
  return (std::uint64_t{1} << 63) | (std::uint64_t{vlan & 0xfffu} << 48) |
         (mac48 & 0xffffffffffffull);
}
inline std::uint64_t fdb_key(VlanId vlan, const std::uint8_t* mac) {
  std::uint64_t m = (std::uint64_t{mac[0]} << 40) | (std::uint64_t{mac[1]} << 32) |
                    (std::uint64_t{mac[2]} << 24) | (std::uint64_t{mac[3]} << 16) |
                    (std::uint64_t{mac[4]} << 8) | std::uint64_t{mac[5]};
  return fdb_key(vlan, m);
}
constexpr VlanId fdb_key_vlan(std::uint64_t key) { return static_cast<VlanId>((key >> 48) & 0xfff); }
constexpr std::uint64_t fdb_key_mac(std::uint64_t key) { return key & 0xffffffffffffull; }

struct FdbEntry {
  VlanId vlan;
  MacAddr mac;
  PortId port;
  bool is_static;
  std::uint32_t last_seen;  // seconds on the datapath clock
};

// The outcome of a reader lookup.
struct FdbHit {
  std::int32_t slot = -1;  // -1: miss
  PortId port = kInvalidPort;
  bool is_static = false;
  std::uint32_t last_seen = 0;
  bool found() const { return slot >= 0; }
};

enum class LearnResult : std::uint8_t {
  kAdded,          // new entry
  kRefreshed,      // known on the same port; last-seen updated
  kMoved,          // known on another port; moved (a MAC move)
  kStaticConflict, // a static entry owns the address; unchanged
  kFull,           // no room and nothing evictable
};

struct MacTableStats {
  std::uint64_t learned = 0, moved = 0, evicted = 0, aged = 0, static_conflicts = 0,
                full_drops = 0;
};

class MacTableObserver {
 public:
  virtual ~MacTableObserver() = default;
  // `old` is the port the address was on (kInvalidPort: a new entry).
  virtual void fdb_set(std::uint64_t key, PortId port, PortId old, bool is_static) = 0;
  virtual void fdb_erase(std::uint64_t key, PortId port) = 0;
  // A last-seen time (datapath seconds) newer than the table's, or 0.
  virtual std::uint32_t fdb_seen(std::uint64_t key, PortId port, std::uint32_t now) = 0;
};

class MacTable {
 public:
  explicit MacTable(std::uint32_t limit = kMacTableDefaultLimit, std::uint64_t seed = 0);
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  // ---- readers (any thread, lock-free) ----
  FdbHit lookup(std::uint64_t key) const noexcept;
  // Look up n keys (n <= kBatchSize) with the slots prefetched first.
  void lookup_bulk(const std::uint64_t* keys, unsigned n, FdbHit* out) const noexcept;
  // Refresh last-seen of the entry found at hit.slot if it still holds `key` on `port`.
  void touch(const FdbHit& hit, std::uint64_t key, std::uint32_t now) noexcept;

  // ---- the single writer (control thread) ----
  LearnResult learn(std::uint64_t key, PortId port, std::uint32_t now);
  // Add or replace a static entry. false when the table is full of static entries.
  bool add_static(std::uint64_t key, PortId port, std::uint32_t now);
  bool remove(std::uint64_t key);
  // Remove dynamic entries (and static ones when `include_static`) matching the filter.
  // kInvalidPort / vlan > kMaxVlan mean "any". Returns the number removed.
  std::size_t flush(PortId port = kInvalidPort, std::uint32_t vlan = 0xffffffff,
                    bool include_static = false);
  // Remove dynamic entries with now - last_seen >= max_age. Returns the number removed.
  std::size_t age(std::uint32_t now, std::uint32_t max_age);
  void set_port_limit(PortId port, std::uint32_t limit);  // 0 = none
  // The writer's observer (nullptr: none). Not owned; must outlive its attachment.
  void set_observer(MacTableObserver* o) { observer_ = o; }
  MacTableObserver* observer() const { return observer_; }
  std::uint32_t port_limit(PortId port) const;

  void for_each(const std::function<void(const FdbEntry&)>& fn) const;
  std::size_t size() const { return size_; }
  std::size_t dynamic_count(PortId port) const;
  std::uint32_t limit() const { return limit_; }
  std::size_t slots() const { return mask_ + 1; }
  const MacTableStats& stats() const { return stats_; }

 private:
  struct Slot {
    std::atomic<std::uint64_t> key{0};
    std::atomic<std::uint64_t> val{0};
  };
  static constexpr std::uint64_t kFlagStatic = 1;

  static constexpr std::uint64_t make_val(PortId port, std::uint64_t flags, std::uint64_t tag,
                                          std::uint32_t seen) {
    return (std::uint64_t{port} << 48) | (flags << 40) | (tag << 32) | seen;
  }
  static constexpr PortId val_port(std::uint64_t v) { return static_cast<PortId>(v >> 48); }
  static constexpr bool val_static(std::uint64_t v) { return ((v >> 40) & kFlagStatic) != 0; }
  static constexpr std::uint32_t val_seen(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
  static constexpr std::uint64_t val_tag(std::uint64_t v) { return (v >> 32) & 0xff; }

  std::size_t home(std::uint64_t key) const noexcept {
    return static_cast<std::size_t>(((key ^ seed_) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  static std::uint64_t key_tag(std::uint64_t key) { return (key * 0xff51afd7ed558ccdull) >> 56; }

  FdbHit read_slot(std::size_t i, std::uint64_t key) const noexcept;
  std::int64_t find(std::uint64_t key) const;  // writer-side probe
  void insert_at(std::size_t slot, std::uint64_t key, std::uint64_t val);
  void erase_at(std::size_t slot);
  bool evict_one(PortId only_port);  // kInvalidPort: fair choice over all ports
  void index_add(PortId port, std::size_t slot);
  void index_del(PortId port, std::size_t slot);
  void index_move(PortId port, std::size_t from, std::size_t to);

  std::uint32_t limit_;
  std::uint64_t seed_;
  std::size_t mask_;
  unsigned shift_;
  std::unique_ptr<Slot[]> slots_;
  std::size_t size_ = 0;
  std::size_t static_count_ = 0;
  // Writer-only index of dynamic entries per port, for fair eviction and per-port limits.
  std::vector<std::vector<std::uint32_t>> port_slots_;
  std::vector<std::uint32_t> slot_pos_;  // slot -> position in its port's list
  std::vector<std::uint32_t> port_limits_;
  std::mt19937_64 rng_;
  MacTableStats stats_;
  MacTableObserver* observer_ = nullptr;
};

}  // namespace brisk
