// Caller: who sent a command, from the peer credentials of its connection (SO_PEERCRED on the
// control socket, control/server.cpp). briskd runs as root; what it does with a path a client
// names (a capture file) it does with the client's identity (control/capture_file.hpp).
#pragma once

#include <sys/types.h>
#include <unistd.h>

namespace brisk {

struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  // briskd itself (in-process callers: tests, the state replay): its own effective ids.
  static Caller self() { return Caller{::geteuid(), ::getegid()}; }
};

}  // namespace brisk
