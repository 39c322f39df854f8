// libFuzzer target: the control server's input handling (control/conn.hpp, parse_request in
// control/server.hpp) as the server's loop drives it, for many clients at once, with their
// bytes cut into arbitrary chunks and interleaved, and a simulated clock. No sockets: the
// input is a script of socket events.
//
// Input: records of an opcode byte and its arguments (an input that ends half-way ends the
// script):
//   0 open <cfg>            a client connects (at most 16), with the control protocol's line
//                           framing: cfg & 0x80 the real size cap (64 KiB), else a small one:
//                           1 + ((cfg >> 1) & 63) * 8
//   1 feed <c> <n> <n bytes> the socket of client c gives n bytes
//   2 eof <c>               client c closes its side
//   3 wait <t>              the clock moves t * 40 ms; every deadline is checked (expire)
//   4 take <c> <n>          client c's socket takes up to n * 8 + 1 bytes of its reply
//   5 feed-all <n> <bytes>  the same n bytes reach every client (interleaving)
// After each step, as the server does, every connection with a complete request (or a
// refusal) is answered: a control request with its argv echoed as a request line.
//
// Checked beyond the sanitizers, against a model that reads each client's whole stream at
// once (so the outcome cannot depend on how the bytes were cut):
//   * the request is the stream's bytes before its first terminator when there are at most
//     max_request of them, else the connection is refused as too long, as soon as the stream
//     decides it; at end of stream the bytes so far are the request (none: closed);
//   * no more than max_request + terminator bytes are ever buffered;
//   * a connection still reading at its request deadline is refused as timed out, not before;
//   * the reply leaves in order, whole, and the connection closes after its last byte, or when
//     the reply deadline passes (kNotTaken), not before;
//   * parse_request never throws; an argv it returns, written as a request line again, parses
//     back to the same argv.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/conn.hpp"
#include "control/server.hpp"

namespace {

using brisk::Conn;
using brisk::ConnClock;
using brisk::Framing;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz_server: invariant violated: %s\n", what.c_str());
  std::abort();
}

constexpr std::size_t kMaxClients = 16;
const brisk::ConnDeadlines kDeadlines{};

// What a whole stream decides, read at once.
struct Outcome {
  Conn::Why why = Conn::Why::kNone;  // kNone: still reading
  std::size_t request_len = 0;
};

Outcome decide(const std::string& stream, bool eof, const Framing& f) {
  const std::size_t end = stream.find('\n');
  if (end != std::string::npos)
    return end <= f.max_request ? Outcome{Conn::Why::kRequest, end} : Outcome{Conn::Why::kTooLong};
  if (stream.size() >= f.max_request + f.terminator_max) return Outcome{Conn::Why::kTooLong};
  if (!eof) return Outcome{};
  if (stream.empty()) return Outcome{Conn::Why::kEmpty};
  if (stream.size() > f.max_request) return Outcome{Conn::Why::kTooLong};
  return Outcome{Conn::Why::kRequest, stream.size()};
}

struct Client {
  Framing framing;
  Conn conn;
  ConnClock::time_point opened;
  std::string stream;  // every byte the client sent
  bool eof = false;
  std::optional<Outcome> decided;  // what the model decided, once it did
  std::string reply, taken;        // the reply given, and the bytes the socket took
  ConnClock::time_point replied{};
};

std::string answer(const Client& c) {
  std::optional<std::vector<std::string>> argv = brisk::parse_request(c.conn.request());
  if (!argv) return "{\"ok\":false}\n";
  // What a client would send for this argv parses back to it.
  std::string again = nlohmann::json{{"argv", *argv}}.dump();
  std::optional<std::vector<std::string>> back = brisk::parse_request(again);
  if (!back || *back != *argv) die("argv does not survive a round trip: " + again);
  return again + "\n";
}

