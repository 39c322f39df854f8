#include "bench/harness/generator.hpp"

#include <stdexcept>

#include "bench/harness/gen_afxdp.hpp"
#include "bench/harness/gen_loop.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {

GenKind parse_gen_kind(const std::string& s) {
  if (s == "auto") return GenKind::automatic;
  if (s == "live") return GenKind::live;
  if (s == "loop") return GenKind::loop;
  if (s == "afxdp") return GenKind::afxdp;
  throw std::invalid_argument("unknown generator '" + s + "' (auto, live, loop, afxdp)");
}

const char* gen_kind_name(GenKind k) {
  switch (k) {
    case GenKind::automatic:
      return "auto";
    case GenKind::live:
      return "live";
    case GenKind::loop:
      return "loop";
    case GenKind::afxdp:
      return "afxdp";
  }
  return "?";
}

std::unique_ptr<TrafficGenerator> make_generator(GenKind k, BenchBpf& bpf, const LoopDevs& loop) {
  switch (k) {
    case GenKind::live:
      return std::make_unique<LiveFramesGenerator>(bpf);
    case GenKind::loop:
      return std::make_unique<LoopGenerator>(bpf, loop);
    case GenKind::afxdp:
      return std::make_unique<AfXdpGenerator>();
    case GenKind::automatic:
      break;
  }
  throw std::logic_error("make_generator: resolve GenKind::automatic first");
}

}  // namespace bench
