#include "datapath/csum.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace brisk {
namespace {

// An Ethernet + IPv4 + TCP (or UDP) frame with a correct checksum computed independently.
std::vector<std::uint8_t> ipv4_frame(std::uint8_t proto, std::size_t payload) {
  std::size_t l4len = (proto == 6 ? 20 : 8) + payload;
  std::vector<std::uint8_t> f(14 + 20 + l4len, 0);
  f[12] = 0x08;
  f[13] = 0x00;
  std::uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ip[2] = static_cast<std::uint8_t>((20 + l4len) >> 8);
  ip[3] = static_cast<std::uint8_t>((20 + l4len) & 0xff);
  ip[8] = 64;
  ip[9] = proto;
  const std::uint8_t src[4] = {198, 18, 0, 1}, dst[4] = {198, 18, 0, 2};
  std::copy(src, src + 4, ip + 12);
  std::copy(dst, dst + 4, ip + 16);
  std::uint8_t* l4 = &f[34];
  l4[0] = 0x30;
  l4[1] = 0x39;
  l4[2] = 0x00;
  l4[3] = 0x50;
  if (proto == 6) l4[12] = 0x50;
  if (proto == 17) {
    l4[4] = static_cast<std::uint8_t>(l4len >> 8);
    l4[5] = static_cast<std::uint8_t>(l4len & 0xff);
  }
  for (std::size_t i = 0; i < payload; ++i) l4[(proto == 6 ? 20 : 8) + i] = static_cast<std::uint8_t>(i * 7 + 3);
  // Reference checksum: pseudo header built as bytes, then one sum.
  std::vector<std::uint8_t> pseudo(src, src + 4);
  pseudo.insert(pseudo.end(), dst, dst + 4);
  pseudo.push_back(0);
  pseudo.push_back(proto);
  pseudo.push_back(static_cast<std::uint8_t>(l4len >> 8));
  pseudo.push_back(static_cast<std::uint8_t>(l4len & 0xff));
  pseudo.insert(pseudo.end(), l4, l4 + l4len);
  std::uint16_t c = static_cast<std::uint16_t>(~csum_fold(csum_add(pseudo.data(), pseudo.size(), 0)));
  std::size_t off = proto == 6 ? 16 : 6;
  l4[off] = static_cast<std::uint8_t>(c >> 8);
  l4[off + 1] = static_cast<std::uint8_t>(c & 0xff);
  return f;
}

// What Linux leaves in the field for CHECKSUM_PARTIAL: the folded pseudo-header sum.
void make_partial(std::vector<std::uint8_t>& f, std::uint8_t proto) {
  std::size_t l4len = f.size() - 34;
  std::uint32_t s = csum_add(&f[14 + 12], 8, 0) + proto + static_cast<std::uint32_t>(l4len);
  std::uint16_t p = csum_fold(s);
  std::size_t off = 34 + (proto == 6 ? 16 : 6);
  f[off] = static_cast<std::uint8_t>(p >> 8);
  f[off + 1] = static_cast<std::uint8_t>(p & 0xff);
}

TEST(Csum, CompletesPartialTcpAndUdpOverIpv4) {
  for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}}) {
    for (std::size_t payload : {0u, 1u, 17u, 1400u}) {
      auto good = ipv4_frame(proto, payload);
      auto f = good;
      make_partial(f, proto);
      ASSERT_NE(f, good);
      EXPECT_TRUE(complete_partial_l4(f.data(), f.size()));
      EXPECT_EQ(f, good) << "proto " << int(proto) << " payload " << payload;
      EXPECT_FALSE(complete_partial_l4(f.data(), f.size())) << "a complete frame is left alone";
    }
  }
}

TEST(Csum, ExactCompletionFromOffsets) {
  auto good = ipv4_frame(6, 100);
  auto f = good;
  make_partial(f, 6);
  ASSERT_TRUE(complete_checksum_at(f.data(), f.size(), 34, 16));
  EXPECT_EQ(f, good);
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), f.size(), 16));
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), f.size() - 1, 16));
}

TEST(Csum, TruncatedAndForeignFramesAreIgnored) {
  auto f = ipv4_frame(6, 10);
  make_partial(f, 6);
  for (std::size_t n = 0; n < f.size(); ++n) {
    std::vector<std::uint8_t> cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(complete_partial_l4(cut.data(), cut.size())) << n;
  }
  std::vector<std::uint8_t> arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(complete_partial_l4(arp.data(), arp.size()));
}

}  // namespace
}  // namespace brisk
