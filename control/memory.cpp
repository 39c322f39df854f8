#include "control/memory.hpp"

#include <malloc.h>

namespace brisk {

void tune_allocator() { mallopt(M_MMAP_THRESHOLD, static_cast<int>(kLargeBlockBytes)); }

void release_free_memory() { malloc_trim(0); }

}  // namespace brisk
