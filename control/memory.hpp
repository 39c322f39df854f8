// Memory the control thread no longer uses goes back to the system.
//
// A large answer is built whole before it is sent: `fdb` with 65,536 entries makes a table,
// a JSON document of the same entries and their serialisation, tens of megabytes in millions
// of small blocks. Freed, glibc's malloc keeps them in its heap (fragmented, so its automatic
// trimming at the top of the heap rarely applies), and briskd's resident memory stayed at the
// peak of its largest answer. So:
//   * tune_allocator() (at start): blocks of kLargeBlockBytes and more are always mmap()ed, so
//     they go back to the system when freed (glibc otherwise raises that threshold as large
//     blocks come and go, and later large blocks stay in the heap);
//   * release_free_memory() after an answer of kLargeAnswerBytes or more (Server::handle, once
//     the answer's documents are freed): malloc_trim(0) returns every free page of the heap.
// Under a sanitizer its own allocator serves malloc, and these calls change nothing.
//
// Thread-safety: call from the control thread (malloc itself is thread-safe; the workers do
// not allocate).
#pragma once

#include <cstddef>

namespace brisk {

inline constexpr std::size_t kLargeBlockBytes = std::size_t{1} << 20;
inline constexpr std::size_t kLargeAnswerBytes = std::size_t{1} << 20;

void tune_allocator();
void release_free_memory();

}  // namespace brisk
