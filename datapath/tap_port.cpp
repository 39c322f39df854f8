#include "datapath/tap_port.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <net/if.h>
// net/if.h before linux/if_tun.h
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "datapath/offload.hpp"

namespace brisk {

namespace {
// Linux 6.2 UDP segmentation offload flags; Debian 12's kernel headers predate them.
#ifndef TUN_F_USO4
constexpr unsigned TUN_F_USO4 = 0x20;
constexpr unsigned TUN_F_USO6 = 0x40;
#endif
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
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    fail(e, "create tap " + name);
  }
  // Offloads the host stack may hand us: partial checksums and TSO/USO super-frames. Kernels
  // without USO refuse the whole set (EINVAL): then without it.
  const unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  if (::ioctl(fd_, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) < 0 &&
      ::ioctl(fd_, TUNSETOFFLOAD, base) < 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    fail(e, "offloads of tap " + name);
  }
  // A write may carry any of them (tun_get_user takes every GSO type virtio_net_hdr names).
  set_tx_caps(txcap::kAll);
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
  set_mtu(device_mtu(ifindex_));
}

TapPort::~TapPort() {
  if (fd_ >= 0) ::close(fd_);
  if (ns_sock_ >= 0) ::close(ns_sock_);
}

std::uint32_t TapPort::read_mtu() {
  struct ifreq ifr {};
  if (::ioctl(fd_, TUNGETIFF, &ifr) < 0) return 0;
  const int ns = ::ioctl(fd_, TUNGETDEVNETNS);
  if (ns < 0) return 0;
  struct stat st {};
  if (::fstat(ns, &st) == 0 && (ns_sock_ < 0 || st.st_ino != ns_ino_)) {
    // A socket in that namespace: enter it, make one, come back (this thread only).
    const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self >= 0 && ::setns(ns, CLONE_NEWNET) == 0) {
      const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (::setns(self, CLONE_NEWNET) != 0) std::abort();  // never left in the wrong namespace
      if (s >= 0) {
        if (ns_sock_ >= 0) ::close(ns_sock_);
        ns_sock_ = s;
        ns_ino_ = st.st_ino;
      }
    }
    if (self >= 0) ::close(self);
  }
  ::close(ns);
  if (ns_sock_ < 0 || ::ioctl(ns_sock_, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu <= 0) return 0;
  return static_cast<std::uint32_t>(ifr.ifr_mtu);
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
    // A frame up to kMaxFrameLen lands in f's own buffer; a longer one (jumbo, super-frame)
    // continues in a big buffer, where its head is then copied. Without a big buffer, one spare
    // byte tells an oversized frame apart: a read that fills it is dropped and counted
    // (kOversize), never forwarded cut.
    Frame* big = pool.alloc_big(0);
    std::uint8_t spill;
    VnetHdr vh;
    struct iovec iov[3] = {{&vh, sizeof(vh)}, {f->data, kMaxFrameLen}, {&spill, 1}};
    if (big != nullptr) iov[2] = {big->data + kMaxFrameLen, kMaxBigFrameLen - kMaxFrameLen};
    ssize_t r = ::readv(fd_, iov, 3);
    if (r < static_cast<ssize_t>(sizeof(vh))) {
      pool.free(f);
      if (big != nullptr) pool.free(big);
      if (r < 0) fatal(errno);
      break;
    }
    const auto len = static_cast<std::size_t>(r) - sizeof(vh);
    if (len > kMaxFrameLen) {
      if (big == nullptr || len >= kMaxBigFrameLen) {
        pool.free(f);
        if (big != nullptr) pool.free(big);
        driver_drop(Drop::kOversize);
        continue;
      }
      std::memcpy(big->data, f->data, kMaxFrameLen);
      pool.free(f);
      f = big;
    } else if (big != nullptr) {
      pool.free(big);
    }
    f->len = static_cast<std::uint32_t>(len);
    f->off = from_vnet(vh);
    if (!offload_ok(f->off)) {
      pool.free(f);
      driver_drop(Drop::kBadOffload);
      continue;
    }
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
      const int shift = (items[i].push_vlan != 0 ? 4 : 0) - (items[i].pop_tag ? 4 : 0);
      VnetHdr vh = to_vnet(f->off, shift);
      struct iovec iov[4] = {{&vh, sizeof(vh)}, {f->data, 12}, {tag, 0}, {f->data + tail, f->len - tail}};
      if (items[i].push_vlan != 0) {
        write_vlan_tag(tag, items[i].push_vlan);
        iov[2].iov_len = 4;
      }
      r = ::writev(fd_, iov, 4);
    } else {
      VnetHdr vh = to_vnet(f->off);
      struct iovec iov[2] = {{&vh, sizeof(vh)}, {f->data, f->len}};
      r = ::writev(fd_, iov, 2);
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
