#include "bench/harness/gen_loop.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "bench/harness/netns.hpp"
#include "bench/harness/proc.hpp"
#include "bench/harness/xdp_traffic.hpp"
#include "bpf/brisk_bench_abi.h"

namespace bench {
namespace {

// Frames put into the loop: a NAPI poll's worth, well below a veth ring's 256 entries, so the
// loop itself never drops.
constexpr int kSeed = 64;

// Sends kSeed copies of `frame` out of `dev` (namespace ns) from a thread pinned to cpu.
// Returns "" or the error.
std::string seed(const std::string& ns, const std::string& dev, int cpu,
                 const std::vector<std::uint8_t>& frame) {
  std::string err;
  std::thread t([&] {
    try {
      NetnsScope scope(ns);
      pin_thread(cpu, 0);
      int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::runtime_error(std::string("packet socket: ") + strerror(errno));
      sockaddr_ll a{};
      a.sll_family = AF_PACKET;
      a.sll_protocol = htons(ETH_P_IP);
      a.sll_ifindex = ifindex_in("", dev);
      a.sll_halen = 6;
      std::memcpy(a.sll_addr, frame.data(), 6);
      for (int i = 0; i < kSeed && err.empty(); ++i)
        if (sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)) <
            0)
          err = std::string("seeding the loop on ") + dev + ": " + strerror(errno);
      close(fd);
    } catch (const std::exception& e) {
      err = e.what();
    }
  });
  t.join();
  return err;
}

void devmap_set(int map, std::uint32_t key, int ifindex) {
  std::uint32_t v = static_cast<std::uint32_t>(ifindex);
  if (bpf_map_update_elem(map, &key, &v, BPF_ANY) != 0)
    throw std::runtime_error("generator: loop devmap: " + std::string(strerror(errno)));
}

}  // namespace

LoopGenerator::~LoopGenerator() {
  stop();
  if (attached_) {
    xdp_detach(devs_.ns, devs_.b);
    xdp_detach(devs_.ns, devs_.a);
  }
}

std::uint64_t LoopGenerator::offered() const { return bpf_.offered(); }

void LoopGenerator::attach() {
  if (attached_) return;
  xdp_attach(devs_.ns, devs_.a, bpf_.loop_back_fd());
  xdp_attach(devs_.ns, devs_.b, bpf_.loop_fd());
  attached_ = true;
}

void LoopGenerator::start(const GenPlace& where, const GenSettings& what) {
  stop();
  attach();
  {
    NetnsScope scope(where.ns);  // devmap entries are resolved in the updater's namespace
    devmap_set(bpf_.loop_devs_fd(), BENCH_LOOP_DEV_SELF, ifindex_in("", devs_.b));
    devmap_set(bpf_.loop_devs_fd(), BENCH_LOOP_DEV_OUT, ifindex_in("", where.dev));
  }
  bpf_.set_gen_config(what.nmacs, what.stamp_mask);
  bpf_.set_gen_rate(what.rate_fps);
  bpf_.set_loop_stop(false);
  std::uint64_t before = offered();
  if (std::string e = seed(devs_.ns, devs_.a, where.cpu, where.frame); !e.empty())
    throw std::runtime_error("generator: " + e);
  running_ = true;
  for (int i = 0; i < 100 && offered() == before; ++i) sleep_s(0.002);
  if (offered() == before) {
    stop();
    throw std::runtime_error("generator: the XDP loop sent nothing (devmap broadcast refused?)");
  }
}

void LoopGenerator::stop() noexcept {
  if (!running_) return;
  running_ = false;
  try {
    bpf_.set_loop_stop(true);
    // The frames are dropped at their next turn; wait until the count stands still (1 s
    // at most).
    std::uint64_t last = offered();
    for (int i = 0; i < 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::uint64_t now = offered();
      if (now == last) break;
      last = now;
    }
  } catch (...) {
  }
}

}  // namespace bench
