#include "datapath/tunnel_port.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace brisk {

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// A classic BPF program with symbolic jump targets, resolved by finish().
class Bpf {
 public:
  static constexpr int kAccept = -1, kDrop = -2;
  void stmt(std::uint16_t code, std::uint32_t k) { prog_.push_back(BPF_STMT(code, k)); }
  // Conditional jump to labels (kAccept/kDrop or a label number from label()).
  void jump(std::uint16_t code, std::uint32_t k, int jt, int jf) {
    fix_.push_back({prog_.size(), jt, jf});
    prog_.push_back(BPF_JUMP(code, k, 0, 0));
  }
  void label(int l) { labels_.push_back({l, prog_.size()}); }
  std::vector<sock_filter> finish() {
    std::size_t accept = prog_.size();
    prog_.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));
    std::size_t drop = prog_.size();
    prog_.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
    auto target = [&](int l, std::size_t next) -> std::uint8_t {
      std::size_t at = l == kAccept ? accept : l == kDrop ? drop : 0;
      if (l >= 0) {
        for (auto& [name, pos] : labels_)
          if (name == l) at = pos;
      }
      return static_cast<std::uint8_t>(at - next);
    };
    for (auto& f : fix_) {
      prog_[f.at].jt = target(f.jt, f.at + 1);
      prog_[f.at].jf = target(f.jf, f.at + 1);
    }
    return prog_;
  }

 private:
  struct Fix {
    std::size_t at;
    int jt, jf;
  };
  std::vector<sock_filter> prog_;
  std::vector<Fix> fix_;
  std::vector<std::pair<int, std::size_t>> labels_;
};

// The receive filter of a raw IPv4 socket (data starts at the IPv4 header).
std::vector<sock_filter> rx_filter(const TunnelKey& t) {
  Bpf b;
  const std::uint32_t remote = ntohl(t.remote);
  int l1 = 1, l2 = 2, l3 = 3;
  // Source address.
  b.stmt(BPF_LD | BPF_W | BPF_ABS, 12);
  b.jump(BPF_JMP | BPF_JEQ | BPF_K, remote, l1, Bpf::kDrop);
  b.label(l1);
  b.stmt(BPF_LDX | BPF_B | BPF_MSH, 0);  // X = IHL * 4
  if (t.type == TunnelType::kVxlan) {
    b.stmt(BPF_LD | BPF_H | BPF_IND, 2);  // UDP destination port
    b.jump(BPF_JMP | BPF_JEQ | BPF_K, kVxlanUdpPort, l2, Bpf::kDrop);
    b.label(l2);
    // Shorter than IPv4 + UDP + VXLAN headers: pass, the port counts it as truncated.
    b.stmt(BPF_MISC | BPF_TXA, 0);
    b.stmt(BPF_ALU | BPF_ADD | BPF_K, 8 + kVxlanHeaderLen);
    b.stmt(BPF_MISC | BPF_TAX, 0);
    b.stmt(BPF_LD | BPF_W | BPF_LEN, 0);
    b.jump(BPF_JMP | BPF_JGE | BPF_X, 0, l3, Bpf::kAccept);
    b.label(l3);
    b.stmt(BPF_LDX | BPF_B | BPF_MSH, 0);
    b.stmt(BPF_LD | BPF_W | BPF_IND, 8 + 4);  // VNI << 8 | reserved
    b.stmt(BPF_ALU | BPF_RSH | BPF_K, 8);
    b.jump(BPF_JMP | BPF_JEQ | BPF_K, t.key & kVxlanMaxVni, Bpf::kAccept, Bpf::kDrop);
    return b.finish();
  }
  int l4 = 4, l5 = 5;
  b.stmt(BPF_LD | BPF_H | BPF_IND, 2);  // GRE protocol
  b.jump(BPF_JMP | BPF_JEQ | BPF_K, kGreProtoTeb, l2, Bpf::kDrop);
  b.label(l2);
  b.stmt(BPF_LD | BPF_H | BPF_IND, 0);  // GRE flags
  if (!t.has_key) {
    b.jump(BPF_JMP | BPF_JSET | BPF_K, 0x2000, Bpf::kDrop, Bpf::kAccept);
    return b.finish();
  }
  b.jump(BPF_JMP | BPF_JSET | BPF_K, 0x2000, l3, Bpf::kDrop);
  b.label(l3);
  b.jump(BPF_JMP | BPF_JSET | BPF_K, 0x8000, l4, l5);  // checksum present: key 4 bytes later
  b.label(l5);
  b.stmt(BPF_LD | BPF_W | BPF_IND, 4);
  b.jump(BPF_JMP | BPF_JEQ | BPF_K, t.key, Bpf::kAccept, Bpf::kDrop);
  b.label(l4);
  b.stmt(BPF_LD | BPF_W | BPF_IND, 8);
  b.jump(BPF_JMP | BPF_JEQ | BPF_K, t.key, Bpf::kAccept, Bpf::kDrop);
  return b.finish();
}

