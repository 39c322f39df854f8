// The userspace token bucket (datapath/policer.hpp): its rate and depth with an injected
// clock, several workers taking from one bucket at once (run under TSan by tools/dev.sh test),
// and the pipeline's use of it: ingress policing (`policed`) and the outbound limit
// (`egress_limit`) on memory ports through the real Switch (tests/support/harness.hpp).
#include "datapath/policer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ull;

TEST(Policer, StartsFullAndPassesTheDepthThenTheRate) {
  Policer p(125'000, 10'000);  // 1 Mbit/s, 10 kB deep
  const std::uint64_t t0 = 5 * kSec;
  int passed = 0;
  for (int i = 0; i < 20; ++i) passed += p.admit(1000, t0) ? 1 : 0;
  EXPECT_EQ(passed, 10);  // the depth, no more
  EXPECT_FALSE(p.admit(1, t0));
  // One second later the bucket holds 125 kB again, but never more than its depth.
  passed = 0;
  for (int i = 0; i < 20; ++i) passed += p.admit(1000, t0 + kSec) ? 1 : 0;
  EXPECT_EQ(passed, 10);
  // Steady state: 1500-byte frames offered every 1 ms (12 Mbit/s) for 10 s pass at 1 Mbit/s.
  std::uint64_t bytes = 0;
  for (std::uint64_t t = 0; t < 10'000; ++t)
    if (p.admit(1500, t0 + 2 * kSec + t * 1'000'000)) bytes += 1500;
  const double rate = static_cast<double>(bytes) / 10.0;
  EXPECT_NEAR(rate, 125'000.0 + 10'000.0 / 10.0, 2'000.0);  // the rate plus one depth in 10 s
}

TEST(Policer, AFrameLongerThanTheDepthNeverPasses) {
  Policer p(1'000'000, 1'000);
  EXPECT_FALSE(p.admit(1'001, kSec));
  EXPECT_TRUE(p.admit(1'000, kSec));
}

// The cost of a frame is rounded to 1/16 ns: 64-byte frames at 10 Gbit/s stay within 0.1%.
TEST(Policer, AccurateAtHighRates) {
  Policer p(1'250'000'000ull, 100'000);  // 10 Gbit/s
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 0; i < 1'000'000; ++i)  // 64-byte frames offered one per 10 ns
    if (p.admit(64, kSec + i * 10)) bytes += 64;
  // 10 ms at 1.25 bytes/ns plus the depth.
  EXPECT_NEAR(static_cast<double>(bytes), 12'500'000.0 + 100'000.0, 12'500.0);
}

TEST(Policer, OvsUnits) {
  EXPECT_EQ(ovs_policing_rate_bytes(8000), 1'000'000u);      // kbit/s = 1000 bit/s
  EXPECT_EQ(ovs_policing_burst_bytes(8), 1024u);             // kbit = 1024 bit, as OVS's tc
  EXPECT_EQ(ovs_policing_burst_bytes(0), 8000u * 1024 / 8);  // OVS's default burst
}

// Workers share a port's egress bucket: together they never take more than it gives.
TEST(Policer, ConcurrentWorkersNeverTakeMoreThanTheBucketGives) {
  Policer p(1'000'000, 50'000);  // 1 MB/s, 50 kB deep
  std::atomic<std::uint64_t> passed{0};
  std::atomic<bool> go{false};
  const std::uint64_t t0 = 3 * kSec;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      std::uint64_t mine = 0;
      // Each worker's clock: 100 ms in 1 µs steps, offering 100 bytes per step.
      for (std::uint64_t i = 0; i < 100'000; ++i)
        if (p.admit(100, t0 + i * 1000 + static_cast<std::uint64_t>(w))) mine += 100;
      passed.fetch_add(mine, std::memory_order_relaxed);
    });
  go.store(true, std::memory_order_release);
  for (auto& t : workers) t.join();
  // 100 ms of 1 MB/s plus the depth, whatever the interleaving; and the bucket was used.
  EXPECT_LE(passed.load(), 100'000u + 50'000u + 100u);
  EXPECT_GE(passed.load(), 100'000u);
}

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.cmd("tap create 10 name a").ok);
    ASSERT_TRUE(h.cmd("tap create 10 name b").ok);
    h.send("a", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from(kA).build());
    h.send("b", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from(kB).build());
    h.sent();
  }
  std::uint64_t drops(const std::string& port, Drop d) {
    return h.totals(port).drops[static_cast<std::size_t>(d)];
  }
  // n frames of 1000 bytes a -> b in one go; how many b was sent.
  std::size_t burst_a_to_b(int n) {
    for (int i = 0; i < n; ++i)
      h.port("a").inject(FrameBuilder().to(kB).from(kA).length(1000).build());
    h.pump();
    return h.sent()["b"].size();
  }
  Harness h{"tbr0"};
};

TEST_F(Limits, IngressPolicingDropsWhatIsOverTheRateAsPoliced) {
  // 8 kbit/s (1000 B/s), a burst below one largest frame: the bucket is kPolicerMinDepth.
  ASSERT_TRUE(h.sw().port_police("a", 8, 1).ok);
  const std::size_t deep = kPolicerMinDepth / 1000;
  EXPECT_EQ(burst_a_to_b(static_cast<int>(deep) + 5), deep);
  EXPECT_EQ(drops("a", Drop::kPoliced), 5u);
  h.advance(2);  // 2000 bytes more in the bucket
  EXPECT_EQ(burst_a_to_b(5), 2u);
  EXPECT_EQ(drops("a", Drop::kPoliced), 8u);
  // b is not policed; policing off lets everything through again.
  ASSERT_TRUE(h.sw().port_police("a", 0, 0).ok);
  EXPECT_EQ(burst_a_to_b(100), 100u);
  EXPECT_EQ(h.sw().ports().at("a").qos.police_in, nullptr);
  EXPECT_FALSE(h.sw().port_police("a", 2'000'000'000ull, 0).ok);  // bad input: refused
  EXPECT_FALSE(h.sw().port_police("nope", 8, 0).ok);
}

TEST_F(Limits, OutboundLimitOnAHostTapIsAUserspaceBucket) {
  EgressQos q;
  q.max_rate = 8000;  // 1000 B/s; the bucket: at least kPolicerMinDepth
  Reply r = h.sw().port_egress_qos("b", q);
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(r.text, "userspace");
  EXPECT_EQ(h.sw().ports().at("b").qos.via, PortQos::Via::kUserspace);
  const std::size_t deep = kPolicerMinDepth / 1000;
  EXPECT_EQ(burst_a_to_b(static_cast<int>(deep) + 7), deep);
  EXPECT_EQ(drops("b", Drop::kEgressLimit), 7u);  // charged to the output port
  EXPECT_EQ(drops("a", Drop::kEgressLimit), 0u);
  ASSERT_TRUE(h.sw().port_egress_qos("b", {}).ok);
  EXPECT_EQ(h.sw().ports().at("b").qos.via, PortQos::Via::kNone);
  EXPECT_EQ(burst_a_to_b(100), 100u);
}

}  // namespace
}  // namespace brisk::test
