// AfPacketPort: the checksum and segmentation helpers on crafted frames (suite AfPacketPort, no
// privileges), and the driver against real veth pairs in network namespaces (suite
// AfPacketPortRoot, label needs_root; skipped without root).
#include "datapath/afpacket_port.hpp"
#include "datapath/csum.hpp"
#include "datapath/offload.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "support/l4_frames.hpp"
#include "support/stale_devices.hpp"

namespace brisk {
namespace {

using namespace brisk::l4test;
using namespace std::chrono_literals;


TEST(AfPacketPort, NonexistentDeviceThrowsNamingIt) {
  try {
    AfPacketPort p("brisknodev0");
    FAIL() << "constructed a port on a device that does not exist";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("no such device: brisknodev0"), std::string::npos) << e.what();
    EXPECT_EQ(e.code().value(), ENODEV);
  }
  EXPECT_THROW(AfPacketPort(""), std::system_error);
  EXPECT_THROW(AfPacketPort("a_name_far_too_long_for_linux"), std::system_error);
}

// ---- real devices (root) ----

int sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

std::string python() { return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::uint8_t c : b) {
    s.push_back(d[c >> 4]);
    s.push_back(d[c & 15]);
  }
  return s;
}
Bytes unhex(const std::string& s) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return b;
}

// Sends the hex frames given as arguments out of an interface.
const char* kSendPy = R"(import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
)";

// Captures received frames containing a marker; prints "ready", then "<tci> <hex>" per frame
// (tci -1: untagged), until `count` frames or the timeout.
const char* kCapturePy = R"(import select, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(263, 8, 1)  # PACKET_AUXDATA
s.bind((sys.argv[1], 0))
want, marker, end = int(sys.argv[2]), bytes.fromhex(sys.argv[3]), time.time() + float(sys.argv[4])
print("ready", flush=True)
got = 0
while got < want and time.time() < end:
    if not select.select([s], [], [], 0.1)[0]:
        continue
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64))
    if addr[2] == socket.PACKET_OUTGOING or marker not in data:
        continue
    tci = -1
    for lvl, typ, d in anc:
        if lvl == 263 and typ == 8:
            st, ln, snap, mac, net, t, tpid = struct.unpack("IIIHHHH", d[:20])
            if st & 0x10:
                tci = t
    print(tci, data.hex(), flush=True)
    got += 1
)";

// Offloaded TCP SYNs and a UDP datagram towards a neighbour that does not answer.
const char* kPartialPy = R"(import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"brisk-udp-partial-checksum" * 3, (sys.argv[1], 9))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setblocking(False)
try:
    t.connect((sys.argv[1], 9))
except BlockingIOError:
    pass
time.sleep(1.5)
)";

// TCP sink: accept one connection, read to EOF, print byte count.
const char* kSinkPy = R"(import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1)
l.settimeout(30)
print("ready", flush=True)
c, _ = l.accept()
c.settimeout(30)
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n, flush=True)
)";

// TCP source: send `n` bytes of a fixed pattern.
const char* kSourcePy = R"(import socket, sys, time
n = int(sys.argv[3])
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
buf = bytes(range(256)) * 4096
t = time.time()
sent = 0
while sent < n:
    k = min(len(buf), n - sent)
    c.sendall(buf[:k])
    sent += k
c.shutdown(socket.SHUT_WR)
c.recv(1)
print(sent, "%.3f" % (time.time() - t), flush=True)
)";

struct Link {
  std::string ns, host_if, ns_if, addr;  // addr: CIDR inside the namespace
};

class AfPacketPortRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, veth, AF_PACKET)";
    if (sh("ip -V >/dev/null 2>&1") != 0) GTEST_SKIP() << "needs iproute2";
    if (sh(python() + " -c 'import socket' >/dev/null 2>&1") != 0) GTEST_SKIP() << "needs python3";
    remove_stale();
    dir_ = "/tmp/brisk-afp-" + std::to_string(::getpid());
    sh("mkdir -p " + dir_);
    write("send.py", kSendPy);
    write("capture.py", kCapturePy);
    write("partial.py", kPartialPy);
    write("sink.py", kSinkPy);
    write("source.py", kSourcePy);
  }
  void TearDown() override {
    for (const Link& l : links_) {
      // Only processes this test started run in its namespace (background ping, scripts).
      sh("ip netns pids " + l.ns + " 2>/dev/null | xargs -r kill >/dev/null 2>&1");
      sh("ip netns del " + l.ns + " >/dev/null 2>&1");
      sh("ip link del " + l.host_if + " >/dev/null 2>&1");
    }
    if (!dir_.empty()) sh("rm -rf " + dir_);
  }

  // Namespaces, veths and script directories left by a run that was killed (ctest timeout):
  // named after its pid.
  static void remove_stale() {
    brisk::test::remove_stale("/run/netns", "brisk-afp-", "ip netns del ");
    brisk::test::remove_stale("/sys/class/net", "bafh", "ip link del ");
    brisk::test::remove_stale("/tmp", "brisk-afp-", "rm -rf /tmp/");
  }
  void write(const std::string& name, const char* text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string script(const std::string& name) const { return python() + " " + dir_ + "/" + name; }

  // A namespace holding one end of a veth pair (up, with `addr`, default offloads); the other
  // end stays in this namespace, up, without addresses.
  Link make_link(const std::string& addr) {
    static int seq = 0;
    std::string id = std::to_string(::getpid()) + static_cast<char>('a' + seq++ % 26);
    Link l{"brisk-afp-" + id, "bafh" + id, "bafn" + id, addr};
    links_.push_back(l);
    // The host end stays quiet: no IPv6 (no router solicitations or MLD of its own).
    std::string cmd = "ip netns add " + l.ns + " && ip link add " + l.host_if + " type veth peer name " + l.ns_if +
                      " netns " + l.ns + " && sysctl -qw net.ipv6.conf." + l.host_if +
                      ".disable_ipv6=1 && ip link set " + l.host_if + " up && ip -n " + l.ns +
                      " link set lo up && ip -n " + l.ns + " link set " + l.ns_if + " up && ip -n " + l.ns +
                      " addr add " + addr + " dev " + l.ns_if;
    if (sh(cmd) != 0) throw std::runtime_error("setting up " + l.ns + " failed: " + cmd);
    return l;
  }
  std::string in_ns(const Link& l, const std::string& cmd) const { return "ip netns exec " + l.ns + " " + cmd; }

  // Receive until `pred` has seen what it wants (returns true) or the timeout; frames go back
  // to the pool after pred looked at them.
  bool receive_until(AfPacketPort& p, const std::function<bool(const Bytes&)>& pred,
                     std::chrono::milliseconds timeout = 3000ms) {
    return receive_until(p, [&](const Bytes& b, const Offload&) { return pred(b); }, timeout);
  }
  // The same, with each frame's offload metadata.
  bool receive_until(AfPacketPort& p, const std::function<bool(const Bytes&, const Offload&)>& pred,
                     std::chrono::milliseconds timeout = 3000ms) {
    auto end = std::chrono::steady_clock::now() + timeout;
    Frame* fr[kBatchSize];
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < end) {
      pollfd pf{p.wait_fd(), POLLIN, 0};
      ::poll(&pf, 1, 20);
      std::uint32_t n = p.rx_burst(pool_, fr, kBatchSize);
      for (std::uint32_t i = 0; i < n; ++i) {
        if (!done) done = pred(Bytes(fr[i]->data, fr[i]->data + fr[i]->len), fr[i]->off);
        pool_.release(fr[i]);
      }
    }
    return done;
  }

  FramePool pool_{1024};
  std::vector<Link> links_;
  std::string dir_;
};

