// Opening the file of a `capture pcap` on behalf of the client that asked for it.
//
// briskd runs as root and a client names the path, so the file is opened so that the client
// can write only what it could write itself, and only the file it names:
//   * with the client's identity: the control thread's filesystem uid and gid become the
//     caller's (setfsuid/setfsgid, its supplementary groups none but the caller's gid) for the
//     open only, so the kernel checks the caller's permissions on every directory of the path,
//     and a new file belongs to the caller (mode 0600). Only when briskd runs as root and the
//     caller is not; a briskd that is not root opens with its own identity.
//   * never through a symbolic link at the last component (O_NOFOLLOW), never blocking on a
//     FIFO (O_NONBLOCK);
//   * a new file is created with O_EXCL: an existing file (or a symlink someone planted) is
//     refused, unless `overwrite` is given, and then only a regular file (not a symlink, FIFO,
//     device or directory) owned by the caller is truncated and written.
// Thread-safety: call from the control thread (the identity change is per thread and undone
// before returning).
#pragma once

#include <string>

#include "control/caller.hpp"

namespace brisk {

struct CaptureFileOpen {
  int fd = -1;        // open for writing, empty; -1 on error
  std::string error;  // one line: what was refused and why
};
CaptureFileOpen open_capture_file(const std::string& path, bool overwrite, const Caller& caller);

}  // namespace brisk
