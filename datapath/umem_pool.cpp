#include "datapath/umem_pool.hpp"

#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace brisk {

namespace {

std::uint64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

bool pow2(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

const char* UmemGeometry::check() const {
  if (!pow2(frames) || frames < 64 || frames > (1u << 20))
    return "frames must be a power of two in 64..1048576";
  if (max_ports == 0 || max_ports > 64) return "max_ports must be 1..64";
  if (!pow2(copy_frames) || copy_frames < 32) return "copy_frames must be a power of two >= 32";
  if (std::uint64_t{max_ports} * copy_frames >= frames)
    return "the copy chunks of all slots leave no shared chunks";
  if (rx_base() < 32) return "fewer than 32 receive chunks owed to each member";
  return nullptr;
}

UmemPool::UmemPool(const UmemGeometry& g) : g_(g), shared_(g.shared_frames()) {
  if (const char* why = g.check(); why != nullptr)
    throw std::system_error(EINVAL, std::generic_category(), std::string("UMEM geometry: ") + why);
  area_size_ = std::size_t{g.frames} * kChunkSize;
  // 2 MiB aligned, so transparent huge pages can back it (madvise mode): the chunks a busy
  // pool cycles through span 4 MiB, one TLB entry per 4 KiB page otherwise.
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t span = area_size_ + kHuge;
  void* a = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(),
                            "allocate UMEM (" + std::to_string(area_size_ >> 10) + " KiB)");
  auto* raw = static_cast<std::uint8_t*>(a);
  auto* aligned = reinterpret_cast<std::uint8_t*>(
      (reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~std::uintptr_t{kHuge - 1});
  if (aligned != raw) ::munmap(raw, static_cast<std::size_t>(aligned - raw));
  if (std::size_t tail = static_cast<std::size_t>(raw + span - (aligned + area_size_)); tail != 0)
    ::munmap(aligned + area_size_, tail);
  area_ = aligned;
  ::madvise(area_, area_size_, MADV_HUGEPAGE);  // a hint: harmless where THP is off
  tags_ = std::make_unique<std::atomic<std::uint8_t>[]>(g.frames);
  free_ = std::make_unique<std::uint32_t[]>(shared_);
  slots_ = std::make_unique<Slot[]>(g.max_ports);
  rx_held_ = std::make_unique<std::uint32_t[]>(g.max_ports);
  zc_by_slot_ = std::make_unique<std::uint32_t[]>(g.max_ports);
  // Lowest chunks on top of the stack: a quiet pool touches few pages.
  for (std::uint32_t i = 0; i < shared_; ++i) {
    free_[i] = shared_ - 1 - i;
    tags_[i].store(kTagFree, std::memory_order_relaxed);
  }
  free_n_ = shared_;
  for (std::uint32_t i = shared_; i < g.frames; ++i)
    tags_[i].store(kTagFree, std::memory_order_relaxed);
}

UmemPool::~UmemPool() {
  if (area_ != nullptr) ::munmap(area_, area_size_);
}

std::optional<std::uint32_t> UmemPool::reserve_slot() {
  for (std::uint32_t s = 0; s < g_.max_ports; ++s) {
    if (slots_[s].state.load(std::memory_order_acquire) == kSlotFree) {
      slots_[s].state.store(kSlotReserved, std::memory_order_relaxed);
      return s;
    }
  }
  return std::nullopt;
}

void UmemPool::member_bound(std::uint32_t slot, int fd, bool zero_copy, bool multi_buffer) {
  if (members_ == 0) {
    zero_copy_ = zero_copy;
    multi_buffer_ = multi_buffer;
  }
  slots_[slot].fd = fd;
  slots_[slot].state.store(kSlotLive, std::memory_order_relaxed);
  ++members_;
}

void UmemPool::cancel_slot(std::uint32_t slot) {
  slots_[slot].fd = -1;
  slots_[slot].state.store(kSlotFree, std::memory_order_relaxed);
}

void UmemPool::retire_slot(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.fd = -1;
  --members_;
  s.deadline_ns.store(monotonic_ns() + kRetireDelayNs, std::memory_order_relaxed);
  s.state.store(kSlotRetiring, std::memory_order_release);
  retiring_.fetch_add(1, std::memory_order_release);
}

int UmemPool::share_fd() const {
  for (std::uint32_t s = 0; s < g_.max_ports; ++s)
    if (slots_[s].fd >= 0 && slots_[s].state.load(std::memory_order_relaxed) == kSlotLive)
      return slots_[s].fd;
  return -1;
}

void UmemPool::reclaim_retired() noexcept {
  const std::uint64_t now = monotonic_ns();
  for (std::uint32_t s = 0; s < g_.max_ports; ++s) {
    Slot& sl = slots_[s];
    if (sl.state.load(std::memory_order_acquire) != kSlotRetiring) continue;
    if (now < sl.deadline_ns.load(std::memory_order_relaxed)) continue;
    const auto tag = static_cast<std::uint8_t>(s);
    for (std::uint32_t c = 0; c < shared_; ++c) {
      if (tags_[c].load(std::memory_order_relaxed) == tag) {
        tags_[c].store(kTagFree, std::memory_order_relaxed);
        free_[free_n_++] = c;
      }
    }
    rx_held_[s] = 0;
    zc_inflight_ -= zc_by_slot_[s];  // its TX path's chunks were among those just returned
    zc_by_slot_[s] = 0;
    sl.state.store(kSlotFree, std::memory_order_release);
    retiring_.fetch_sub(1, std::memory_order_release);
  }
}

std::uint32_t UmemPool::rx_allowance(std::uint32_t slot) const noexcept {
  const std::uint32_t base = g_.rx_base(), most = g_.rx_max();
  const std::uint32_t held = rx_held_[slot];
  if (held >= most) return 0;
  const std::uint32_t want = most - held;
  // Plenty free (the common case of a pool with few members): no need to add up what is owed.
  if (free_n_ >= want + (g_.max_ports - 1) * base) return want;
  std::uint32_t owed = 0;  // to the other slots: a live member what it lacks of its base,
  for (std::uint32_t s = 0; s < g_.max_ports; ++s) {  // any other slot all of it
    if (s == slot) continue;
    const bool live = slots_[s].state.load(std::memory_order_acquire) == kSlotLive;
    owed += live ? base - (rx_held_[s] < base ? rx_held_[s] : base) : base;
  }
  const std::uint32_t spare = free_n_ > owed ? free_n_ - owed : 0;
  return want < spare ? want : spare;
}

UmemPool::Census UmemPool::census() const {
  Census c;
  c.by_slot.assign(g_.max_ports, 0);
  for (std::uint32_t i = 0; i < shared_; ++i) {
    std::uint8_t t = tags_[i].load(std::memory_order_relaxed);
    if (t == kTagFree) {
      ++c.free;
    } else if (t == kTagFrame) {
      ++c.frames;
    } else if (t < g_.max_ports) {
      ++c.by_slot[t];
    }
  }
  return c;
}

std::shared_ptr<UmemPool> UmemRegistry::get(unsigned worker, bool zero_copy) {
  auto& w = pools_[{worker, zero_copy}];
  if (auto p = w.lock()) return p;
  auto p = std::make_shared<UmemPool>(g_);
  w = p;
  return p;
}

}  // namespace brisk
