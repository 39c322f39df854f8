// brisk: the command-line client of briskd.
//   brisk [--socket PATH] [--json] <command words...>
// Prints the daemon's reply; exits 0 on success, 1 after an "E: " line, 2 when the daemon
// cannot be reached (or its socket is not trusted: control/socket_path.hpp).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "control/validate.hpp"
#include "tools/client.hpp"

namespace {
const char* kHelp = R"(usage: brisk [--socket PATH] [--json] <command words...>
Sends one command to briskd and prints its answer: exit 0 on success, 1 after an "E: " line,
2 when briskd cannot be reached.

options:
  --socket PATH   briskd's control socket (default $BRISK_SOCKET, else /run/brisk/brisk.sock)
  --json          print the answer as JSON (errors as {"error": "..."})
  -h, --help      this text

commands (minimega's tap and bridge, plus brisk's own; `brisk help` asks briskd):
)";

// Generated from the command table (control/commands.hpp) when brisk is built.
const char* kCommands =
#include "brisk_commands.inc"
    ;

const char* kExamples = R"(
examples:
  brisk tap create 10 name web ip 198.18.0.1/24
  brisk --json port
Full reference: docs/commands.md.
)";
}  // namespace

int main(int argc, char** argv) {
  std::string socket = "/run/brisk/brisk.sock";
  if (const char* env = std::getenv("BRISK_SOCKET")) socket = env;
  bool json = false;
  std::vector<std::string> words;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (a == "--json") {
      json = true;
    } else if (a == "--help" || a == "-h") {
      std::printf("%s%s%s", kHelp, kCommands, kExamples);
      return 0;
    } else {
      break;
    }
  }
  for (; i < argc; ++i) words.emplace_back(argv[i]);
  if (words.empty()) words = {"help"};
  // `capture pcap tap|bridge <name> <file>`: the daemon writes the file, so a relative path
  // means the client's working directory.
  if (words.size() >= 5 && words[0] == "capture" && words[1] == "pcap" && !words[4].empty() &&
      words[4][0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) != nullptr) words[4] = std::string(cwd) + "/" + words[4];
  }

  brisk::client::Answer a = brisk::client::run(socket, words);
  if (!a.reached) {
    std::fprintf(stderr, "E: %s\n", a.text.c_str());
    return 2;
  }
  // What reaches the terminal is printable (control/validate.hpp): names with terminal escapes
  // show as \xNN, JSON as \uNNNN (ensure_ascii).
  if (!a.ok) {
    const std::string& text = a.text;
    if (json) {
      std::printf("%s\n", nlohmann::json{{"error", text}}.dump(2, ' ', true).c_str());
    }
    std::fprintf(stderr, "E: %s\n", brisk::printable(text).c_str());
    return 1;
  }
  if (json) {
    std::printf("%s\n", a.data.dump(2, ' ', true).c_str());
  } else {
    std::string text = brisk::printable(a.text, /*multiline=*/true);
    if (!text.empty()) std::printf("%s%s", text.c_str(), text.back() == '\n' ? "" : "\n");
  }
  return 0;
}
