// Writers of a results document: table (terminal, default), json, csv, md — one small class per
// format over the same rows (in the spirit of Google Benchmark's reporters and llama-bench).
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace rwkvb {

class ReportWriter {
public:
    virtual ~ReportWriter() = default;
    virtual void write(const nlohmann::json& run_document, std::ostream& out) const = 0;
};

// "table", "json", "csv" or "md"; std::invalid_argument naming the formats otherwise.
std::unique_ptr<ReportWriter> make_report_writer(std::string_view format);
void write_report(const nlohmann::json& run_document, std::string_view format, std::ostream& out);

const std::vector<std::string>& report_formats();

}  // namespace rwkvb
