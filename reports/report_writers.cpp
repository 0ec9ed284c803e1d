#include "report_writers.hpp"

#include "results.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rwkvb {
namespace {

using nlohmann::json;

// ---- one row per cell, shared by every tabular format -----------------------------------------

const std::vector<std::string> kColumns = {"backend", "device", "workload", "scenario", "dtype",   "tok/s",
                                           "p50",     "p99",    "GB/s",     "%BW",      "GFLOP/s", "%peak",
                                           "peak mem", "parity", "status"};
constexpr size_t kFirstNumeric = 5, kLastNumeric = 12;  // right-aligned in the table

const json* find_path(const json& j, std::initializer_list<const char*> keys) {
    const json* cur = &j;
    for (const char* k : keys) {
        if (!cur->is_object()) return nullptr;
        auto it = cur->find(k);
        if (it == cur->end()) return nullptr;
        cur = &*it;
    }
    return cur;
}

double number(const json& j, std::initializer_list<const char*> keys) {
    const json* v = find_path(j, keys);
    return v && v->is_number() ? v->get<double>() : std::nan("");
}

std::string str(const json& j, std::initializer_list<const char*> keys) {
    const json* v = find_path(j, keys);
    if (!v) return "";
    if (v->is_string()) return v->get<std::string>();
    if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
    return "";
}

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

Row make_row(const json& c) {
    const std::string scenario = str(c, {"spec", "scenario"});
    const std::string status = text_field(c, "status", "error");
    const bool ok = status == "ok";
    const std::string group = str(c, {"certification", "group_verdict"});
    std::string parity = own_parity_verdict(c);
    if (parity.empty()) parity = group == "PASS" || group == "FAIL" ? group : group == "NOT_RUN" ? "not run" : "none";
    // Only a PASSing parity group and the cell's own verified output certify a speed: FAIL, a
    // parity cell that did not finish, no parity cell at all ("none") and an unverified output are
    // the same to a reader — uncertified (DESIGN.md §6). make_run_document decides it.
    const json* cert = c.contains("certification") && c["certification"].is_object() ? &c["certification"] : nullptr;
    const bool certified = cert && cert->contains("certified") && (*cert)["certified"].is_boolean() &&
                           (*cert)["certified"].get<bool>();

    const json* t = primary_timing(c);
    const double tps = number(c, {"throughput", "tokens_per_s"});
    const double p50 = t ? number(*t, {"median"}) : std::nan("");
    const double p99 = t ? number(*t, {"p99"}) : std::nan("");
    const bool prefill = scenario == "prefill";
    const double gbps = prefill ? std::nan("") : number(c, {"roofline", "achieved_gbps"});
    const double gbps_f = prefill ? std::nan("") : number(c, {"roofline", "gbps_fraction_of_limit"});
    const double gflops = prefill ? number(c, {"roofline", "achieved_gflops"}) : std::nan("");
    const double gflops_f = prefill ? number(c, {"roofline", "gflops_fraction_of_limit"}) : std::nan("");
    double peak = number(c, {"worker", "peak_rss_bytes"});
    if (std::isnan(peak) || peak == 0) peak = number(c, {"memory", "peak_rss_bytes"});

    std::string device = str(c, {"spec", "device"});
    if (const std::string name = str(c, {"backend", "device", "name"}); !name.empty())
        device += ":" + (name.size() > 20 ? utf8_prefix(name, 19) + "~" : name);
    std::string status_text = ok ? "ok" : text_field(c, "status_detail", status);
    if (status_text.empty()) status_text = status;
    if (flag_field(c, "noisy") && scenario != "parity") status_text += " (noisy)";

    Row r;
    r.certified = ok && certified;
    r.uncertified = !r.certified && scenario != "parity";
    std::string speed = ok ? fmt_num(tps) : "";
    // An uncertified speed is never shown as if it were certified (DESIGN.md §6).
    if (!speed.empty() && r.uncertified) speed = "[" + speed + "] uncertified";
    r.display = {str(c, {"spec", "backend"}), device, str(c, {"spec", "workload"}), scenario, str(c, {"spec", "dtype"}),
                 speed, fmt_time(p50), fmt_time(p99), fmt_num(gbps), fmt_num(100 * gbps_f),
                 fmt_num(gflops), fmt_num(100 * gflops_f), fmt_bytes(peak), parity, status_text};
    auto raw = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); };
    r.raw = {r.display[0], str(c, {"spec", "device"}), r.display[2], scenario, r.display[4], raw(tps), raw(p50), raw(p99),
             raw(gbps), raw(100 * gbps_f), raw(gflops), raw(100 * gflops_f), raw(peak), parity, status_text};
    return r;
}

std::vector<Row> rows_of(const json& doc) {
    std::vector<Row> rows;
    if (auto cells = doc.find("cells"); cells != doc.end() && cells->is_array())
        for (const auto& c : *cells) rows.push_back(make_row(c));
    return rows;
}

