// Writers of a results document: table (terminal, default), json, csv, md — one small class per
// format over the same rows (in the spirit of Google Benchmark's reporters and llama-bench).
#pragma once
#include "results.hpp"
#include "vocabulary.hpp"

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace rwkvb {

class ReportWriter {
public:
    virtual ~ReportWriter() = default;
    virtual void write(const RunDocument& run_document, std::ostream& out) const = 0;
};

std::unique_ptr<ReportWriter> make_report_writer(ReportFormat format);
void write_report(const RunDocument& run_document, ReportFormat format, std::ostream& out);
// The format a report file gets: `asked` when given, else the one its extension names (.json,
// .csv, .md; .txt or none: table). std::invalid_argument for an extension no writer honours
// (e.g. .html before there is an HTML writer): never a silent table in a file named otherwise.
ReportFormat report_format_for(const std::string& path, std::optional<ReportFormat> asked);

}  // namespace rwkvb
