#include "datapath/csum.hpp"

#include <bit>
#include <cstring>

namespace brisk {

std::uint64_t csum_add(const std::uint8_t* p, std::size_t len, std::uint64_t sum) noexcept {
  // Sum native-order words (the ones'-complement sum is byte-order independent, RFC 1071)
  // and swap the folded result once at the end.
  std::uint64_t acc = 0;
  for (; len >= 8; p += 8, len -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
  }
  if (len >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len != 0) {
    // The odd byte is the high half of a big-endian word.
    acc += std::endian::native == std::endian::little ? std::uint64_t{*p} : std::uint64_t{*p} << 8;
  }
  std::uint16_t folded = csum_fold(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  return sum + folded;
}

std::uint16_t csum_fold(std::uint64_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t csum_finish(std::uint64_t sum) noexcept {
  auto c = static_cast<std::uint16_t>(~csum_fold(sum));
  return c == 0 ? 0xffff : c;
}

bool partial_checksum(const std::uint8_t* frame, std::size_t len, std::size_t start,
                      std::size_t offset, std::uint16_t& value) noexcept {
  if (start >= len || offset + 2 > len - start) return false;
  value = csum_finish(csum_add(frame + start, len - start, 0));
  return true;
}

bool complete_checksum_at(std::uint8_t* frame, std::size_t len, std::size_t start,
                          std::size_t offset) noexcept {
  std::uint16_t c;
  if (!partial_checksum(frame, len, start, offset, c)) return false;
  frame[start + offset] = static_cast<std::uint8_t>(c >> 8);
  frame[start + offset + 1] = static_cast<std::uint8_t>(c & 0xff);
  return true;
}

bool complete_partial_l4(std::uint8_t* f, std::size_t len) noexcept {
  std::size_t l3 = 14;
  if (len < l3) return false;
  std::uint16_t et = static_cast<std::uint16_t>((f[12] << 8) | f[13]);
  if (et == 0x8100) {
    if (len < 18) return false;
    et = static_cast<std::uint16_t>((f[16] << 8) | f[17]);
    l3 = 18;
  }
  std::uint64_t pseudo = 0;
  std::size_t l4 = 0, l4len = 0;
  std::uint8_t proto = 0;
  if (et == 0x0800) {
    if (len < l3 + 20 || (f[l3] >> 4) != 4) return false;
    std::size_t ihl = std::size_t{f[l3] & 0x0fu} * 4;
    std::size_t tot = (std::size_t{f[l3 + 2]} << 8) | f[l3 + 3];
    if (ihl < 20 || tot < ihl || l3 + tot > len) return false;
    if (((f[l3 + 6] & 0x3f) | f[l3 + 7]) != 0) return false;  // a fragment
    proto = f[l3 + 9];
    l4 = l3 + ihl;
    l4len = tot - ihl;
    pseudo = csum_add(f + l3 + 12, 8, 0);
  } else if (et == 0x86dd) {
    if (len < l3 + 40) return false;
    proto = f[l3 + 6];  // no extension headers: those frames are left alone
    l4 = l3 + 40;
    l4len = (std::size_t{f[l3 + 4]} << 8) | f[l3 + 5];
    if (l4 + l4len > len) return false;
    pseudo = csum_add(f + l3 + 8, 32, 0);
  } else {
    return false;
  }
  std::size_t off;
  if (proto == 6 && l4len >= 20) {
    off = 16;
  } else if (proto == 17 && l4len >= 8) {
    off = 6;
  } else {
    return false;
  }
  pseudo += proto;
  pseudo += static_cast<std::uint32_t>(l4len);
  std::uint16_t partial = csum_fold(pseudo);
  std::uint16_t field = static_cast<std::uint16_t>((f[l4 + off] << 8) | f[l4 + off + 1]);
  if (field != partial) return false;
  // The field holds the pseudo-header sum: summing the segment with it in place and
  // complementing gives the full checksum.
  std::uint16_t c = csum_finish(csum_add(f + l4, l4len, 0));
  f[l4 + off] = static_cast<std::uint8_t>(c >> 8);
  f[l4 + off + 1] = static_cast<std::uint8_t>(c & 0xff);
  return true;
}

}  // namespace brisk