// Footer lines: the limits the fractions use, what "uncertified" means, noisy and failed cells.
std::vector<std::string> notes_of(const json& doc) {
    std::vector<std::string> notes;
    const json& lim = doc.contains("limits") ? doc["limits"] : json::object();
    const double bw = number(lim, {"memory_read_gbps"}), peak = number(lim, {"gemm_f32_gflops"});
    if (std::isnan(bw) && std::isnan(peak))
        notes.push_back("machine limits: none measured (run `rwkvbench limits`); roofline fractions are empty");
    else
        notes.push_back(fmt::format("machine limits: memory read {} GB/s, f32 GEMM {} GFLOP/s ({} threads{})",
                                    std::isnan(bw) ? "n/a" : fmt_num(bw), std::isnan(peak) ? "n/a" : fmt_num(peak),
                                    str(lim, {"threads"}), lim.contains("measured_at") ? ", " + str(lim, {"measured_at"}) : ""));
    notes.push_back("p50/p99: per-token latency (prefill: whole prompt; batch: per step). %BW/%peak: achieved / measured limit.");
    const json* s = find_path(doc, {"summary"});
    if (s && s->contains("uncertified_cells") && !(*s)["uncertified_cells"].empty())
        notes.push_back(fmt::format("[speed] uncertified: {} cell(s) whose parity group did not PASS, did not finish, or "
                                    "had no parity cell (parity column 'none': add --scenario parity), or whose own "
                                    "output was not verified",
                                    (*s)["uncertified_cells"].size()));
    if (s && s->contains("noisy_cells") && !(*s)["noisy_cells"].empty()) {
        std::string ids;
        for (const auto& id : (*s)["noisy_cells"]) ids += (ids.empty() ? "" : ", ") + (id.is_string() ? id.get<std::string>() : "");
        notes.push_back("noisy (coefficient of variation above threshold; see host load in the JSON): " + ids);
    }
    bool above = false;
    if (auto cells = doc.find("cells"); cells != doc.end() && cells->is_array())
        for (const auto& c : *cells)
            for (const char* k : {"gbps_fraction_of_limit", "gflops_fraction_of_limit"})
                above = above || number(c, {"roofline", k}) > 1.0;
    if (above)
        notes.push_back("a fraction above 100%: the weights fit in a cache, so the DRAM ceiling does not bound them");
    if (auto cells = doc.find("cells"); cells != doc.end() && cells->is_array())
        for (const auto& c : *cells) {
            if (text_field(c, "status", "ok") != "ok" && text_field(c, "status", "") != "skipped")
                notes.push_back(fmt::format("{}: {}: {}", text_field(c, "status", "") == "invalid" ? "INVALID" : "failed",
                                            text_field(c, "id", "?"), text_field(c, "status_detail", "")));
            if (own_parity_verdict(c) == "FAIL" && c.contains("parity") && c["parity"].contains("failures"))
                for (const auto& f : c["parity"]["failures"])
                    notes.push_back(fmt::format("parity FAIL: {}: {}", text_field(c, "id", "?"), f.is_string() ? f.get<std::string>() : ""));
            const bool failed = (text_field(c, "status", "ok") != "ok" && text_field(c, "status", "") != "skipped") ||
                                own_parity_verdict(c) == "FAIL";
            if (failed && !text_field(c, "repro", "").empty())
                notes.push_back("  rerun it: " + text_field(c, "repro", ""));
        }
    if (nothing_ran(doc)) notes.push_back("nothing ran: every cell was skipped (see each cell's reason), so the run did not pass");
    if (s && s->contains("exit_code")) notes.push_back(fmt::format("exit code: {}", (*s)["exit_code"].dump()));
    return notes;
}

// ---- writers -------------------------------------------------------------------------------------

class TableWriter : public ReportWriter {
public:
    void write(const json& doc, std::ostream& out) const override {
        const auto rows = rows_of(doc);
        std::vector<size_t> width(kColumns.size());
        for (size_t i = 0; i < kColumns.size(); ++i) width[i] = kColumns[i].size();
        for (const auto& r : rows)
            for (size_t i = 0; i < r.display.size(); ++i) width[i] = std::max(width[i], r.display[i].size());
        auto line = [&](const std::vector<std::string>& cells) {
            std::string s;
            for (size_t i = 0; i < cells.size(); ++i) {
                const bool right = i >= kFirstNumeric && i <= kLastNumeric;
                s += right ? fmt::format("{:>{}}", cells[i], width[i]) : fmt::format("{:<{}}", cells[i], width[i]);
                if (i + 1 < cells.size()) s += "  ";
            }
            while (!s.empty() && s.back() == ' ') s.pop_back();
            out << s << "\n";
        };
        line(kColumns);
        std::vector<std::string> rule;
        for (size_t w : width) rule.push_back(std::string(w, '-'));
        line(rule);
        for (const auto& r : rows) line(r.display);
        out << "\n";
        for (const auto& n : notes_of(doc)) out << "  " << n << "\n";
    }
};

class CsvWriter : public ReportWriter {
public:
    void write(const json& doc, std::ostream& out) const override {
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
        line(header);
        for (auto r : rows_of(doc)) {
            r.raw.push_back(r.certified ? "true" : "false");
            line(r.raw);
        }
    }
};

class MarkdownWriter : public ReportWriter {
public:
    void write(const json& doc, std::ostream& out) const override {
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
    void write(const json& doc, std::ostream& out) const override { out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n"; }
};

}  // namespace

const std::vector<std::string>& report_formats() {
    static const std::vector<std::string> f = {"table", "json", "csv", "md"};
    return f;
}

std::unique_ptr<ReportWriter> make_report_writer(std::string_view format) {
    if (format == "table") return std::make_unique<TableWriter>();
    if (format == "json") return std::make_unique<JsonWriter>();
    if (format == "csv") return std::make_unique<CsvWriter>();
    if (format == "md") return std::make_unique<MarkdownWriter>();
    throw std::invalid_argument(fmt::format("unknown report format '{}' (expected table, json, csv or md)", format));
}

void write_report(const json& doc, std::string_view format, std::ostream& out) {
    make_report_writer(format)->write(doc, out);
}

}  // namespace rwkvb
