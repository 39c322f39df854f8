// briskd: the brisk switch daemon. Started with no arguments it creates the bridge
// `mega_bridge` (with its own host interface of that name) and serves commands on
// /run/brisk/brisk.sock until SIGINT or SIGTERM.
#include <signal.h>
#include <syslog.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "control/commands.hpp"
#include "control/memory.hpp"
#include "control/metrics.hpp"
#include "control/ovsdb_client.hpp"
#include "control/server.hpp"
#include "control/state.hpp"
#include "control/switch.hpp"
#include "control/validate.hpp"
#include "datapath/bpf_objects.hpp"
#include "datapath/dpdk_env.hpp"
#include "datapath/worker.hpp"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

const char* kUsage = R"(usage: briskd [options]
  --socket PATH          control socket (default /run/brisk/brisk.sock)
  --state FILE           configuration written on every change and replayed at start
                         (default /var/lib/brisk/state.json; a missing file is fine)
  --no-state             keep no state file
  --ovsdb REMOTE         play ovs-vswitchd's part for an Open vSwitch database served by
                         ovsdb-server at unix:PATH or tcp:IP:PORT (docs/operations.md)
  --metrics ADDR:PORT    serve Prometheus metrics over HTTP, e.g. 127.0.0.1:9480 (default off)
  --workers N            worker threads (default 1)
  --cpus LIST            pin workers to these CPUs, e.g. 0,1 (default: not pinned)
  --poll adaptive|busy   adaptive (default): workers sleep in poll(2) after ~2000 idle
                         iterations; busy: workers spin, one core each
  --default-bridge NAME  the bridge created at start (default mega_bridge)
  --tap-prefix PREFIX    prefix of generated tap names (default mega_tap)
  --xdp-fastpath on|off  forward learned unicast between AF_XDP ports (native XDP) inside
                         brisk's XDP program (default on)
  --afxdp-xdp auto|native|generic
                         how AF_XDP ports attach brisk's XDP program. auto (default):
                         generic on veths, whose peers then keep TSO (super-frames forwarded
                         whole by the fast path's tc half), native elsewhere; native: the
                         fastest for 64-byte frames and the only mode XDP senders reach
  --afxdp-umem shared|private
                         shared (default): the AF_XDP ports of one worker share one UMEM and
                         frames between them are forwarded without a copy; private: one
                         UMEM per port, every frame copied
  --print-commands text|markdown
                         print the command list (as `brisk help`) or the command reference
                         of docs/commands.md, and exit
  --version, --help
)";

