// MacTable checked against a simple model (std::unordered_map) under random operations, plus
// the eviction and concurrency properties the header promises.
#include "datapath/mac_table.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <unordered_map>

namespace brisk {
namespace {

struct ModelEntry {
  PortId port;
  bool is_static;
  std::uint32_t seen;
};

void check_against(const MacTable& t, const std::unordered_map<std::uint64_t, ModelEntry>& model,
                   const std::vector<std::uint64_t>& universe) {
  ASSERT_EQ(t.size(), model.size());
  std::size_t seen = 0;
  t.for_each([&](const FdbEntry&) { ++seen; });
  ASSERT_EQ(seen, model.size());
  for (std::uint64_t k : universe) {
    FdbHit h = t.lookup(k);
    auto it = model.find(k);
    ASSERT_EQ(h.found(), it != model.end()) << std::hex << k;
    if (h.found()) {
      ASSERT_EQ(h.port, it->second.port);
      ASSERT_EQ(h.is_static, it->second.is_static);
      ASSERT_EQ(h.last_seen, it->second.seen);
    }
  }
  // Bulk lookups agree with single lookups.
  for (std::size_t off = 0; off + kBatchSize <= universe.size(); off += kBatchSize) {
    FdbHit hits[kBatchSize];
    t.lookup_bulk(&universe[off], kBatchSize, hits);
    for (unsigned j = 0; j < kBatchSize; ++j)
      ASSERT_EQ(hits[j].found(), model.count(universe[off + j]) != 0);
  }
}

TEST(MacTable, MatchesModelUnderRandomOperations) {
  // 600 keys in a 1024-slot table (limit 512 is never reached by the model: it caps itself),
  // with few VLANs and MACs so probe chains collide and backward shifting is exercised.
  std::mt19937_64 rng(42);
  MacTable t(512, /*seed=*/12345);
  std::vector<std::uint64_t> universe;
  for (int i = 0; i < 600; ++i)
    universe.push_back(fdb_key(static_cast<VlanId>(i % 3), 0x020000000000ull + i * 7919));
  std::unordered_map<std::uint64_t, ModelEntry> model;
  std::uint32_t now = 100;
  for (int step = 0; step < 20000; ++step) {
    std::uint64_t k = universe[rng() % universe.size()];
    PortId port = static_cast<PortId>(rng() % 6);
    switch (rng() % 10) {
      case 0: case 1: case 2: case 3: {  // learn
        if (model.size() >= 500 && !model.count(k)) break;
        LearnResult r = t.learn(k, port, now);
        auto it = model.find(k);
        if (it == model.end()) {
          ASSERT_EQ(r, LearnResult::kAdded);
          model[k] = {port, false, now};
        } else if (it->second.is_static) {
          ASSERT_EQ(r, LearnResult::kStaticConflict);
        } else {
          ASSERT_EQ(r, it->second.port == port ? LearnResult::kRefreshed : LearnResult::kMoved);
          it->second = {port, false, now};
        }
        break;
      }
      case 4: {  // remove
        ASSERT_EQ(t.remove(k), model.erase(k) == 1);
        break;
      }
      case 5: {  // static add
        if (model.size() >= 500 && !model.count(k)) break;
        ASSERT_TRUE(t.add_static(k, port, now));
        model[k] = {port, true, now};
        break;
      }
      case 6: {  // time passes, ageing
        now += static_cast<std::uint32_t>(rng() % 3);
        std::uint32_t max_age = 5;
        std::size_t expect = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (!it->second.is_static && now - it->second.seen >= max_age) {
            it = model.erase(it);
            ++expect;
          } else {
            ++it;
          }
        }
        ASSERT_EQ(t.age(now, max_age), expect);
        break;
      }
      case 7: {  // flush one port (dynamic only), sometimes one VLAN
        if (rng() % 20 != 0) break;
        std::uint32_t vlan = rng() % 2 ? 0xffffffff : static_cast<std::uint32_t>(rng() % 3);
        std::size_t expect = 0;
        for (auto it = model.begin(); it != model.end();) {
          bool m = !it->second.is_static && it->second.port == port &&
                   (vlan > kMaxVlan || fdb_key_vlan(it->first) == vlan);
          if (m) {
            it = model.erase(it);
            ++expect;
          } else {
            ++it;
          }
        }
        ASSERT_EQ(t.flush(port, vlan), expect);
        break;
      }
      default: {  // worker-side refresh through touch()
        FdbHit h = t.lookup(k);
        if (h.found()) {
          t.touch(h, k, now);
          auto& e = model.at(k);
          if (!e.is_static) e.seen = now;
        }
        break;
      }
    }
    if (step % 97 == 0) check_against(t, model, universe);
  }
  check_against(t, model, universe);
}

TEST(MacTable, FullTableEvictsTheBusiestPortsOldestEntries) {
  MacTable t(100, 7);
  std::uint32_t now = 10;
  // A quiet port with 5 entries, a noisy port filling the rest.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(t.learn(fdb_key(1, 0x100 + i), 1, now), LearnResult::kAdded);
  for (int i = 0; i < 1000; ++i) {
    ++now;
    ASSERT_NE(t.learn(fdb_key(1, 0x10000 + i), 2, now), LearnResult::kFull);
    ASSERT_LE(t.size(), 100u);
  }
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.dynamic_count(1), 5u) << "the quiet port keeps all of its entries";
  EXPECT_EQ(t.dynamic_count(2), 95u);
  // Sampled LRU: the newest addresses of the noisy port are overwhelmingly still there.
  int recent = 0;
  for (int i = 990; i < 1000; ++i) recent += t.lookup(fdb_key(1, 0x10000 + i)).found();
  EXPECT_GE(recent, 9);
}

