// AfXdpPort against a real veth pair (label needs_root; every test skips itself without root).
//
// Each test builds its own world: a network namespace NS holding one veth end (B, address
// 198.19.77.1/24, IPv6 off so it stays quiet) and the other end (A) in the root namespace,
// without an address, under an AfXdpPort. The namespace side is observed and driven through an
// AF_PACKET socket opened inside NS (a helper thread enters it with setns(), the socket stays
// there), so counts are exact. TearDown deletes the veth and the namespace even after a
// failure. Traffic never leaves the pair.
//
// AfXdpPortNoRoot.* needs no privileges (label unit).
#include "datapath/afxdp_port.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "datapath/frame.hpp"
#include "datapath/umem_pool.hpp"
#include "support/harness.hpp"
#include "support/stale_devices.hpp"

namespace brisk {
namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kTestEthertype = 0x88b5;  // IEEE local experimental
constexpr const char* kNsAddr = "198.19.77.1";
constexpr const char* kGhostAddr = "198.19.77.2";  // nobody: B's ARP requests for it go to A

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// The fixtures below name their namespaces bxns<pid>... and their host ends bxa<pid>...: what a
// killed run of this binary left (a ctest timeout) goes before new pairs are made.
void remove_stale_pairs() {
  brisk::test::remove_stale("/run/netns", "bxns", "ip netns del ");
  brisk::test::remove_stale("/sys/class/net", "bxa", "ip link del ");
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  ::pclose(p);
  return out;
}

std::array<std::uint8_t, 6> parse_mac(const std::string& s) {
  std::array<std::uint8_t, 6> m{};
  unsigned v[6] = {};
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6)
    for (int i = 0; i < 6; ++i) m[i] = static_cast<std::uint8_t>(v[i]);
  return m;
}

// A veth pair for the root fixtures: `a` stays here, `b` goes into the new namespace `ns`
// (with `b_addr` when not empty); both up, IPv6 off (no chatter of their own), lo up in `ns`.
// Returns "" or the step that failed. *a_mac: a's MAC address.
std::string make_veth_ns(const std::string& ns, const std::string& a, const std::string& b,
                         const std::string& b_addr, std::array<std::uint8_t, 6>* a_mac) {
  if (!sh("ip netns add " + ns)) return "ip netns add " + ns;
  if (!sh("ip link add " + a + " type veth peer name " + b)) return "ip link add " + a;
  if (!sh("ip link set " + b + " netns " + ns)) return "ip link set " + b + " netns " + ns;
  { std::ofstream("/proc/sys/net/ipv6/conf/" + a + "/disable_ipv6") << "1\n"; }
  sh("ip netns exec " + ns + " sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
  sh("ip netns exec " + ns + " sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
  if (!b_addr.empty() && !sh("ip -n " + ns + " addr add " + b_addr + " dev " + b)) return "addr add " + b_addr;
  for (const std::string& up : {"ip -n " + ns + " link set lo up", "ip -n " + ns + " link set " + b + " up",
                                "ip link set " + a + " up"})
    if (!sh(up)) return up;
  std::ifstream mac_file("/sys/class/net/" + a + "/address");
  std::string mac;
  mac_file >> mac;
  *a_mac = parse_mac(mac);
  return "";
}

// A test frame: dst, src, kTestEthertype, "BRSK", sender id, 32-bit sequence, then a pattern
// derived from (id, seq) up to `len` bytes.
Bytes make_frame(const std::array<std::uint8_t, 6>& dst, const std::array<std::uint8_t, 6>& src,
                 std::uint8_t id, std::uint32_t seq, std::size_t len) {
  Bytes f(dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  f.push_back(kTestEthertype >> 8);
  f.push_back(kTestEthertype & 0xff);
  for (char c : {'B', 'R', 'S', 'K'}) f.push_back(static_cast<std::uint8_t>(c));
  f.push_back(id);
  for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<std::uint8_t>(seq >> s));
  while (f.size() < len) f.push_back(static_cast<std::uint8_t>(f.size() * 7 + seq * 13 + id));
  f.resize(len);
  return f;
}

// (id, seq) of a frame made by make_frame(), if it is one and its pattern is intact.
bool parse_frame(const std::uint8_t* p, std::size_t len, std::uint8_t* id, std::uint32_t* seq) {
  if (len < 23 || p[12] != (kTestEthertype >> 8) || p[13] != (kTestEthertype & 0xff) ||
      std::memcmp(p + 14, "BRSK", 4) != 0)
    return false;
  *id = p[18];
  *seq = (std::uint32_t{p[19]} << 24) | (std::uint32_t{p[20]} << 16) | (std::uint32_t{p[21]} << 8) |
         p[22];
  for (std::size_t i = 23; i < len; ++i)
    if (p[i] != static_cast<std::uint8_t>(i * 7 + *seq * 13 + *id)) return false;
  return true;
}

struct NsFrame {
  Bytes data;
  int vlan = -1;  // VID from PACKET_AUXDATA, -1 if the frame carried no tag
  unsigned char pkttype = 0;
};

// An AF_PACKET socket bound to `dev` inside namespace `ns`, with PACKET_AUXDATA (so tags the
// receive path strips are reported) and a large receive buffer; `mac` gets the device's address.
// -1 on failure. A helper thread enters the namespace with setns(); the socket stays there.
int open_ns_socket(const std::string& ns, const std::string& dev, std::array<std::uint8_t, 6>* mac) {
  int out = -1;
  std::thread t([&] {
    int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return;
    int rc = ::setns(nsfd, CLONE_NEWNET);
    ::close(nsfd);
    if (rc != 0) return;
    int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (s < 0) return;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    if (::ioctl(s, SIOCGIFINDEX, &ifr) != 0) {
      ::close(s);
      return;
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifr.ifr_ifindex;
    int one = 1, rcvbuf = 32 << 20;
    if (::bind(s, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0 ||
        ::setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) != 0 ||
        ::ioctl(s, SIOCGIFHWADDR, &ifr) != 0) {
      ::close(s);
      return;
    }
    ::setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    std::memcpy(mac->data(), ifr.ifr_hwaddr.sa_data, 6);
    out = s;
  });
  t.join();
  return out;
}

// Frames `sock` received (not its own outgoing ones) until `done` says so or `timeout` passes.
template <typename Done>
std::vector<NsFrame> receive_frames(int sock, std::chrono::milliseconds timeout, Done done) {
  std::vector<NsFrame> got;
  auto end = Clock::now() + timeout;
  std::vector<std::uint8_t> buf(4096);
  while (!done(got) && Clock::now() < end) {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    sockaddr_ll from{};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(tpacket_auxdata))];
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof(from);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof(ctrl);
    ssize_t r = ::recvmsg(sock, &m, MSG_DONTWAIT);
    if (r <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
    NsFrame f;
    f.data.assign(buf.begin(), buf.begin() + r);
    f.pkttype = from.sll_pkttype;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      tpacket_auxdata aux;
      std::memcpy(&aux, CMSG_DATA(c), sizeof(aux));
      if (aux.tp_status & TP_STATUS_VLAN_VALID) f.vlan = aux.tp_vlan_tci & 0x0fff;
    }
    got.push_back(std::move(f));
  }
  return got;
}

TEST(AfXdpPortNoRoot, MissingDeviceThrowsClearly) {
  try {
    AfXdpPort port("bxnosuch0");
    FAIL() << "constructed a port on a missing device";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENODEV);
    EXPECT_NE(std::string(e.what()).find("no such device: bxnosuch0"), std::string::npos) << e.what();
  }
}

