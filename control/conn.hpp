// Conn: one client connection of briskd's socket services, as data. It owns the connection's
// request buffer (framing: where a request ends, how long it may be), its reply buffer (what is
// still to be sent) and its deadline. It makes no system call and reads no clock: the server's
// loop (control/server.cpp) reads and writes the socket and passes the time in, and the unit
// tests (tests/control/conn_test.cpp) and the fuzz target fuzz_server drive the same code with
// byte streams cut into arbitrary chunks.
//
// Life of a connection: one request, one reply, closed (the control protocol).
//
//   kReading --request complete / too long / timed out--> kAnswer --reply(bytes)--> kWriting
//       |                                                                               |
//       +--peer closed with nothing sent--> kClose <---all sent / reply not taken in time-+
//
// The outcome of framing depends on the bytes only, never on how they were cut: a request is
// the bytes before the first terminator when there are at most max_request of them; otherwise
// it is too long. A peer that closes its side after a partial request (no terminator) has sent
// what it has: the bytes so far are the request (`printf '{"argv":["tap"]}' | socat - UNIX:...`).
//
// Thread-safety: none; a Conn belongs to the thread that runs the server's loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace brisk {

using ConnClock = std::chrono::steady_clock;

// How requests of one protocol end, and how long they may be.
struct Framing {
  // The length of the request in `buf` (the bytes before its terminator), or npos when `buf`
  // holds no terminator yet. `from` is where the search may start: the caller guarantees that
  // no terminator starts before it (the bytes before it were searched already).
  std::size_t (*find_end)(std::string_view buf, std::size_t from);
  // Bytes of the longest terminator: how far before the new bytes a search must restart.
  std::size_t terminator_max;
  // A request (without terminator) of more bytes than this is refused as too long.
  std::size_t max_request;
};

// The control protocol's framing: one line, "\n"-terminated, at most 64 KiB.
inline constexpr std::size_t kMaxRequestBytes = 65536;
std::size_t find_line_end(std::string_view buf, std::size_t from);
inline constexpr Framing kLineFraming{find_line_end, 1, kMaxRequestBytes};

// Time limits of a connection.
struct ConnDeadlines {
  // From accept to a complete request; then the peer is answered "request timed out".
  ConnClock::duration request = std::chrono::seconds(5);
  // From the reply being ready to its last byte taken by the socket; then the peer is dropped.
  ConnClock::duration reply = std::chrono::seconds(10);
};

class Conn {
 public:
  enum class Phase {
    kReading,  // waiting for request bytes
    kAnswer,   // why() says what to answer; the server calls reply()
    kWriting,  // unsent() is waiting for the socket
    kClose,    // done: close the socket, drop the Conn
  };
  // Why the connection is in kAnswer (or kClose).
  enum class Why {
    kNone,      // still reading
    kRequest,   // request() is complete
    kTooLong,   // more than max_request bytes before a terminator
    kTimedOut,  // no complete request before the request deadline
    kEmpty,     // the peer closed without sending anything (kClose: nothing to answer)
    kSent,      // the reply was sent (kClose)
    kNotTaken,  // the reply was not taken before the reply deadline (kClose)
    kFailed,    // the socket failed (reset by the peer...): abort() (kClose)
  };

  Conn(const Framing& framing, const ConnDeadlines& deadlines, ConnClock::time_point now)
      : framing_(framing), deadlines_(deadlines), deadline_(now + deadlines.request) {}

  Phase phase() const { return phase_; }
  Why why() const { return why_; }

  // kReading: bytes the socket gave. Bytes after a complete request are ignored (one request
  // per connection); at most max_request + terminator_max bytes are ever buffered.
  void received(std::string_view bytes);
  // kReading: the peer closed its side (read returned 0).
  void eof();
  // The complete request, without its terminator (kAnswer with why() == kRequest).
  std::string_view request() const { return std::string_view(in_).substr(0, request_len_); }
  // The request bytes buffered so far (all phases; for tests and the fuzzer).
  std::size_t buffered() const { return in_.size(); }

  // kAnswer: the bytes to send. Frees the request buffer; the reply deadline starts now.
  void reply(std::string bytes, ConnClock::time_point now);
  // kWriting: what is still to be sent, and how much of it the socket took.
  std::string_view unsent() const { return std::string_view(out_).substr(sent_); }
  void sent(std::size_t n);

  // The request deadline (kReading) or the reply deadline (kWriting) passed: kReading moves to
  // kAnswer (kTimedOut), kWriting to kClose (kNotTaken). Returns true when it did.
  bool expire(ConnClock::time_point now);
  ConnClock::time_point deadline() const { return deadline_; }

  // The socket failed: kClose (kFailed), buffers freed.
  void abort();

 private:
  void finish_reading(Why why, std::size_t request_len);

  Framing framing_;
  ConnDeadlines deadlines_;
  ConnClock::time_point deadline_;
  Phase phase_ = Phase::kReading;
  Why why_ = Why::kNone;
  std::string in_;  // request bytes (kReading, kAnswer)
  std::size_t request_len_ = 0;
  std::string out_;       // the reply (kWriting)
  std::size_t sent_ = 0;  // bytes of out_ the socket took
};

}  // namespace brisk
