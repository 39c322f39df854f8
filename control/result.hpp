// Result and Reply: how control-plane operations report success or a one-line error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace brisk {

// A command's answer: text for people (minimega-style tables), data for --json.
struct Reply {
  bool ok = true;
  std::string text;       // on error: the message without the "E: " prefix
  nlohmann::json data;    // structured form of the same answer

  static Reply error(std::string msg) {
    Reply r;
    r.ok = false;
    r.text = std::move(msg);
    return r;
  }
  static Reply okay(std::string text = {}, nlohmann::json data = nullptr) {
    Reply r;
    r.text = std::move(text);
    r.data = std::move(data);
    return r;
  }
};

}  // namespace brisk
