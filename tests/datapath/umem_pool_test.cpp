// UmemPool bookkeeping without a kernel socket: geometry, chunk custody (tags), member slots and
// the reclaim of a retired member's chunks. The kernel side is covered by the AF_XDP driver
// tests (afxdp_port_test.cpp, root).
#include "datapath/umem_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

namespace brisk {
namespace {

TEST(UmemPool, GeometryFitsTheLockedMemoryLimit) {
  UmemGeometry g = UmemGeometry::shared();
  EXPECT_EQ(g.check(), nullptr);
  EXPECT_EQ(std::size_t{g.frames} * UmemPool::kChunkSize, std::size_t{8} << 20) << "8 MiB";
  EXPECT_EQ(g.shared_frames(), 3072u);
  EXPECT_EQ(g.rx_base(), 96u);
  EXPECT_EQ(g.rx_max(), 2048u);
  EXPECT_LT(g.rx_base() * g.max_ports, g.shared_frames())
      << "every slot's base fits, with room above";
  UmemGeometry one = UmemGeometry::single(4096);
  EXPECT_EQ(one.check(), nullptr);
  EXPECT_EQ(one.shared_frames(), 2048u);
  EXPECT_EQ(one.rx_max(), 2048u) << "an own UMEM: half receive, half transmit";

  EXPECT_NE((UmemGeometry{4000, 8, 128}.check()), nullptr);  // not a power of two
  EXPECT_NE((UmemGeometry{4096, 0, 128}.check()), nullptr);
  EXPECT_NE((UmemGeometry{4096, 32, 128}.check()), nullptr);  // no shared chunks left
  EXPECT_NE((UmemGeometry{4096, 8, 100}.check()), nullptr);
  EXPECT_THROW(UmemPool(UmemGeometry{4096, 65, 32}), std::system_error);
}

TEST(UmemPool, LayoutSeparatesSharedAndCopyChunks) {
  UmemPool p(UmemGeometry{1024, 4, 64});  // 768 shared, 4 x 64 copy
  EXPECT_EQ(p.shared_frames(), 768u);
  EXPECT_EQ(p.area_size(), 1024u * UmemPool::kChunkSize);
  EXPECT_TRUE(p.is_shared(0));
  EXPECT_TRUE(p.is_shared(767ull * UmemPool::kChunkSize + 2047));
  EXPECT_FALSE(p.is_shared(768ull * UmemPool::kChunkSize));
  EXPECT_EQ(p.copy_base(0), 768ull * UmemPool::kChunkSize);
  EXPECT_EQ(p.copy_base(3), (768ull + 3 * 64) * UmemPool::kChunkSize);
  EXPECT_EQ(p.copy_base(3) + 64ull * UmemPool::kChunkSize, p.area_size())
      << "the last slot ends the area";
}

TEST(UmemPool, ChunksMoveBetweenCustodiansAndAreCounted) {
  UmemPool p(UmemGeometry{1024, 4, 64});
  EXPECT_EQ(p.free_count(), 768u);
  std::vector<std::uint64_t> a(100), b(50);
  ASSERT_EQ(p.take(a.data(), 100, 0), 100u);
  ASSERT_EQ(p.take(b.data(), 50, 2), 50u);
  std::set<std::uint64_t> distinct(a.begin(), a.end());
  distinct.insert(b.begin(), b.end());
  EXPECT_EQ(distinct.size(), 150u) << "a chunk is handed out once";
  for (std::uint64_t c : distinct) {
    EXPECT_EQ(c % UmemPool::kChunkSize, 0u);
    EXPECT_TRUE(p.is_shared(c));
  }
  // Slot 0 receives ten frames: they are in Frames now; one is forwarded to slot 2's TX ring.
  for (int i = 0; i < 10; ++i) p.set_tag(a[i], UmemPool::kTagFrame);
  p.set_tag(a[0] + 256, 2);  // any address inside the chunk names it
  auto c = p.census();
  EXPECT_EQ(c.free, 768u - 150u);
  EXPECT_EQ(c.frames, 9u);
  EXPECT_EQ(c.by_slot[0], 90u);
  EXPECT_EQ(c.by_slot[2], 51u);
  // Released frames and completions come back.
  for (int i = 1; i < 10; ++i) p.recycle(a[i]);
  p.put(a[0] + 256 + 60);
  c = p.census();
  EXPECT_EQ(c.frames, 0u);
  EXPECT_EQ(c.free, p.free_count());
  EXPECT_EQ(c.free + c.by_slot[0] + c.by_slot[2], 768u);
  // More than is free: what there is.
  std::vector<std::uint64_t> rest(1000);
  EXPECT_EQ(p.take(rest.data(), 1000, 1), 768u - 140u);
  EXPECT_EQ(p.free_count(), 0u);
  EXPECT_EQ(p.take(rest.data(), 1, 1), 0u);
}

// Receive buffers: a member may take beyond its base only what no other slot is owed, so idle
// members that once were busy never starve a busy or a new one.
TEST(UmemPool, RxAllowanceKeepsEverySlotsBase) {
  UmemPool p(UmemGeometry::shared());  // 3072 shared, base 96, max 2048, 8 slots
  std::vector<std::uint64_t> buf(4096);
  const auto u8 = [](std::optional<std::uint32_t> s) { return static_cast<std::uint8_t>(*s); };
  auto s0 = p.reserve_slot();
  p.member_bound(*s0, 10, false);
  EXPECT_EQ(p.rx_allowance(*s0), 2048u) << "alone: rx_max";
  ASSERT_EQ(p.take(buf.data(), 2048, u8(s0)), 2048u);
  p.set_rx_held(*s0, 2048);
  EXPECT_EQ(p.rx_allowance(*s0), 0u);
  // 1048 frames received and forwarded: their chunks are in TX rings, 1024 chunks free.
  p.set_rx_held(*s0, 1000);
  EXPECT_EQ(p.rx_allowance(*s0), 1024u - 7u * 96u) << "never what the seven other slots are owed";
  // A new member may take its base and what is spare (s0, past its base, is owed nothing).
  auto s1 = p.reserve_slot();
  p.member_bound(*s1, 11, false);
  EXPECT_EQ(p.rx_allowance(*s1), 1024u - 6u * 96u);
  ASSERT_EQ(p.take(buf.data() + 2048, 96, u8(s1)), 96u);
  p.set_rx_held(*s1, 96);
  EXPECT_EQ(p.rx_allowance(*s0), 928u - 6u * 96u);
  ASSERT_EQ(p.take(buf.data() + 2144, 352, u8(s0)), 352u);
  p.set_rx_held(*s0, 1352);
  EXPECT_EQ(p.rx_allowance(*s0), 0u) << "the rest is owed to the six empty slots";
  EXPECT_EQ(p.rx_allowance(*s1), 0u);
  // The TX rings give the 1048 back.
  for (int i = 0; i < 1048; ++i) p.put(buf[i]);
  EXPECT_EQ(p.rx_allowance(*s0), 2048u - 1352u) << "up to rx_max";
  EXPECT_EQ(p.rx_allowance(*s1), 1624u - 6u * 96u);
  ASSERT_EQ(p.take(buf.data(), 696, u8(s0)), 696u);
  p.set_rx_held(*s0, 2048);
  // s0 holds all it may; s1 read all it had: its base is still there, and a third member's.
  p.set_rx_held(*s1, 0);
  EXPECT_EQ(p.rx_allowance(*s1), 928u - 6u * 96u);
  auto s2 = p.reserve_slot();
  p.member_bound(*s2, 12, false);
  EXPECT_GE(p.rx_allowance(*s2), 96u);
  p.set_rx_held(*s0, 1000);  // s0 read 1048 more: s1's missing base is kept from it
  EXPECT_EQ(p.rx_allowance(*s0), 928u - 7u * 96u);
  EXPECT_EQ(p.rx_allowance(*s1), 928u - 6u * 96u);
  // An own UMEM: rx_max, half the chunks.
  UmemPool one(UmemGeometry::single(4096));
  auto o = one.reserve_slot();
  one.member_bound(*o, 12, false);
  EXPECT_EQ(one.rx_allowance(*o), 2048u);
}

TEST(UmemPool, SlotsAreReservedBoundAndCancelled) {
  UmemPool p(UmemGeometry{1024, 3, 64});
  EXPECT_EQ(p.share_fd(), -1) << "no member: the next one registers the UMEM";
  auto s0 = p.reserve_slot(), s1 = p.reserve_slot(), s2 = p.reserve_slot();
  ASSERT_TRUE(s0 && s1 && s2);
  EXPECT_FALSE(p.reserve_slot().has_value()) << "every slot taken";
  EXPECT_NE(*s0, *s1);
  EXPECT_EQ(p.share_fd(), -1) << "reserved is not bound";
  p.member_bound(*s1, 41, /*zero_copy=*/false, /*multi_buffer=*/true);
  EXPECT_EQ(p.members(), 1u);
  EXPECT_EQ(p.share_fd(), 41);
  EXPECT_FALSE(p.zero_copy());
  EXPECT_TRUE(p.multi_buffer());
  // A later member cannot change the mode.
  p.member_bound(*s2, 42, /*zero_copy=*/true, /*multi_buffer=*/false);
  EXPECT_FALSE(p.zero_copy());
  EXPECT_TRUE(p.multi_buffer());
  p.cancel_slot(*s0);
  EXPECT_EQ(p.reserve_slot(), s0) << "a cancelled slot is free at once";
  EXPECT_EQ(p.members(), 2u);
}

// A member leaves: the chunks in its custody come back only after the retire delay, by the
// owner's service(), and only then is the slot free again. Other members' chunks stay put.
TEST(UmemPool, RetiredSlotIsReclaimedAfterTheDelay) {
  UmemPool p(UmemGeometry{1024, 2, 64});
  auto s0 = p.reserve_slot(), s1 = p.reserve_slot();
  ASSERT_TRUE(s0 && s1);
  p.member_bound(*s0, 10, false);
  p.member_bound(*s1, 11, false);
  std::vector<std::uint64_t> mine(200), theirs(100);
  ASSERT_EQ(p.take(mine.data(), 200, static_cast<std::uint8_t>(*s1)), 200u);
  ASSERT_EQ(p.take(theirs.data(), 100, static_cast<std::uint8_t>(*s0)), 100u);
  const std::uint32_t free_before = p.free_count();

  p.retire_slot(*s1);
  EXPECT_EQ(p.members(), 1u);
  EXPECT_EQ(p.share_fd(), 10) << "the remaining member is named by new ones";
  EXPECT_FALSE(p.reserve_slot().has_value()) << "a retiring slot is not free";
  p.service();  // before the delay: nothing moves
  EXPECT_EQ(p.free_count(), free_before);
  EXPECT_EQ(p.census().by_slot[*s1], 200u);

  std::this_thread::sleep_for(std::chrono::nanoseconds(UmemPool::kRetireDelayNs) +
                              std::chrono::milliseconds(20));
  p.service();
  EXPECT_EQ(p.free_count(), free_before + 200u);
  auto c = p.census();
  EXPECT_EQ(c.by_slot[*s1], 0u);
  EXPECT_EQ(c.by_slot[*s0], 100u) << "another member's chunks are not touched";
  EXPECT_EQ(c.free + c.by_slot[*s0], p.shared_frames());
  EXPECT_EQ(p.reserve_slot(), s1) << "the slot is free again";
}

// The retire handshake across threads, as in brisk: the control thread retires, the owner
// worker reclaims while it keeps taking and returning chunks for another member. (Run under
// TSan by the TSan build.)
TEST(UmemPool, OwnerReclaimsWhileControlRetires) {
  UmemPool p(UmemGeometry{1024, 2, 64});
  auto s0 = p.reserve_slot(), s1 = p.reserve_slot();
  ASSERT_TRUE(s0 && s1);
  p.member_bound(*s0, 10, false);
  p.member_bound(*s1, 11, false);
  std::vector<std::uint64_t> held(300);
  ASSERT_EQ(p.take(held.data(), 300, static_cast<std::uint8_t>(*s1)), 300u);
  std::atomic<bool> stop{false};
  std::thread owner([&] {
    std::vector<std::uint64_t> buf(16);
    while (!stop.load()) {
      p.service();
      std::uint32_t k = p.take(buf.data(), 16, static_cast<std::uint8_t>(*s0));
      for (std::uint32_t i = 0; i < k; ++i) p.put(buf[i]);
    }
    p.service();
  });
  p.retire_slot(*s1);  // control thread
  std::optional<std::uint32_t> again;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!again && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    again = p.reserve_slot();
  }
  stop.store(true);
  owner.join();
  ASSERT_TRUE(again.has_value()) << "the owner never reclaimed the retired slot";
  EXPECT_EQ(*again, *s1);
  auto c = p.census();
  EXPECT_EQ(c.by_slot[*s1], 0u);
  EXPECT_EQ(c.free, p.shared_frames());
  EXPECT_EQ(p.free_count(), p.shared_frames());
}

TEST(UmemPool, RegistryKeepsOnePoolPerWorkerAndModeWhileItHasMembers) {
  UmemRegistry r(UmemGeometry{1024, 4, 64});
  auto a = r.get(0, false);
  EXPECT_EQ(r.get(0, false), a);
  EXPECT_NE(r.get(1, false), a);
  EXPECT_NE(r.get(0, true), a);
  const UmemPool* old = a.get();
  a.reset();  // the last holder: the pool is gone, a new one comes next time
  auto b = r.get(0, false);
  EXPECT_EQ(b->members(), 0u);
  EXPECT_EQ(b->free_count(), b->shared_frames());
  (void)old;
}

// A frame that borrows a chunk gives it back when its last reference goes.
TEST(UmemPool, FramePoolReturnsBorrowedChunks) {
  UmemPool p(UmemGeometry{1024, 4, 64});
  FramePool frames(8);
  std::uint64_t chunk = 0;
  ASSERT_EQ(p.take(&chunk, 1, 0), 1u);
  Frame* f = frames.alloc();
  f->reset(60);
  f->data = p.area() + chunk + 256;
  f->ext = &p;
  f->ext_handle = chunk;
  p.set_tag(chunk, UmemPool::kTagFrame);
  ++f->refs;  // queued to one port
  frames.release(f);
  EXPECT_EQ(p.census().frames, 1u) << "still referenced";
  frames.release(f);
  EXPECT_EQ(p.census().frames, 0u);
  EXPECT_EQ(p.free_count(), p.shared_frames());
  EXPECT_EQ(frames.available(), frames.capacity());
  Frame* g = frames.alloc();
  EXPECT_EQ(g->ext, nullptr) << "a recycled frame owns its own buffer again";
}

}  // namespace
}  // namespace brisk