Bytes marked_frame(std::size_t len, int vlan, std::uint8_t seq) {
  Bytes f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xb5, 0xb5, 0x00, 0x00, 0x01};
  if (vlan >= 0) {
    f.push_back(0x81);
    f.push_back(0x00);
    f.push_back(static_cast<std::uint8_t>(vlan >> 8));
    f.push_back(static_cast<std::uint8_t>(vlan));
  }
  f.push_back(0x88);
  f.push_back(0xb5);
  for (char c : std::string("brisk-afp-marker")) f.push_back(static_cast<std::uint8_t>(c));
  f.push_back(seq);
  while (f.size() < len) f.push_back(static_cast<std::uint8_t>(f.size()));
  return f;
}
const std::string kMarkerHex = hex(Bytes{'b', 'r', 'i', 's', 'k', '-', 'a', 'f', 'p', '-', 'm', 'a', 'r', 'k', 'e', 'r'});

TEST_F(AfPacketPortRoot, ReceivesFramesFromThePeerAndRestoresVlanTags) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  EXPECT_EQ(port.kind(), PortKind::kSystem);
  EXPECT_EQ(port.name(), l.host_if);
  std::vector<Bytes> sent = {marked_frame(60, -1, 1), marked_frame(1514, -1, 2), marked_frame(64, 100, 3),
                             marked_frame(1518, 4095, 4), marked_frame(60, 0, 5)};
  std::string args;
  for (const Bytes& b : sent) args += " " + hex(b);
  ASSERT_EQ(sh(in_ns(l, script("send.py") + " " + l.ns_if + args)), 0);
  std::vector<Bytes> got;
  receive_until(port, [&](const Bytes& b) {
    if (hex(b).find(kMarkerHex) != std::string::npos) got.push_back(b);
    return got.size() == sent.size();
  });
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(hex(got[i]), hex(sent[i])) << "frame " << i;
}

TEST_F(AfPacketPortRoot, WaitFdBecomesReadableAndArpRequestsArrive) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  // A ping to an absent neighbour: ARP requests for 198.19.77.9.
  sh(in_ns(l, "ping -c 1 -W 1 198.19.77.9 >/dev/null 2>&1 &"));
  pollfd pf{port.wait_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pf, 1, 3000), 1);
  bool arp = receive_until(port, [](const Bytes& b) {
    return b.size() >= 42 && be16(&b[12]) == 0x0806 && b[0] == 0xff && b[38] == 198 && b[39] == 19 && b[40] == 77 &&
           b[41] == 9;
  });
  EXPECT_TRUE(arp);
}

TEST_F(AfPacketPortRoot, TransmittedFramesArriveInTheNamespace) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  FILE* cap = ::popen(in_ns(l, script("capture.py") + " " + l.ns_if + " 40 " + kMarkerHex + " 5").c_str(), "r");
  ASSERT_NE(cap, nullptr);
  char line[8192];
  ASSERT_NE(std::fgets(line, sizeof(line), cap), nullptr);
  ASSERT_EQ(std::string(line), "ready\n");
  // 36 untagged frames (more than one sendmmsg chunk) and 4 to tag on the way out.
  std::vector<Frame*> frames;
  std::vector<TxItem> items;
  for (int i = 0; i < 40; ++i) {
    Bytes b = marked_frame(i % 2 ? 60 : 1514, -1, static_cast<std::uint8_t>(i));
    Frame* f = pool_.alloc();
    f->reset(static_cast<std::uint32_t>(b.size()));
    std::copy(b.begin(), b.end(), f->data);
    frames.push_back(f);
    items.push_back(TxItem{f, static_cast<VlanId>(i >= 36 ? 7 + i : 0)});
  }
  EXPECT_EQ(port.tx_burst(items.data(), static_cast<std::uint32_t>(items.size())), 40u);
  for (Frame* f : frames) pool_.release(f);
  int untagged = 0, tagged = 0;
  while (std::fgets(line, sizeof(line), cap) != nullptr) {
    int tci = 0;
    char h[8192];
    ASSERT_EQ(std::sscanf(line, "%d %8191s", &tci, h), 2);
    Bytes b = unhex(h);
    std::uint8_t seq = b[14 + 16];
    EXPECT_EQ(hex(b), hex(marked_frame(b.size(), -1, seq)));
    if (tci < 0) {
      ++untagged;
      EXPECT_LT(seq, 36);
    } else {
      ++tagged;
      EXPECT_EQ(tci, 7 + seq);
    }
  }
  ::pclose(cap);
  EXPECT_EQ(untagged, 36);
  EXPECT_EQ(tagged, 4);
  EXPECT_FALSE(port.failed());
}

