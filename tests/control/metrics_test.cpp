// Metrics: the Prometheus exposition text reflects the switch's counters, and the HTTP
// endpoint serves it over a real loopback socket.
#include "control/metrics.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
  EXPECT_TRUE(has_line(t, R"(brisk_port_rx_frames_total{port="ma",bridge="mbr",kind="tap"} 2)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_tx_frames_total{port="mb",bridge="mbr",kind="tap"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_port_drops_total{port="ma",bridge="mbr",reason="tagged_on_access"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_drops_total{reason="tagged_on_access"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_drops_total{reason="runt"} 0)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_fdb_entries{bridge="mbr"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_fdb_limit{bridge="mbr"} 65536)")) << t;
  EXPECT_TRUE(has_line(t, R"(brisk_ports{bridge="mbr",kind="tap"} 2)")) << t;
  EXPECT_TRUE(has_line(t, "brisk_learn_applied_total 1")) << t;
  EXPECT_TRUE(has_line(t, "extra_metric 7")) << t;
}

TEST(Metrics, ServesHttpOnLoopback) {
  Harness h("mbr");
  MetricsServer m(h.sw(), nullptr);
  EXPECT_NE(m.listen("nonsense"), "");
  EXPECT_NE(m.listen("localhost:80"), "") << "an IPv4 address is required";
  ASSERT_EQ(m.listen("127.0.0.1:0"), "");
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  ASSERT_EQ(::getsockname(m.fd(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  auto get = [&](const std::string& req) {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    EXPECT_EQ(::write(c, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    m.serve();  // the control thread's turn
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(c, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(c);
    return out;
  };
  std::string ok = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(ok.find("brisk_fdb_entries{bridge=\"mbr\"} 0"), std::string::npos) << ok;
  EXPECT_EQ(get("GET /nope HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(get("POST /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 405", 0), 0u);
}

}  // namespace
}  // namespace brisk::test
