// What one message of a sendmmsg() batch (TxMsgs, datapath/tunnel_port.hpp) puts on the
// wire: its iovecs concatenated. For the tunnel port's unit tests and micro-benchmarks.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace brisk::test {

inline std::vector<std::uint8_t> mmsg_bytes(const mmsghdr& m) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < m.msg_hdr.msg_iovlen; ++i) {
    const auto* b = static_cast<const std::uint8_t*>(m.msg_hdr.msg_iov[i].iov_base);
    out.insert(out.end(), b, b + m.msg_hdr.msg_iov[i].iov_len);
  }
  return out;
}

}  // namespace brisk::test
