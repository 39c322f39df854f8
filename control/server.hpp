// Server: the control thread's loop. Serves commands on a Unix stream socket (and any further
// service given to serve()), polls the descriptors given to watch() (the OVSDB client's
// connection; the metrics' snapshot requests, control/metrics.hpp), and runs the switch's
// periodic work (learning, ageing, reclamation, counters, fast-path refresh; then on_tick: the
// state store) at least every 5 ms, every 200 microseconds while there is work, so a newly learned
// address is used for forwarding well within a millisecond.
//
// Protocol (one request per connection): the client sends one line of JSON
//   {"argv": ["tap", "create", "10"]}
// and reads one line of JSON back, then the server closes:
//   {"ok": true, "text": "<minimega-style table or message>", "data": <same as JSON>}
// On a refused command ok is false and text holds the message (the client prints "E: text").
// A request is at most 64 KiB (kMaxRequestBytes) before its "\n"; a peer that closes its side
// after a request without "\n" is answered too. Refused without running anything, answered
// as a refused command (ok false) and closed:
//   * "request too long: ..."     more than 64 KiB before the end of the line;
//   * "request timed out: ..."    no complete request within 5 s of connecting;
//   * "too many connections: ..." 64 connections are open already (kMaxControlConns).
// A reply not taken by the client within 10 s of being ready: the client is dropped.
//
// Concurrency: many clients at once, served by one thread. Every socket is non-blocking and
// the loop never waits on one client: it polls the listening sockets, the watched fds and
// every connection, reads what has arrived into that connection's request buffer, writes what
// the socket takes from its reply buffer, and moves on. So a slow, idle or stuck client
// delays no other client; only the commands themselves take the control thread's time. The
// commands still run one at a time, in the order their requests completed, on the control
// thread: the Switch model is not thread-safe, and this is concurrency of I/O only.
//
// Ownership and threads:
//   * Everything here runs on the control thread, the one that calls run(): Server is not
//     thread-safe and shares nothing with the workers except through the Switch.
//   * The Server owns each connection's socket and its Conn (control/conn.hpp), which owns the
//     request buffer (bytes read, at most max_request + a terminator) and the reply buffer (the
//     answer, until the socket has taken all of it). Both die with the connection: when the
//     reply is sent, when the peer goes away, when a deadline passes, or in ~Server.
//   * A service's answer() runs on the control thread and returns the reply by value; the
//     Conn keeps it. Nothing outside the Server holds a pointer into these buffers.
//   * watch() callbacks and on_tick run on the control thread, between I/O steps.
//
// Order of one loop iteration (the periods are those of the blocking server this replaced):
//   ppoll (listening sockets, watched fds, connections; timeout: the tick period, 200 us
//   while busy, doubling to 5 ms while idle) -> watched fds' callbacks -> read / write the
//   connections that are ready -> accept new connections (at most 64 a round) and read what
//   they sent already -> deadlines -> answer each complete request (one command each;
//   Switch::tick after each, as before) and start writing its reply -> close finished
//   connections -> Switch::tick -> on_tick.
//
// Each connection's peer credentials (SO_PEERCRED, read at accept) go with its command as the
// Caller (control/caller.hpp): what briskd does with a path a client names, it does with the
// client's identity.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/caller.hpp"
#include "control/commands.hpp"
#include "control/conn.hpp"
#include "control/switch.hpp"

namespace brisk {

// Connections the control socket serves at once; the next one is refused.
inline constexpr std::size_t kMaxControlConns = 64;

// Why a connection is answered without its request being served.
enum class Refusal { kTooLong, kTimedOut, kTooMany };

// One kind of connection the loop serves on one listening socket.
struct Service {
  std::string name;  // for the log: "control socket /run/brisk/brisk.sock"
  Framing framing = kLineFraming;
  ConnDeadlines deadlines;
  std::size_t max_conns = kMaxControlConns;
  // The bytes answering a complete request (control thread; may run commands).
  std::function<std::string(std::string_view request, const Caller& caller)> answer;
  // The bytes sent instead of an answer.
  std::function<std::string(Refusal)> refuse;
};

// The argv of a control request line ({"argv": [words...]}), or nullopt when it is not one.
std::optional<std::vector<std::string>> parse_request(std::string_view line);

class Server {
 public:
  Server(Switch& sw, std::string socket_path);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bind the control socket: its directory is made (0750) or checked, and only a stale
  // socket at the path is replaced (control/socket_path.hpp). Returns "" or an error.
  std::string listen();
  // Serve `service` on the listening socket `fd` (non-blocking; the caller keeps it open
  // while the Server lives) in the same loop.
  void serve(int fd, Service service);
  // Run until the flag is set (by a signal handler, or another thread in tests).
  void run(const std::atomic<bool>& stop);
  // Handle one request line from `caller`; public for tests.
  std::string handle(std::string_view line, const Caller& caller = Caller::self());
  // Connections open now (all services).
  std::size_t connections() const { return clients_.size(); }

  // Deadlines of control connections (set before listen(); tests shorten them).
  ConnDeadlines control_deadlines;

  // What `state`, `state retry` and `state forget` act on (control/commands.hpp).
  void set_state(StateStore* state) { cmds_.set_state(state); }

  // Hooks for briskd's own services (state store). All run on the control thread.
  // A test's own commands, answered before the command table (nullopt: not one of them);
  // briskd sets none: every command it serves is in the table.
  std::function<std::optional<Reply>(const std::vector<std::string>&)> extra_commands;
  // Called before every command, and after every command that succeeded (which may change
  // the reply, or refuse it: the state store's transaction, control/state.hpp).
  std::function<void(const std::vector<std::string>&)> before_command;
  std::function<void(const std::vector<std::string>&, Reply&)> after_command;
  // Called on every loop iteration (at least every 5 ms).
  std::function<void()> on_tick;
  // Poll `fd` for input in the loop and call `on_readable` when it has some.
  void watch(int fd, std::function<void()> on_readable);
  // The same for a descriptor that changes (a client that reconnects): `fd` is asked on every
  // iteration; a negative answer is not polled.
  void watch(std::function<int()> fd, std::function<void()> on_readable);

 private:
  struct Listener {
    int fd;
    Service service;
    std::uint64_t refused = 0;  // connections refused as too many (logged, rate-limited)
    ConnClock::time_point last_warning{};
  };
  struct Client {
    int fd;
    std::size_t listener;  // index into listeners_
    Conn conn;
    Caller caller;  // the peer's credentials
  };
  static Caller peer_of(int fd);
  Service control_service();
  void accept_all(std::size_t listener);
  void refuse_excess(Listener& l, int fd);
  static void read_from(Client& c);
  static void write_to(Client& c);
  void answer(Client& c);
  void close_finished();

  std::vector<std::pair<std::function<int()>, std::function<void()>>> watched_;
  std::vector<Listener> listeners_;
  std::vector<Client> clients_;
  Switch& sw_;
  CommandSet cmds_;
  std::string path_;
  int listen_fd_ = -1;
};

// Seconds on the monotonic clock, the datapath clock's source.
std::uint32_t monotonic_seconds();

}  // namespace brisk
