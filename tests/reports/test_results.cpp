// make_run_document, exit codes, the writers, and schema validation of the document.
#include "report_writers.hpp"
#include "results.hpp"
#include "sample_document.hpp"
#include "schema_validator.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace rwkvb {
namespace {

using nlohmann::json;
using namespace rwkvb::testing;

// These tests speak the document as written (JSON); the producers and writers are typed.
json make_run_document(json run, json system, json limits, const json& cells) {
    std::vector<CellResult> typed;
    for (const auto& c : cells) typed.push_back(cell_result_from_json(c));
    return rwkvb::make_run_document(std::move(run), std::move(system), std::move(limits), std::move(typed));
}
int run_exit_code(const json& doc) { return rwkvb::run_exit_code(run_document_from_json(doc).cells); }
bool nothing_ran(const json& doc) { return rwkvb::nothing_ran(run_document_from_json(doc).cells); }
void write_report(const json& doc, const std::string& format, std::ostream& out) {
    rwkvb::write_report(run_document_from_json(doc), parse_name<ReportFormat>(format), out);
}
std::vector<std::string> report_formats() { return all_names<ReportFormat>(); }

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += e + "\n";
    return s;
}

TEST(Results, SampleDocumentValidatesAgainstTheSchema) {
    const json doc = sample_document();
    const auto errors = validate_json(doc, load_results_schema());
    EXPECT_TRUE(errors.empty()) << joined(errors);
}

TEST(Results, BrokenDocumentsAreRejected) {
    const json schema = load_results_schema();
    json doc = sample_document();
    doc["cells"][0]["status"] = "exploded";
    doc["cells"][1].erase("id");
    doc["cells"][2]["timings"]["forward"].erase("samples");
    doc["cells"][5]["worker"]["signal"] = -1;
    const auto errors = validate_json(doc, schema);
    const std::string all = joined(errors);
    EXPECT_NE(all.find("/cells/0/status"), std::string::npos) << all;
    EXPECT_NE(all.find("/cells/1: missing required property 'id'"), std::string::npos) << all;
    EXPECT_NE(all.find("/cells/2/timings/forward: missing required property 'samples'"), std::string::npos) << all;
    EXPECT_NE(all.find("/cells/5/worker/signal"), std::string::npos) << all;
    EXPECT_EQ(errors.size(), 4u) << all;
}

TEST(Results, SummaryTiesSpeedToParityGroups) {
    const json doc = sample_document();
    const auto& s = doc["summary"];
    EXPECT_EQ(doc["schema"], "rwkvbench-results");
    EXPECT_EQ(doc["schema_version"], 2);
    EXPECT_EQ(s["cells"], 7);
    EXPECT_EQ(s["by_status"]["ok"], 5);
    EXPECT_EQ(s["by_status"]["crashed"], 1);
    EXPECT_EQ(s["by_status"]["skipped"], 1);
    EXPECT_EQ(s["parity"]["pass"], 1);
    EXPECT_EQ(s["parity"]["fail"], 1);
    EXPECT_EQ(s["parity_groups"].size(), 2u);
    EXPECT_TRUE(doc["cells"][1]["certification"]["certified"]);   // reference decode, group PASS
    EXPECT_FALSE(doc["cells"][4]["certification"]["certified"]);  // onednn decode, group FAIL
    EXPECT_EQ(doc["cells"][4]["certification"]["group_verdict"], "FAIL");
    EXPECT_EQ(s["uncertified_cells"], json({"onednn.0.rwkv7-tiny.decode.f32"}));
    EXPECT_EQ(s["exit_code"], 3);
}

TEST(Results, ExitCodesSmallestApplicableWins) {
    const json pass = parity_cell("reference", true), fail = parity_cell("onednn", false);
    const json crash = crashed_cell(), skip = skipped_cell(), speed = ok_speed_cell("reference", "decode", 1);
    auto code = [](json cells) { return run_exit_code(make_run_document({}, {}, {}, cells)); };
    EXPECT_EQ(code(json::array({pass, speed})), 0);
    EXPECT_EQ(code(json::array({pass, speed, skip})), 0);  // skipped never fails a run
    EXPECT_EQ(code(json::array({pass, crash})), 4);
    EXPECT_EQ(code(json::array({fail, crash})), 3);
    EXPECT_EQ(code(json::array({fail})), 3);
    json timeout = crashed_cell();
    timeout["status"] = "timeout";
    EXPECT_EQ(code(json::array({timeout})), 4);
    json load = crashed_cell();
    load["status"] = "load-error";
    EXPECT_EQ(code(json::array({load, pass})), 4);
    // Nothing ran: not "everything ran and passed" (DESIGN.md §8).
    EXPECT_EQ(code(json::array()), 4);
    EXPECT_EQ(code(json::array({skip, skip})), 4);
    EXPECT_TRUE(nothing_ran(make_run_document({}, {}, {}, json::array({skip}))));
    EXPECT_FALSE(nothing_ran(make_run_document({}, {}, {}, json::array({skip, speed}))));
    std::ostringstream table;
    write_report(make_run_document({}, {}, {}, json::array({skip})), "table", table);
    EXPECT_NE(table.str().find("nothing ran"), std::string::npos) << table.str();
}

