#include "bench/harness/text.hpp"

#include <cmath>
#include <cstdio>

namespace bench {

void log(const std::string& s) { std::fprintf(stderr, "brisk-bench: %s\n", s.c_str()); }

std::string fmt(double v, int prec) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof(b), "%.*f", prec, v);
  return b;
}

std::string mac_label(std::uint32_t n) {
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "K";
  return std::to_string(n);
}

}  // namespace bench