void attach_filter(int fd, std::vector<sock_filter> prog, const std::string& what) {
  sock_fprog fp{static_cast<unsigned short>(prog.size()), prog.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) != 0)
    fail(errno, what + ": attach socket filter");
}

void set_buffers(int fd) {
  int sz = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

void allow_fragments(int fd, const std::string& what) {
  int v = IP_PMTUDISC_DONT;
  if (::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)) != 0)
    fail(errno, what + ": IP_MTU_DISCOVER");
}

}  // namespace

// ---------------------------------------------------------------------------- TunnelFraming

TunnelFraming::TunnelFraming(const TunnelKey& key) : key_(key) {
  if (key_.type == TunnelType::kVxlan) key_.has_key = true;
  dst_.sin_family = AF_INET;
  dst_.sin_addr.s_addr = key_.remote;
  dst_.sin_port = 0;  // a raw socket: the port is in the UDP header brisk writes
  hdr_len_ = tunnel_header(key_, hdr_);
}

void TunnelFraming::encap(const TxItem* items, std::uint32_t m, TxMsgs& out) const noexcept {
  const bool vxlan = key_.type == TunnelType::kVxlan;
  for (std::uint32_t i = 0; i < m; ++i) {
    Frame* f = items[i].frame;
    iovec* v = out.iov[i];
    std::size_t nv = 0;
    if (vxlan) v[nv++] = iovec{out.udp[i], 8};
    v[nv++] = iovec{const_cast<std::uint8_t*>(hdr_), hdr_len_};
    std::size_t inner;
    if (!tx_as_is(items[i])) {
      const std::uint32_t tail = tx_tail_offset(items[i]);
      v[nv++] = iovec{f->data, 12};
      iovec& tag = v[nv++];
      tag = iovec{out.tags[i], 0};
      v[nv++] = iovec{f->data + tail, f->len - tail};
      if (items[i].push_vlan != 0) {
        write_vlan_tag(out.tags[i], items[i].push_vlan);
        tag.iov_len = 4;
      }
      inner = 12 + tag.iov_len + (f->len - tail);
    } else {
      v[nv++] = iovec{f->data, f->len};
      inner = f->len;
    }
    if (vxlan) vxlan_udp_header(out.udp[i], vxlan_source_port(f->data, f->len), hdr_len_ + inner);
    out.msgs[i] = mmsghdr{};
    out.msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&dst_);
    out.msgs[i].msg_hdr.msg_namelen = sizeof(dst_);
    out.msgs[i].msg_hdr.msg_iov = v;
    out.msgs[i].msg_hdr.msg_iovlen = nv;
  }
}

std::uint32_t TunnelFraming::rx_post(FramePool& pool, std::uint32_t max, RxMsgs& m) const noexcept {
  if (max > kBatchSize) max = kBatchSize;
  std::uint32_t n = 0;
  for (; n < max; ++n) {
    Frame* f = pool.alloc();
    if (f == nullptr) break;
    f->reset(0);
    m.frames[n] = f;
    m.iov[n] = iovec{f->buf + kRxOffset, kFrameBufSize - kRxOffset};
    m.msgs[n] = mmsghdr{};
    m.msgs[n].msg_hdr.msg_iov = &m.iov[n];
    m.msgs[n].msg_hdr.msg_iovlen = 1;
  }
  return n;
}