// A parity cell's timing is no performance figure: even an old record flagged noisy is not
// listed or marked as noisy.
TEST(Results, ParityCellsAreNeverNoisy) {
    json p = parity_cell("reference", true);
    p["noisy"] = true;
    json speed = ok_speed_cell("reference", "decode", 5);
    speed["noisy"] = true;
    const json doc = make_run_document({}, {}, {}, json::array({p, speed}));
    EXPECT_EQ(doc["summary"]["noisy_cells"], json::array({speed["id"]}));
    std::ostringstream t;
    write_report(doc, "table", t);
    std::istringstream lines(t.str());
    int rows = 0;
    for (std::string l; std::getline(lines, l);) {
        if (l.rfind("reference ", 0) != 0) continue;  // cell rows only
        if (l.find(" parity ") != std::string::npos) {
            EXPECT_EQ(l.find("(noisy)"), std::string::npos) << l;
            ++rows;
        }
        if (l.find(" decode ") != std::string::npos) {
            EXPECT_NE(l.find("(noisy)"), std::string::npos) << l;
            ++rows;
        }
    }
    EXPECT_EQ(rows, 2) << t.str();
}

TEST(Results, ParityCellThatDidNotRunLeavesItsGroupUncertified) {
    json p = parity_cell("reference", true);
    p["status"] = "timeout";
    p.erase("parity");
    const json doc = make_run_document({}, {}, {}, json::array({p, ok_speed_cell("reference", "decode", 5)}));
    EXPECT_EQ(doc["cells"][1]["certification"]["group_verdict"], "NOT_RUN");
    EXPECT_FALSE(doc["cells"][1]["certification"]["certified"]);
    EXPECT_EQ(doc["summary"]["exit_code"], 4);
}

std::string render(const json& doc, const char* format) {
    std::ostringstream out;
    write_report(doc, format, out);
    return out.str();
}

// A timed cell whose own output failed the golden is invalid: never certified, even beside a
// PASSing parity cell; the run exits 3 (a parity failure) and the table says INVALID.
TEST(Results, InvalidTimedCellIsNeverCertified) {
    json bad = ok_speed_cell("reference", "batch", 900);
    bad["verification"] = verification(false);
    bad["status"] = "invalid";
    bad["status_detail"] = "invalid: the output produced while timed differs from the golden: " +
                           bad["verification"]["failures"][0].get<std::string>();
    const json doc = make_run_document({}, {}, {}, json::array({parity_cell("reference", true), bad,
                                                                 ok_speed_cell("reference", "decode", 5)}));
    EXPECT_TRUE(validate_json(doc, load_results_schema()).empty());
    EXPECT_FALSE(doc["cells"][1]["certification"]["certified"]);
    EXPECT_TRUE(doc["cells"][2]["certification"]["certified"]);
    EXPECT_EQ(doc["summary"]["invalid_cells"], json::array({bad["id"]}));
    EXPECT_EQ(doc["summary"]["exit_code"], 3);
    std::ostringstream t;
    write_report(doc, "table", t);
    EXPECT_NE(t.str().find("INVALID: " + bad["id"].get<std::string>()), std::string::npos) << t.str();
    EXPECT_EQ(t.str().find("900"), std::string::npos) << t.str();  // its speed is not shown
}

// An ok timed cell without a verified output (a record from before output checks, or one whose
// check did not run) is not certified either.
TEST(Results, TimedCellWithoutVerificationIsUncertified) {
    json speed = ok_speed_cell("reference", "decode", 5);
    speed.erase("verification");
    const json doc = make_run_document({}, {}, {}, json::array({parity_cell("reference", true), speed}));
    EXPECT_FALSE(doc["cells"][1]["certification"]["certified"]);
    EXPECT_EQ(doc["summary"]["uncertified_cells"], json::array({speed["id"]}));
}

TEST(Writers, TableShowsEveryCellAndMarksUncertifiedSpeed) {
    const std::string t = render(sample_document(), "table");
    EXPECT_NE(t.find("backend"), std::string::npos);
    EXPECT_NE(t.find("GFLOP/s"), std::string::npos);
    EXPECT_NE(t.find("[900.0] uncertified"), std::string::npos) << t;  // failed parity group
    EXPECT_NE(t.find("250.0"), std::string::npos);
    EXPECT_EQ(t.find("[250.0]"), std::string::npos);  // certified speed is plain
    EXPECT_NE(t.find("crashed(SIGSEGV)"), std::string::npos);
    EXPECT_NE(t.find("FAIL"), std::string::npos);
    EXPECT_NE(t.find("PASS"), std::string::npos);
    EXPECT_NE(t.find("machine limits: memory read 25.0 GB/s, f32 GEMM 80.0 GFLOP/s"), std::string::npos) << t;
    EXPECT_NE(t.find("parity FAIL: onednn.0.rwkv7-tiny.parity.f32: max rel L2"), std::string::npos) << t;
    EXPECT_NE(t.find("exit code: 3"), std::string::npos);
    // Columns are aligned: the header's "tok/s" ends where every row's speed column ends.
    std::istringstream lines(t);
    std::string header, rule;
    std::getline(lines, header);
    std::getline(lines, rule);
    EXPECT_EQ(rule.find_first_not_of("- "), std::string::npos);
}