TEST(MacTable, PerPortLimitReplacesOwnEntriesOnly) {
  MacTable t(1000, 9);
  t.set_port_limit(3, 10);
  for (int i = 0; i < 10; ++i) t.learn(fdb_key(1, 0x500 + i), 4, 1);
  for (int i = 0; i < 500; ++i) t.learn(fdb_key(1, 0x9000 + i), 3, 2 + i);
  EXPECT_EQ(t.dynamic_count(3), 10u);
  EXPECT_EQ(t.dynamic_count(4), 10u);
}

TEST(MacTable, AllStaticTableRefusesMore) {
  MacTable t(4, 3);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(t.add_static(fdb_key(0, 0x700 + i), 1, 0));
  EXPECT_FALSE(t.add_static(fdb_key(0, 0x800), 1, 0));
  EXPECT_EQ(t.learn(fdb_key(0, 0x900), 1, 0), LearnResult::kFull);
  EXPECT_EQ(t.size(), 4u);
}

TEST(MacTable, LookupsDuringWritesNeverReturnAWrongPort) {
  // Readers race the single writer; each key is only ever learned on port (key % 7), so any
  // hit must name that port. Run under TSan for the memory-order check.
  MacTable t(4096, 5);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> hits{0};
  auto port_of = [](std::uint64_t k) { return static_cast<PortId>(fdb_key_mac(k) % 7); };
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(r);
      std::uint64_t local = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::uint64_t keys[kBatchSize];
        for (auto& k : keys) k = fdb_key(2, rng() % 6000);
        FdbHit out[kBatchSize];
        t.lookup_bulk(keys, kBatchSize, out);
        for (unsigned j = 0; j < kBatchSize; ++j) {
          if (out[j].found()) {
            ++local;
            EXPECT_EQ(out[j].port, port_of(keys[j]));
            t.touch(out[j], keys[j], 77);
          }
        }
      }
      hits += local;
    });
  }
  std::mt19937_64 rng(99);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t k = fdb_key(2, rng() % 6000);
    if (rng() % 3 == 0) {
      t.remove(k);
    } else {
      t.learn(k, port_of(k), static_cast<std::uint32_t>(i / 1000));
    }
    if (i % 50000 == 0) t.age(static_cast<std::uint32_t>(i / 1000), 30);
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_GT(hits.load(), 0u);
}


// The observer hears every mapping change before readers can see it, and age() asks it
// before expiring (datapath/mac_table.hpp, "Observer").
struct RecordingObserver : MacTableObserver {
  MacTable* t = nullptr;
  std::map<std::uint64_t, PortId> mirror;  // what a fast path would hold
  std::map<std::uint64_t, std::uint32_t> fresher;
  int violations = 0;
  void fdb_set(std::uint64_t key, PortId port, PortId old, bool) override {
    FdbHit h = t->lookup(key);
    // Not yet visible: a new key is still missing, a moved one still on its old port.
    if (old == kInvalidPort ? h.found() : (!h.found() || h.port != old)) ++violations;
    mirror[key] = port;
  }
  void fdb_erase(std::uint64_t key, PortId port) override {
    FdbHit h = t->lookup(key);
    if (!h.found() || h.port != port) ++violations;  // still there when we hear of it
    mirror.erase(key);
  }
  std::uint32_t fdb_seen(std::uint64_t key, PortId, std::uint32_t) override {
    auto it = fresher.find(key);
    return it == fresher.end() ? 0 : it->second;
  }
};

TEST(MacTable, ObserverMirrorsEveryChangeBeforeItIsVisible) {
  MacTable t(64, 5);
  RecordingObserver o;
  o.t = &t;
  t.set_observer(&o);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t k = fdb_key(static_cast<VlanId>(rng() % 3), rng() % 200);
    PortId p = static_cast<PortId>(rng() % 5);
    switch (rng() % 8) {
      case 0: t.remove(k); break;
      case 1: t.add_static(k, p, 1); break;
      case 2: if (i % 500 == 0) t.flush(p); break;
      case 3: if (i % 700 == 0) t.age(static_cast<std::uint32_t>(i / 100), 20); break;
      default: t.learn(k, p, static_cast<std::uint32_t>(i / 100)); break;
    }
  }
  EXPECT_EQ(o.violations, 0);
  std::map<std::uint64_t, PortId> truth;
  t.for_each([&](const FdbEntry& e) { truth[fdb_key(e.vlan, e.mac.to_u64())] = e.port; });
  EXPECT_EQ(o.mirror, truth);

  // Ageing keeps an entry the observer saw recently, with the observer's time.
  MacTable a(64, 6);
  RecordingObserver ao;
  ao.t = &a;
  a.set_observer(&ao);
  const std::uint64_t hot = fdb_key(1, 0x10), cold = fdb_key(1, 0x20);
  a.learn(hot, 1, 100);
  a.learn(cold, 2, 100);
  ao.fresher[hot] = 195;
  EXPECT_EQ(a.age(200, 30), 1u);
  EXPECT_TRUE(a.lookup(hot).found());
  EXPECT_EQ(a.lookup(hot).last_seen, 195u);
  EXPECT_FALSE(a.lookup(cold).found());
  EXPECT_EQ(ao.mirror.count(cold), 0u);
}

}  // namespace
}  // namespace brisk
