// The terminal table every writer prints (results, fleet, compare): each column padded to its
// widest cell, two spaces apart, a rule of dashes under the header, trailing spaces trimmed.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace rwkvb {

// `right_aligned(i)`: whether column i holds numbers (padded on the left).
void write_text_table(std::ostream& out, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows, const std::function<bool(size_t)>& right_aligned);

}  // namespace rwkvb
