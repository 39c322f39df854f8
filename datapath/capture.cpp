#include "datapath/capture.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "datapath/port.hpp"

namespace brisk {

namespace {

// pcap file format (libpcap "savefile"), nanosecond-resolution variant.
constexpr std::uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr std::uint32_t kLinktypeEthernet = 1;

struct PcapFileHeader {
  std::uint32_t magic;
  std::uint16_t version_major, version_minor;
  std::int32_t thiszone;
  std::uint32_t sigfigs, snaplen, linktype;
};
struct PcapRecordHeader {
  std::uint32_t ts_sec, ts_nsec, incl_len, orig_len;
};
static_assert(sizeof(PcapFileHeader) == 24 && sizeof(PcapRecordHeader) == 16);

std::int64_t clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

// ------------------------------------------------------------------ CaptureRing

CaptureRing::CaptureRing(std::size_t slots, std::uint32_t max_bytes) : max_bytes_(max_bytes) {
  std::size_t n = 2;
  while (n * 2 <= slots) n *= 2;
  slots_ = n;
  stride_ = (sizeof(CaptureSlotHeader) + max_bytes + 63) / 64 * 64;
  mem_.reset(new std::uint8_t[slots_ * stride_]);
}

void CaptureRing::fill(std::uint8_t* s, const Frame& f, VlanId tag, std::uint64_t ts_ns) noexcept {
  CaptureSlotHeader h;
  h.ts_ns = ts_ns;
  std::uint8_t* out = s + sizeof(CaptureSlotHeader);
  if (tag != 0 && f.len >= 12) {
    h.origlen = f.len + 4;
    h.caplen = std::min(h.origlen, max_bytes_);
    std::uint8_t hdr[16];
    std::memcpy(hdr, f.data, 12);
    write_vlan_tag(hdr + 12, tag);
    std::uint32_t first = std::min<std::uint32_t>(16, h.caplen);
    std::memcpy(out, hdr, first);
    if (h.caplen > 16) std::memcpy(out + 16, f.data + 12, h.caplen - 16);
  } else {
    h.origlen = f.len;
    h.caplen = std::min(f.len, max_bytes_);
    std::memcpy(out, f.data, h.caplen);
  }
  std::memcpy(s, &h, sizeof(h));
}

// ------------------------------------------------------------------ Capture

namespace {
int open_for_capture(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  return fd;
}
}  // namespace

Capture::Capture(std::string path, std::uint32_t snaplen, unsigned workers, std::size_t ring_bytes)
    : Capture(open_for_capture(path), path, snaplen, workers, ring_bytes) {}

Capture::Capture(int fd, std::string path, std::uint32_t snaplen, unsigned workers,
                 std::size_t ring_bytes)
    : path_(std::move(path)), snaplen_(snaplen) {
  // The stream owns fd from here on, also if anything below throws.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(::fdopen(fd, "wb"), &std::fclose);
  if (!file) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "cannot open " + path_);
  }
  wall_offset_ns_ = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
  // A slot never needs more than the largest frame plus a pushed tag.
  std::uint32_t max_bytes = std::min<std::uint32_t>(snaplen, kMaxFrameLen + 4);
  std::size_t stride = (sizeof(CaptureSlotHeader) + max_bytes + 63) / 64 * 64;
  std::size_t slots = std::max<std::size_t>(ring_bytes / stride, 2);
  for (unsigned w = 0; w < workers; ++w)
    rings_.push_back(std::make_unique<CaptureRing>(slots, max_bytes));