TEST_F(AfPacketPortRoot, PartialChecksumsFromThePeerAreKeptAsMetadata) {
  const Link l = make_link("198.19.77.1/24");
  ASSERT_EQ(sh("ip -n " + l.ns + " neigh add 198.19.77.2 lladdr 02:00:00:00:77:02 dev " + l.ns_if), 0);
  AfPacketPort port(l.host_if);
  sh(in_ns(l, script("partial.py") + " 198.19.77.2 &"));
  bool syn = false, udp = false;
  receive_until(
      port,
      [&](const Bytes& got, const Offload& off) {
        if (got.size() < 34 || be16(&got[12]) != 0x0800 || got[30] != 198 || got[33] != 2) return false;
        // With the veth's default tx checksum offload the kernel hands these over as
        // CHECKSUM_PARTIAL: the frame says so, and finishing it where it says gives a valid sum.
        EXPECT_TRUE(off.partial()) << hex(got);
        Bytes b = got;
        EXPECT_TRUE(complete_checksum_at(b.data(), b.size(), off.csum_start, off.csum_offset));
        std::uint8_t proto = 0;
        bool ok = l4_checksum_ok(b, &proto);
        EXPECT_TRUE(ok) << "protocol " << int(proto) << ": " << hex(b);
        if (proto == 6) syn = syn || ok;
        if (proto == 17) udp = udp || ok;
        return syn && udp;
      },
      4000ms);
  EXPECT_TRUE(syn);
  EXPECT_TRUE(udp);
  EXPECT_GE(port.stats().rx_csum_partial, 2u);
}

// UDP with UDP_SEGMENT (USO): the veth hands the super-frame over whole, and the port keeps it
// whole with its GSO metadata; cut as brisk would for a port that cannot take it, it gives the
// datagrams the sender meant.
TEST_F(AfPacketPortRoot, UdpGsoSuperFramesStayWhole) {
  const Link l = make_link("198.19.77.1/24");
  ASSERT_EQ(sh("ip -n " + l.ns + " neigh add 198.19.77.2 lladdr 02:00:00:00:77:02 dev " + l.ns_if), 0);
  write("uso.py", R"(import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(17, 103, 1000)  # UDP_SEGMENT
u.sendto(bytes(range(250)) * 14, ("198.19.77.2", 7777))
)");
  AfPacketPort port(l.host_if);
  ASSERT_EQ(sh(in_ns(l, script("uso.py"))), 0);
  Bytes super;
  Offload off;
  receive_until(port, [&](const Bytes& b, const Offload& o) {
    if (b.size() < 42 || be16(&b[12]) != 0x0800 || b[23] != 17 || be16(&b[36]) != 7777) return false;
    super = b;
    off = o;
    return true;
  });
  ASSERT_EQ(super.size(), 14u + 20 + 8 + 3500) << "one super-frame";
  ASSERT_EQ(off.gso_type, Offload::kGsoUdpL4);
  ASSERT_EQ(off.gso_size, 1000);
  GsoPlan plan;
  ASSERT_TRUE(plan_gso(super.data(), super.size(), off.gso_type, off.gso_size, plan));
  ASSERT_EQ(plan.segments, 4u) << "3500 bytes in 1000-byte segments";
  Bytes payload;
  for (std::uint32_t i = 0; i < plan.segments; ++i) {
    Bytes seg(2048);
    seg.resize(build_segment(super.data(), super.size(), plan, i, seg.data(), seg.size()));
    EXPECT_TRUE(l4_checksum_ok(seg));
    EXPECT_TRUE(ipv4_header_ok(seg));
    EXPECT_EQ(be16(&seg[38]), seg.size() - 34);
    payload.insert(payload.end(), seg.begin() + 42, seg.end());
  }
  Bytes want;
  for (int i = 0; i < 14; ++i) for (int k = 0; k < 250; ++k) want.push_back(static_cast<std::uint8_t>(k));
  EXPECT_EQ(payload, want);
  EXPECT_EQ(port.stats().rx_gso_frames, 1u);
}