TEST(AfXdpPortNoRoot, BadOptionsThrow) {
  AfXdpOptions o;
  o.frames = 100;  // not a power of two
  EXPECT_THROW(AfXdpPort("lo", o), std::system_error);
  EXPECT_THROW(AfXdpPort("a-name-that-is-too-long"), std::system_error);
}

// Every frame behind the kernel's socket counters under exactly one named drop; what counts
// events rather than frames (invalid FILL entries, empty TX ring looks) under none.
TEST(AfXdpPortNoRoot, KernelCountersMapToNamedDrops) {
  AfXdpStats s;
  s.rx_dropped = 10;  // 7 found the FILL ring empty (copy mode), 3 too long
  s.rx_fill_ring_empty = 7;
  s.rx_ring_full = 4;
  s.tx_invalid_descs = 2;
  s.rx_invalid_descs = 5;
  s.tx_ring_empty = 100;
  EXPECT_EQ(xsk_drops(s, false, Drop::kXskNoBuffer), 7u);
  EXPECT_EQ(xsk_drops(s, false, Drop::kXskRxRefused), 3u);
  EXPECT_EQ(xsk_drops(s, false, Drop::kXskRxRingFull), 4u);
  EXPECT_EQ(xsk_drops(s, false, Drop::kXskTxInvalid), 2u);
  std::uint64_t all = 0;
  for (std::size_t i = 0; i < kDropCount; ++i) all += xsk_drops(s, false, static_cast<Drop>(i));
  EXPECT_EQ(all, s.rx_dropped + s.rx_ring_full + s.tx_invalid_descs);
  // Zero copy: the driver's empty-ring looks are not lost frames; rx_dropped is all too long.
  EXPECT_EQ(xsk_drops(s, true, Drop::kXskNoBuffer), 0u);
  EXPECT_EQ(xsk_drops(s, true, Drop::kXskRxRefused), 10u);
  // A FILL ring count above rx_dropped (read between two kernel increments) never underflows.
  s.rx_fill_ring_empty = 12;
  EXPECT_EQ(xsk_drops(s, false, Drop::kXskNoBuffer), 10u);
  EXPECT_EQ(xsk_drops(s, false, Drop::kXskRxRefused), 0u);
  for (const char* name : {"xsk_no_buffer", "xsk_rx_refused", "xsk_rx_ring_full", "xsk_tx_invalid"})
    EXPECT_NE(std::find(kDropNames.begin(), kDropNames.end(), name), kDropNames.end()) << name;
}

class AfXdpPortRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, veth, XDP)";
    if (!sh("ip -V")) GTEST_SKIP() << "iproute2 (ip) not installed";
    remove_stale_pairs();
    static int counter = 0;
    std::string tag = std::to_string(::getpid()) + "x" + std::to_string(counter++);
    ns_ = "bxns" + tag;
    a_ = "bxa" + tag;
    b_ = "bxb" + tag;
    created_ = true;
    ASSERT_EQ(make_veth_ns(ns_, a_, b_, std::string(kNsAddr) + "/24", &a_mac_), "");
    open_ns_socket();
    ASSERT_GE(ns_sock_, 0) << "packet socket in " << ns_;
  }

  void TearDown() override {
    if (ns_sock_ >= 0) ::close(ns_sock_);
    if (!created_) return;
    sh("ip link del " + a_);  // also removes the peer; fails harmlessly if already gone
    sh("ip netns del " + ns_);
  }

  void open_ns_socket() { ns_sock_ = brisk::open_ns_socket(ns_, b_, &b_mac_); }

  bool ns_send(const Bytes& f) {
    return ::send(ns_sock_, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size());
  }

  // Frames B received (not its own outgoing ones) until `done` says so or `timeout` passes.
  template <typename Done>
  std::vector<NsFrame> ns_receive(std::chrono::milliseconds timeout, Done done) {
    return receive_frames(ns_sock_, timeout, done);
  }

  // Drain `port` like a worker would, handing every frame to `fn`, until `done()` or timeout.
  template <typename Fn, typename Done>
  void port_receive(AfXdpPort& port, FramePool& pool, std::chrono::milliseconds timeout, Fn fn,
                    Done done) {
    auto end = Clock::now() + timeout;
    Frame* batch[kBatchSize];
    while (!done() && Clock::now() < end) {
      std::uint32_t n = port.rx_burst(pool, batch, kBatchSize);
      for (std::uint32_t i = 0; i < n; ++i) {
        fn(*batch[i]);
        pool.release(batch[i]);
      }
      if (n == 0) {
        pollfd p{port.wait_fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
      }
    }
  }

  // Send `frames` through tx_burst in bursts of up to 32, retrying what was refused.
  static std::size_t port_send(AfXdpPort& port, FramePool& pool, const std::vector<Bytes>& frames,
                               VlanId vlan = 0) {
    std::size_t sent = 0;
    auto end = Clock::now() + std::chrono::seconds(5);
    while (sent < frames.size() && Clock::now() < end) {
      TxItem items[kBatchSize];
      std::uint32_t n = 0;
      while (n < kBatchSize && sent + n < frames.size()) {
        const Bytes& b = frames[sent + n];
        Frame* f = pool.alloc();
        if (f == nullptr) break;
        f->reset(static_cast<std::uint32_t>(b.size()));
        std::memcpy(f->data, b.data(), b.size());
        items[n++] = TxItem{f, vlan};
      }
      std::uint32_t ok = port.tx_burst(items, n);
      for (std::uint32_t i = 0; i < n; ++i) pool.release(items[i].frame);
      sent += ok;
      if (ok < n) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (port.failed()) break;
    }
    return sent;
  }

  // Two threads send 3000 frames each through `port` (as two workers would) while `control`
  // runs on a third (the control thread) until they are done; every frame must arrive once
  // and intact.
  void concurrent_send_check(AfXdpPort& port,
                             const std::function<void(const std::atomic<bool>& done)>& control);

  bool xdp_attached() { return capture("ip -d link show dev " + a_).find(" xdp") != std::string::npos; }

  std::string ns_, a_, b_;
  bool created_ = false;
  int ns_sock_ = -1;
  std::array<std::uint8_t, 6> a_mac_{}, b_mac_{};
};

// Native mode asked for explicitly: the default (kAuto) attaches generic on a veth.
AfXdpOptions native_opts() {
  AfXdpOptions o;
  o.xdp_mode = AfXdpOptions::XdpMode::kNative;
  return o;
}

TEST_F(AfXdpPortRoot, AutoModeIsGenericOnAVeth) {
  {
    AfXdpPort port(a_);
    EXPECT_EQ(port.mode(), "generic/copy") << "a native program would turn the peer's TSO off";
    EXPECT_TRUE(xdp_attached());
  }
  EXPECT_FALSE(xdp_attached());
}

