// CaptureRing (single producer, single consumer) and Capture/CaptureWriter with real threads.
// Run under TSan (tools/dev.sh test builds build-tsan) to check the ring's memory-order contract.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "datapath/capture.hpp"

namespace brisk {
namespace {

// A frame of `len` bytes whose payload encodes `seq` (bytes 14..21) and a pattern.
void make_frame(Frame& f, std::uint64_t seq, std::uint32_t len) {
  f.reset(len);
  for (std::uint32_t i = 0; i < len; ++i) f.data[i] = static_cast<std::uint8_t>(i * 7 + seq);
  std::memcpy(f.data + 14, &seq, sizeof(seq));
}

TEST(CaptureRing, FillsThenRefusesThenRecovers) {
  CaptureRing r(8, 128);
  EXPECT_EQ(r.slots(), 8u);
  Frame f;
  for (std::uint64_t i = 0; i < 8; ++i) {
    make_frame(f, i, 64);
    EXPECT_TRUE(r.push(f, 0, i));
  }
  make_frame(f, 8, 64);
  EXPECT_FALSE(r.push(f, 0, 8)) << "full: refused, never overwrites";
  EXPECT_EQ(r.dropped(), 1u);
  const CaptureSlotHeader* h = r.front();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->ts_ns, 0u);
  r.pop();
  EXPECT_TRUE(r.push(f, 0, 8));
  std::uint64_t n = 0;
  while ((h = r.front()) != nullptr) {
    ++n;
    r.pop();
  }
  EXPECT_EQ(n, 8u);
  EXPECT_EQ(r.pushed(), 9u);
}

TEST(CaptureRing, TruncatesAndInsertsTags) {
  CaptureRing r(4, 40);
  Frame f;
  make_frame(f, 1, 100);
  ASSERT_TRUE(r.push(f, 10, 5));
  const CaptureSlotHeader* h = r.front();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->origlen, 104u);
  EXPECT_EQ(h->caplen, 40u);
  const auto* d = reinterpret_cast<const std::uint8_t*>(h + 1);
  EXPECT_EQ(0, std::memcmp(d, f.data, 12));
  EXPECT_EQ(d[12], 0x81);
  EXPECT_EQ(d[13], 0x00);
  EXPECT_EQ(d[15], 10);
  EXPECT_EQ(0, std::memcmp(d + 16, f.data + 12, 24));
}

// One producer, one consumer, a small ring so that it fills often: every frame is either
// consumed intact and in order, or counted as dropped.
TEST(CaptureRing, ConcurrentProducerAndConsumerLoseNothingSilently) {
  constexpr std::uint64_t kFrames = 200000;
  CaptureRing r(64, 256);
  std::atomic<bool> done{false};
  std::uint64_t consumed = 0, last = 0, bad = 0;
  std::thread consumer([&] {
    bool first = true;
    for (;;) {
      const CaptureSlotHeader* h = r.front();
      if (h == nullptr) {
        if (done.load(std::memory_order_acquire) && r.front() == nullptr) break;
        std::this_thread::yield();
        continue;
      }
      const auto* d = reinterpret_cast<const std::uint8_t*>(h + 1);
      std::uint64_t seq;
      std::memcpy(&seq, d + 14, sizeof(seq));
      if (h->ts_ns != seq || h->caplen != 60 + seq % 100 || (!first && seq <= last)) ++bad;
      for (std::uint32_t i = 22; i < h->caplen; ++i)
        if (d[i] != static_cast<std::uint8_t>(i * 7 + seq)) {
          ++bad;
          break;
        }
      first = false;
      last = seq;
      ++consumed;
      r.pop();
    }
  });
  Frame f;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    make_frame(f, i, 60 + static_cast<std::uint32_t>(i % 100));
    r.push(f, 0, i);
  }
  done.store(true, std::memory_order_release);
  consumer.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(consumed, r.pushed());
  EXPECT_EQ(r.pushed() + r.dropped(), kFrames);
  EXPECT_GT(consumed, 0u);
}

std::vector<std::uint8_t> slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Two producer threads (two workers' rings) and the writer thread; the file holds exactly the
// frames the rings accepted, in timestamp order.
TEST(Capture, WriterThreadWritesEveryAcceptedFrame) {
  std::string path = "/tmp/brisk_capture_test_" + std::to_string(::getpid()) + ".pcap";
  auto cap = std::make_shared<Capture>(path, 65535, 2, 64 * 1024);
  CaptureWriter writer;
  writer.add(cap);
  constexpr std::uint64_t kPerWorker = 20000;
  auto produce = [&](unsigned w) {
    Frame f;
    for (std::uint64_t i = 0; i < kPerWorker; ++i) {
      std::uint64_t ts = 1000 + i * 2 + w;  // interleaved timestamps across the two workers
      make_frame(f, ts, 64);
      if (!cap->push(w, f, 0, ts)) std::this_thread::yield();
    }
  };
  std::thread w0(produce, 0), w1(produce, 1);
  w0.join();
  w1.join();
  writer.close(cap);
  EXPECT_TRUE(cap->closed());
  EXPECT_EQ(cap->queued(), 0u);
  EXPECT_EQ(cap->pushed() + cap->ring_full(), 2 * kPerWorker);
  EXPECT_EQ(cap->written(), cap->pushed());
  EXPECT_EQ(cap->write_errors(), 0u);
  auto b = slurp(path);
  ASSERT_GE(b.size(), 24u);
  std::size_t o = 24, n = 0;
  while (o + 16 <= b.size()) {
    std::uint32_t incl;
    std::memcpy(&incl, &b[o + 8], 4);
    ASSERT_EQ(incl, 64u);
    o += 16 + incl;
    ++n;
  }
  EXPECT_EQ(o, b.size());
  EXPECT_EQ(n, cap->written());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace brisk
