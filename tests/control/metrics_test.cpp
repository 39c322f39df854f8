// Metrics: the exposition text reflects the switch's counters (through the typed views), a
// driver's own figures reach the metrics and the `port` JSON, and the channel that carries
// scrapes' snapshot requests to the control thread (served over HTTP by prometheus-cpp:
// tests/control/server_test.cpp).
#include "control/metrics.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

using namespace std::chrono_literals;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, CountersPerPortReasonAndFdb) {
  Harness h("mbr");
  ASSERT_TRUE(h.cmd("tap create 10 name ma").ok);
  ASSERT_TRUE(h.cmd("tap create 10 name mb").ok);
  h.send("ma", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:01").build());
  h.send("ma", FrameBuilder().to("02:00:00:00:00:02").from("02:00:00:00:00:01").tagged(20).build());
  std::string t = metrics_text(metrics_snapshot(h.sw(), [] {
    return std::vector<ExtraMetric>{{"extra_metric", "An extra figure.", false, 7}};
  }));
  EXPECT_TRUE(has_line(t, "# TYPE brisk_port_rx_frames_total counter")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_rx_frames_total{port="ma",bridge="mbr",kind="tap"} 2)"))
      << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_tx_frames_total{port="mb",bridge="mbr",kind="tap"} 1)"))
      << t;
  EXPECT_TRUE(
      has_line(t, R"(brisk_port_drops_total{port="ma",bridge="mbr",reason="tagged_on_access"} 1)"))
      << t;
  EXPECT_TRUE(has_line(t, R"(brisk_drops_total{reason="tagged_on_access"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_drops_total{reason="runt"} 0)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_fdb_entries{bridge="mbr"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_fdb_limit{bridge="mbr"} 65536)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_ports{bridge="mbr",kind="tap"} 2)")) << t;
  EXPECT_TRUE(has_line(t, "brisk_learn_applied_total 1")) << t;
  EXPECT_TRUE(has_line(t, "brisk_metrics_snapshot 1")) << t;
  EXPECT_TRUE(has_line(t, "# TYPE extra_metric gauge")) << t;
  EXPECT_TRUE(has_line(t, "extra_metric 7")) << t;
}

// A port whose driver describes itself (as AF_XDP and vhost-user ports do): its figures reach
// the metrics (the socket's counters as brisk_port_xsk_total, other counters and gauges as
// brisk_port_driver*) and the `port` JSON (a group as an object).
TEST(Metrics, DriverFiguresInMetricsAndPortJson) {
  PortView p;
  p.name = "x0";
  p.bridge = "br";
  p.kind = PortKind::kSystem;
  p.driver = "afxdp";
  p.info.fastpath_device = true;
  p.info.xdp_program = true;
  p.worker = 1;
  add_text(p.figures, "", "afxdp_mode", "native/copy");
  add_counter(p.figures, "", "tx_zero_copy", 5);
  add_flag(p.figures, "", "afxdp_multi_buffer", true);
  add_counter(p.figures, "xsk", "rx_fill_ring_empty", 9);
  add_gauge(p.figures, "umem", "free", 100);
  MetricsSnapshot s;
  s.ports.push_back(p);
  const std::string t = metrics_text(s);
  EXPECT_TRUE(has_line(t, R"(brisk_port_xsk_total{port="x0",counter="rx_fill_ring_empty"} 9)"))
      << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_driver_total{port="x0",counter="tx_zero_copy"} 5)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_driver{port="x0",figure="umem_free"} 100)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_driver{port="x0",figure="afxdp_multi_buffer"} 1)")) << t;
  EXPECT_EQ(t.find("native/copy"), std::string::npos) << "text figures are not metrics";
  const Reply r = render_ports({p});
  ASSERT_EQ(r.data.size(), 1u);
  const nlohmann::json& j = r.data[0];
  EXPECT_EQ(j["afxdp_mode"], "native/copy");
  EXPECT_EQ(j["tx_zero_copy"], 5);
  EXPECT_EQ(j["afxdp_multi_buffer"], true);
  EXPECT_EQ(j["xsk"]["rx_fill_ring_empty"], 9);
  EXPECT_EQ(j["umem"]["free"], 100);
  EXPECT_EQ(j["afxdp_worker"], 1);
  EXPECT_EQ(j["kind"], "system");
}

// Without a snapshot (the control thread did not answer in time) a scrape says so and shows
// nothing of the switch.
TEST(Metrics, NoSnapshotIsSaid) {
  const std::vector<prometheus::MetricFamily> f = metric_families(nullptr);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].name, "brisk_metrics_snapshot");
  EXPECT_EQ(f[0].metric.at(0).gauge.value, 0.0);
}

// The channel: a request is answered by the thread that serves the eventfd, with a snapshot
// built after the request was made; no answer in time, or a closed channel: nullptr.
TEST(MetricsChannel, RequestsAreServedByTheServingThread) {
  std::atomic<int> built{0};
  std::thread::id builder;
  MetricsChannel ch([&] {
    builder = std::this_thread::get_id();
    MetricsSnapshot s;
    s.stats.learn_applied = static_cast<std::uint64_t>(++built);
    return s;
  });
  EXPECT_EQ(ch.request(50ms), nullptr) << "nobody serves: timed out";
  std::atomic<bool> stop{false};
  std::thread control([&] {  // the control thread's loop, reduced to the eventfd
    while (!stop.load()) {
      pollfd p{ch.fd(), POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) ch.serve();
    }
  });
  for (int i = 0; i < 3; ++i) {
    const int before = built.load();
    auto s = ch.request(5s);
    ASSERT_NE(s, nullptr);
    EXPECT_GT(static_cast<int>(s->stats.learn_applied), before) << "built after the request";
  }
  // Scrapers on several threads at once: every one gets an answer.
  std::vector<std::thread> scrapers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i)
    scrapers.emplace_back([&] {
      for (int k = 0; k < 20; ++k)
        if (ch.request(5s) != nullptr) ++answered;
    });
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(answered.load(), 80);
  stop.store(true);
  control.join();
  EXPECT_NE(builder, std::this_thread::get_id());
  // Closed: a waiting request returns at once, and so do later ones.
  std::thread waiter([&] {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(ch.request(10s), nullptr);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  });
  std::this_thread::sleep_for(50ms);
  ch.close();
  waiter.join();
  EXPECT_EQ(ch.request(10s), nullptr);
}

}  // namespace
}  // namespace brisk::test