// Frames the host itself sends out of the device are not received (PACKET_IGNORE_OUTGOING).
TEST_F(AfPacketPortRoot, HostOutgoingFramesAreIgnored) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  ASSERT_EQ(sh(script("send.py") + " " + l.host_if + " " + hex(marked_frame(60, -1, 77))), 0);
  ASSERT_EQ(sh(in_ns(l, script("send.py") + " " + l.ns_if + " " + hex(marked_frame(60, -1, 78)))), 0);
  bool outgoing = false;
  EXPECT_TRUE(receive_until(port, [&](const Bytes& b) {
    if (hex(b).find(kMarkerHex) == std::string::npos) return false;
    if (b[30] == 77) outgoing = true;
    return b[30] == 78;
  }));
  EXPECT_FALSE(outgoing);
}

// Two namespaces joined by two AfPacketPorts and a forwarding loop: TCP with the peers' default
// offloads (partial checksums, TSO super-frames) must work.
TEST_F(AfPacketPortRoot, TcpWorksThroughTwoPortsWithDefaultOffloads) {
  const Link a = make_link("198.19.78.1/24");
  const Link b = make_link("198.19.78.2/24");
  AfPacketPort pa(a.host_if);
  AfPacketPort pb(b.host_if);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> tx_fail{0};
  std::thread fwd([&] {
    FramePool pool(4096);
    Frame* fr[kBatchSize];
    TxItem items[kBatchSize];
    while (!stop.load()) {
      std::uint32_t work = 0;
      for (auto [from, to] : {std::pair{&pa, &pb}, std::pair{&pb, &pa}}) {
        std::uint32_t n = from->rx_burst(pool, fr, kBatchSize);
        for (std::uint32_t i = 0; i < n; ++i) items[i] = TxItem{fr[i], 0};
        std::uint32_t s = to->tx_burst(items, n);
        tx_fail += n - s;
        for (std::uint32_t i = 0; i < n; ++i) pool.release(fr[i]);
        work += n;
      }
      if (work == 0) {
        pollfd pf[2] = {{pa.wait_fd(), POLLIN, 0}, {pb.wait_fd(), POLLIN, 0}};
        ::poll(pf, 2, 1);
      }
    }
  });
  FILE* sink = ::popen(in_ns(b, script("sink.py") + " 198.19.78.2 5201").c_str(), "r");
  ASSERT_NE(sink, nullptr);
  char line[256] = {0};
  bool ready = std::fgets(line, sizeof(line), sink) != nullptr && std::string(line) == "ready\n";
  const std::size_t kBytes = 64u << 20;
  std::string src_out;
  if (ready) {
    FILE* src = ::popen(in_ns(a, script("source.py") + " 198.19.78.2 5201 " + std::to_string(kBytes)).c_str(), "r");
    if (src != nullptr) {
      char l2[256];
      while (std::fgets(l2, sizeof(l2), src) != nullptr) src_out += l2;
      ::pclose(src);
    }
  }
  std::string sink_out;
  while (std::fgets(line, sizeof(line), sink) != nullptr) sink_out += line;
  ::pclose(sink);
  // Latency through the TPACKET_V3 ring (a block is handed over when full or after its
  // timeout): informational.
  std::string ping_out;
  if (FILE* ping = ::popen(in_ns(a, "ping -c 5 -i 0.2 -q 198.19.78.2 2>&1").c_str(), "r")) {
    while (std::fgets(line, sizeof(line), ping) != nullptr) {
      if (std::string(line).find("rtt") != std::string::npos) ping_out = line;
    }
    EXPECT_EQ(::pclose(ping), 0) << "ping through the two ports";
  }
  std::printf("  [info] ping %s", ping_out.c_str());
  stop = true;
  fwd.join();
  ASSERT_TRUE(ready);
  EXPECT_EQ(sink_out, std::to_string(kBytes) + "\n");
  auto sa = pa.stats();
  std::printf("  [info] source: %s  a: gso_frames=%llu csum_partial=%llu dropped=%llu oversize=%llu  tx_fail=%llu\n",
              src_out.c_str(), static_cast<unsigned long long>(sa.rx_gso_frames),
              static_cast<unsigned long long>(sa.rx_csum_partial),
              static_cast<unsigned long long>(sa.rx_gso_dropped), static_cast<unsigned long long>(sa.rx_oversize),
              static_cast<unsigned long long>(tx_fail.load()));
  EXPECT_GT(sa.rx_gso_frames, 0u) << "the sender's TSO super-frames crossed whole";
  EXPECT_EQ(sa.rx_gso_dropped, 0u);
  AfPacketPort::KernelStats ka = pa.kernel_stats();
  std::printf("  [info] kernel: packets=%llu drops=%llu\n", static_cast<unsigned long long>(ka.packets),
              static_cast<unsigned long long>(ka.drops));
  EXPECT_GT(ka.packets, 0u);
}

