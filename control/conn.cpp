#include "control/conn.hpp"

#include <algorithm>

namespace brisk {

std::size_t find_line_end(std::string_view buf, std::size_t from) { return buf.find('\n', from); }

void Conn::finish_reading(Why why, std::size_t request_len) {
  phase_ = Phase::kAnswer;
  why_ = why;
  request_len_ = request_len;
}

void Conn::received(std::string_view bytes) {
  if (phase_ != Phase::kReading || bytes.empty()) return;
  // A terminator starting at or before max_request lies wholly within the first
  // max_request + terminator_max bytes: nothing after them can change the outcome.
  const std::size_t limit = framing_.max_request + framing_.terminator_max;
  const std::size_t keep = std::min(bytes.size(), limit - in_.size());
  const std::size_t back = framing_.terminator_max > 0 ? framing_.terminator_max - 1 : 0;
  const std::size_t from = in_.size() > back ? in_.size() - back : 0;
  in_.append(bytes.substr(0, keep));
  const std::size_t end = framing_.find_end(in_, from);
  if (end != std::string_view::npos) {
    if (end <= framing_.max_request)
      finish_reading(Why::kRequest, end);
    else
      finish_reading(Why::kTooLong, 0);
  } else if (in_.size() >= limit) {
    finish_reading(Why::kTooLong, 0);
  }
}

void Conn::eof() {
  if (phase_ != Phase::kReading) return;
  if (in_.empty()) {
    phase_ = Phase::kClose;
    why_ = Why::kEmpty;
  } else if (in_.size() > framing_.max_request) {
    finish_reading(Why::kTooLong, 0);
  } else {
    finish_reading(Why::kRequest, in_.size());
  }
}

void Conn::reply(std::string bytes, ConnClock::time_point now) {
  if (phase_ != Phase::kAnswer) return;
  std::string().swap(in_);
  request_len_ = 0;
  out_ = std::move(bytes);
  sent_ = 0;
  phase_ = Phase::kWriting;
  deadline_ = now + deadlines_.reply;
  if (out_.empty()) sent(0);
}

void Conn::sent(std::size_t n) {
  if (phase_ != Phase::kWriting) return;
  sent_ = std::min(out_.size(), sent_ + n);
  if (sent_ == out_.size()) {
    phase_ = Phase::kClose;
    why_ = Why::kSent;
    std::string().swap(out_);
    sent_ = 0;
  }
}

void Conn::abort() {
  phase_ = Phase::kClose;
  why_ = Why::kFailed;
  std::string().swap(in_);
  std::string().swap(out_);
  request_len_ = sent_ = 0;
}

bool Conn::expire(ConnClock::time_point now) {
  if (now < deadline_) return false;
  if (phase_ == Phase::kReading) {
    finish_reading(Why::kTimedOut, 0);
    return true;
  }
  if (phase_ == Phase::kWriting) {
    phase_ = Phase::kClose;
    why_ = Why::kNotTaken;
    std::string().swap(out_);
    sent_ = 0;
    return true;
  }
  return false;
}

}  // namespace brisk
