// brisk-xdpgen: a minimal 64-byte frame generator and counting sink for measuring brisk
// between veths (tools/bench_fastpath.sh). Not part of briskd.
//
//   brisk-xdpgen send <dev> <dst-mac> <src-mac> <seconds>
//       Sends 64-byte UDP frames (to port 9) out of <dev> for <seconds>, using XDP live
//       frames: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES runs xdpgen_tx (XDP_TX) on
//       a template frame, so the kernel transmits each copy without a socket or skb.
//   brisk-xdpgen sink <dev> <warmup-s> <seconds>
//       Attaches xdpgen_sink (native XDP) to <dev>, which drops and counts those frames;
//       after <warmup-s> prints the rate over <seconds> as "<frames/s>"; detaches.
// Run each inside the namespace that holds <dev> (ip netns exec). BPF object: the build's
// xdpgen.bpf.o next to brisk_xdp.o (BRISK_XDPGEN_OBJ), or $BRISK_BPF_DIR/xdpgen.bpf.o.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#ifndef BRISK_XDPGEN_OBJ
#define BRISK_XDPGEN_OBJ "xdpgen.bpf.o"
#endif

namespace {

int die(const std::string& m) {
  std::fprintf(stderr, "brisk-xdpgen: %s\n", m.c_str());
  return 1;
}

bool parse_mac(const char* s, unsigned char* m) {
  unsigned v[6];
  if (std::sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) m[i] = static_cast<unsigned char>(v[i]);
  return true;
}

std::uint16_t ip_csum(const unsigned char* p, int n) {
  std::uint32_t s = 0;
  for (int i = 0; i < n; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

bpf_object* open_obj() {
  std::string path = BRISK_XDPGEN_OBJ;
  if (const char* d = std::getenv("BRISK_BPF_DIR")) path = std::string(d) + "/xdpgen.bpf.o";
  bpf_object* o = bpf_object__open_file(path.c_str(), nullptr);
  if (o == nullptr || bpf_object__load(o) != 0) return nullptr;
  return o;
}

std::uint64_t sum_count(int fd) {
  int n = libbpf_num_possible_cpus();
  std::vector<std::uint64_t> v(static_cast<std::size_t>(n));
  std::uint32_t k = 0;
  if (bpf_map_lookup_elem(fd, &k, v.data()) != 0) return 0;
  std::uint64_t t = 0;
  for (auto x : v) t += x;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  if (argc >= 6 && std::strcmp(argv[1], "send") == 0) {
    int ifindex = static_cast<int>(if_nametoindex(argv[2]));
    if (ifindex == 0) return die(std::string("no such device: ") + argv[2]);
    unsigned char f[60] = {};
    if (!parse_mac(argv[3], f) || !parse_mac(argv[4], f + 6)) return die("bad MAC");
    f[12] = 0x08;  // IPv4
    unsigned char* ip = f + 14;
    ip[0] = 0x45;
    ip[3] = 46;  // total length: 20 + 8 + 18
    ip[8] = 64;
    ip[9] = 17;
    const unsigned char addrs[8] = {198, 18, 99, 1, 198, 18, 99, 2};
    std::memcpy(ip + 12, addrs, 8);
    std::uint16_t c = ip_csum(ip, 20);
    ip[10] = static_cast<unsigned char>(c >> 8);
    ip[11] = static_cast<unsigned char>(c);
    unsigned char* udp = ip + 20;
    udp[0] = 0x0f;  // source port 4000
    udp[1] = 0xa0;
    udp[3] = 9;     // destination port 9 (discard)
    udp[5] = 26;    // length; checksum 0 (none)
    bpf_object* o = open_obj();
    if (o == nullptr) return die("cannot load xdpgen.bpf.o");
    int prog = bpf_program__fd(bpf_object__find_program_by_name(o, "xdpgen_tx"));
    xdp_md ctx{};
    ctx.ingress_ifindex = static_cast<std::uint32_t>(ifindex);
    ctx.data_end = sizeof(f);  // the kernel wants data_end == the frame size
    auto end = Clock::now() + std::chrono::duration<double>(std::atof(argv[5]));
    std::uint64_t sent = 0;
    while (Clock::now() < end) {
      bpf_test_run_opts o2{};
      o2.sz = sizeof(o2);
      o2.data_in = f;
      o2.data_size_in = sizeof(f);
      o2.ctx_in = &ctx;
      o2.ctx_size_in = sizeof(ctx);
      o2.repeat = 1u << 18;
      o2.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
      o2.batch_size = 64;
      if (int rc = bpf_prog_test_run_opts(prog, &o2); rc != 0)
        return die("BPF_PROG_TEST_RUN live frames failed: " + std::string(std::strerror(-rc)));
      sent += o2.repeat;
    }
    std::printf("%llu\n", static_cast<unsigned long long>(sent));
    bpf_object__close(o);
    return 0;
  }
  if (argc >= 5 && std::strcmp(argv[1], "sink") == 0) {
    int ifindex = static_cast<int>(if_nametoindex(argv[2]));
    if (ifindex == 0) return die(std::string("no such device: ") + argv[2]);
    bpf_object* o = open_obj();
    if (o == nullptr) return die("cannot load xdpgen.bpf.o");
    int prog = bpf_program__fd(bpf_object__find_program_by_name(o, "xdpgen_sink"));
    int map = bpf_map__fd(bpf_object__find_map_by_name(o, "xdpgen_count"));
    if (bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, nullptr) != 0)
      return die("cannot attach the sink to " + std::string(argv[2]));
    std::printf("ready\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(std::atof(argv[3])));
    auto t0 = Clock::now();
    std::uint64_t c0 = sum_count(map);
    std::this_thread::sleep_for(std::chrono::duration<double>(std::atof(argv[4])));
    std::uint64_t c1 = sum_count(map);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr);
    std::printf("%.0f\n", static_cast<double>(c1 - c0) / dt);
    bpf_object__close(o);
    return 0;
  }
  std::fprintf(stderr,
               "usage: brisk-xdpgen send <dev> <dst-mac> <src-mac> <seconds>\n"
               "       brisk-xdpgen sink <dev> <warmup-s> <seconds>\n");
  return 2;
}
