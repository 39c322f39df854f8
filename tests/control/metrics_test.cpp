// Metrics: the Prometheus exposition text reflects the switch's counters, and the HTTP
// endpoint answers requests (served over a real socket by the control loop:
// tests/control/server_test.cpp).
#include "control/metrics.hpp"

#include <gtest/gtest.h>

#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, CountersPerPortReasonAndFdb) {
  Harness h("mbr");
  ASSERT_TRUE(h.cmd("tap create 10 name ma").ok);
  ASSERT_TRUE(h.cmd("tap create 10 name mb").ok);
  h.send("ma", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:01").build());
  h.send("ma", FrameBuilder().to("02:00:00:00:00:02").from("02:00:00:00:00:01").tagged(20).build());
  std::string t = metrics_text(h.sw(), [] { return std::string("extra_metric 7\n"); });
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
  EXPECT_TRUE(has_line(t, "extra_metric 7")) << t;
}

TEST(Metrics, ListensOnLoopbackAndAnswersHttp) {
  Harness h("mbr");
  MetricsServer m(h.sw(), nullptr);
  EXPECT_NE(m.listen("nonsense"), "");
  EXPECT_NE(m.listen("localhost:80"), "") << "an IPv4 address is required";
  ASSERT_EQ(m.listen("127.0.0.1:0"), "");
  // The control thread's loop frames the request (up to its blank line) and answers it.
  std::string ok = m.answer("GET /metrics HTTP/1.1\r\nHost: x");
  EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(ok.find("brisk_fdb_entries{bridge=\"mbr\"} 0"), std::string::npos) << ok;
  EXPECT_EQ(m.answer("GET /nope HTTP/1.0").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(m.answer("POST /metrics HTTP/1.0").rfind("HTTP/1.0 405", 0), 0u);
  std::string head = m.answer("HEAD /metrics HTTP/1.0");
  EXPECT_EQ(head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_EQ(head.find("brisk_fdb_entries"), std::string::npos) << "HEAD: no body";
  Service s = m.service();
  std::string_view req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
  EXPECT_EQ(s.framing.find_end(req, 0), req.size() - 4);
  EXPECT_EQ(s.framing.find_end("GET / HTTP/1.0\n\n", 0), 14u);
  EXPECT_EQ(s.framing.find_end("GET / HTTP/1.0\r\n", 0), std::string_view::npos);
  EXPECT_EQ(s.refuse(Refusal::kTooMany).rfind("HTTP/1.0 503", 0), 0u);
  EXPECT_EQ(s.refuse(Refusal::kTimedOut).rfind("HTTP/1.0 408", 0), 0u);
  EXPECT_EQ(s.refuse(Refusal::kTooLong).rfind("HTTP/1.0 431", 0), 0u);
}

}  // namespace
}  // namespace brisk::test
