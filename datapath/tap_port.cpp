#include "datapath/tap_port.hpp"

#include <fcntl.h>
#include <net/if.h>
// net/if.h before linux/if_tun.h
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace brisk {

namespace {
[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}
}  // namespace

TapPort::TapPort(const std::string& name, PortKind kind) : Port(name, kind) {
  if (name.empty() || name.size() >= IFNAMSIZ) fail(EINVAL, "bad interface name '" + name + "'");
  if (::if_nametoindex(name.c_str()) != 0) fail(EEXIST, "interface " + name + " already exists");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) fail(errno, "open /dev/net/tun");
  struct ifreq ifr {};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    fail(e, "create tap " + name);
  }
  // Bring the link up in the current (host) namespace.
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    struct ifreq up {};
    std::strncpy(up.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(s, SIOCGIFFLAGS, &up) == 0) {
      up.ifr_flags = static_cast<short>(up.ifr_flags | IFF_UP);
      ::ioctl(s, SIOCSIFFLAGS, &up);
    }
    if (::ioctl(s, SIOCGIFINDEX, &up) == 0) ifindex_ = up.ifr_ifindex;
    ::close(s);
  }
}

TapPort::~TapPort() {
  if (fd_ >= 0) ::close(fd_);
}

bool TapPort::fatal(int err) noexcept {
  if (err == EBADFD || err == ENODEV || err == ENXIO || err == EBADF) {
    mark_failed(err);
    return true;
  }
  return false;
}

std::uint32_t TapPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  if (failed()) return 0;
  std::uint32_t n = 0;
  while (n < max) {
    Frame* f = pool.alloc();
    if (f == nullptr) break;
    f->reset(0);
    // A TAP read copies what fits and returns at most the buffer's length, so a frame longer
    // than kMaxFrameLen (a tap whose MTU was raised past 1906) would come back cut. One more
    // byte of buffer tells the two apart: a read that fills it is of an oversized frame,
    // dropped and counted (kOversize), never forwarded cut.
    std::uint8_t spill;
    struct iovec iov[2] = {{f->data, kMaxFrameLen}, {&spill, 1}};
    ssize_t r = ::readv(fd_, iov, 2);
    if (r <= 0) {
      pool.free(f);
      if (r < 0) fatal(errno);
      break;
    }
    if (static_cast<std::size_t>(r) > kMaxFrameLen) {
      pool.free(f);
      driver_drop(Drop::kOversize);
      continue;
    }
    f->len = static_cast<std::uint32_t>(r);
    out[n++] = f;
  }
  return n;
}

std::uint32_t TapPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  std::uint32_t sent = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const Frame* f = items[i].frame;
    ssize_t r;
    if (!tx_as_is(items[i])) {
      std::uint8_t tag[4];
      const std::uint32_t tail = tx_tail_offset(items[i]);
      struct iovec iov[3] = {{f->data, 12}, {tag, 0}, {f->data + tail, f->len - tail}};
      if (items[i].push_vlan != 0) {
        write_vlan_tag(tag, items[i].push_vlan);
        iov[1].iov_len = 4;
      }
      r = ::writev(fd_, iov, 3);
    } else {
      r = ::write(fd_, f->data, f->len);
    }
    if (r < 0) {
      fatal(errno);
      continue;
    }
    ++sent;
  }
  return sent;
}

}  // namespace brisk