std::uint32_t TunnelFraming::rx_finish(FramePool& pool, RxMsgs& m, std::uint32_t posted,
                                       std::uint32_t received, Frame** out, Drop* drops,
                                       std::uint32_t* ndrops) const noexcept {
  std::uint32_t got = 0;
  for (std::uint32_t i = 0; i < received; ++i) {
    Frame* f = m.frames[i];
    std::uint8_t* pkt = f->buf + kRxOffset;
    if (m.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      drops[(*ndrops)++] = Drop::kOversize;
      pool.free(f);
      continue;
    }
    DecapResult d = tunnel_decap(key_, pkt, m.msgs[i].msg_len);
    if (d.status != DecapStatus::kOk) {
      if (d.status == DecapStatus::kDrop) drops[(*ndrops)++] = d.reason;
      pool.free(f);
      continue;
    }
    f->data = pkt + d.offset;
    f->len = m.msgs[i].msg_len - d.offset;
    out[got++] = f;
  }
  for (std::uint32_t i = received; i < posted; ++i) pool.free(m.frames[i]);
  return got;
}

// ---------------------------------------------------------------------------- TunnelPort

TunnelPort::TunnelPort(std::string name, const TunnelKey& key)
    : Port(std::move(name), PortKind::kTunnel), framing_(key) {
  const std::string what = "tunnel " + this->name();
  const TunnelKey& k = framing_.key();  // VXLAN: has_key set

  const int proto = k.type == TunnelType::kVxlan ? IPPROTO_UDP : IPPROTO_GRE;
  rx_fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (rx_fd_ < 0) fail(errno, what + ": raw socket (needs CAP_NET_RAW)");
  try {
    attach_filter(rx_fd_, rx_filter(k), what);
    // Whatever arrived between socket() and the filter is not ours to judge: discard it.
    std::uint8_t junk[64];
    while (::recv(rx_fd_, junk, sizeof(junk), MSG_DONTWAIT) >= 0) {
    }
    set_buffers(rx_fd_);
    allow_fragments(rx_fd_, what);
    if (k.type == TunnelType::kGre) return;
    udp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (udp_fd_ < 0) fail(errno, what + ": UDP socket");
    int one = 1;
    ::setsockopt(udp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::setsockopt(udp_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
      fail(errno, what + ": SO_REUSEPORT");
    // Received datagrams are read from the raw socket; this one keeps none of them.
    attach_filter(udp_fd_, {BPF_STMT(BPF_RET | BPF_K, 0)}, what);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(kVxlanUdpPort);
    local.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(udp_fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      int e = errno;
      fail(e, what + ": bind UDP port " + std::to_string(kVxlanUdpPort) +
                  (e == EADDRINUSE ? " (in use by another program, e.g. a kernel vxlan device)" : ""));
    }
  } catch (...) {
    if (udp_fd_ >= 0) ::close(udp_fd_);
    ::close(rx_fd_);
    throw;
  }
}

TunnelPort::~TunnelPort() {
  if (udp_fd_ >= 0) ::close(udp_fd_);
  if (rx_fd_ >= 0) ::close(rx_fd_);
}

std::uint32_t TunnelPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  TunnelFraming::RxMsgs m;
  const std::uint32_t n = framing_.rx_post(pool, max, m);
  if (n == 0) return 0;
  int r = ::recvmmsg(rx_fd_, m.msgs, n, MSG_DONTWAIT, nullptr);
  if (r < 0) {
    if (errno == EBADF) mark_failed(errno);
    r = 0;
  }
  Drop drops[kBatchSize];
  std::uint32_t ndrops = 0;
  const std::uint32_t got =
      framing_.rx_finish(pool, m, n, static_cast<std::uint32_t>(r), out, drops, &ndrops);
  for (std::uint32_t i = 0; i < ndrops; ++i) driver_drop(drops[i]);
  return got;
}

std::uint32_t TunnelPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  std::uint32_t sent = 0;
  while (n > 0) {
    const std::uint32_t m = n < kBatchSize ? n : kBatchSize;
    TunnelFraming::TxMsgs t;
    framing_.encap(items, m, t);
    std::uint32_t i = 0;
    while (i < m) {
      int r = ::sendmmsg(rx_fd_, t.msgs + i, m - i, MSG_DONTWAIT);
      if (r > 0) {
        sent += static_cast<std::uint32_t>(r);
        i += static_cast<std::uint32_t>(r);
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else {
        ++i;  // this frame failed (no route, buffer full...): the caller counts a tx error
      }
    }
    items += m;
    n -= m;
  }
  return sent;
}

}  // namespace brisk
