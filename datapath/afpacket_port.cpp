#include "datapath/afpacket_port.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "datapath/csum.hpp"

namespace brisk {

namespace afpacket {

namespace {

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
}  // namespace

bool plan_gso(const std::uint8_t* f, std::size_t len, std::uint8_t gso_type, std::uint16_t gso_size,
              GsoPlan& plan) noexcept {
  const std::uint8_t type = gso_type & static_cast<std::uint8_t>(~kGsoEcn);
  if (gso_size == 0 || len < 14) return false;
  std::size_t l3 = 14;
  std::uint16_t et = get16(f + 12);
  while (et == ethertype::kVlan || et == ethertype::kQinQ) {
    if (len < l3 + 4) return false;
    et = get16(f + l3 + 2);
    l3 += 4;
  }
  GsoPlan p;
  p.l3 = static_cast<std::uint32_t>(l3);
  if (et == ethertype::kIpv4) {
    if (len < l3 + 20 || (f[l3] >> 4) != 4) return false;
    std::size_t ihl = std::size_t{f[l3] & 0x0fu} * 4;
    if (ihl < 20 || len < l3 + ihl) return false;
    if (((f[l3 + 6] & 0x3f) | f[l3 + 7]) != 0) return false;  // a fragment
    p.proto = f[l3 + 9];
    p.l4 = static_cast<std::uint32_t>(l3 + ihl);
  } else if (et == ethertype::kIpv6) {
    if (len < l3 + 40 || (f[l3] >> 4) != 6) return false;
    p.proto = f[l3 + 6];  // extension headers are not supported
    p.l4 = static_cast<std::uint32_t>(l3 + 40);
    p.ipv6 = true;
  } else {
    return false;
  }
  if (type == kGsoTcpV4 || type == kGsoTcpV6) {
    if (p.proto != 6 || p.ipv6 != (type == kGsoTcpV6)) return false;
    if (len < std::size_t{p.l4} + 20) return false;
    std::uint32_t thl = (std::uint32_t{f[p.l4 + 12]} >> 4) * 4;
    if (thl < 20) return false;
    p.hdr_len = p.l4 + thl;
  } else if (type == kGsoUdpL4) {
    if (p.proto != 17) return false;
    p.hdr_len = p.l4 + 8;
  } else {
    return false;  // UFO (IP fragmentation) or unknown
  }
  if (len <= p.hdr_len) return false;
  p.mss = gso_size;
  p.segments = static_cast<std::uint32_t>((len - p.hdr_len + p.mss - 1) / p.mss);
  plan = p;
  return true;
}

std::size_t build_segment(const std::uint8_t* f, std::size_t len, const GsoPlan& p,
                          std::uint32_t i, std::uint8_t* out, std::size_t cap) noexcept {
  const std::size_t off = p.hdr_len + std::size_t{i} * p.mss;
  if (i >= p.segments || off >= len) return 0;
  const std::size_t chunk = std::min<std::size_t>(p.mss, len - off);
  const std::size_t seglen = p.hdr_len + chunk;
  if (seglen > cap) return 0;
  std::memcpy(out, f, p.hdr_len);
  std::memcpy(out + p.hdr_len, f + off, chunk);
  std::uint8_t* ip = out + p.l3;
  std::uint8_t* l4 = out + p.l4;
  const std::uint32_t l4len = static_cast<std::uint32_t>(seglen - p.l4);
  std::uint64_t pseudo;
  if (p.ipv6) {
    put16(ip + 4, static_cast<std::uint32_t>(seglen - p.l3 - 40));
    pseudo = csum_add(ip + 8, 32, 0);
  } else {
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    put16(ip + 2, static_cast<std::uint32_t>(seglen - p.l3));
    put16(ip + 4, get16(f + p.l3 + 4) + i);
    put16(ip + 10, 0);
    put16(ip + 10, static_cast<std::uint16_t>(~csum_fold(csum_add(ip, ihl, 0))));
    pseudo = csum_add(ip + 12, 8, 0);
  }
  std::size_t csum_at;
  if (p.proto == 6) {
    put32(l4 + 4, get32(f + p.l4 + 4) + i * p.mss);
    std::uint8_t flags = l4[13];
    if (i + 1 != p.segments) flags &= static_cast<std::uint8_t>(~0x09);  // FIN, PSH: last only
    if (i != 0) flags &= static_cast<std::uint8_t>(~0x80);               // CWR: first only
    l4[13] = flags;
    csum_at = 16;
  } else {
    put16(l4 + 4, l4len);
    csum_at = 6;
  }
  put16(l4 + csum_at, 0);
  pseudo += p.proto;
  pseudo += l4len;
  put16(l4 + csum_at, csum_finish(csum_add(l4, l4len, pseudo)));
  return seglen;
}

}  // namespace afpacket

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Reinsert a stripped 802.1Q tag into an untagged frame that starts 4 bytes after `p`.
void insert_tag(std::uint8_t* p, std::uint16_t tpid, std::uint16_t tci) {
  std::memmove(p, p + 4, 12);
  p[12] = static_cast<std::uint8_t>(tpid >> 8);
  p[13] = static_cast<std::uint8_t>(tpid);
  p[14] = static_cast<std::uint8_t>(tci >> 8);
  p[15] = static_cast<std::uint8_t>(tci);
}

tpacket_block_desc* block_at(std::uint8_t* ring, std::uint32_t i) {
  return reinterpret_cast<tpacket_block_desc*>(ring + std::size_t{i} * AfPacketPort::kRingBlockSize);
}

}  // namespace

