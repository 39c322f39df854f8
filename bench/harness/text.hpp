// text: the harness's progress log and the number formats its log lines and reports share.
#pragma once

#include <cstdint>
#include <string>

namespace bench {

// "brisk-bench: <s>" on stderr: the progress log.
void log(const std::string& s);
// v with prec decimals; "-" for NaN.
std::string fmt(double v, int prec);
// A source MAC count as the reports name it: "1K", "100K", else the number.
std::string mac_label(std::uint32_t n);

}  // namespace bench
