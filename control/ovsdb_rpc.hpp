// OvsdbRpc: one JSON-RPC 1.0 connection to an OVSDB server (RFC 7047, section 4), the
// transport under the OVSDB client (control/ovsdb_vswitch.hpp).
//
// Remotes are written as Open vSwitch writes them: "unix:PATH" or "tcp:IP:PORT" (IPv4).
// Messages are JSON objects sent back to back on a stream socket, with no delimiter; the
// reader splits them by counting braces outside strings (split_json_stream()). A message
// longer than kOvsdbMaxMessage, or one that is not valid JSON, ends the connection (the
// client then reconnects and re-syncs).
//
// The socket is non-blocking: connect() starts a connection (a TCP connect may still be in
// progress: connecting() until the socket becomes writable), send() queues bytes and writes
// what the socket takes now, flush() writes more of the queue later, read() returns the
// complete messages that have arrived. Nothing here blocks.
//
// Thread-safety: none; the control thread only (the OvsdbClient that owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace brisk {

// The largest message accepted from the server (a monitor reply with every row).
inline constexpr std::size_t kOvsdbMaxMessage = 64u << 20;

// "" if `remote` is "unix:PATH" or "tcp:IP:PORT", else what is wrong with it.
std::string check_ovsdb_remote(const std::string& remote);

// Splits complete JSON objects off the front of `buf` (bytes received so far) into `out`,
// leaving an incomplete tail in `buf`. Whitespace between messages is skipped. Returns "" or
// an error (a byte outside an object, a message over `max` bytes).
std::string split_json_stream(std::string& buf, std::vector<std::string>& out,
                              std::size_t max = kOvsdbMaxMessage);

class OvsdbRpc {
 public:
  explicit OvsdbRpc(std::string remote);
  ~OvsdbRpc();
  OvsdbRpc(const OvsdbRpc&) = delete;
  OvsdbRpc& operator=(const OvsdbRpc&) = delete;

  const std::string& remote() const { return remote_; }
  // Start connecting; "" (connected or in progress) or why not.
  std::string connect();
  void close();
  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  // A TCP connect in progress. Completes (or fails: returns an error) when polled.
  bool connecting() const { return connecting_; }
  std::string poll_connect();

  // Queue a request; returns its id (the reply carries it).
  std::uint64_t request(const std::string& method, nlohmann::json params);
  // Queue a reply to the server's request `id` (echo).
  void reply(const nlohmann::json& id, nlohmann::json result);
  // Write what the socket takes of the queue; "" or the error that closed the connection.
  std::string flush();
  bool pending_output() const { return !out_.empty(); }
  // Read what has arrived: appends complete messages to `msgs`. "" or the error that ends
  // the connection ("connection closed by the server" on EOF).
  std::string read(std::vector<nlohmann::json>& msgs);

 private:
  void send(const nlohmann::json& msg);

  std::string remote_;
  int fd_ = -1;
  bool connecting_ = false;
  std::uint64_t next_id_ = 1;
  std::string in_;   // received bytes not yet a complete message
  std::string out_;  // queued bytes the socket has not taken
};

}  // namespace brisk