  iobuf_.reset(new char[1 << 20]);
  std::setvbuf(file.get(), iobuf_.get(), _IOFBF, 1 << 20);
  PcapFileHeader fh{kPcapMagicNs, 2, 4, 0, 0, snaplen_, kLinktypeEthernet};
  if (std::fwrite(&fh, sizeof(fh), 1, file.get()) != 1 || std::fflush(file.get()) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot write " + path_);
  file_ = file.release();
}

Capture::~Capture() { close(); }

std::uint64_t Capture::pushed() const {
  std::uint64_t n = 0;
  for (const auto& r : rings_) n += r->pushed();
  return n;
}
std::uint64_t Capture::ring_full() const {
  std::uint64_t n = 0;
  for (const auto& r : rings_) n += r->dropped();
  return n;
}
std::uint64_t Capture::queued() const {
  std::uint64_t n = 0;
  for (const auto& r : rings_) n += r->queued();
  return n;
}

std::size_t Capture::drain(std::size_t max) noexcept {
  if (file_ == nullptr) return 0;
  std::size_t n = 0;
  std::uint64_t errors = 0;
  // Oldest first across the workers' rings (each ring is in time order already).
  std::vector<const CaptureSlotHeader*> fronts(rings_.size());
  for (std::size_t i = 0; i < rings_.size(); ++i) fronts[i] = rings_[i]->front();
  while (n < max) {
    std::size_t best = rings_.size();
    for (std::size_t i = 0; i < rings_.size(); ++i)
      if (fronts[i] != nullptr && (best == rings_.size() || fronts[i]->ts_ns < fronts[best]->ts_ns))
        best = i;
    if (best == rings_.size()) break;
    const CaptureSlotHeader* h = fronts[best];
    std::uint64_t wall =
        static_cast<std::uint64_t>(static_cast<std::int64_t>(h->ts_ns) + wall_offset_ns_);
    PcapRecordHeader rh{static_cast<std::uint32_t>(wall / 1000000000),
                        static_cast<std::uint32_t>(wall % 1000000000),
                        std::min(h->caplen, snaplen_), h->origlen};
    const auto* data = reinterpret_cast<const std::uint8_t*>(h + 1);
    if (std::fwrite(&rh, sizeof(rh), 1, file_) != 1 ||
        std::fwrite(data, 1, rh.incl_len, file_) != rh.incl_len)
      ++errors;
    rings_[best]->pop();
    fronts[best] = rings_[best]->front();
    ++n;
  }
  if (n != 0 && std::fflush(file_) != 0) ++errors;
  written_.store(written_.load(std::memory_order_relaxed) + n - errors, std::memory_order_relaxed);
  if (errors != 0)
    write_errors_.store(write_errors_.load(std::memory_order_relaxed) + errors,
                        std::memory_order_relaxed);
  return n;
}

void Capture::close() noexcept {
  if (file_ == nullptr) return;
  while (drain() != 0) {
  }
  if (std::fclose(file_) != 0)
    write_errors_.store(write_errors_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  file_ = nullptr;
  closed_.store(true, std::memory_order_release);
}

// ------------------------------------------------------------------ CaptureWriter

CaptureWriter::CaptureWriter() : thread_([this] { run(); }) {}

CaptureWriter::~CaptureWriter() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CaptureWriter::add(std::shared_ptr<Capture> c) {
  {
    std::lock_guard<std::mutex> g(mu_);
    caps_.push_back(std::move(c));
  }
  cv_.notify_all();
}

void CaptureWriter::close(const std::shared_ptr<Capture>& c) {
  std::lock_guard<std::mutex> g(mu_);
  c->close();
  caps_.erase(std::remove(caps_.begin(), caps_.end(), c), caps_.end());
}

void CaptureWriter::run() {
  pthread_setname_np(pthread_self(), "brisk-pcap");
  auto wait = std::chrono::milliseconds(1);
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    std::size_t n = 0;
    for (auto& c : caps_) n += c->drain();
    // Busy: come back in 1 ms; idle: back off to 4 ms (a ring holds 4096 full-size frames or
    // more: about 4 ms of one worker's traffic at 1 Mframe/s).
    wait = n != 0 ? std::chrono::milliseconds(1) : std::min(wait * 2, std::chrono::milliseconds(4));
    cv_.wait_for(lk, caps_.empty() ? std::chrono::milliseconds(100) : wait);
  }
}

}  // namespace brisk