AfPacketPort::AfPacketPort(const std::string& ifname) : Port(ifname, PortKind::kSystem) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) fail(EINVAL, "bad interface name '" + ifname + "'");
  ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex_ == 0) fail(ENODEV, "no such device: " + ifname);

  auto fail_closed = [&](int err, const std::string& what) {
    close_all();
    fail(err, what + " on " + ifname);
  };
  // Protocol 0: nothing is queued until bind() below, after the ring exists.
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail(errno, "AF_PACKET socket for " + ifname);
  int v = TPACKET_V3;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) fail_closed(errno, "PACKET_VERSION");
  v = 1;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &v, sizeof(v)) < 0) fail_closed(errno, "PACKET_VNET_HDR");
  v = 1;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof(v)) < 0) {
    fail_closed(errno, "PACKET_IGNORE_OUTGOING");
  }
  tpacket_req3 req{};
  req.tp_block_size = kRingBlockSize;
  req.tp_block_nr = kRingBlocks;
  req.tp_frame_size = kRingFrameSize;
  req.tp_frame_nr = kRingBlockSize / kRingFrameSize * kRingBlocks;
  req.tp_retire_blk_tov = kBlockTimeoutMs;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) fail_closed(errno, "PACKET_RX_RING");
  ring_len_ = std::size_t{kRingBlockSize} * kRingBlocks;
  void* m = ::mmap(nullptr, ring_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (m == MAP_FAILED) {
    ring_len_ = 0;
    fail_closed(errno, "mmap of the packet ring");
  }
  ring_ = static_cast<std::uint8_t*>(m);

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex_;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
    int e = errno;
    if (e == ENODEV || e == ENXIO) {
      close_all();
      fail(ENODEV, "no such device: " + ifname);
    }
    fail_closed(e, "bind");
  }
  sockaddr_ll me{};
  socklen_t mlen = sizeof(me);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&me), &mlen) < 0) fail_closed(errno, "getsockname");
  if (me.sll_hatype != ARPHRD_ETHER) fail_closed(EINVAL, "not an Ethernet device");
  packet_mreq mr{};
  mr.mr_ifindex = ifindex_;
  mr.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
    fail_closed(errno, "promiscuous mode");
  }
}

AfPacketPort::~AfPacketPort() { close_all(); }

void AfPacketPort::close_all() noexcept {
  if (ring_ != nullptr) ::munmap(ring_, ring_len_);
  ring_ = nullptr;
  ring_len_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool AfPacketPort::fatal(int err) noexcept {
  if (err == ENXIO || err == ENODEV || err == EBADF || err == EBADFD) {
    mark_failed(err);
    return true;
  }
  return false;
}

void AfPacketPort::check_device() noexcept {
  // Reading SO_ERROR clears the ENETDOWN the kernel sets when the link goes down (otherwise
  // poll(2) keeps reporting POLLERR and a sleeping worker spins).
  int err = 0;
  socklen_t elen = sizeof(err);
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &elen);
  // When the device is unregistered the kernel unbinds the socket: its ifindex becomes -1.
  sockaddr_ll me{};
  socklen_t mlen = sizeof(me);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&me), &mlen) < 0) {
    fatal(errno);
  } else if (me.sll_ifindex != ifindex_) {
    mark_failed(ENODEV);
  }
}

