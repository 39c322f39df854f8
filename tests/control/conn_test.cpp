// Conn: a connection's framing, reply buffer and deadlines, driven without sockets.
#include "control/conn.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace brisk {
namespace {

using namespace std::chrono_literals;

const ConnClock::time_point t0{};

Conn line_conn(std::size_t max_request = kMaxRequestBytes) {
  return Conn(Framing{find_line_end, 1, max_request}, ConnDeadlines{5s, 10s}, t0);
}

// Feed `bytes` in chunks whose sizes come from `rng` (1..max_chunk), stopping when the Conn
// stops reading.
void feed_chunked(Conn& c, std::string_view bytes, std::mt19937& rng, std::size_t max_chunk) {
  std::uniform_int_distribution<std::size_t> len(1, max_chunk);
  for (std::size_t off = 0; off < bytes.size() && c.phase() == Conn::Phase::kReading;) {
    std::size_t n = std::min(len(rng), bytes.size() - off);
    c.received(bytes.substr(off, n));
    off += n;
  }
}

TEST(Conn, OneLineIsTheRequestWhateverTheChunks) {
  const std::string stream = R"({"argv":["tap","create","10"]})"
                             "\n"
                             R"({"argv":["nuke"]})"
                             "\n";
  std::mt19937 rng(7);
  for (std::size_t max_chunk : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    Conn c = line_conn();
    feed_chunked(c, stream, rng, max_chunk);
    ASSERT_EQ(c.phase(), Conn::Phase::kAnswer) << max_chunk;
    EXPECT_EQ(c.why(), Conn::Why::kRequest);
    EXPECT_EQ(c.request(), R"({"argv":["tap","create","10"]})") << "only the first line";
  }
}

TEST(Conn, PartialRequestAtEndOfStreamIsTheRequest) {
  Conn c = line_conn();
  c.received(R"({"argv":["tap"]})");
  EXPECT_EQ(c.phase(), Conn::Phase::kReading);
  c.eof();
  ASSERT_EQ(c.phase(), Conn::Phase::kAnswer);
  EXPECT_EQ(c.request(), R"({"argv":["tap"]})");

  Conn empty = line_conn();
  empty.eof();
  EXPECT_EQ(empty.phase(), Conn::Phase::kClose) << "nothing sent: nothing to answer";
  EXPECT_EQ(empty.why(), Conn::Why::kEmpty);
}

TEST(Conn, RequestSizeCapIsExactAndChunkIndependent) {
  constexpr std::size_t kMax = 100;
  std::mt19937 rng(3);
  for (std::size_t len : {kMax - 1, kMax, kMax + 1, kMax + 2, 5 * kMax}) {
    const std::string stream = std::string(len, 'x') + "\n";
    for (std::size_t max_chunk : {1u, 5u, 99u, 100u, 101u, 1000u}) {
      Conn c = line_conn(kMax);
      feed_chunked(c, stream, rng, max_chunk);
      ASSERT_EQ(c.phase(), Conn::Phase::kAnswer) << len << "/" << max_chunk;
      EXPECT_EQ(c.why(), len <= kMax ? Conn::Why::kRequest : Conn::Why::kTooLong)
          << len << "/" << max_chunk;
      EXPECT_LE(c.buffered(), kMax + 1) << "never buffers past the cap";
    }
  }
  // No newline at all: too long as soon as the cap is passed; at end of stream, the size decides.
  Conn c = line_conn(kMax);
  c.received(std::string(kMax, 'x'));
  EXPECT_EQ(c.phase(), Conn::Phase::kReading);
  c.received("x");
  EXPECT_EQ(c.why(), Conn::Why::kTooLong);
  Conn at_eof = line_conn(kMax);
  at_eof.received(std::string(kMax, 'x'));
  at_eof.eof();
  EXPECT_EQ(at_eof.why(), Conn::Why::kRequest);
}

// A framing whose terminator is several bytes (a blank line) finds the earliest end however
// the stream is cut.
std::size_t find_crlf_crlf(std::string_view buf, std::size_t from) {
  return buf.find("\r\n\r\n", from);
}

TEST(Conn, MultiByteTerminatorSplitAcrossChunks) {
  const std::string stream = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\nignored";
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    Conn c(Framing{find_crlf_crlf, 4, 8192}, ConnDeadlines{}, t0);
    c.received(std::string_view(stream).substr(0, cut));
    c.received(std::string_view(stream).substr(cut));
    ASSERT_EQ(c.phase(), Conn::Phase::kAnswer) << cut;
    EXPECT_EQ(c.request(), "GET /metrics HTTP/1.0\r\nHost: x") << cut;
  }
}

TEST(Conn, RequestDeadline) {
  Conn c = line_conn();
  c.received("{\"argv\"");
  EXPECT_FALSE(c.expire(t0 + 4999ms));
  EXPECT_TRUE(c.expire(t0 + 5s));
  EXPECT_EQ(c.phase(), Conn::Phase::kAnswer);
  EXPECT_EQ(c.why(), Conn::Why::kTimedOut);
  c.received("}\n");
  EXPECT_EQ(c.why(), Conn::Why::kTimedOut) << "bytes after the deadline change nothing";
}

TEST(Conn, ReplyIsSentInPiecesAndDroppedWhenNotTaken) {
  Conn c = line_conn();
  c.received("x\n");
  c.reply("hello\n", t0 + 1s);
  ASSERT_EQ(c.phase(), Conn::Phase::kWriting);
  EXPECT_EQ(c.unsent(), "hello\n");
  c.sent(2);
  EXPECT_EQ(c.unsent(), "llo\n");
  EXPECT_FALSE(c.expire(t0 + 10s)) << "the reply deadline counts from the reply";
  c.sent(4);
  EXPECT_EQ(c.phase(), Conn::Phase::kClose);
  EXPECT_EQ(c.why(), Conn::Why::kSent);

  Conn stuck = line_conn();
  stuck.received("x\n");
  stuck.reply(std::string(1 << 20, 'r'), t0 + 1s);
  stuck.sent(1000);
  EXPECT_TRUE(stuck.expire(t0 + 11s));
  EXPECT_EQ(stuck.phase(), Conn::Phase::kClose);
  EXPECT_EQ(stuck.why(), Conn::Why::kNotTaken);
  EXPECT_TRUE(stuck.unsent().empty()) << "the buffer is freed";
}

}  // namespace
}  // namespace brisk
