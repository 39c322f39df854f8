#include "datapath/frame.hpp"

#include <stdexcept>

namespace brisk {

FramePool::FramePool(std::size_t count)
    : count_(count), frames_(new Frame[count]), free_(count), top_(count) {
  if (count == 0 || count > 65535) throw std::invalid_argument("frame pool size must be 1..65535");
  for (std::size_t i = 0; i < count; ++i) {
    frames_[i].pool_index = static_cast<std::uint16_t>(i);
    free_[i] = static_cast<std::uint16_t>(count - 1 - i);
  }
}

}  // namespace brisk