AfPacketPort::Stats AfPacketPort::stats() const {
  Stats s;
  s.rx_csum_completed = csum_completed_.get();
  s.rx_gso_frames = gso_frames_.get();
  s.rx_gso_segments = gso_segments_.get();
  s.rx_gso_dropped = gso_dropped_.get();
  s.rx_oversize = oversize_.get();
  s.rx_truncated = truncated_.get();
  return s;
}

AfPacketPort::KernelStats AfPacketPort::kernel_stats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof(st);
  KernelStats k;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    k.packets = st.tp_packets;
    k.drops = st.tp_drops;
    k.freeze_q_cnt = st.tp_freeze_q_cnt;
  }
  return k;
}

AfPacketPort::Step AfPacketPort::take_packet(FramePool& pool, Frame** out, std::uint32_t max,
                                             std::uint32_t& n) noexcept {
  const auto* h = reinterpret_cast<const tpacket3_hdr*>(pkt_);
  const std::uint8_t* data = pkt_ + h->tp_mac;
  const std::uint32_t len = h->tp_snaplen;
  if (h->tp_snaplen < h->tp_len || len < 14) {
    truncated_.add(1);  // longer than the ring holds (so than a Frame too), or a runt
    driver_drop(len < 14 ? Drop::kRunt : Drop::kOversize);
    return Step::kDone;
  }
  afpacket::VnetHdr vh;
  std::memcpy(&vh, data - sizeof(vh), sizeof(vh));
  const bool tagged = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
  const std::uint32_t extra = tagged ? 4 : 0;
  std::uint16_t tpid = ethertype::kVlan;
  if ((h->tp_status & TP_STATUS_VLAN_TPID_VALID) != 0 && h->hv1.tp_vlan_tpid != 0) tpid = h->hv1.tp_vlan_tpid;
  const auto tci = static_cast<std::uint16_t>(h->hv1.tp_vlan_tci);

  if (vh.gso_type != afpacket::kGsoNone) {
    afpacket::GsoPlan plan;
    if (!afpacket::plan_gso(data, len, vh.gso_type, vh.gso_size, plan)) {
      gso_dropped_.add(1);
      return Step::kDone;
    }
    if (plan.hdr_len + plan.mss + extra > kMaxFrameLen) {  // a segment would not fit a Frame
      gso_dropped_.add(1);
      driver_drop(Drop::kOversize);
      return Step::kDone;
    }
    while (seg_next_ < plan.segments) {
      if (n >= max) return Step::kNeedRoom;
      Frame* f = pool.alloc();
      if (f == nullptr) return Step::kNeedRoom;
      f->reset(0);
      std::size_t l = afpacket::build_segment(data, len, plan, seg_next_, f->data + extra, kMaxFrameLen - extra);
      if (l == 0) {  // cannot happen after the size check above
        pool.free(f);
        gso_dropped_.add(1);
        return Step::kDone;
      }
      if (tagged) insert_tag(f->data, tpid, tci);
      f->len = static_cast<std::uint32_t>(l + extra);
      out[n++] = f;
      ++seg_next_;
    }
    gso_frames_.add(1);
    gso_segments_.add(plan.segments);
    return Step::kDone;
  }

  if (len + extra > kMaxFrameLen) {
    oversize_.add(1);
    driver_drop(Drop::kOversize);
    return Step::kDone;
  }
  if (n >= max) return Step::kNeedRoom;
  Frame* f = pool.alloc();
  if (f == nullptr) return Step::kNeedRoom;
  f->reset(len + extra);
  std::memcpy(f->data + extra, data, len);
  if ((vh.flags & afpacket::kVnetNeedsCsum) != 0 &&
      complete_checksum_at(f->data + extra, len, vh.csum_start, vh.csum_offset)) {
    csum_completed_.add(1);
  }
  if (tagged) insert_tag(f->data, tpid, tci);
  out[n++] = f;
  return Step::kDone;
}

