// AfPacketPort: the checksum and segmentation helpers on crafted frames (suite AfPacketPort, no
// privileges), and the driver against real veth pairs in network namespaces (suite
// AfPacketPortRoot, label needs_root; skipped without root).
#include "datapath/afpacket_port.hpp"
#include "datapath/csum.hpp"

#include <gtest/gtest.h>
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

#include "support/stale_devices.hpp"

namespace brisk {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

// ---- independent reference arithmetic (big-endian 16-bit words, no tricks) ----

std::uint32_t ref_sum(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
  for (std::size_t i = 0; i < n; i += 2) {
    std::uint32_t w = std::uint32_t{p[i]} << 8;
    if (i + 1 < n) w |= p[i + 1];
    s += w;
  }
  return s;
}
std::uint16_t ref_fold(std::uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void set16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// Offset of the IP header, skipping 802.1Q/802.1ad tags; 0 if not IPv4/IPv6.
std::size_t l3_of(const Bytes& f, std::uint16_t* et_out = nullptr) {
  std::size_t l3 = 14;
  std::uint16_t et = be16(&f[12]);
  while ((et == 0x8100 || et == 0x88a8) && f.size() >= l3 + 4) {
    et = be16(&f[l3 + 2]);
    l3 += 4;
  }
  if (et_out != nullptr) *et_out = et;
  return (et == 0x0800 || et == 0x86dd) ? l3 : 0;
}

// True if the IPv4/IPv6 TCP/UDP frame's L4 checksum verifies (sum over pseudo header and
// segment is 0xffff). `proto` receives the L4 protocol.
bool l4_checksum_ok(const Bytes& f, std::uint8_t* proto = nullptr) {
  std::uint16_t et = 0;
  std::size_t l3 = l3_of(f, &et);
  if (l3 == 0) return false;
  std::uint32_t s = 0;
  std::size_t l4, l4len;
  std::uint8_t pr;
  if (et == 0x0800) {
    std::size_t ihl = (f[l3] & 0x0f) * 4u;
    l4 = l3 + ihl;
    l4len = be16(&f[l3 + 2]) - ihl;
    pr = f[l3 + 9];
    s = ref_sum(&f[l3 + 12], 8);
  } else {
    l4 = l3 + 40;
    l4len = be16(&f[l3 + 4]);
    pr = f[l3 + 6];
    s = ref_sum(&f[l3 + 8], 32);
  }
  if (proto != nullptr) *proto = pr;
  if (l4 + l4len > f.size()) return false;
  s += pr;
  s += static_cast<std::uint32_t>(l4len);
  s = ref_sum(&f[l4], l4len, s);
  return ref_fold(s) == 0xffff;
}

bool ipv4_header_ok(const Bytes& f) {
  std::size_t l3 = l3_of(f);
  return ref_fold(ref_sum(&f[l3], (f[l3] & 0x0f) * 4u)) == 0xffff;
}

// Ethernet + IPv4 (or IPv6) + TCP (or UDP) with `payload` bytes, L4 checksum field holding the
// folded pseudo-header sum: what a sender with checksum offload hands its device.
Bytes partial_frame(bool v6, std::uint8_t proto, std::size_t payload, bool fin_psh = false) {
  const std::size_t l3 = 14, iplen = v6 ? 40 : 20, l4hdr = proto == 6 ? 20 : 8;
  const std::size_t l4len = l4hdr + payload;
  Bytes f(l3 + iplen + l4hdr + payload, 0);
  for (int i = 0; i < 6; ++i) {
    f[i] = static_cast<std::uint8_t>(0x02 + i);
    f[6 + i] = static_cast<std::uint8_t>(0x12 + i);
  }
  set16(&f[12], v6 ? 0x86dd : 0x0800);
  std::uint8_t* ip = &f[l3];
  std::uint32_t pseudo;
  if (v6) {
    ip[0] = 0x60;
    set16(ip + 4, static_cast<std::uint32_t>(l4len));
    ip[6] = proto;
    ip[7] = 64;
    ip[8] = 0x20;
    ip[9] = 0x01;
    ip[23] = 1;
    ip[24] = 0x20;
    ip[25] = 0x01;
    ip[39] = 2;
    pseudo = ref_sum(ip + 8, 32);
  } else {
    ip[0] = 0x45;
    set16(ip + 2, static_cast<std::uint32_t>(20 + l4len));
    set16(ip + 4, 0x1234);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = proto;
    const std::uint8_t a[8] = {198, 18, 0, 1, 198, 18, 0, 2};
    std::copy(a, a + 8, ip + 12);
    set16(ip + 10, static_cast<std::uint16_t>(~ref_fold(ref_sum(ip, 20))));
    pseudo = ref_sum(ip + 12, 8);
  }
  std::uint8_t* l4 = ip + iplen;
  set16(l4, 40000);
  set16(l4 + 2, 5201);
  if (proto == 6) {
    l4[4] = 0x10;  // seq 0x10000001
    l4[7] = 0x01;
    l4[12] = 0x50;
    l4[13] = static_cast<std::uint8_t>(0x10 | 0x80 | (fin_psh ? 0x09 : 0));  // ACK, CWR (+FIN/PSH)
    set16(l4 + 14, 512);
  } else {
    set16(l4 + 4, static_cast<std::uint32_t>(l4len));
  }
  for (std::size_t i = 0; i < payload; ++i) l4[l4hdr + i] = static_cast<std::uint8_t>(i * 13 + 5);
  pseudo += proto;
  pseudo += static_cast<std::uint32_t>(l4len);
  set16(l4 + (proto == 6 ? 16 : 6), ref_fold(pseudo));
  return f;
}

// ---- helper tests (no privileges) ----

TEST(AfPacketPort, CsumAddMatchesReferenceAtAnyLengthAndAlignment) {
  Bytes b(300);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 31 + 7);
  for (std::size_t off = 0; off < 4; ++off) {
    for (std::size_t n = 0; n + off <= b.size(); ++n) {
      ASSERT_EQ(csum_fold(csum_add(&b[off], n, 0)), ref_fold(ref_sum(&b[off], n)))
          << "off " << off << " len " << n;
    }
  }
}

TEST(AfPacketPort, CompleteChecksumFinishesPartialTcpIpv4) {
  for (std::size_t payload : {0u, 1u, 17u, 1000u, 1459u}) {
    Bytes f = partial_frame(false, 6, payload);
    EXPECT_FALSE(l4_checksum_ok(f)) << "crafted frame starts partial";
    ASSERT_TRUE(complete_checksum_at(f.data(), f.size(), 34, 16));
    EXPECT_TRUE(l4_checksum_ok(f)) << payload;
  }
}

TEST(AfPacketPort, CompleteChecksumUdpIpv6AndZeroResult) {
  Bytes f = partial_frame(true, 17, 33);
  ASSERT_TRUE(complete_checksum_at(f.data(), f.size(), 54, 6));
  EXPECT_TRUE(l4_checksum_ok(f));
  // Pick two payload bytes so that the checksum computes to 0: it must go out as 0xffff.
  Bytes z = partial_frame(false, 17, 2);
  z[42] = z[43] = 0;
  std::uint16_t s = ref_fold(ref_sum(&z[34], z.size() - 34));
  set16(&z[42], static_cast<std::uint16_t>(0xffff - s));
  ASSERT_EQ(ref_fold(ref_sum(&z[34], z.size() - 34)), 0xffff);
  ASSERT_TRUE(complete_checksum_at(z.data(), z.size(), 34, 6));
  EXPECT_EQ(be16(&z[40]), 0xffff);
  EXPECT_TRUE(l4_checksum_ok(z));
}

TEST(AfPacketPort, CompleteChecksumRejectsFieldOutsideFrame) {
  Bytes f = partial_frame(false, 6, 10);
  Bytes before = f;
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), f.size(), 0));
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), f.size() - 1, 0));
  EXPECT_FALSE(complete_checksum_at(f.data(), f.size(), 34, f.size() - 35));
  EXPECT_EQ(f, before);
}

