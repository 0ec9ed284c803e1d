#include "report_writers.hpp"

#include "results.hpp"
#include "text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

namespace rwkvb {
namespace {

using nlohmann::json;

// ---- one row per cell, shared by every tabular format -----------------------------------------

const std::vector<std::string> kColumns = {"backend", "device", "workload", "scenario", "dtype",   "tok/s",
                                           "p50",     "p99",    "GB/s",     "%BW",      "GFLOP/s", "%peak",
                                           "peak mem", "parity", "status"};
constexpr size_t kFirstNumeric = 5, kLastNumeric = 12;  // right-aligned in the table

double number(const json& j, const char* key) {
    const auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() && it->is_number() ? it->get<double>() : std::nan("");
}

double value_or_nan(const std::optional<double>& v) { return v ? *v : std::nan(""); }

// At most `max_bytes` of `s`, never ending inside a UTF-8 character (a device name is any text).
std::string utf8_prefix(const std::string& s, size_t max_bytes) {
    size_t n = std::min(max_bytes, s.size());
    while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

std::string fmt_num(double v, int digits = 1) { return std::isnan(v) ? "" : fmt::format("{:.{}f}", v, digits); }

std::string fmt_time(double s) {
    if (std::isnan(s)) return "";
    if (s < 1e-6) return fmt::format("{:.0f} ns", s * 1e9);  // the harness's own cost (no-op plugin)
    if (s < 1e-3) return fmt::format("{:.1f} us", s * 1e6);
    if (s < 1) return fmt::format("{:.2f} ms", s * 1e3);
    return fmt::format("{:.3f} s", s);
}

std::string fmt_bytes(double b) {
    if (std::isnan(b)) return "";
    if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
    return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
}

struct Row {
    std::vector<std::string> display;  // terminal / markdown text
    std::vector<std::string> raw;      // csv: plain numbers, no units or brackets
    bool certified = false, uncertified = false;  // uncertified: a speed shown in brackets
};

Row make_row(const CellResult& c) {
    const std::string scenario(to_string(c.spec.scenario));
    const bool ok = c.status == CellStatus::ok;
    const GroupVerdict group = c.certification ? c.certification->group_verdict : GroupVerdict::none;
    std::string parity = c.parity_verdict() ? std::string(to_string(*c.parity_verdict())) : "";
    if (parity.empty())
        parity = group == GroupVerdict::pass || group == GroupVerdict::fail ? std::string(to_string(group))
                 : group == GroupVerdict::not_run                           ? "not run"
                                                                            : "none";
    // Only a PASSing parity group and the cell's own verified output certify a speed: FAIL, a
    // parity cell that did not finish, no parity cell at all ("none") and an unverified output are
    // the same to a reader — uncertified (DESIGN.md §6). make_run_document decides it.
    const bool certified = c.certification && c.certification->certified;

    const Stats* t = c.primary_timing();
    const double tps = c.throughput ? c.throughput->tokens_per_s : std::nan("");
    const double p50 = t ? t->median : std::nan(""), p99 = t ? t->p99 : std::nan("");
    // Only the limit that bounds the scenario is shown: a prefill's weight GB/s means nothing.
    double gbps = std::nan(""), gbps_f = std::nan(""), gflops = std::nan(""), gflops_f = std::nan("");
    if (c.roofline && c.roofline->bound == Bound::memory) {
        gbps = c.roofline->achieved_gbps;
        gbps_f = value_or_nan(c.roofline->gbps_fraction_of_limit);
    } else if (c.roofline) {
        gflops = c.roofline->achieved_gflops;
        gflops_f = value_or_nan(c.roofline->gflops_fraction_of_limit);
    }
    double peak = c.worker ? double(c.worker->peak_rss_bytes) : std::nan("");
    if ((std::isnan(peak) || peak == 0) && c.memory) peak = double(c.memory->peak_rss_bytes);

    // A merged document's cells come from several hosts: the run of origin leads the device.
    std::string device = (c.origin ? *c.origin + "/" : "") + std::to_string(c.spec.device);
    if (c.backend && !c.backend->device.name.empty()) {
        const std::string& name = c.backend->device.name;
        device += ":" + (name.size() > 20 ? utf8_prefix(name, 19) + "~" : name);
    }
    std::string status_text = ok ? "ok" : c.status_detail;
    if (status_text.empty()) status_text = std::string(to_string(c.status));
    if (c.noisy()) status_text += " (noisy)";
    if (c.timed() && c.contended()) status_text += " (contended)";

    Row r;
    r.certified = ok && certified;
    r.uncertified = !r.certified && c.timed();
    std::string speed = ok ? fmt_num(tps) : "";
    // An uncertified speed is never shown as if it were certified (DESIGN.md §6).
    if (!speed.empty() && r.uncertified) speed = "[" + speed + "] uncertified";
    // Swept cells differ only in their parameters: the label tells the rows apart ("decode t2").
    const std::string scenario_shown = c.spec.sweep.empty() ? scenario : scenario + " " + c.spec.sweep;
    r.display = {c.spec.backend, device, c.spec.workload, scenario_shown, c.spec.dtype,
                 speed, fmt_time(p50), fmt_time(p99), fmt_num(gbps), fmt_num(100 * gbps_f),
                 fmt_num(gflops), fmt_num(100 * gflops_f), fmt_bytes(peak), parity, status_text};
    auto raw = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); };
    r.raw = {r.display[0], std::to_string(c.spec.device), r.display[2], scenario, r.display[4], raw(ok ? tps : std::nan("")),
             raw(p50), raw(p99), raw(gbps), raw(100 * gbps_f), raw(gflops), raw(100 * gflops_f), raw(peak), parity,
             status_text};
    return r;
}

std::vector<Row> rows_of(const RunDocument& doc) {
    std::vector<Row> rows;
    for (const auto& c : doc.cells) rows.push_back(make_row(c));
    return rows;
}

std::string id_list(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out;
}

// Footer lines: the limits the fractions use, what "uncertified" means, noisy and failed cells.
std::vector<std::string> notes_of(const RunDocument& doc) {
    std::vector<std::string> notes;
    const json& lim = doc.limits;
    const double bw = number(lim, "memory_read_gbps"), peak = number(lim, "gemm_f32_gflops");
    auto text = [&](const char* key) {
        const auto it = lim.find(key);
        return it == lim.end() ? std::string() : it->is_string() ? it->get<std::string>() : it->dump();
    };
    if (std::isnan(bw) && std::isnan(peak))
        notes.push_back("machine limits: none measured (run `rwkvbench limits`); roofline fractions are empty");
    else
        notes.push_back(fmt::format("machine limits: memory read {} GB/s, f32 GEMM {} GFLOP/s ({} threads{})",
                                    std::isnan(bw) ? "n/a" : fmt_num(bw), std::isnan(peak) ? "n/a" : fmt_num(peak),
                                    text("threads"), lim.contains("measured_at") ? ", " + text("measured_at") : ""));
    notes.push_back("tok/s: tokens of one repetition / its median time. p50/p99: per-token latency (prefill: whole "
                    "prompt; batch: per step). GB/s and %BW for memory-bound scenarios (decode, batch, long), GFLOP/s "
                    "and %peak for compute-bound ones (prefill): achieved / measured limit.");
    const RunSummary& s = doc.summary;
    if (!s.uncertified_cells.empty())
        notes.push_back(fmt::format("[speed] uncertified: {} cell(s) whose parity group did not PASS, did not finish, or "
                                    "had no parity cell (parity column 'none': add --scenario parity), or whose own "
                                    "output was not verified",
                                    s.uncertified_cells.size()));
    if (!s.noisy_cells.empty())
        notes.push_back("noisy (repetitions vary by more than the CV threshold; see host load in the JSON): " +
                        id_list(s.noisy_cells));
    if (!s.contended_cells.empty())
        notes.push_back("contended (other processes or steal took more than the bound of one core while it ran): " +
                        id_list(s.contended_cells));
    std::vector<std::string> interleaved;
    for (const auto& c : doc.cells)
        if (c.interleave_rounds) interleaved.push_back(fmt::format("{} ({} rounds)", c.id, *c.interleave_rounds));
    if (!interleaved.empty())
        notes.push_back("interleaved (measured in rounds, every cell once per round, samples merged; --interleave): " +
                        id_list(interleaved));
    bool above = false;
    for (const auto& c : doc.cells)
        if (c.roofline) above = above || value_or_nan(c.roofline->bounding_fraction()) > 1.0;
    if (above)
        notes.push_back("a fraction above 100%: the cell beat the measured limit (weights that fit in a cache, or "
                        "limits measured under load: run `rwkvbench limits --force`)");
    for (const auto& c : doc.cells) {
        const bool failed = c.status != CellStatus::ok && c.status != CellStatus::skipped;
        if (failed)
            notes.push_back(fmt::format("{}: {}: {}", c.status == CellStatus::invalid ? "INVALID" : "failed", c.id,
                                        c.status_detail));
        if (c.parity_verdict() == Verdict::fail)
            for (const auto& f : c.parity->failures) notes.push_back(fmt::format("parity FAIL: {}: {}", c.id, f));
        if ((failed || c.parity_verdict() == Verdict::fail) && !c.repro.empty())
            notes.push_back("  rerun it: " + c.repro);
    }
    if (nothing_ran(doc.cells))
        notes.push_back("nothing ran: every cell was skipped (see each cell's reason), so the run did not pass");
    notes.push_back(fmt::format("exit code: {}", s.exit_code));
    return notes;
}

// ---- writers -------------------------------------------------------------------------------------

class TableWriter : public ReportWriter {
public:
    void write(const RunDocument& doc, std::ostream& out) const override {
        std::vector<std::vector<std::string>> cells;
        for (const auto& r : rows_of(doc)) cells.push_back(r.display);
        write_text_table(out, kColumns, cells, [](size_t i) { return i >= kFirstNumeric && i <= kLastNumeric; });
        out << "\n";
        for (const auto& n : notes_of(doc)) out << "  " << n << "\n";
    }
};

class CsvWriter : public ReportWriter {
public:
    void write(const RunDocument& doc, std::ostream& out) const override {
        auto field = [](const std::string& s) {  // RFC 4180 quoting
            if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
            std::string q = "\"";
            for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            return q + "\"";
        };
        auto line = [&](const std::vector<std::string>& cells) {
            for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << field(cells[i]);
            out << "\r\n";
        };
        auto header = kColumns;
        header.push_back("certified");
        header.push_back("sweep");
        line(header);
        size_t i = 0;
        for (auto r : rows_of(doc)) {
            r.raw.push_back(r.certified ? "true" : "false");
            r.raw.push_back(doc.cells[i++].spec.sweep);
            line(r.raw);
        }
    }
};

class MarkdownWriter : public ReportWriter {
public:
    void write(const RunDocument& doc, std::ostream& out) const override {
        auto cell = [](std::string s) {
            std::string o;
            for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
            return o;
        };
        out << "|";
        for (const auto& c : kColumns) out << " " << cell(c) << " |";
        out << "\n|";
        for (size_t i = 0; i < kColumns.size(); ++i) out << (i >= kFirstNumeric && i <= kLastNumeric ? " ---: |" : " --- |");
        out << "\n";
        for (const auto& r : rows_of(doc)) {
            out << "|";
            for (const auto& v : r.display) out << " " << cell(v) << " |";
            out << "\n";
        }
        out << "\n";
        for (const auto& n : notes_of(doc)) out << "- " << cell(n) << "\n";
    }
};

class JsonWriter : public ReportWriter {
public:
    void write(const RunDocument& doc, std::ostream& out) const override { out << json(doc).dump(2, ' ', false, json::error_handler_t::replace) << "\n"; }
};

}  // namespace

std::unique_ptr<ReportWriter> make_report_writer(ReportFormat format) {
    switch (format) {
        case ReportFormat::table: return std::make_unique<TableWriter>();
        case ReportFormat::json: return std::make_unique<JsonWriter>();
        case ReportFormat::csv: return std::make_unique<CsvWriter>();
        case ReportFormat::md: return std::make_unique<MarkdownWriter>();
    }
    throw std::logic_error("unhandled report format");
}

void write_report(const RunDocument& doc, ReportFormat format, std::ostream& out) {
    make_report_writer(format)->write(doc, out);
}

ReportFormat report_format_for(const std::string& path, std::optional<ReportFormat> asked) {
    if (asked) return *asked;
    std::string ext = std::filesystem::path(path).extension().string();
    if (ext.empty() || ext == ".txt") return ReportFormat::table;
    if (const auto f = from_string<ReportFormat>(ext.substr(1))) return *f;
    throw std::invalid_argument(fmt::format("{}: no report format writes '{}' files; give the file an extension "
                                            "of a format ({}; .txt for the table) or pass --format",
                                            path, ext, names_text<ReportFormat>()));
}

}  // namespace rwkvb