std::uint32_t AfPacketPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  if (failed()) return 0;
  std::uint32_t n = 0;
  while (n < max) {
    tpacket_block_desc* bd = block_at(ring_, block_);
    if (pkts_left_ == 0) {
      std::uint32_t st = std::atomic_ref<std::uint32_t>(bd->hdr.bh1.block_status).load(std::memory_order_acquire);
      if ((st & TP_STATUS_USER) == 0) break;
      pkts_left_ = bd->hdr.bh1.num_pkts;
      pkt_ = reinterpret_cast<std::uint8_t*>(bd) + bd->hdr.bh1.offset_to_first_pkt;
      seg_next_ = 0;
    }
    if (pkts_left_ != 0) {
      if (take_packet(pool, out, max, n) == Step::kNeedRoom) break;
      seg_next_ = 0;
      pkt_ += reinterpret_cast<const tpacket3_hdr*>(pkt_)->tp_next_offset;
      --pkts_left_;
    }
    if (pkts_left_ == 0) {
      // Every frame of the block is consumed: hand it back to the kernel.
      std::atomic_ref<std::uint32_t>(bd->hdr.bh1.block_status).store(TP_STATUS_KERNEL, std::memory_order_release);
      block_ = (block_ + 1) % kRingBlocks;
    }
  }
  if (n == 0 && ++idle_calls_ >= kIdleCheckEvery) {
    idle_calls_ = 0;
    check_device();
  }
  return n;
}

std::uint32_t AfPacketPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  if (failed()) return 0;
  int err = 0;
  const std::uint32_t sent = afpacket::send_frames(fd_, items, n, err);
  if (err != 0) fatal(err);
  return sent;
}

namespace afpacket {

std::uint32_t send_frames(int fd, const TxItem* items, std::uint32_t n, int& err) noexcept {
  err = 0;
  // PACKET_VNET_HDR applies to sends too: an all-zero header means a plain, complete frame.
  VnetHdr vnet{};
  std::uint8_t tags[kBatchSize][4];
  iovec iov[kBatchSize][4];
  mmsghdr msgs[kBatchSize];
  std::uint32_t sent = 0;
  for (std::uint32_t base = 0; base < n; base += kBatchSize) {
    const std::uint32_t c = std::min<std::uint32_t>(kBatchSize, n - base);
    std::uint32_t m = 0;
    for (std::uint32_t k = 0; k < c; ++k) {
      const TxItem& it = items[base + k];
      Frame* f = it.frame;
      if (f->len < 14) continue;  // not a frame: counted as not sent
      iovec* v = iov[m];
      v[0] = {&vnet, sizeof(vnet)};
      std::size_t nv;
      if (!tx_as_is(it)) {
        const std::uint32_t tail = tx_tail_offset(it);
        v[1] = {f->data, 12};
        v[2] = {tags[m], 0};
        v[3] = {f->data + tail, f->len - tail};
        if (it.push_vlan != 0) {
          write_vlan_tag(tags[m], it.push_vlan);
          v[2].iov_len = 4;
        }
        nv = 4;
      } else {
        v[1] = {f->data, f->len};
        nv = 2;
      }
      msgs[m] = mmsghdr{};
      msgs[m].msg_hdr.msg_iov = v;
      msgs[m].msg_hdr.msg_iovlen = nv;
      ++m;
    }
    std::uint32_t i = 0;
    while (i < m) {
      int r = ::sendmmsg(fd, msgs + i, m - i, MSG_DONTWAIT);
      if (r > 0) {
        sent += static_cast<std::uint32_t>(r);
        i += static_cast<std::uint32_t>(r);
        continue;
      }
      int e = r < 0 ? errno : EAGAIN;
      if (e == EINTR) continue;
      // The device is gone, the link is down, the socket buffer is full or the qdisc dropped
      // the frame: the rest of the burst would fail too.
      if (e == ENXIO || e == ENODEV || e == EBADF || e == EBADFD || e == ENETDOWN || e == EAGAIN ||
          e == EWOULDBLOCK || e == ENOBUFS) {
        err = e;
        return sent;
      }
      ++i;  // this frame was refused (too big for the MTU, ...); go on with the next
    }
  }
  return sent;
}

int open_sender(int ifindex) noexcept {
  // Protocol 0: bound to the device, yet no frame is ever queued for reading. The kernel
  // reads each frame's protocol from its Ethernet header (SOCK_RAW).
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int v = 1;
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex;
  if (::setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &v, sizeof(v)) < 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

}  // namespace afpacket

}  // namespace brisk
