// minimega-style tables: columns separated by " | ", padded to the widest cell.
//
//   bridge      | tap       | vlan
//   mega_bridge | mega_tap0 | 10
#pragma once

#include <string>
#include <vector>

namespace brisk {

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace brisk
