// libFuzzer target: the command grammar (control/commands.cpp) against a real Switch with
// memory ports, plus a frame through every port afterwards so each resulting snapshot is used.
//
// Input: text; each line is one command, split into words on blanks (as the client sends
// argv). At most 64 commands per input; the switch is reset with `nuke` after each input.
// The Switch has no bridge interfaces, so `tap create ... ip|dhcp` touches nothing on the host;
// ports are memory ports whatever the command asks for.
// Checked beyond the sanitizers (the project's rule "every bad command gets one clear error
// line and changes nothing"):
//   * an error reply is one non-empty line
//   * a refused command leaves bridges, taps, ports, security settings and the FDB unchanged
//   * frames injected afterwards all return to the pool
#include <syslog.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace {

using brisk::test::Harness;

constexpr std::size_t kMaxCommands = 64;

[[noreturn]] void die(const std::string& what) { brisk::fuzz::die("fuzz_commands", what); }

Harness& setup() { return brisk::fuzz::harness(); }

std::string state(Harness& h) {
  std::string s;
  for (const char* c : {"bridge", "tap", "port", "port security", "fdb"}) {
    brisk::Reply r = h.cmd(c);
    s += r.text;
    s += '\n';
  }
  return s;
}

}  // namespace

// The switch logs through syslog (DENY lines, taps created...); millions of runs must not
// flood the host's log, so only LOG_EMERG (never used) would pass. The code paths still run.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setlogmask(LOG_MASK(LOG_EMERG));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness& h = setup();
  std::string text(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0, n = 0;
  std::string before = state(h);
  while (pos <= text.size() && n < kMaxCommands) {
    std::size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    std::vector<std::string> argv;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      std::size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
      if (j > i) argv.push_back(line.substr(i, j - i));
      i = j;
    }
    if (argv.empty()) continue;
    ++n;
    brisk::CommandSet cmds(h.sw());
    brisk::Reply r = cmds.run(argv);
    std::string after = state(h);
    if (!r.ok) {
      if (r.text.empty()) die("empty error for '" + line + "'");
      if (r.text.find('\n') != std::string::npos)
        die("multi-line error for '" + line + "': " + r.text);
      if (after != before) die("refused command '" + line + "' changed the switch");
    }
    before = std::move(after);
  }
  // Every port of the resulting configuration forwards a broadcast and a tagged frame.
  h.prune();
  for (const std::string& p : h.port_names()) {
    h.port(p).inject(
        brisk::test::FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:07").build());
    h.port(p).inject(brisk::test::FrameBuilder()
                         .to("02:00:00:00:00:08")
                         .from("02:00:00:00:00:09")
                         .tagged(10)
                         .build());
  }
  h.pump();
  h.sent();
  brisk::WorkerContext& ctx = h.dp().context(0);
  if (ctx.pool.available() != ctx.pool.capacity()) die("a frame was not returned to its pool");
  if (!h.cmd("nuke").ok) die("nuke failed");
  h.prune();
  return 0;
}
