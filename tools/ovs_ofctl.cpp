// ovs-ofctl: the few OpenFlow commands minimega and libvirt run, answered for briskd.
//
// brisk has no OpenFlow tables: it is always a NORMAL (learning) switch whose bridge interface
// receives ARP and IPv6 neighbour discovery like every other member of the VLAN. So a flow
// whose actions are NORMAL, or LOCAL plus NORMAL (minimega's
// `add-flow <br> dl_type=0x0806,actions=local,normal` and the IPv6 neighbour-solicitation form)
// asks for nothing brisk does not already do: it is accepted after checking the bridge exists.
// Any other action (drop, output:N, mod_vlan_vid, ...) is refused, because pretending to install
// it would change what users believe the switch does.
//
//   ovs-ofctl [-O PROTO] add-flow|add-flows|mod-flows BRIDGE FLOW   (NORMAL flows only)
//   ovs-ofctl del-flows BRIDGE [FLOW]       nothing to delete
//   ovs-ofctl dump-flows BRIDGE             the one implicit flow: actions=NORMAL
//   ovs-ofctl show BRIDGE                   the bridge's ports
//   ovs-ofctl -V
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "control/validate.hpp"
#include "tools/client.hpp"

namespace {

int die(const std::string& msg) {
  std::fprintf(stderr, "ovs-ofctl: %s\n", brisk::printable(msg).c_str());
  return 1;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "" when every action of the flow is NORMAL or LOCAL (and at least one is NORMAL).
std::string check_flow(const std::string& flow) {
  std::string f = lower(flow);
  auto pos = f.find("actions=");
  if (pos == std::string::npos) return "flow \"" + flow + "\" has no actions";
  std::string acts = f.substr(pos + 8);
  bool normal = false;
  std::size_t start = 0;
  while (start <= acts.size()) {
    std::size_t comma = acts.find(',', start);
    std::string a = acts.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    a.erase(std::remove(a.begin(), a.end(), ' '), a.end());
    if (a == "normal") {
      normal = true;
    } else if (a != "local" && !a.empty()) {
      return "action \"" + a + "\" is not supported: brisk has no OpenFlow tables and accepts only "
             "flows whose actions are NORMAL (and LOCAL)";
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!normal) return "flow \"" + flow + "\" does not use NORMAL: brisk has no OpenFlow tables";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  unsigned timeout = 0;
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    if (w == "-V" || w == "--version") {
      std::printf("ovs-ofctl (Open vSwitch) 2.17.0\nOpenFlow versions 0x1:0x6\n"
                  "(brisk compatibility front end)\n");
      return 0;
    }
    if (w == "-h" || w == "--help") {
      std::printf("ovs-ofctl (brisk front end)\nusage: ovs-ofctl [-O PROTO] add-flow|del-flows|"
                  "dump-flows|show BRIDGE [FLOW]\nonly NORMAL flows are accepted\n");
      return 0;
    }
    if (w == "-O" || w == "--protocols") {
      ++i;
      continue;
    }
    if (w.rfind("--protocols=", 0) == 0 || w.rfind("-O", 0) == 0 || w == "--strict" ||
        w.rfind("--timeout=", 0) == 0 || w.rfind("-v", 0) == 0 || w == "--readd" ||
        w == "--bundle") {
      if (w.rfind("--timeout=", 0) == 0) timeout = static_cast<unsigned>(std::atoi(w.c_str() + 10));
      continue;
    }
    args.push_back(w);
  }
  if (args.size() < 2) return die("missing command or bridge (use --help for help)");
  const std::string cmd = args[0], bridge = args[1];
  std::string sock = brisk::client::default_socket();
  auto b = brisk::client::run(sock, {"bridge"}, timeout);
  if (!b.reached) return die(b.text + " (is briskd running? set BRISK_SOCKET)");
  bool exists = false;
  for (const auto& x : b.data) exists = exists || x.value("bridge", "") == bridge;
  if (!exists) return die(bridge + " is not a bridge or a socket");

  if (cmd == "add-flow" || cmd == "mod-flows" || cmd == "add-flows") {
    if (args.size() != 3) return die("'" + cmd + "' command requires 2 arguments");
    std::vector<std::string> flows;
    if (cmd == "add-flows") {
      std::ifstream in(args[2]);
      if (!in) return die(args[2] + ": open failed");
      for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#') flows.push_back(line);
    } else {
      flows.push_back(args[2]);
    }
    for (const auto& f : flows)
      if (std::string e = check_flow(f); !e.empty()) return die(e);
    return 0;
  }
  if (cmd == "del-flows") return 0;
  if (cmd == "dump-flows") {
    std::printf(" cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL\n");
    return 0;
  }
  if (cmd == "show") {
    auto p = brisk::client::run(sock, {"port"}, timeout);
    if (!p.ok) return die(p.text);
    std::printf("OFPT_FEATURES_REPLY: brisk bridge %s\n", brisk::printable(bridge).c_str());
    int n = 1;
    for (const auto& x : p.data) {
      if (x.value("bridge", "") != bridge) continue;
      std::string name = brisk::printable(x.value("port", ""));
      if (x.value("kind", "") == "internal")
        std::printf(" LOCAL(%s): kind internal\n", name.c_str());
      else
        std::printf(" %d(%s): kind %s\n", n++, name.c_str(), x.value("kind", "").c_str());
    }
    return 0;
  }
  return die("unknown command '" + cmd + "'; use --help for help");
}
