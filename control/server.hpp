// Server: the control thread's loop. Serves commands on a Unix stream socket and runs the
// switch's periodic work (learning, ageing, reclamation) at least every 200 microseconds, so a
// newly learned address is used for forwarding well within a millisecond.
//
// Protocol (one request per connection): the client sends one line of JSON
//   {"argv": ["tap", "create", "10"]}
// and reads one line of JSON back, then the server closes:
//   {"ok": true, "text": "<minimega-style table or message>", "data": <same as JSON>}
// On a refused command ok is false and text holds the message (the client prints "E: text").
// The client's credentials (SO_PEERCRED) go with the command (control/caller.hpp).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/commands.hpp"
#include "control/switch.hpp"

namespace brisk {

class Server {
 public:
  Server(Switch& sw, std::string socket_path);
  ~Server();
  // Bind the socket. Refuses when another briskd answers on it. Returns "" or an error.
  std::string listen();
  // Run until stop() (or a signal that sets the flag passed to run()).
  void run(const std::atomic<bool>& stop);
  // Handle one request line from `caller`; public for tests.
  std::string handle(const std::string& line, const Caller& caller = Caller::self());

  // Hooks for briskd's own services (state store, metrics). All run on the control thread.
  // Commands answered outside the CommandSet (nullopt: not one of them), with help lines.
  std::function<std::optional<Reply>(const std::vector<std::string>&)> extra_commands;
  std::string extra_help;
  // Called before every command, and after every command that succeeded (which may change
  // the reply, or refuse it: the state store's transaction, control/state.hpp).
  std::function<void(const std::vector<std::string>&)> before_command;
  std::function<void(const std::vector<std::string>&, Reply&)> after_command;
  // Called on every loop iteration (at least every 200 us).
  std::function<void()> on_tick;
  // Poll `fd` for input in the loop and call `on_readable` when it has some.
  void watch(int fd, std::function<void()> on_readable);

 private:
  void serve_client(int fd);
  std::vector<std::pair<int, std::function<void()>>> watched_;
  Switch& sw_;
  CommandSet cmds_;
  std::string path_;
  int listen_fd_ = -1;
};

// Seconds on the monotonic clock, the datapath clock's source.
std::uint32_t monotonic_seconds();

}  // namespace brisk