// Segment a super-frame and check every segment and the reassembled payload.
void check_segmentation(bool v6, std::uint8_t proto, std::uint8_t gso_type, std::size_t payload,
                        std::uint16_t mss) {
  Bytes sf = partial_frame(v6, proto, payload, true);
  afpacket::GsoPlan plan;
  ASSERT_TRUE(afpacket::plan_gso(sf.data(), sf.size(), gso_type, mss, plan));
  const std::size_t hdr = 14 + (v6 ? 40 : 20) + (proto == 6 ? 20 : 8);
  ASSERT_EQ(plan.hdr_len, hdr);
  ASSERT_EQ(plan.segments, (payload + mss - 1) / mss);
  Bytes joined;
  for (std::uint32_t i = 0; i < plan.segments; ++i) {
    Bytes seg(kMaxFrameLen);
    std::size_t n = afpacket::build_segment(sf.data(), sf.size(), plan, i, seg.data(), seg.size());
    ASSERT_GT(n, hdr);
    seg.resize(n);
    const bool last = i + 1 == plan.segments;
    EXPECT_EQ(n - hdr, last ? payload - std::size_t{mss} * i : mss);
    std::uint8_t pr = 0;
    EXPECT_TRUE(l4_checksum_ok(seg, &pr)) << "segment " << i;
    EXPECT_EQ(pr, proto);
    if (v6) {
      EXPECT_EQ(be16(&seg[18]), n - 54);
    } else {
      EXPECT_EQ(be16(&seg[16]), n - 14);
      EXPECT_EQ(be16(&seg[18]), 0x1234 + i);
      EXPECT_TRUE(ipv4_header_ok(seg));
    }
    const std::size_t l4 = v6 ? 54 : 34;
    if (proto == 6) {
      EXPECT_EQ(be32(&seg[l4 + 4]), 0x10000001u + i * mss);
      std::uint8_t flags = seg[l4 + 13];
      EXPECT_EQ((flags & 0x09) != 0, last) << "FIN/PSH only on the last segment";
      EXPECT_EQ((flags & 0x80) != 0, i == 0) << "CWR only on the first segment";
      EXPECT_TRUE(flags & 0x10);
    } else {
      EXPECT_EQ(be16(&seg[l4 + 4]), n - l4);
    }
    joined.insert(joined.end(), seg.begin() + static_cast<long>(hdr), seg.end());
  }
  EXPECT_EQ(joined, Bytes(sf.begin() + static_cast<long>(hdr), sf.end()));
  Bytes out(kMaxFrameLen);
  EXPECT_EQ(afpacket::build_segment(sf.data(), sf.size(), plan, plan.segments, out.data(), out.size()), 0u);
  EXPECT_EQ(afpacket::build_segment(sf.data(), sf.size(), plan, 0, out.data(), hdr + std::min<std::size_t>(mss, payload) - 1), 0u);
}