TEST_F(AfXdpPortRoot, AttachesNativeCopyAndDetachesOnDestruction) {
  {
    AfXdpPort port(a_, native_opts());
    std::cout << "[          ] " << a_ << ": mode " << port.mode() << "\n";
    EXPECT_EQ(port.kind(), PortKind::kSystem);
    EXPECT_EQ(port.name(), a_);
    EXPECT_EQ(port.queue_id(), 0u);
    EXPECT_GE(port.wait_fd(), 0);
    // veth has native XDP but no zero-copy AF_XDP.
    EXPECT_EQ(port.mode(), "native/copy");
    EXPECT_TRUE(xdp_attached());

    // A second port on the same device must not take over the program.
    try {
      AfXdpPort second(a_);
      ADD_FAILURE() << "a second AF_XDP port attached to " << a_;
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find("already has an XDP program"), std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(xdp_attached()) << "the failed second attach detached the first port's program";
    EXPECT_FALSE(port.failed());
  }
  EXPECT_FALSE(xdp_attached()) << capture("ip -d link show dev " + a_);
}

// Mappings of sockets (an XSK's rings) in this process.
std::size_t count_socket_mappings() {
  std::ifstream f("/proc/self/maps");
  std::string l;
  std::size_t n = 0;
  while (std::getline(f, l)) n += l.find("socket:[") != std::string::npos;
  return n;
}

std::size_t count_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Ports re-created at once on the same queue (the kernel frees the queue's socket slot in
// deferred work) in both modes, and nothing leaks: descriptors, mappings (UMEM, rings).
TEST_F(AfXdpPortRoot, RecreatesAtOnceWithoutLeaking) {
  { AfXdpPort warm(a_); }
  std::size_t maps = count_socket_mappings();
  std::size_t fds = count_fds();
  AfXdpOptions generic;
  generic.xdp_mode = AfXdpOptions::XdpMode::kGeneric;
  for (int i = 0; i < 4; ++i) {
    AfXdpPort p1(a_, i % 2 ? generic : AfXdpOptions{});
    EXPECT_FALSE(p1.failed());
  }
  EXPECT_EQ(count_socket_mappings(), maps) << "ring mappings leaked";
  EXPECT_EQ(count_fds(), fds) << "descriptors leaked";
  EXPECT_FALSE(xdp_attached());
}

TEST_F(AfXdpPortRoot, MissingBpfObjectThrowsClearly) {
  AfXdpOptions o;
  o.bpf_object = "/nonexistent/brisk_xdp.o";
  try {
    AfXdpPort port(a_, o);
    FAIL() << "constructed without a BPF object";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/brisk_xdp.o"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(xdp_attached());
}

TEST_F(AfXdpPortRoot, ReceivesFramesSentInTheNamespace) {
  AfXdpPort port(a_);
  FramePool pool(512);
  constexpr std::uint32_t kCount = 300;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    std::size_t len = 60 + (i * 37) % (1514 - 60 + 1);  // 60..1514 bytes
    ASSERT_TRUE(ns_send(make_frame(a_mac_, b_mac_, 1, i, len))) << std::strerror(errno);
  }
  // The XSK is readable before the first rx_burst.
  pollfd p{port.wait_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_TRUE(p.revents & POLLIN);

  std::uint32_t next = 0, bad = 0;
  port_receive(
      port, pool, std::chrono::seconds(5),
      [&](const Frame& f) {
        std::uint8_t id;
        std::uint32_t seq;
        if (!parse_frame(f.data, f.len, &id, &seq)) return;  // not ours
        std::size_t want_len = 60 + (seq * 37) % (1514 - 60 + 1);
        if (id != 1 || seq != next || f.len != want_len ||
            std::memcmp(f.data, a_mac_.data(), 6) != 0)
          ++bad;
        next = seq + 1;
      },
      [&] { return next == kCount; });
  EXPECT_EQ(next, kCount) << "frames received in order";
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(pool.available(), pool.capacity()) << "every frame returned to the pool";
  EXPECT_EQ(port.rx_oversize(), 0u);

  // The namespace's own stack: pinging an absent neighbour makes B broadcast ARP requests.
  sh("ip netns exec " + ns_ + " ping -c 2 -i 0.2 -W 1 " + kGhostAddr);
  in_addr ghost{}, self{};
  ::inet_pton(AF_INET, kGhostAddr, &ghost);
  ::inet_pton(AF_INET, kNsAddr, &self);
  int arps = 0;
  port_receive(
      port, pool, std::chrono::seconds(3),
      [&](const Frame& f) {
        const std::uint8_t* d = f.data;
        if (f.len >= 42 && d[12] == 0x08 && d[13] == 0x06 && d[20] == 0 && d[21] == 1 &&
            std::memcmp(d + 6, b_mac_.data(), 6) == 0 && std::memcmp(d + 28, &self, 4) == 0 &&
            std::memcmp(d + 38, &ghost, 4) == 0)
          ++arps;
      },
      [&] { return arps > 0; });
  EXPECT_GT(arps, 0) << "no ARP request from the namespace arrived through rx_burst";
  EXPECT_FALSE(port.failed());
}

TEST_F(AfXdpPortRoot, TransmitsIntoTheNamespaceWithAndWithoutTag) {
  AfXdpPort port(a_);
  FramePool pool(512);
  constexpr std::uint32_t kCount = 100;
  std::vector<Bytes> plain, tagged;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    plain.push_back(make_frame(b_mac_, a_mac_, 2, i, 60 + (i * 53) % 1455));
    tagged.push_back(make_frame(b_mac_, a_mac_, 3, i, 60 + (i * 29) % 1451));
  }
  EXPECT_EQ(port_send(port, pool, plain), kCount);
  EXPECT_EQ(port_send(port, pool, tagged, 42), kCount);
  EXPECT_EQ(pool.available(), pool.capacity()) << "tx_burst kept a frame";

  auto mine = [](const NsFrame& f, std::uint8_t* id, std::uint32_t* seq) {
    return parse_frame(f.data.data(), f.data.size(), id, seq);
  };
  auto got = ns_receive(std::chrono::seconds(5), [&](const std::vector<NsFrame>& v) {
    std::size_t n = 0;
    std::uint8_t id;
    std::uint32_t seq;
    for (const auto& f : v) n += mine(f, &id, &seq);
    return n >= 2 * kCount;
  });
  std::uint32_t next_plain = 0, next_tagged = 0, bad = 0;
  for (const auto& f : got) {
    std::uint8_t id;
    std::uint32_t seq;
    if (!mine(f, &id, &seq)) continue;
    if (id == 2) {
      // Untagged frames arrive exactly as sent.
      if (seq != next_plain++ || f.vlan != -1 || f.data != plain[seq]) ++bad;
    } else if (id == 3) {
      // The kernel strips the tag on receive and reports it in PACKET_AUXDATA.
      if (seq != next_tagged++ || f.vlan != 42 || f.data != tagged[seq]) ++bad;
    }
    EXPECT_EQ(f.pkttype, PACKET_HOST);
  }
  EXPECT_EQ(next_plain, kCount);
  EXPECT_EQ(next_tagged, kCount);
  EXPECT_EQ(bad, 0u);

  // End to end through the namespace's stack: an ARP request sent by tx_burst is answered.
  in_addr target{}, asker{};
  ::inet_pton(AF_INET, kNsAddr, &target);
  ::inet_pton(AF_INET, kGhostAddr, &asker);
  Bytes arp(42, 0);
  std::memset(arp.data(), 0xff, 6);
  std::memcpy(arp.data() + 6, a_mac_.data(), 6);
  const std::uint8_t hdr[] = {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
  std::memcpy(arp.data() + 12, hdr, sizeof(hdr));
  std::memcpy(arp.data() + 22, a_mac_.data(), 6);
  std::memcpy(arp.data() + 28, &asker, 4);
  std::memcpy(arp.data() + 38, &target, 4);
  bool replied = false;
  for (int attempt = 0; attempt < 3 && !replied; ++attempt) {
    ASSERT_EQ(port_send(port, pool, {arp}), 1u);
    port_receive(
        port, pool, std::chrono::seconds(1),
        [&](const Frame& f) {
          const std::uint8_t* d = f.data;
          if (f.len >= 42 && d[12] == 0x08 && d[13] == 0x06 && d[21] == 2 &&
              std::memcmp(d, a_mac_.data(), 6) == 0 && std::memcmp(d + 28, &target, 4) == 0)
            replied = true;
        },
        [&] { return replied; });
  }
  EXPECT_TRUE(replied) << "the namespace did not answer an ARP request sent through tx_burst";
  EXPECT_FALSE(port.failed());
}

void AfXdpPortRoot::concurrent_send_check(
    AfXdpPort& port, const std::function<void(const std::atomic<bool>& done)>& control) {
  constexpr std::uint32_t kPerThread = 3000;
  constexpr int kThreads = 2;
  std::atomic<int> ready{0};
  std::atomic<bool> done{false};
  std::size_t accepted[kThreads] = {};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      FramePool pool(256);  // one pool per "worker", as in brisk
      std::vector<Bytes> frames;
      for (std::uint32_t i = 0; i < kPerThread; ++i)
        frames.push_back(make_frame(b_mac_, a_mac_, static_cast<std::uint8_t>(10 + t), i,
                                    60 + (i * 11 + static_cast<std::uint32_t>(t)) % 200));
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      // Bursts of 16, paced a little so the receiving namespace's backlog cannot overflow.
      for (std::size_t off = 0; off < frames.size(); off += 16) {
        std::vector<Bytes> chunk(frames.begin() + static_cast<std::ptrdiff_t>(off),
                                 frames.begin() + static_cast<std::ptrdiff_t>(
                                                      std::min(off + 16, frames.size())));
        accepted[t] += port_send(port, pool, chunk);
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
  }
  std::thread ctl([&] { control(done); });
  std::set<std::pair<int, std::uint32_t>> seen;
  std::size_t dups = 0, corrupt = 0;
  // Until as many frames as were sent arrived (the namespace is otherwise silent).
  auto got = ns_receive(std::chrono::seconds(15), [&](const std::vector<NsFrame>& v) {
    return v.size() >= std::size_t{kThreads} * kPerThread;
  });
  for (auto& t : senders) t.join();
  done.store(true);
  ctl.join();
  // Whatever is still queued after the senders finished.
  auto rest = ns_receive(std::chrono::milliseconds(500), [](const std::vector<NsFrame>&) {
    return false;
  });
  got.insert(got.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  for (const auto& f : got) {
    std::uint8_t id;
    std::uint32_t seq;
    if (f.data.size() >= 14 && f.data[12] == (kTestEthertype >> 8) &&
        !parse_frame(f.data.data(), f.data.size(), &id, &seq)) {
      ++corrupt;
      continue;
    }
    if (!parse_frame(f.data.data(), f.data.size(), &id, &seq) || id < 10) continue;
    if (f.data.size() != 60 + (seq * 11 + (id - 10u)) % 200) ++corrupt;
    if (!seen.insert({id, seq}).second) ++dups;
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(accepted[t], kPerThread) << "thread " << t;
  EXPECT_EQ(seen.size(), std::size_t{kThreads} * kPerThread) << "frames lost";
  EXPECT_EQ(dups, 0u);
  EXPECT_EQ(corrupt, 0u);
  EXPECT_FALSE(port.failed());
}

TEST_F(AfXdpPortRoot, ConcurrentTransmitLosesNothing) {
  AfXdpPort port(a_);
  concurrent_send_check(port, [](const std::atomic<bool>&) {});
}

// The qdisc path (afxdp_port.hpp, "TX through the device's qdisc"): with a qdisc on A, the
// control thread switches the transmit path back and forth while two workers send; nothing is
// lost, duplicated or torn, part of the frames went through the packet socket, and the
// qdisc's own counter saw at least those.
TEST_F(AfXdpPortRoot, SwitchesToTheQdiscPathWhileWorkersTransmit) {
  ASSERT_TRUE(sh("tc qdisc replace dev " + a_ + " root handle 7: pfifo limit 10000"));
  AfXdpPort port(a_);
  EXPECT_FALSE(port.tx_via_qdisc());
  int flips = 0;
  concurrent_send_check(port, [&](const std::atomic<bool>& done) {
    while (!done.load()) {
      EXPECT_EQ(port.set_tx_via_qdisc(flips % 2 == 0), "");
      ++flips;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  EXPECT_GE(flips, 4) << "the path did not switch while the workers sent";
  const std::uint64_t via = port.tx_via_qdisc_frames();
  EXPECT_GT(via, 0u);
  EXPECT_LT(via, 6000u) << "every frame went through the packet socket";
  // pfifo's "Sent <bytes> bytes <packets> pkt": the frames of the packet socket (and any the
  // kernel sends itself), never fewer.
  const std::string stats = capture("tc -s qdisc show dev " + a_);
  const auto at = stats.find(" bytes ");
  ASSERT_NE(at, std::string::npos) << stats;
  EXPECT_GE(std::stoull(stats.substr(at + 7)), via) << stats;
  EXPECT_EQ(port.set_tx_via_qdisc(false), "");
}

TEST_F(AfXdpPortRoot, GenericModeCarriesTrafficBothWays) {
  AfXdpOptions o;
  o.xdp_mode = AfXdpOptions::XdpMode::kGeneric;
  AfXdpPort port(a_, o);
  EXPECT_EQ(port.mode(), "generic/copy");
  EXPECT_TRUE(xdp_attached());
  FramePool pool(256);
  for (std::uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(ns_send(make_frame(a_mac_, b_mac_, 4, i, 100)));
  std::uint32_t rx = 0;
  port_receive(
      port, pool, std::chrono::seconds(3),
      [&](const Frame& f) {
        std::uint8_t id;
        std::uint32_t seq;
        if (parse_frame(f.data, f.len, &id, &seq) && id == 4 && seq == rx) ++rx;
      },
      [&] { return rx == 20; });
  EXPECT_EQ(rx, 20u);
  std::vector<Bytes> out;
  for (std::uint32_t i = 0; i < 20; ++i) out.push_back(make_frame(b_mac_, a_mac_, 5, i, 100));
  EXPECT_EQ(port_send(port, pool, out), 20u);
  std::size_t n = 0;
  ns_receive(std::chrono::seconds(3), [&](const std::vector<NsFrame>& v) {
    n = 0;
    std::uint8_t id;
    std::uint32_t seq;
    for (const auto& f : v) n += parse_frame(f.data.data(), f.data.size(), &id, &seq) && id == 5;
    return n == 20;
  });
  EXPECT_EQ(n, 20u);
}

// Frames the kernel could not hand over are the port's named drops. A small own UMEM (128
// receive chunks) and nobody polling: the 129th frame finds the FILL ring empty, and so does
// every later one until the port is drained. Every frame sent is either received or counted,
// and the count is the kernel's own (copy mode: rx_dropped and rx_fill_ring_empty).
TEST_F(AfXdpPortRoot, FramesTheKernelCouldNotHandOverAreNamedDrops) {
  AfXdpOptions o = native_opts();
  o.frames = 256;
  AfXdpPort port(a_, o);
  ASSERT_EQ(port.mode(), "native/copy");
  const std::uint32_t held = port.umem().rx_max();  // all in FILL: an own UMEM keeps its maximum
  ASSERT_EQ(held, 128u);
  FramePool pool(512);
  constexpr std::uint32_t kCount = 400;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(ns_send(make_frame(a_mac_, b_mac_, 6, i, 100))) << std::strerror(errno);
    // Paced, so the veth's own 256-entry ring in front of XDP never overflows.
    if (i % 32 == 31) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::uint64_t lost = port.driver_drops(Drop::kXskNoBuffer);
  std::uint32_t rx = 0;
  port_receive(
      port, pool, std::chrono::seconds(3),
      [&](const Frame& f) {
        std::uint8_t id;
        std::uint32_t seq;
        rx += parse_frame(f.data, f.len, &id, &seq) && id == 6;
      },
      [&] { return rx + lost >= kCount; });
  const AfXdpStats k = port.kernel_stats();
  std::cout << "[          ] received " << rx << ", xsk_no_buffer " << lost << ", rx_dropped "
            << k.rx_dropped << ", rx_fill_ring_empty " << k.rx_fill_ring_empty << "\n";
  EXPECT_EQ(rx, held) << "the FILL ring held " << held << " chunks";
  EXPECT_EQ(lost, kCount - held) << "every other frame counted";
  EXPECT_EQ(rx + lost, kCount);
  EXPECT_EQ(port.driver_drops(Drop::kXskRxRefused), 0u);
  EXPECT_EQ(port.driver_drops(Drop::kXskRxRingFull), 0u);
  EXPECT_EQ(port.rx_oversize(), 0u);
  // Drained and refilled: nothing more is lost.
  for (std::uint32_t i = 0; i < 20; ++i)
    ASSERT_TRUE(ns_send(make_frame(a_mac_, b_mac_, 7, i, 100)));
  std::uint32_t rx2 = 0;
  port_receive(
      port, pool, std::chrono::seconds(3),
      [&](const Frame& f) {
        std::uint8_t id;
        std::uint32_t seq;
        rx2 += parse_frame(f.data, f.len, &id, &seq) && id == 7;
      },
      [&] { return rx2 == 20; });
  EXPECT_EQ(rx2, 20u);
  EXPECT_EQ(port.driver_drops(Drop::kXskNoBuffer), lost);
  // What the port says about itself, through the driver interface (the control plane's only
  // view of it): the kernel's counters among its figures, as the kernel counts them.
  const Port& as_port = port;
  DriverFigures figs;
  as_port.describe(figs);
  auto figure = [&](const std::string& group, const std::string& name) -> const DriverFigure* {
    for (const DriverFigure& f : figs)
      if (f.group == group && f.name == name) return &f;
    return nullptr;
  };
  const DriverFigure* empty = figure("xsk", "rx_fill_ring_empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->type, DriverFigure::Type::kCounter);
  EXPECT_EQ(empty->value, port.kernel_stats().rx_fill_ring_empty);
  EXPECT_GE(empty->value, lost);
  ASSERT_NE(figure("", "afxdp_mode"), nullptr);
  EXPECT_EQ(figure("", "afxdp_mode")->text, "native/copy");
  ASSERT_NE(figure("umem", "free"), nullptr);
  EXPECT_EQ(figure("umem", "free")->type, DriverFigure::Type::kGauge);
}

// The driver interface's PortInfo: an AF_XDP port is a fast-path device whose output may be
// switched to the device's qdisc, and says which path it takes.
TEST_F(AfXdpPortRoot, InfoSaysWhatTheDriverIsAndDoes) {
  AfXdpPort port(a_, native_opts());
  Port& as_port = port;
  PortInfo i = as_port.info();
  EXPECT_EQ(i.driver, "afxdp");
  EXPECT_EQ(i.qdisc, QdiscPath::kSwitchable);
  EXPECT_TRUE(i.fastpath_device);
  EXPECT_TRUE(i.xdp_program);
  EXPECT_TRUE(i.xdp_native);
  EXPECT_TRUE(i.fastpath_capable());
  EXPECT_FALSE(i.tx_via_qdisc);
  EXPECT_EQ(as_port.ifindex(), static_cast<int>(if_nametoindex(a_.c_str())));
  EXPECT_EQ(as_port.set_tx_via_qdisc(true), "");
  EXPECT_TRUE(as_port.info().tx_via_qdisc);
  EXPECT_EQ(as_port.set_tx_via_qdisc(false), "");
  EXPECT_FALSE(as_port.info().tx_via_qdisc);
}

TEST_F(AfXdpPortRoot, VanishedDeviceMarksPortFailed) {
  auto port = std::make_unique<AfXdpPort>(a_);
  FramePool pool(256);
  ASSERT_TRUE(sh("ip link del " + a_));
  Frame* batch[kBatchSize];
  Bytes one = make_frame(b_mac_, a_mac_, 6, 0, 60);
  auto end = Clock::now() + std::chrono::seconds(5);
  // An idle receive side alone notices within kLivenessPolls polls.
  for (std::uint32_t i = 0; i <= AfXdpPort::kLivenessPolls && !port->failed(); ++i)
    port->rx_burst(pool, batch, kBatchSize);
  EXPECT_TRUE(port->failed()) << "rx_burst did not notice the device is gone";
  while (!port->failed() && Clock::now() < end) {
    port_send(*port, pool, {one});
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(port->failed());
  EXPECT_EQ(port->error(), ENXIO) << std::strerror(port->error());
  EXPECT_EQ(port->tx_burst(nullptr, 0), 0u);
  port.reset();  // must not hang or crash with the device gone
}


// ---------------------------------------------------------------------------------------------
// Shared UMEM (datapath/umem_pool.hpp): kPairs veth pairs, each B end alone in a namespace of
// its own (no addresses, IPv6 off: the namespaces are silent), each A end in the root namespace
// for an AfXdpPort. Traffic only between the pairs. TearDown removes everything.
class AfXdpSharedUmemRoot : public ::testing::Test {
 protected:
  static constexpr int kPairs = 3;
  struct Pair {
    std::string ns, a, b;
    int sock = -1;
    std::array<std::uint8_t, 6> a_mac{}, b_mac{};
  };

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, veth, XDP)";
    if (!sh("ip -V")) GTEST_SKIP() << "iproute2 (ip) not installed";
    remove_stale_pairs();
    static int counter = 0;
    std::string tag = std::to_string(::getpid()) + "s" + std::to_string(counter++);
    for (int i = 0; i < kPairs; ++i) {
      Pair& p = pairs_[i];
      p.ns = "bxns" + tag + "_" + std::to_string(i);
      p.a = "bxa" + tag + std::to_string(i);
      p.b = "bxb" + tag + std::to_string(i);
      created_ = i + 1;
      ASSERT_EQ(make_veth_ns(p.ns, p.a, p.b, "", &p.a_mac), "");
      p.sock = open_ns_socket(p.ns, p.b, &p.b_mac);
      ASSERT_GE(p.sock, 0) << "packet socket in " << p.ns;
    }
  }

  void TearDown() override {
    for (int i = 0; i < created_; ++i) {
      Pair& p = pairs_[i];
      if (p.sock >= 0) ::close(p.sock);
      sh("ip link del " + p.a);  // also removes the peer; fails harmlessly if already gone
      sh("ip netns del " + p.ns);
    }
  }

  bool send_from(int i, const Bytes& f) {
    return ::send(pairs_[i].sock, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size());
  }

  // Frames of sender `id` that reached B of pair i, until `want` of them or the timeout.
  std::vector<NsFrame> receive_at(int i, std::uint8_t id, std::size_t want,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::size_t n = 0, seen = 0;  // counted incrementally: a rescan per frame is quadratic
    auto got = receive_frames(pairs_[i].sock, timeout, [&](const std::vector<NsFrame>& v) {
      for (; seen < v.size(); ++seen) n += ours(v[seen], id);
      return n >= want;
    });
    std::vector<NsFrame> mine;
    for (auto& f : got)
      if (ours(f, id)) mine.push_back(std::move(f));
    return mine;
  }
  static bool ours(const NsFrame& f, std::uint8_t id) {
    std::uint8_t fid;
    std::uint32_t seq;
    return parse_frame(f.data.data(), f.data.size(), &fid, &seq) && fid == id;
  }
  static std::uint32_t seq_of(const NsFrame& f) {
    std::uint8_t id;
    std::uint32_t seq = 0;
    parse_frame(f.data.data(), f.data.size(), &id, &seq);
    return seq;
  }

  // Every shared chunk is free or on a member's receive side (FILL/RX), none in a Frame or on
  // its way back from a TX ring: what a pool looks like after its traffic has drained.
  static void expect_accounted(const UmemPool& pool, const std::vector<const AfXdpPort*>& live) {
    auto c = pool.census();
    EXPECT_EQ(c.frames, 0u) << "chunks still in Frames";
    std::uint32_t held = 0;
    for (const AfXdpPort* p : live) {
      EXPECT_LE(c.by_slot[p->umem_slot()], pool.rx_max()) << p->name() << " holds more than it may";
      held += c.by_slot[p->umem_slot()];
    }
    std::uint32_t all_slots = 0;
    for (std::uint32_t n : c.by_slot) all_slots += n;
    EXPECT_EQ(all_slots, held) << "chunks held by slots that are not live members";
    EXPECT_EQ(c.free + held, pool.shared_frames()) << "chunks lost";
    EXPECT_EQ(pool.free_count(), c.free);
  }

  // Polls `ports` like their owner worker (returning zero-copy completions, reclaiming retired
  // slots) for `d`, dropping whatever arrives.
  static void settle(const std::vector<AfXdpPort*>& ports, FramePool& pool,
                     std::chrono::milliseconds d = std::chrono::milliseconds(50)) {
    auto end = Clock::now() + d;
    Frame* batch[kBatchSize];
    do {
      for (AfXdpPort* p : ports) {
        std::uint32_t n = p->rx_burst(pool, batch, kBatchSize);
        for (std::uint32_t i = 0; i < n; ++i) pool.release(batch[i]);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } while (Clock::now() < end);
  }

  std::array<Pair, kPairs> pairs_;
  int created_ = 0;
};

// Forward `expect` frames from `in` to `out` like the pipeline's last destination (handover),
// pushing `vlan`; the rest of `pool` is untouched. Returns frames forwarded.
std::size_t forward(AfXdpPort& in, AfXdpPort& out, FramePool& pool, std::size_t expect, VlanId vlan,
                    bool pop_tag = false, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  std::size_t done = 0;
  auto end = Clock::now() + timeout;
  Frame* batch[kBatchSize];
  while (done < expect && Clock::now() < end) {
    std::uint32_t n = in.rx_burst(pool, batch, kBatchSize);
    if (n == 0) {
      out.rx_burst(pool, batch, 0);  // the owner also polls `out`: completions come back
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    TxItem items[kBatchSize];
    for (std::uint32_t i = 0; i < n; ++i) items[i] = TxItem{batch[i], vlan, pop_tag, true};
    std::uint32_t sent = out.tx_burst(items, n);
    for (std::uint32_t i = 0; i < n; ++i) pool.release(batch[i]);
    done += sent;
  }
  return done;
}

TEST_F(AfXdpSharedUmemRoot, PortsOfOneWorkerForwardWithoutCopyAndAccountForEveryChunk) {
  UmemRegistry reg;
  AfXdpOptions o = native_opts();
  o.umems = &reg;
  o.worker = 0;
  AfXdpPort p0(pairs_[0].a, o), p1(pairs_[1].a, o);
  std::cout << "[          ] modes " << p0.mode() << ", " << p1.mode() << "\n";
  EXPECT_TRUE(p0.umem_shared());
  EXPECT_TRUE(p1.umem_shared());
  ASSERT_EQ(&p0.umem(), &p1.umem()) << "one worker, one UMEM";
  EXPECT_NE(p0.umem_slot(), p1.umem_slot());
  EXPECT_EQ(p1.mode(), "native/copy") << "veth: copy mode, inherited by the shared bind";
  const UmemPool& umem = p0.umem();
  EXPECT_EQ(umem.members(), 2u);
  const UmemGeometry& g = umem.geometry();
  EXPECT_EQ(umem.census().by_slot[p0.umem_slot()], g.rx_base())
      << "a member of a shared pool starts with its base and grows with its load";
  EXPECT_EQ(umem.census().by_slot[p1.umem_slot()], 0u) << "a joining member is filled by its owner";
  FramePool pool(512);
  settle({&p0, &p1}, pool, std::chrono::milliseconds(5));
  EXPECT_EQ(umem.census().by_slot[p1.umem_slot()], g.rx_base()) << "filled on its first poll";

  // Bursts of 64, the output tag changed in place in four ways, by burst: 0 as received; 1 VLAN
  // 42 pushed (into the headroom in front of the frame); 2 a received tag (VLAN 7) popped;
  // 3 the received tag replaced by 42. B1 sees the frame as made, tagged 42 in modes 1 and 3.
  constexpr std::uint32_t kBursts = 24, kBurst = 64, kCount = kBursts * kBurst;
  std::vector<Bytes> made;
  for (std::uint32_t b = 0; b < kBursts; ++b) {
    const std::uint32_t mode = b % 4;
    for (std::uint32_t k = 0; k < kBurst; ++k) {
      std::uint32_t seq = b * kBurst + k;
      made.push_back(make_frame(pairs_[1].b_mac, pairs_[0].b_mac, 1, seq, 60 + (seq * 53) % 1451));
      Bytes wire = made.back();
      if (mode >= 2) {
        const std::uint8_t tag[4] = {0x81, 0x00, 0x00, 0x07};
        wire.insert(wire.begin() + 12, tag, tag + 4);
      }
      ASSERT_TRUE(send_from(0, wire)) << std::strerror(errno);
    }
    const VlanId push = mode == 1 || mode == 3 ? 42 : 0;
    ASSERT_EQ(forward(p0, p1, pool, kBurst, push, mode >= 2), kBurst) << "burst " << b;
  }
  auto got = receive_at(1, 1, kCount);
  ASSERT_EQ(got.size(), kCount) << "frames lost; p1 xsk: tx_invalid " << p1.kernel_stats().tx_invalid_descs
                                << ", refused " << p1.tx_refused() << "\n"
                                << capture("ip -s link show " + pairs_[1].a)
                                << capture("ip -n " + pairs_[1].ns + " -s link show " + pairs_[1].b);
  std::uint32_t bad = 0;
  for (std::uint32_t i = 0; i < got.size(); ++i) {
    const std::uint32_t seq = seq_of(got[i]);
    const std::uint32_t mode = (seq / kBurst) % 4;
    const int want_vlan = mode == 1 || mode == 3 ? 42 : -1;
    if (seq != i || got[i].data != made[seq] || got[i].vlan != want_vlan) ++bad;
  }
  EXPECT_EQ(bad, 0u) << "frames reordered, corrupted or tagged wrongly";
  EXPECT_EQ(p1.tx_zero_copy(), kCount) << "every frame left from the buffer it arrived in";
  EXPECT_EQ(p1.tx_refused(), 0u);
  EXPECT_EQ(pool.available(), pool.capacity());

  settle({&p0, &p1}, pool);
  expect_accounted(umem, {&p0, &p1});
  AfXdpStats st = p0.kernel_stats();
  EXPECT_EQ(st.rx_dropped, 0u);
}

// Frames that are not in the port's UMEM, or not handed over, are copied.
TEST_F(AfXdpSharedUmemRoot, CopiesWhatItCannotTakeAndFallsBackToAnOwnUmem) {
  UmemRegistry reg(UmemGeometry{1024, 2, 64});  // two members per pool
  AfXdpOptions o;
  o.umems = &reg;
  o.worker = 0;
  auto p0 = std::make_unique<AfXdpPort>(pairs_[0].a, o);
  auto p1 = std::make_unique<AfXdpPort>(pairs_[1].a, o);
  auto p2 = std::make_unique<AfXdpPort>(pairs_[2].a, o);  // the pool is full: an own UMEM
  EXPECT_TRUE(p0->umem_shared());
  EXPECT_TRUE(p1->umem_shared());
  EXPECT_FALSE(p2->umem_shared());
  EXPECT_NE(&p2->umem(), &p0->umem());
  FramePool pool(512);
  settle({p0.get(), p1.get(), p2.get()}, pool, std::chrono::milliseconds(5));

  constexpr std::uint32_t kCount = 64;
  for (std::uint32_t i = 0; i < kCount; ++i)
    ASSERT_TRUE(send_from(0, make_frame(pairs_[2].b_mac, pairs_[0].b_mac, 2, i, 100)));
  ASSERT_EQ(forward(*p0, *p2, pool, kCount, 0), kCount);
  EXPECT_EQ(receive_at(2, 2, kCount).size(), kCount);
  EXPECT_EQ(p2->tx_zero_copy(), 0u) << "another UMEM: copied";

  // Same UMEM, but not handed over (an earlier destination of a flood): copied.
  for (std::uint32_t i = 0; i < kCount; ++i)
    ASSERT_TRUE(send_from(0, make_frame(pairs_[1].b_mac, pairs_[0].b_mac, 3, i, 100)));
  std::size_t done = 0;
  Frame* batch[kBatchSize];
  auto end = Clock::now() + std::chrono::seconds(5);
  while (done < kCount && Clock::now() < end) {
    std::uint32_t n = p0->rx_burst(pool, batch, kBatchSize);
    TxItem items[kBatchSize];
    for (std::uint32_t i = 0; i < n; ++i) items[i] = TxItem{batch[i], 0, false, false};
    done += p1->tx_burst(items, n);
    for (std::uint32_t i = 0; i < n; ++i) pool.release(batch[i]);
  }
  EXPECT_EQ(done, kCount);
  EXPECT_EQ(receive_at(1, 3, kCount).size(), kCount);
  EXPECT_EQ(p1->tx_zero_copy(), 0u);

  // Another worker's ports get another UMEM.
  p2.reset();
  o.worker = 1;
  p2 = std::make_unique<AfXdpPort>(pairs_[2].a, o);
  EXPECT_TRUE(p2->umem_shared());
  EXPECT_NE(&p2->umem(), &p0->umem());

  settle({p0.get(), p1.get()}, pool);
  expect_accounted(p0->umem(), {p0.get(), p1.get()});
}

// The owner worker forwards p0 -> p1 without copies while another worker transmits copies into
// p1 and the control thread deletes a third member: nothing is lost, the deleted member's
// chunks come back, the pool is whole afterwards. (Also run under TSan.)
TEST_F(AfXdpSharedUmemRoot, OwnerForeignWorkerAndControlThreadConcurrently) {
  UmemRegistry reg;
  AfXdpOptions o;
  o.umems = &reg;
  o.worker = 0;
  AfXdpPort p0(pairs_[0].a, o), p1(pairs_[1].a, o);
  auto p2 = std::make_unique<AfXdpPort>(pairs_[2].a, o);
  const UmemPool& umem = p0.umem();
  const std::uint32_t slot2 = p2->umem_slot();
  std::atomic<bool> stop{false}, drop_p2{false}, p2_dropped{false};
  std::atomic<std::uint64_t> forwarded{0};
  std::thread owner([&] {
    FramePool pool(512);
    Frame* batch[kBatchSize];
    bool poll2 = true;
    while (!stop.load(std::memory_order_acquire)) {
      if (poll2 && drop_p2.load(std::memory_order_acquire)) {
        poll2 = false;  // like a new snapshot without p2: no longer touched here
        p2_dropped.store(true, std::memory_order_release);
      }
      std::uint32_t n = p0.rx_burst(pool, batch, kBatchSize);
      if (n != 0) {
        TxItem items[kBatchSize];
        for (std::uint32_t i = 0; i < n; ++i) items[i] = TxItem{batch[i], 0, false, true};
        forwarded.fetch_add(p1.tx_burst(items, n));
        for (std::uint32_t i = 0; i < n; ++i) pool.release(batch[i]);
      }
      n = p1.rx_burst(pool, batch, kBatchSize);
      for (std::uint32_t i = 0; i < n; ++i) pool.release(batch[i]);
      if (poll2) {
        n = p2->rx_burst(pool, batch, kBatchSize);
        for (std::uint32_t i = 0; i < n; ++i) pool.release(batch[i]);
      }
    }
    settle({&p0, &p1}, pool);
  });
  constexpr std::uint32_t kForeign = 1500;
  std::thread foreign([&] {  // another worker: its frames are copied into p1's copy chunks
    FramePool pool(64);
    std::uint32_t sent = 0;
    auto end = Clock::now() + std::chrono::seconds(10);
    while (sent < kForeign && Clock::now() < end) {
      TxItem items[16];
      std::uint32_t n = 0;
      for (; n < 16 && sent + n < kForeign; ++n) {
        Bytes b = make_frame(pairs_[1].b_mac, pairs_[1].a_mac, 20, sent + n, 80);
        Frame* f = pool.alloc();
        f->reset(static_cast<std::uint32_t>(b.size()));
        std::memcpy(f->data, b.data(), b.size());
        items[n] = TxItem{f, 0, false, true};  // handed over, but not in p1's UMEM: copied
      }
      std::uint32_t ok = p1.tx_burst(items, n);
      for (std::uint32_t i = 0; i < n; ++i) pool.release(items[i].frame);
      sent += ok;
      std::this_thread::sleep_for(std::chrono::microseconds(ok < n ? 500 : 200));
    }
  });
  constexpr std::uint32_t kCount = 3000;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(send_from(0, make_frame(pairs_[1].b_mac, pairs_[0].b_mac, 21, i, 64 + i % 500)));
    if (i % 32 == 31) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (i == kCount / 2) {  // the control thread deletes p2 after the owner let go of it
      drop_p2.store(true, std::memory_order_release);
      while (!p2_dropped.load(std::memory_order_acquire)) std::this_thread::yield();
      p2.reset();
    }
  }
  std::vector<NsFrame> own, theirs;
  std::size_t n = 0, seen = 0;
  auto got = receive_frames(pairs_[1].sock, std::chrono::seconds(15), [&](const std::vector<NsFrame>& v) {
    for (; seen < v.size(); ++seen) n += ours(v[seen], 20) || ours(v[seen], 21);
    return n >= kCount + kForeign;
  });
  for (auto& f : got) {
    if (ours(f, 21)) own.push_back(std::move(f));
    else if (ours(f, 20)) theirs.push_back(std::move(f));
  }
  foreign.join();
  std::this_thread::sleep_for(std::chrono::nanoseconds(UmemPool::kRetireDelayNs) +
                              std::chrono::milliseconds(50));
  stop.store(true, std::memory_order_release);
  owner.join();
  // Every frame sent was forwarded and arrived, or the kernel counted it dropped at p0 for want
  // of a receive buffer (a slow owner, e.g. under TSan, before p0's receive depth grew).
  const std::uint64_t dropped = p0.kernel_stats().rx_dropped;
  EXPECT_EQ(own.size(), forwarded.load()) << "forwarded frames lost";
  EXPECT_EQ(forwarded.load() + dropped, kCount) << "frames unaccounted for";
  EXPECT_LT(dropped, kCount / 10);
  EXPECT_EQ(theirs.size(), kForeign);
  EXPECT_GT(p1.tx_zero_copy(), 0u);
  EXPECT_EQ(umem.census().by_slot[slot2], 0u) << "the deleted member's chunks came back";
  expect_accounted(umem, {&p0, &p1});
}

// The real pipeline (Switch, snapshot, process_batch) over AF_XDP ports that share the worker's
// UMEM, with the Switch's own port factory: a flood hands its buffer to one destination and
// copies to the other, learned unicast goes without a copy, and `port delete` / `port add`
// while frames flow keep the pool whole.
TEST_F(AfXdpSharedUmemRoot, PipelineFloodsUnicastsAndSurvivesPortDeleteUnderTraffic) {
  test::Harness h("tbr0", 1, [](SwitchOptions& so) {
    so.bridge_interface = false;
    so.make_port = nullptr;  // the Switch's factory: AF_XDP ports in the worker's shared UMEM
  });
  for (int i = 0; i < kPairs; ++i)
    ASSERT_TRUE(h.cmd("port add " + pairs_[i].a + " vlan 1 driver afxdp").ok) << pairs_[i].a;
  auto port = [&](int i) {
    return dynamic_cast<AfXdpPort*>(h.sw().ports().at(pairs_[i].a).port.get());
  };
  ASSERT_NE(port(0), nullptr);
  EXPECT_EQ(&port(0)->umem(), &port(2)->umem());
  auto pump_until = [&](const std::function<bool()>& done, std::chrono::milliseconds t) {
    auto end = Clock::now() + t;
    while (!done() && Clock::now() < end) {
      h.pump();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  };
  pump_until([] { return false; }, std::chrono::milliseconds(5));

  // Broadcast from ns0, in bursts: both others get every frame, one of them without a copy.
  const std::array<std::uint8_t, 6> bcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  constexpr std::uint32_t kFlood = 320;
  for (std::uint32_t i = 0; i < kFlood; ++i) {
    ASSERT_TRUE(send_from(0, make_frame(bcast, pairs_[0].b_mac, 30, i, 90)));
    if (i % 64 == 63)
      pump_until([&] { return h.totals(pairs_[0].a).rx_frames >= i + 1; }, std::chrono::seconds(5));
  }
  EXPECT_EQ(receive_at(1, 30, kFlood).size(), kFlood);
  EXPECT_EQ(receive_at(2, 30, kFlood).size(), kFlood);
  EXPECT_EQ(port(1)->tx_zero_copy() + port(2)->tx_zero_copy(), kFlood)
      << "one destination per frame takes the buffer";

  // Teach the switch B1's address, then unicast to it: no copy.
  ASSERT_TRUE(send_from(1, make_frame(bcast, pairs_[1].b_mac, 31, 0, 90)));
  pump_until([&] { return h.totals(pairs_[1].a).rx_frames >= 1; }, std::chrono::seconds(5));
  pump_until([] { return false; }, std::chrono::milliseconds(20));
  const std::uint64_t zc1 = port(1)->tx_zero_copy();
  constexpr std::uint32_t kUnicast = 256;
  for (std::uint32_t i = 0; i < kUnicast; ++i) {
    ASSERT_TRUE(send_from(0, make_frame(pairs_[1].b_mac, pairs_[0].b_mac, 32, i, 200)));
    if (i % 64 == 63)
      pump_until([&] { return h.totals(pairs_[0].a).rx_frames >= kFlood + i + 1; }, std::chrono::seconds(5));
  }
  EXPECT_EQ(receive_at(1, 32, kUnicast).size(), kUnicast);
  EXPECT_EQ(port(1)->tx_zero_copy() - zc1, kUnicast);
  EXPECT_TRUE(receive_at(2, 32, 1, std::chrono::milliseconds(200)).empty()) << "unicast flooded";

  // Broadcast keeps coming from ns0 while pair 2's port is deleted and added again.
  std::atomic<bool> sending{true};
  std::atomic<std::uint32_t> seq{0};
  std::thread sender([&] {
    while (sending.load()) {
      std::uint32_t s = seq.load();
      send_from(0, make_frame(bcast, pairs_[0].b_mac, 33, s, 100));
      seq.store(s + 1);
      if (s % 16 == 15) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  pump_until([] { return false; }, std::chrono::milliseconds(200));
  ASSERT_TRUE(h.cmd("port delete " + pairs_[2].a).ok);
  pump_until([] { return false; }, std::chrono::milliseconds(300));  // reclaims the old port
  const std::uint32_t readded_at = seq.load();
  ASSERT_TRUE(h.cmd("port add " + pairs_[2].a + " vlan 1 driver afxdp").ok);
  EXPECT_TRUE(port(2)->umem_shared());
  pump_until([] { return false; }, std::chrono::milliseconds(300));
  sending.store(false);
  sender.join();
  pump_until([] { return false; }, std::chrono::milliseconds(200));
  const std::uint32_t total = seq.load();
  // Whatever is queued at B1 and B2 (B2's socket also holds what arrived before the delete).
  auto nothing_more = [](const std::vector<NsFrame>&) { return false; };
  auto at1 = receive_frames(pairs_[1].sock, std::chrono::seconds(1), nothing_more);
  auto at2 = receive_frames(pairs_[2].sock, std::chrono::seconds(1), nothing_more);
  std::erase_if(at1, [](const NsFrame& f) { return !ours(f, 33); });
  std::erase_if(at2, [&](const NsFrame& f) { return !ours(f, 33) || seq_of(f) < readded_at; });
  const std::uint64_t switched = h.totals(pairs_[1].a).tx_frames - kFlood - kUnicast;
  std::cout << "[          ] " << total << " sent during delete/add, " << h.totals(pairs_[0].a).rx_frames - kFlood - kUnicast
            << " received by the switch, " << switched << " sent to pair 1, " << at1.size()
            << " arrived; " << at2.size() << " at pair 2 after the re-add\n";
  EXPECT_GT(at1.size(), 0u);
  EXPECT_EQ(at1.size(), switched) << "every frame the switch sent arrived; a1 TX: "
                                  << port(1)->kernel_stats().tx_invalid_descs << " invalid\n"
                                  << capture("ip -s link show " + pairs_[1].a);
  EXPECT_EQ(h.totals(pairs_[1].a).dropped(), 0u);
  EXPECT_FALSE(at2.empty()) << "the re-added port carries traffic";
  std::uint32_t highest = 0;
  for (const auto& f : at1) highest = std::max(highest, seq_of(f));
  EXPECT_GT(highest, readded_at) << "pair 1 kept receiving through the delete and add";

  // Drained: every chunk accounted for, the deleted port's among them.
  std::this_thread::sleep_for(std::chrono::nanoseconds(UmemPool::kRetireDelayNs));
  pump_until([] { return false; }, std::chrono::milliseconds(50));
  expect_accounted(port(0)->umem(), {port(0), port(1), port(2)});
}

}  // namespace
}  // namespace brisk
