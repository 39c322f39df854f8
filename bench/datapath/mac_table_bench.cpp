// MacTable micro-benchmarks: reader lookups (bulk and single), writer learn (insert, refresh,
// insert with eviction) and the ageing scan.
//
// Every table holds N random unicast MACs in one VLAN, with the entry limit equal to N (the
// table sizes itself to >= 2N slots, so 2^k entries give the design's worst load of 50%).
// Reported: items_per_second and ns_per_item (one item = one key looked up / learned / aged).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "bench/datapath/bench_common.hpp"
#include "datapath/mac_table.hpp"

namespace brisk::bench {
namespace {

constexpr VlanId kVlan = 10;
constexpr std::uint64_t kSeed = 0x5eed5eed5eedull;
constexpr std::uint32_t kNow = 1000;
constexpr PortId kPorts = 4;

std::vector<std::uint64_t> make_keys(std::uint32_t n, std::uint64_t first = 0) {
  std::vector<std::uint64_t> keys(n);
  for (std::uint32_t i = 0; i < n; ++i) keys[i] = fdb_key(kVlan, mac_at(first + i));
  return keys;
}

// A table of N learned entries (ports 0..3) and its keys in a shuffled lookup order. Built once
// per N and shared by the read-only benchmarks.
struct LoadedTable {
  std::unique_ptr<MacTable> table;
  std::vector<std::uint64_t> keys;
};

LoadedTable& loaded(std::uint32_t n) {
  static std::map<std::uint32_t, std::unique_ptr<LoadedTable>> cache;
  auto& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<LoadedTable>();
    slot->table = std::make_unique<MacTable>(n, kSeed);
    slot->keys = make_keys(n);
    for (std::uint32_t i = 0; i < n; ++i)
      slot->table->learn(slot->keys[i], static_cast<PortId>(i % kPorts), kNow);
    std::mt19937_64 rng(n);
    std::shuffle(slot->keys.begin(), slot->keys.end(), rng);
  }
  return *slot;
}

bool check_loaded(benchmark::State& state, const LoadedTable& t, std::uint32_t n) {
  if (t.table->size() != n) {
    state.SkipWithError("table did not take every entry");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- readers

void BM_MacTable_LookupBulk(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  LoadedTable& t = loaded(n);
  if (!check_loaded(state, t, n)) return;
  const MacTable& table = *t.table;
  FdbHit hits[kBatchSize];
  // Prove the 100% hit rate once, outside the timed loop.
  for (std::uint32_t pos = 0; pos < n; pos += kBatchSize) {
    unsigned m = std::min<std::uint32_t>(kBatchSize, n - pos);
    table.lookup_bulk(t.keys.data() + pos, m, hits);
    for (unsigned j = 0; j < m; ++j) {
      if (!hits[j].found()) {
        state.SkipWithError("lookup_bulk missed a learned key");
        return;
      }
    }
  }
  std::uint32_t pos = 0;
  const std::uint32_t wrap = n - n % kBatchSize;  // n >= kBatchSize for every arg below
  for (auto _ : state) {
    table.lookup_bulk(t.keys.data() + pos, kBatchSize, hits);
    benchmark::DoNotOptimize(hits);
    pos += kBatchSize;
    if (pos == wrap) pos = 0;
  }
  report_items(state, static_cast<std::uint64_t>(state.iterations()) * kBatchSize);
  state.counters["slots"] = static_cast<double>(table.slots());
}
BENCHMARK(BM_MacTable_LookupBulk)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);

void BM_MacTable_Lookup(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  LoadedTable& t = loaded(n);
  if (!check_loaded(state, t, n)) return;
  const MacTable& table = *t.table;
  std::uint32_t pos = 0;
  std::uint64_t found = 0;
  for (auto _ : state) {
    FdbHit h = table.lookup(t.keys[pos]);
    found += h.found() ? 1 : 0;
    benchmark::DoNotOptimize(h);
    if (++pos == n) pos = 0;
  }
  if (found != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("lookup missed a learned key");
  report_items(state, static_cast<std::uint64_t>(state.iterations()));
}
BENCHMARK(BM_MacTable_Lookup)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);

// ---------------------------------------------------------------- writer

// Insert N new keys into an empty table (limit N: no eviction). The table is created with the
// clock paused, so only learn() is timed (including its per-port index growth).
void BM_MacTable_LearnInsert(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const std::vector<std::uint64_t> keys = make_keys(n);
  std::unique_ptr<MacTable> table;
  std::uint64_t added = 0;
  for (auto _ : state) {
    state.PauseTiming();
    table.reset();
    table = std::make_unique<MacTable>(n, kSeed);
    state.ResumeTiming();
    for (std::uint32_t i = 0; i < n; ++i)
      added += table->learn(keys[i], static_cast<PortId>(i % kPorts), kNow) ==
               LearnResult::kAdded;
  }
  if (added != static_cast<std::uint64_t>(state.iterations()) * n)
    state.SkipWithError("learn did not add every key");
  report_items(state, static_cast<std::uint64_t>(state.iterations()) * n);
}
BENCHMARK(BM_MacTable_LearnInsert)
    ->Arg(1 << 10)
    ->Arg(100000)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);

// learn() of a known key on its own port: what the control thread does for each request that
// only refreshes (a new second on the clock, so the value is rewritten).
void BM_MacTable_LearnRefresh(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto table = std::make_unique<MacTable>(n, kSeed);
  std::vector<std::uint64_t> keys = make_keys(n);
  for (std::uint32_t i = 0; i < n; ++i) table->learn(keys[i], static_cast<PortId>(i % kPorts), kNow);
  std::vector<PortId> port(n);
  for (std::uint32_t i = 0; i < n; ++i) port[i] = static_cast<PortId>(i % kPorts);
  std::uint32_t now = kNow;
  std::uint32_t pos = 0;
  std::uint64_t refreshed = 0;
  for (auto _ : state) {
    refreshed += table->learn(keys[pos], port[pos], now) == LearnResult::kRefreshed;
    if (++pos == n) {
      pos = 0;
      ++now;
    }
  }
  if (refreshed != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("learn did not refresh");
  report_items(state, static_cast<std::uint64_t>(state.iterations()));
}
BENCHMARK(BM_MacTable_LearnRefresh)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);

// learn() of a new key into a full table: every insert first evicts the least recently seen of
// 8 sampled entries of the port with the most entries (fair eviction), then inserts.
void BM_MacTable_LearnEvict(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto table = std::make_unique<MacTable>(n, kSeed);
  for (std::uint32_t i = 0; i < n; ++i)
    table->learn(fdb_key(kVlan, mac_at(i)), static_cast<PortId>(i % kPorts), kNow);
  std::uint64_t next = n;
  std::uint64_t added = 0;
  const std::uint64_t evicted0 = table->stats().evicted;
  for (auto _ : state) {
    added += table->learn(fdb_key(kVlan, mac_at(next)), static_cast<PortId>(next % kPorts),
                          kNow + 1) == LearnResult::kAdded;
    ++next;
  }
  const auto iters = static_cast<std::uint64_t>(state.iterations());
  if (added != iters || table->stats().evicted - evicted0 != iters || table->size() != n)
    state.SkipWithError("learn into a full table did not evict-and-add");
  report_items(state, iters);
}
BENCHMARK(BM_MacTable_LearnEvict)->Arg(1 << 10)->Arg(100000)->Arg(1 << 20);

// age() over a full table where nothing has expired: the pure scan the control thread pays
// every ageing tick. One item = one entry; `slots` is what is actually walked.
void BM_MacTable_AgeScan(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  LoadedTable& t = loaded(n);
  if (!check_loaded(state, t, n)) return;
  std::size_t removed = 0;
  for (auto _ : state) removed += t.table->age(kNow + 10, kMacEntryDefaultAgeSec);
  if (removed != 0) state.SkipWithError("age() removed fresh entries");
  report_items(state, static_cast<std::uint64_t>(state.iterations()) * n);
  state.counters["slots"] = static_cast<double>(t.table->slots());
  state.counters["ns_per_slot"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(t.table->slots()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_MacTable_AgeScan)
    ->Arg(1 << 10)
    ->Arg(100000)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);

// age() where every entry has expired: scan plus backward-shift deletion of all N entries.
// The table is refilled with the clock paused.
void BM_MacTable_AgeExpireAll(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const std::vector<std::uint64_t> keys = make_keys(n);
  auto table = std::make_unique<MacTable>(n, kSeed);
  std::uint64_t removed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::uint32_t i = 0; i < n; ++i)
      table->learn(keys[i], static_cast<PortId>(i % kPorts), kNow);
    state.ResumeTiming();
    removed += table->age(kNow + kMacEntryDefaultAgeSec, kMacEntryDefaultAgeSec);
  }
  if (removed != static_cast<std::uint64_t>(state.iterations()) * n || table->size() != 0)
    state.SkipWithError("age() did not remove every expired entry");
  report_items(state, static_cast<std::uint64_t>(state.iterations()) * n);
}
BENCHMARK(BM_MacTable_AgeExpireAll)
    ->Arg(1 << 10)
    ->Arg(100000)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace brisk::bench