TEST(AfPacketPort, SegmentsTcpIpv4SuperFrame) {
  check_segmentation(false, 6, afpacket::kGsoTcpV4, 5000, 1448);
  check_segmentation(false, 6, afpacket::kGsoTcpV4 | afpacket::kGsoEcn, 2896, 1448);
}

TEST(AfPacketPort, SegmentsTcpIpv6AndUdpSuperFrames) {
  check_segmentation(true, 6, afpacket::kGsoTcpV6, 4000, 1428);
  check_segmentation(false, 17, afpacket::kGsoUdpL4, 3000, 1400);
  check_segmentation(true, 17, afpacket::kGsoUdpL4, 1000, 1400);
}

TEST(AfPacketPort, PlanRejectsWhatItCannotSegment) {
  afpacket::GsoPlan p;
  Bytes v4 = partial_frame(false, 6, 3000);
  EXPECT_FALSE(afpacket::plan_gso(v4.data(), v4.size(), afpacket::kGsoTcpV6, 1448, p));
  EXPECT_FALSE(afpacket::plan_gso(v4.data(), v4.size(), afpacket::kGsoUdp, 1448, p)) << "UFO";
  EXPECT_FALSE(afpacket::plan_gso(v4.data(), v4.size(), afpacket::kGsoTcpV4, 0, p));
  Bytes udp = partial_frame(false, 17, 3000);
  EXPECT_FALSE(afpacket::plan_gso(udp.data(), udp.size(), afpacket::kGsoTcpV4, 1448, p));
  Bytes arp(60, 0);
  set16(&arp[12], 0x0806);
  EXPECT_FALSE(afpacket::plan_gso(arp.data(), arp.size(), afpacket::kGsoTcpV4, 1448, p));
}

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
    auto end = std::chrono::steady_clock::now() + timeout;
    Frame* fr[kBatchSize];
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < end) {
      pollfd pf{p.wait_fd(), POLLIN, 0};
      ::poll(&pf, 1, 20);
      std::uint32_t n = p.rx_burst(pool_, fr, kBatchSize);
      for (std::uint32_t i = 0; i < n; ++i) {
        if (!done) done = pred(Bytes(fr[i]->data, fr[i]->data + fr[i]->len));
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

TEST_F(AfPacketPortRoot, PartialChecksumsFromThePeerAreCompleted) {
  const Link l = make_link("198.19.77.1/24");
  ASSERT_EQ(sh("ip -n " + l.ns + " neigh add 198.19.77.2 lladdr 02:00:00:00:77:02 dev " + l.ns_if), 0);
  AfPacketPort port(l.host_if);
  sh(in_ns(l, script("partial.py") + " 198.19.77.2 &"));
  bool syn = false, udp = false;
  receive_until(
      port,
      [&](const Bytes& b) {
        if (b.size() < 34 || be16(&b[12]) != 0x0800 || b[30] != 198 || b[33] != 2) return false;
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
  // With the veth's default tx checksum offload the kernel hands these over as
  // CHECKSUM_PARTIAL: the driver had to finish them.
  EXPECT_GE(port.stats().rx_csum_completed, 2u);
  std::printf("  [info] rx_csum_completed=%llu\n", static_cast<unsigned long long>(port.stats().rx_csum_completed));
}

// UDP with UDP_SEGMENT (USO): the veth hands the super-frame over whole; the port cuts it.
TEST_F(AfPacketPortRoot, UdpGsoSuperFramesAreSegmented) {
  const Link l = make_link("198.19.77.1/24");
  ASSERT_EQ(sh("ip -n " + l.ns + " neigh add 198.19.77.2 lladdr 02:00:00:00:77:02 dev " + l.ns_if), 0);
  write("uso.py", R"(import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(17, 103, 1000)  # UDP_SEGMENT
u.sendto(bytes(range(250)) * 14, ("198.19.77.2", 7777))
)");
  AfPacketPort port(l.host_if);
  ASSERT_EQ(sh(in_ns(l, script("uso.py"))), 0);
  std::vector<Bytes> got;
  receive_until(port, [&](const Bytes& b) {
    if (b.size() >= 42 && be16(&b[12]) == 0x0800 && b[23] == 17 && be16(&b[36]) == 7777) got.push_back(b);
    return got.size() == 4;
  });
  ASSERT_EQ(got.size(), 4u) << "3500 bytes in 1000-byte segments";
  Bytes payload;
  for (const Bytes& b : got) {
    EXPECT_TRUE(l4_checksum_ok(b));
    EXPECT_TRUE(ipv4_header_ok(b));
    EXPECT_EQ(be16(&b[38]), b.size() - 34);
    payload.insert(payload.end(), b.begin() + 42, b.end());
  }
  Bytes want;
  for (int i = 0; i < 14; ++i) for (int k = 0; k < 250; ++k) want.push_back(static_cast<std::uint8_t>(k));
  EXPECT_EQ(payload, want);
  EXPECT_EQ(port.stats().rx_gso_frames, 1u);
  EXPECT_EQ(port.stats().rx_gso_segments, 4u);
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
  std::printf("  [info] source: %s  a: gso_frames=%llu segments=%llu csum=%llu dropped=%llu oversize=%llu  tx_fail=%llu\n",
              src_out.c_str(), static_cast<unsigned long long>(sa.rx_gso_frames),
              static_cast<unsigned long long>(sa.rx_gso_segments), static_cast<unsigned long long>(sa.rx_csum_completed),
              static_cast<unsigned long long>(sa.rx_gso_dropped), static_cast<unsigned long long>(sa.rx_oversize),
              static_cast<unsigned long long>(tx_fail.load()));
  EXPECT_GT(sa.rx_gso_frames, 0u) << "the sender's TSO super-frames were segmented";
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