// The model's view of one client after a step, compared with its Conn's; then the server's
// part: a connection ready for its answer gets one.
void settle(Client& c, ConnClock::time_point now) {
  const Framing& f = c.framing;
  if (c.conn.buffered() > f.max_request + f.terminator_max) die("buffered past the cap");
  if (!c.decided) {
    Outcome o = decide(c.stream, c.eof, f);
    if (o.why != Conn::Why::kNone) c.decided = o;
  }
  if (!c.decided) {
    if (c.conn.phase() != Conn::Phase::kReading) die("stopped reading before the stream decided");
    return;
  }
  if (c.conn.phase() == Conn::Phase::kReading) die("still reading after the stream decided");
  if (c.conn.phase() == Conn::Phase::kClose && c.reply.empty() && c.conn.why() != c.decided->why)
    die("closed without an answer, but the stream says otherwise");
  if (c.conn.phase() != Conn::Phase::kAnswer) return;
  if (c.conn.why() != c.decided->why)
    die("outcome " + std::to_string(static_cast<int>(c.conn.why())) + ", the stream says " +
        std::to_string(static_cast<int>(c.decided->why)));
  if (c.conn.why() == Conn::Why::kRequest &&
      c.conn.request() != std::string_view(c.stream).substr(0, c.decided->request_len))
    die("request differs from the stream's first request");
  c.reply = c.conn.why() == Conn::Why::kRequest ? answer(c) : "refused\n";
  c.conn.reply(c.reply, now);
  c.replied = now;
}

void take(Client& c, std::size_t n) {
  if (c.conn.phase() != Conn::Phase::kWriting) return;
  std::string_view out = c.conn.unsent();
  if (c.taken + std::string(out) != c.reply) die("unsent bytes are not the rest of the reply");
  n = std::min(n, out.size());
  c.taken.append(out.substr(0, n));
  c.conn.sent(n);
  const bool all = c.taken.size() == c.reply.size();
  if (all != (c.conn.phase() == Conn::Phase::kClose)) die("closed before or after the last byte");
  if (all && c.conn.why() != Conn::Why::kSent) die("sent but not kSent");
}

void check_deadline(Client& c, ConnClock::time_point now) {
  const Conn::Phase before = c.conn.phase();
  const bool expired = c.conn.expire(now);
  if (before == Conn::Phase::kReading) {
    if (expired != (now >= c.opened + kDeadlines.request)) die("request deadline off");
    if (expired) c.decided = Outcome{Conn::Why::kTimedOut};
  } else if (before == Conn::Phase::kWriting) {
    if (expired != (now >= c.replied + kDeadlines.reply)) die("reply deadline off");
    if (expired && c.conn.why() != Conn::Why::kNotTaken) die("expired reply not kNotTaken");
  } else if (expired) {
    die("a connection neither reading nor writing expired");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t pos = 0;
  auto next = [&](std::uint8_t& b) {
    if (pos >= size) return false;
    b = data[pos++];
    return true;
  };
  std::vector<Client> clients;
  clients.reserve(kMaxClients);
  ConnClock::time_point now{};
  std::uint8_t op = 0, a = 0, n = 0;
  while (next(op)) {
    switch (op % 6) {
      case 0: {
        if (!next(a) || clients.size() == kMaxClients) break;
        Framing f = brisk::kLineFraming;
        if ((a & 0x80) == 0) f.max_request = 1 + ((a >> 1) & 63) * 8u;
        clients.push_back(Client{f, Conn(f, kDeadlines, now), now});
        break;
      }
      case 1:
      case 5: {
        if (clients.empty()) break;
        if (op % 6 == 1 && !next(a)) break;
        if (!next(n)) break;
        const std::size_t len = std::min<std::size_t>(n, size - pos);
        const std::string_view bytes(reinterpret_cast<const char*>(data) + pos, len);
        pos += len;
        for (std::size_t i = 0; i < clients.size(); ++i) {
          if (op % 6 == 1 && i != a % clients.size()) continue;
          Client& c = clients[i];
          if (c.eof) continue;  // a closed side sends nothing more
          c.stream.append(bytes);
          c.conn.received(bytes);
        }
        break;
      }
      case 2:
        if (clients.empty() || !next(a)) break;
        clients[a % clients.size()].eof = true;
        clients[a % clients.size()].conn.eof();
        break;
      case 3:
        if (!next(a)) break;
        now += std::chrono::milliseconds(40) * a;
        for (Client& c : clients) check_deadline(c, now);
        break;
      case 4:
        if (clients.empty() || !next(a) || !next(n)) break;
        take(clients[a % clients.size()], std::size_t{n} * 8 + 1);
        break;
    }
    for (Client& c : clients) settle(c, now);
  }
  return 0;
}
