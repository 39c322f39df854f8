#include "datapath/frame.hpp"

#include <stdexcept>

namespace brisk {

FramePool::FramePool(std::size_t count, std::size_t big)
    : count_(count), frames_(new Frame[count]), free_(count), top_(count) {
  if (count == 0 || count > 65535) throw std::invalid_argument("frame pool size must be 1..65535");
  if (big > 65535) throw std::invalid_argument("big buffer count must be 0..65535");
  // new[] of a trivial type leaves the memory untouched: pages are faulted in on first use.
  if (big != 0) big_.mem.reset(new std::uint8_t[big * kBigBufSize]);
  big_.free.resize(big);
  for (std::size_t i = 0; i < big; ++i) big_.free[i] = static_cast<std::uint16_t>(big - 1 - i);
  big_.top = big;
  for (std::size_t i = 0; i < count; ++i) {
    frames_[i].pool_index = static_cast<std::uint16_t>(i);
    free_[i] = static_cast<std::uint16_t>(count - 1 - i);
  }
}

}  // namespace brisk
