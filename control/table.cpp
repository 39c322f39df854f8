#include "control/table.hpp"

#include <algorithm>

#include "control/validate.hpp"

namespace brisk {

namespace {

// Names come from users, the state file and the kernel: a cell shows control characters as
// \xNN (control/validate.hpp), and is measured that way. Most cells are plain ASCII and are
// used as they are.
bool plain(const std::string& cell) {
  return std::all_of(cell.begin(), cell.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7f;
  });
}

std::size_t shown_width(const std::string& cell) {
  return plain(cell) ? cell.size() : printable(cell).size();
}

}  // namespace

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], shown_width(r[c]));
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t c = 0; c < width.size(); ++c) {
      const std::string& raw = c < cells.size() ? cells[c] : std::string();
      const std::string cell = plain(raw) ? raw : printable(raw);
      l += cell;
      if (c + 1 < width.size()) l += std::string(width[c] - cell.size(), ' ') + " | ";
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

}  // namespace brisk