std::uint64_t read_stat(const std::string& cmd) {
  std::uint64_t v = 0;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    if (std::fscanf(p, "%llu", reinterpret_cast<unsigned long long*>(&v)) != 1) v = 0;
    ::pclose(p);
  }
  return v;
}

// tx_burst from several threads at once (floods from several workers): every accepted frame
// reaches the peer (or is counted as dropped by the veth when the peer's backlog is full).
TEST_F(AfPacketPortRoot, ConcurrentTxBurstsFromSeveralThreads) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  auto rx_packets = [&] {
    return read_stat(in_ns(l, "cat /sys/class/net/" + l.ns_if + "/statistics/rx_packets"));
  };
  auto tx_dropped = [&] { return read_stat("cat /sys/class/net/" + l.host_if + "/statistics/tx_dropped"); };
  const std::uint64_t rx0 = rx_packets(), drop0 = tx_dropped();
  constexpr int kThreads = 4, kBursts = 40;
  std::atomic<std::uint64_t> accepted{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      FramePool pool(64);
      Frame* fr[kBatchSize];
      TxItem items[kBatchSize];
      for (std::uint32_t i = 0; i < kBatchSize; ++i) {
        Bytes b = marked_frame(60 + 40 * i, -1, static_cast<std::uint8_t>(t));
        fr[i] = pool.alloc();
        fr[i]->reset(static_cast<std::uint32_t>(b.size()));
        std::copy(b.begin(), b.end(), fr[i]->data);
        items[i] = TxItem{fr[i], static_cast<VlanId>(i % 3 == 0 ? 10 + t : 0)};
      }
      for (int k = 0; k < kBursts; ++k) {
        accepted += port.tx_burst(items, kBatchSize);
        std::this_thread::sleep_for(1ms);
      }
      for (Frame* f : fr) pool.release(f);
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(accepted.load(), std::uint64_t{kThreads} * kBursts * kBatchSize);
  std::uint64_t rx = 0, drop = 0;
  for (int i = 0; i < 50; ++i) {  // the peer's backlog drains asynchronously
    rx = rx_packets() - rx0;
    drop = tx_dropped() - drop0;
    if (rx + drop >= accepted.load()) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(rx + drop, accepted.load()) << "rx " << rx << " dropped " << drop;
  EXPECT_FALSE(port.failed());
}

TEST_F(AfPacketPortRoot, DeletedDeviceMarksThePortFailed) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  ASSERT_EQ(sh("ip link del " + l.host_if), 0);
  Frame* f = pool_.alloc();
  Bytes b = marked_frame(60, -1, 0);
  f->reset(static_cast<std::uint32_t>(b.size()));
  std::copy(b.begin(), b.end(), f->data);
  TxItem it{f, 0};
  // rx alone notices within kIdleCheckEvery empty calls (frames the peer sent before, such as
  // its IPv6 router solicitations, may still be in the ring and are delivered first).
  Frame* fr[kBatchSize];
  std::uint32_t empty = 0;
  for (int i = 0; i < 1000 && empty <= AfPacketPort::kIdleCheckEvery && !port.failed(); ++i) {
    std::uint32_t n = port.rx_burst(pool_, fr, kBatchSize);
    for (std::uint32_t k = 0; k < n; ++k) pool_.release(fr[k]);
    if (n == 0) ++empty;
  }
  EXPECT_TRUE(port.failed());
  EXPECT_EQ(port.error(), ENODEV);
  EXPECT_EQ(port.tx_burst(&it, 1), 0u);
  pool_.release(f);
}