// A speed without any parity cell in its group is as uncertified as one whose group FAILed.
TEST(Writers, SpeedWithoutAParityCellIsMarkedUncertified) {
    const json doc = make_run_document({}, {}, {}, json::array({ok_speed_cell("reference", "decode", 41.25)}));
    EXPECT_EQ(doc["cells"][0]["certification"]["group_verdict"], "NONE");
    for (const char* format : {"table", "md"}) {
        const std::string t = render(doc, format);
        EXPECT_NE(t.find("[41.2] uncertified"), std::string::npos) << format << "\n" << t;
        EXPECT_NE(t.find("none"), std::string::npos) << format << "\n" << t;
        EXPECT_NE(t.find("had no parity cell"), std::string::npos) << format << "\n" << t;
    }
    EXPECT_NE(render(doc, "csv").find(",false"), std::string::npos);
}

TEST(Writers, CsvHasOneLinePerCellAndRawNumbers) {
    const std::string c = render(sample_document(), "csv");
    std::istringstream in(c);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    ASSERT_EQ(lines.size(), 8u);
    EXPECT_EQ(lines[0].rfind("backend,device,workload,scenario,dtype,tok/s,p50,p99,", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find(",certified"), std::string::npos);
    EXPECT_NE(lines[5].find("onednn,0,rwkv7-tiny,decode,f32,900,"), std::string::npos) << lines[5];
    EXPECT_NE(lines[5].find(",false"), std::string::npos);
    EXPECT_NE(lines[2].find(",true"), std::string::npos);
}

TEST(Writers, MarkdownIsAPipeTable) {
    const std::string m = render(sample_document(), "md");
    EXPECT_EQ(m.rfind("| backend | device |", 0), 0u);
    EXPECT_NE(m.find("| --- |"), std::string::npos);
    EXPECT_NE(m.find("[900.0] uncertified"), std::string::npos);
    EXPECT_NE(m.find("- machine limits"), std::string::npos);
}

TEST(Writers, JsonIsTheDocumentItself) {
    const json doc = sample_document();
    EXPECT_EQ(json::parse(render(doc, "json")), doc);
}

TEST(Writers, UnknownFormatIsAnError) {
    EXPECT_THROW(render(sample_document(), "xml"), std::invalid_argument);
}

TEST(Writers, SurviveMinimalRecords) {
    json bare = {{"id", "x"}, {"status", "error"}, {"status_detail", "error: boom"}};
    const json doc = make_run_document({}, {}, {}, json::array({bare}));
    for (const auto& f : report_formats()) EXPECT_NO_THROW(render(doc, f.c_str())) << f;
    EXPECT_NE(render(doc, "table").find("error: boom"), std::string::npos);
}

// Schema version 1 documents (before the typed record) are still read: dtype spellings of the
// safetensors kind become the command line's, the roofline's bound follows the scenario, and
// the summary is computed again from the cells.
TEST(Results, VersionOneDocumentsAreRead) {
    json v1 = sample_document();
    v1["schema_version"] = 1;
    for (auto& c : v1["cells"]) {
        if (c.contains("backend")) c["backend"]["device"]["weight_dtypes"] = json::array({"F32", "I8"});
        if (c.contains("roofline")) c["roofline"].erase("bound");
    }
    const RunDocument d = run_document_from_json(v1);
    EXPECT_EQ(d.schema_version, 1);
    ASSERT_EQ(d.cells.size(), 7u);
    ASSERT_TRUE(d.cells[2].backend);
    EXPECT_EQ(d.cells[2].backend->device.weight_dtypes, (std::vector<std::string>{"f32", "int8"}));
    ASSERT_TRUE(d.cells[2].roofline);
    EXPECT_EQ(d.cells[2].spec.scenario, Scenario::prefill);
    EXPECT_EQ(d.cells[2].roofline->bound, Bound::compute);
    EXPECT_EQ(d.cells[1].roofline->bound, Bound::memory);
    EXPECT_EQ(d.summary.exit_code, 3);
    EXPECT_EQ(json(d)["schema_version"], 2);  // written back as the current version
    json future = v1;
    future["schema_version"] = 3;
    EXPECT_THROW(run_document_from_json(future), std::invalid_argument);
    EXPECT_THROW(run_document_from_json(json{{"schema", "something-else"}}), std::invalid_argument);
}

}  // namespace
}  // namespace rwkvb
