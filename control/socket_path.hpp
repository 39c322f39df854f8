// Where briskd's control socket may live: one rule for the daemon and for its clients (brisk,
// brisk's ovs-ofctl), so neither talks to a socket someone else could have put there.
//
// The rule. A process trusts a socket as much as it trusts everyone who could have created
// or replaced it. So:
//   * the socket's directory is owned by root or by the process's own (effective) user, and
//     neither its group nor others may write it;
//   * every directory above it is owned by root or by that user, and is not writable by its
//     group or others unless it is sticky (like /tmp: there only a file's owner can rename or
//     remove it, so a directory root made in /tmp stays root's);
//   * (clients) the socket is a socket, owned by root or by that user.
// Paths are checked as they resolve (symlinks in the directory part followed: /var/run is
// /run).
//
// briskd: make_socket_dir() creates a missing directory (and missing parents) mode 0750
// whatever the umask, then applies the rule; claim_socket_path() clears the path for bind():
// nothing there, or a stale socket (nobody answers), which it removes. Anything else there (a
// regular file, a directory, a symlink, a socket something answers on) is left alone and
// refused.
//
// Every function returns "" or a one-line reason naming the path.
#pragma once

#include <string>

namespace brisk {

// Mode of a directory briskd creates for its socket.
inline constexpr unsigned kSocketDirMode = 0750;

// The directory part of a socket path ("." for a bare name).
std::string socket_dir_of(const std::string& socket_path);

// The rule for the socket's directory and the directories above it.
std::string check_socket_dir(const std::string& socket_path);

// briskd: create the socket's directory if missing (mode 0750, missing parents too), then
// check_socket_dir().
std::string make_socket_dir(const std::string& socket_path);

// briskd: make the path free for bind(): absent, or a stale socket (connect() refused), which
// is removed. Anything else is refused and left untouched.
std::string claim_socket_path(const std::string& socket_path);

// Clients: check_socket_dir(), and the socket itself is a socket owned by root or the caller.
// A missing socket is not refused here (connect() says "No such file or directory").
std::string check_socket(const std::string& socket_path);

}  // namespace brisk