TEST_F(AfPacketPortRoot, TxToDeletedDeviceMarksThePortFailed) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  ASSERT_EQ(sh("ip netns del " + l.ns), 0);  // takes the veth pair with it
  Frame* f = pool_.alloc();
  Bytes b = marked_frame(60, -1, 0);
  f->reset(static_cast<std::uint32_t>(b.size()));
  std::copy(b.begin(), b.end(), f->data);
  TxItem it{f, 0};
  for (int i = 0; i < 50 && !port.failed(); ++i) {
    port.tx_burst(&it, 1);
    std::this_thread::sleep_for(10ms);  // namespace teardown is asynchronous
  }
  EXPECT_TRUE(port.failed());
  EXPECT_TRUE(port.error() == ENXIO || port.error() == ENODEV) << port.error();
  pool_.release(f);
}

// The driver interface's PortInfo: every AF_PACKET send passes the device's qdisc; the fast
// path knows the device, but without its maps (and programs) cannot forward for it.
TEST_F(AfPacketPortRoot, InfoSaysItsOutputPassesTheQdisc) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  const Port& as_port = port;
  const PortInfo i = as_port.info();
  EXPECT_EQ(i.driver, "afpacket");
  EXPECT_EQ(i.qdisc, QdiscPath::kAlways);
  EXPECT_TRUE(i.tx_via_qdisc);
  EXPECT_TRUE(i.fastpath_device);
  EXPECT_FALSE(i.xdp_program);
  EXPECT_FALSE(i.tc_attached);
  EXPECT_FALSE(i.fastpath_capable());
  EXPECT_EQ(as_port.ifindex(), static_cast<int>(if_nametoindex(l.host_if.c_str())));
}

TEST_F(AfPacketPortRoot, LinkDownIsNotAFailure) {
  const Link l = make_link("198.19.77.1/24");
  AfPacketPort port(l.host_if);
  ASSERT_EQ(sh("ip link set " + l.host_if + " down"), 0);
  Frame* f = pool_.alloc();
  Bytes b = marked_frame(60, -1, 0);
  f->reset(static_cast<std::uint32_t>(b.size()));
  std::copy(b.begin(), b.end(), f->data);
  TxItem it{f, 0};
  EXPECT_EQ(port.tx_burst(&it, 1), 0u) << "link down: a tx error";
  Frame* fr[kBatchSize];
  for (std::uint32_t i = 0; i < 3 * AfPacketPort::kIdleCheckEvery; ++i) port.rx_burst(pool_, fr, kBatchSize);
  EXPECT_FALSE(port.failed());
  // The kernel's sticky ENETDOWN was read: the socket no longer polls as an error.
  pollfd pf{port.wait_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pf, 1, 0), 0);
  ASSERT_EQ(sh("ip link set " + l.host_if + " up"), 0);
  EXPECT_EQ(port.tx_burst(&it, 1), 1u);
  pool_.release(f);
  ASSERT_EQ(sh(in_ns(l, script("send.py") + " " + l.ns_if + " " + hex(marked_frame(60, -1, 9)))), 0);
  EXPECT_TRUE(receive_until(port, [](const Bytes& x) { return hex(x).find(kMarkerHex) != std::string::npos; }));
}

}  // namespace
}  // namespace brisk