bool parse_cpus(const std::string& s, std::vector<int>& out) {
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) return false;
    out.push_back(std::stoi(item));
  }
  return !out.empty();
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket = "/run/brisk/brisk.sock";
  std::string state_path = "/var/lib/brisk/state.json";
  std::string metrics_addr;
  std::string ovsdb_remote;
  unsigned workers = 1;
  std::vector<int> cpus;
  brisk::PollMode mode = brisk::PollMode::kAdaptive;
  brisk::SwitchOptions opts;
  opts.xdp_fastpath = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "briskd: %s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--socket") {
      socket = value();
    } else if (a == "--state") {
      state_path = value();
      if (state_path.empty()) {
        std::fprintf(stderr, "briskd: --state wants a file (or use --no-state)\n");
        return 2;
      }
    } else if (a == "--no-state") {
      state_path.clear();
    } else if (a == "--ovsdb") {
      ovsdb_remote = value();
      if (std::string e = brisk::check_ovsdb_remote(ovsdb_remote); !e.empty()) {
        std::fprintf(stderr, "briskd: --ovsdb: %s\n", e.c_str());
        return 2;
      }
    } else if (a == "--metrics") {
      metrics_addr = value();
    } else if (a == "--workers") {
      std::string v = value();
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 3 ||
          std::stoul(v) == 0 || std::stoul(v) > brisk::kMaxWorkers) {
        std::fprintf(stderr, "briskd: --workers wants 1-%u\n", brisk::kMaxWorkers);
        return 2;
      }
      workers = static_cast<unsigned>(std::stoul(v));
    } else if (a == "--cpus") {
      if (!parse_cpus(value(), cpus)) {
        std::fprintf(stderr, "briskd: --cpus wants a list like 0,1\n");
        return 2;
      }
    } else if (a == "--poll") {
      std::string v = value();
      if (v == "busy") {
        mode = brisk::PollMode::kBusy;
      } else if (v != "adaptive") {
        std::fprintf(stderr, "briskd: --poll wants adaptive or busy\n");
        return 2;
      }
    } else if (a == "--default-bridge") {
      opts.default_bridge = value();
    } else if (a == "--tap-prefix") {
      opts.tap_prefix = value();
      // Generated tap names are the prefix and a number: interface names (validate.hpp).
      if (std::string e = brisk::check_ifname("--tap-prefix", opts.tap_prefix + "0"); !e.empty()) {
        std::fprintf(stderr, "briskd: %s\n", e.c_str());
        return 2;
      }
    } else if (a == "--xdp-fastpath") {
      std::string v = value();
      if (v != "on" && v != "off") {
        std::fprintf(stderr, "briskd: --xdp-fastpath wants on or off\n");
        return 2;
      }
      opts.xdp_fastpath = v == "on";
    } else if (a == "--afxdp-xdp") {
      std::string v = value();
      using XdpMode = brisk::AfXdpOptions::XdpMode;
      if (v == "auto") {
        opts.afxdp_xdp = XdpMode::kAuto;
      } else if (v == "native") {
        opts.afxdp_xdp = XdpMode::kNative;
      } else if (v == "generic") {
        opts.afxdp_xdp = XdpMode::kGeneric;
      } else {
        std::fprintf(stderr, "briskd: --afxdp-xdp wants auto, native or generic\n");
        return 2;
      }
    } else if (a == "--afxdp-umem") {
      std::string v = value();
      if (v != "shared" && v != "private") {
        std::fprintf(stderr, "briskd: --afxdp-umem wants shared or private\n");
        return 2;
      }
      opts.afxdp_shared_umem = v == "shared";
    } else if (a == "--print-commands") {
      std::string v = value();
      if (v != "text" && v != "markdown") {
        std::fprintf(stderr, "briskd: --print-commands wants text or markdown\n");
        return 2;
      }
      std::string out = v == "text" ? brisk::command_help(brisk::CommandSet::table())
                                    : brisk::CommandSet::markdown();
      std::fwrite(out.data(), 1, out.size(), stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("briskd 0.1.0\n");
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      std::fprintf(stderr, "briskd: unknown option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  brisk::tune_allocator();  // large answers' memory goes back to the system (memory.hpp)
  openlog("briskd", LOG_PERROR | LOG_PID, LOG_DAEMON);
  // rte_eal_init() calls openlog() itself; DPDK ports restore this afterwards.
  brisk::DpdkEnv::instance().set_syslog("briskd", LOG_PERROR | LOG_PID, LOG_DAEMON);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    brisk::Datapath dp(workers, cpus, mode);
    brisk::Switch sw(dp, opts);
    brisk::Server server(sw, socket);
    if (std::string err = server.listen(); !err.empty()) {
      std::fprintf(stderr, "briskd: %s\n", err.c_str());
      return 1;
    }
    brisk::Reply r = sw.ensure_bridge(opts.default_bridge);
    if (!r.ok) {
      std::fprintf(stderr, "briskd: cannot create bridge %s: %s\n", opts.default_bridge.c_str(),
                   r.text.c_str());
      return 1;
    }
    // Replay the saved configuration, then write the state after every successful command
    // and whenever the configuration changes on its own (a vanished device).
    brisk::StateStore state(state_path);
    brisk::ReplayReport replayed;
    if (std::string err = state.load(sw, replayed); !err.empty()) {
      std::fprintf(stderr, "briskd: %s\n", err.c_str());
      return 1;
    }
    if (std::string err = state.sync(sw); !err.empty())
      std::fprintf(stderr, "briskd: state: %s\n", err.c_str());
    server.set_state(&state);
    // Every command is a transaction: a change is written to the state file before the client
    // hears of it, or undone and refused (control/state.hpp, "Durable commands").
    brisk::StateStore::Checkpoint before;
    server.before_command = [&](const std::vector<std::string>&) { before = state.checkpoint(sw); };
    server.after_command = [&](const std::vector<std::string>&, brisk::Reply& reply) {
      if (std::string err = state.commit(sw, before); !err.empty())
        reply = brisk::Reply::error("not applied: the state file cannot be written (" + err +
                                    "); the change was undone");
    };
    // The Open vSwitch database's objects (control/ovsdb_client.hpp), made after the state
    // file's native ones; the state file leaves them out.
    std::unique_ptr<brisk::OvsdbClient> ovsdb;
    if (!ovsdb_remote.empty()) {
      ovsdb = std::make_unique<brisk::OvsdbClient>(sw, ovsdb_remote);
      server.watch([&] { return ovsdb->fd(); }, [&] { ovsdb->on_readable(); });
    }
    server.on_tick = [&] {
      if (ovsdb) ovsdb->tick();
      state.sync(sw, /*force_compare=*/false);
    };
    // Scrapes are served by the metrics' own threads; their snapshots are made here, by the
    // control thread's loop (control/metrics.hpp).
    std::unique_ptr<brisk::MetricsServer> metrics;
    if (!metrics_addr.empty()) {
      metrics = std::make_unique<brisk::MetricsServer>(sw, [&] {
        return std::vector<brisk::ExtraMetric>{
            {"brisk_state_writes_total", "State file writes since start.", true, state.writes()},
            {"brisk_state_pending", "State entries that could not be restored.", false,
             state.pending_count()}};
      });
      if (std::string err = metrics->listen(metrics_addr); !err.empty()) {
        std::fprintf(stderr, "briskd: %s\n", err.c_str());
        return 1;
      }
      server.watch(metrics->channel().fd(), [&] { metrics->channel().serve(); });
      syslog(LOG_INFO, "metrics on http://%s/metrics", metrics_addr.c_str());
    }
    dp.start();
    // Where AF_XDP ports and the XDP fast path load their program from, or why they cannot.
    if (brisk::BpfObjectSearch bpf = brisk::search_bpf_object(brisk::kXdpObject); bpf.found())
      syslog(LOG_INFO, "XDP program %s", bpf.path.c_str());
    else
      syslog(LOG_WARNING, "AF_XDP ports cannot be added: %s", bpf.error().c_str());
    syslog(LOG_INFO, "serving %s with %u worker(s), bridge %s, XDP fast path %s", socket.c_str(),
           workers, opts.default_bridge.c_str(), sw.fastpath_enabled() ? "on" : "off");
    server.run(g_stop);
    syslog(LOG_INFO, "stopping");
    dp.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "briskd: %s\n", e.what());
    return 1;
  }
  return 0;
}
