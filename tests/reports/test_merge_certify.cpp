// `rwkvbench merge` and `rwkvbench certify`: each certify rule failing on a crafted document and
// naming its cell, VALID on a clean one; the certificate's hash catching a one-byte edit; merge
// keeping origins, refusing a run given twice, flattening merged inputs; the fleet table; and the
// real binary end to end (two reference runs merged, compared, certified).
#include "certify.hpp"
#include "compare.hpp"
#include "io/atomic_file.hpp"
#include "io/sha256.hpp"
#include "measure/stats.hpp"
#include "merge.hpp"
#include "report_writers.hpp"
#include "results.hpp"
#include "run/plan.hpp"
#include "run_cli.hpp"
#include "sample_document.hpp"
#include "schema_validator.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace rwkvb {
namespace {

using nlohmann::json;
using namespace rwkvb::testing;
using rwkvb::test::run_cli;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- a clean run, as JSON: VALID under the default bounds --------------------------------------

const std::string kDecode = "reference.0.rwkv7-tiny.decode.f32";
const std::string kParity = "reference.0.rwkv7-tiny.parity.f32";

json quiet_load(double load) {
    const json snap = {{"time", "2024-05-02T00:00:00Z"}, {"loadavg", {load, load, load}}, {"governors", "unavailable"}};
    return {{"before", snap}, {"after", snap}};
}

json clean_cell(json c) {
    // Repetitions summing to 1.25 s with a CV near 2%: enough measured time, quiet enough.
    const std::vector<double> reps = {0.25, 0.255, 0.245, 0.25, 0.252};
    if (c["spec"]["scenario"] != "parity") c["timings"]["sequence"] = stats_json(reps);
    c["noise"]["cv"] = 0.02;
    c["contention"] = {{"foreign_cpu_cores", 0.01}, {"steal_cores", 0.0}, {"wall_s", 1.5}, {"bound_cores", 0.25},
                       {"contended", false}};
    c["host_load"] = quiet_load(0.3);
    return c;
}

json clean_run_json(const std::string& host = "hostA", const std::string& when = "2024-05-02T00:00:00Z") {
    json cells = json::array({clean_cell(parity_cell("reference", true)), clean_cell(ok_speed_cell("reference", "decode", 250))});
    json run = {{"tool", "rwkvbench"}, {"version", "0.1.0"}, {"git_hash", "0123456789ab"}, {"build_type", "Release"},
                {"hostname", host}, {"timestamp_utc", when}, {"command_line", {"rwkvbench", "run"}},
                {"run_dir", "/runs/" + host + "-" + when}};
    json system = {{"cpu", {{"model", "Test CPU " + host}, {"logical_cpus", 4}}}, {"os", {{"hostname", host}}}};
    json limits = {{"schema", "rwkvbench-limits"}, {"memory_read_gbps", 25.0}, {"gemm_f32_gflops", 80.0},
                   {"host", host}, {"threads", 2}, {"measured_at", "2024-05-01T00:00:00Z"},
                   {"measured_under", {{"contended", false}}}};
    std::vector<CellResult> typed;
    for (const auto& c : cells) typed.push_back(cell_result_from_json(c));
    return make_run_document(run, system, limits, std::move(typed));
}

std::vector<PlannedCellRef> plan_of(const json& doc) {
    std::vector<PlannedCellRef> plan;
    for (const auto& c : doc["cells"]) plan.push_back({c["id"].get<std::string>(), ""});
    return plan;
}

json& cell(json& doc, const std::string& id) {
    for (auto& c : doc["cells"])
        if (c["id"] == id) return c;
    throw std::logic_error("no cell " + id);
}

std::string failed(const CertifyReport& r) {
    std::string s;
    for (const auto& o : r.rules)
        for (const auto& f : o.failures) s += o.id + ": " + f.cell + ": " + f.detail + "\n";
    return s;
}

// ---- certify: the rules ----------------------------------------------------------------------

TEST(Certify, CleanRunIsValidAndEveryRuleIsJudged) {
    const json doc = clean_run_json();
    const auto r = certify_run(run_document_from_json(doc), plan_of(doc), {});
    EXPECT_TRUE(r.valid) << failed(r);
    std::set<std::string> ids;
    for (const auto& o : r.rules) {
        ids.insert(o.id);
        EXPECT_EQ(o.verdict, Verdict::pass) << o.id;
    }
    EXPECT_EQ(ids, (std::set<std::string>{"all_cells_ran", "parity_pass", "outputs_verified", "min_measured_time",
                                          "cv_bound", "quiet_host", "release_build", "limits_fresh"}));
}

struct Breakage {
    const char* name;
    std::function<void(json& doc, std::vector<PlannedCellRef>& plan)> edit;
    const char* rule;  // the one rule that must FAIL
    std::string cell;  // the offending cell it must name ("" = the run)
    const char* detail;
};

TEST(Certify, EachBrokenRuleFailsAloneAndNamesTheOffender) {
    const std::vector<Breakage> cases = {
        {"parity FAIL",
         [](json& d, auto&) { cell(d, kParity)["parity"] = parity_cell("reference", false)["parity"]; },
         "parity_pass", kParity, "parity FAIL"},
        {"no parity cell",
         [](json& d, auto& plan) {
             d["cells"].erase(0);
             plan.erase(plan.begin());
         },
         "parity_pass", kDecode, "no parity cell"},
        {"missing cell",
         [](json&, auto& plan) { plan.push_back({"reference.0.rwkv7-tiny.prefill.f32", ""}); },
         "all_cells_ran", "reference.0.rwkv7-tiny.prefill.f32", "no record"},
        {"skipped cell",
         [](json&, auto& plan) { plan.push_back({"reference.0.rwkv7-tiny.batch.int8", "no int8 here"}); },
         "all_cells_ran", "reference.0.rwkv7-tiny.batch.int8", "skipped"},
        {"record not planned",
         [](json&, auto& plan) { plan.pop_back(); },
         "all_cells_ran", kDecode, "plan does not hold"},
        {"noisy cell", [](json& d, auto&) { cell(d, kDecode)["noise"]["cv"] = 0.2; }, "cv_bound", kDecode, "0.2"},
        {"output not verified", [](json& d, auto&) { cell(d, kDecode).erase("verification"); }, "outputs_verified",
         kDecode, "not verified"},
        {"output FAIL", [](json& d, auto&) { cell(d, kDecode)["verification"] = verification(false); },
         "outputs_verified", kDecode, "verification FAIL"},
        {"short cell",
         [](json& d, auto&) { cell(d, kDecode)["timings"]["sequence"] = stats_json(std::vector<double>{0.01, 0.0101, 0.0099}); },
         "min_measured_time", kDecode, "less than 1 s"},
        {"contended", [](json& d, auto&) { cell(d, kDecode)["contention"]["contended"] = true; }, "quiet_host", kDecode,
         "contended"},
        {"contention unmeasured", [](json& d, auto&) { cell(d, kDecode).erase("contention"); }, "quiet_host", kDecode,
         "not measured"},
        {"loaded host", [](json& d, auto&) { cell(d, kDecode)["host_load"]["after"]["loadavg"][0] = 9.0; },
         "quiet_host", kDecode, "after 9.00 above 4"},
        {"debug build", [](json& d, auto&) { d["run"]["build_type"] = "Debug"; }, "release_build", "", "Debug"},
        {"dirty tree", [](json& d, auto&) { d["run"]["git_hash"] = "0123456789ab-dirty"; }, "release_build", "",
         "modified tree"},
        {"no limits", [](json& d, auto&) { d["limits"] = json::object(); }, "limits_fresh", "", "no machine limits"},
        {"old limits", [](json& d, auto&) { d["limits"]["measured_at"] = "2024-04-01T00:00:00Z"; }, "limits_fresh", "",
         "31.0 days before"},
        {"limits of another host", [](json& d, auto&) { d["limits"]["host"] = "hostB"; }, "limits_fresh", "",
         "host 'hostB'"},
        {"limits under contention", [](json& d, auto&) { d["limits"]["measured_under"]["contended"] = true; },
         "limits_fresh", "", "under contention"},
    };
    for (const auto& b : cases) {
        json doc = clean_run_json();
        auto plan = plan_of(doc);
        b.edit(doc, plan);
        const auto r = certify_run(run_document_from_json(doc), plan, {});
        EXPECT_FALSE(r.valid) << b.name;
        EXPECT_EQ(r.failed_rules(), std::vector<std::string>{b.rule}) << b.name << "\n" << failed(r);
        for (const auto& o : r.rules) {
            if (o.id != b.rule) continue;
            ASSERT_FALSE(o.failures.empty()) << b.name;
            EXPECT_EQ(o.failures[0].cell, b.cell) << b.name;
            EXPECT_TRUE(contains(o.failures[0].detail, b.detail)) << b.name << ": " << o.failures[0].detail;
        }
    }
}

TEST(Certify, BoundsAreOptions) {
    json doc = clean_run_json();
    cell(doc, kDecode)["host_load"] = quiet_load(3.0);
    const auto d = run_document_from_json(doc);
    auto failed_with = [&](const std::function<void(CertifyOptions&)>& set) {
        CertifyOptions o;
        set(o);
        return certify_run(d, plan_of(doc), o).failed_rules();
    };
    EXPECT_TRUE(certify_run(d, plan_of(doc), {}).valid);  // default bound: 4 logical CPUs
    EXPECT_EQ(failed_with([](auto& o) { o.max_load = 2.0; }), std::vector<std::string>{"quiet_host"});
    EXPECT_EQ(failed_with([](auto& o) { o.min_cell_time_s = 2.0; }), std::vector<std::string>{"min_measured_time"});
    EXPECT_EQ(failed_with([](auto& o) { o.max_cv = 0.01; }), std::vector<std::string>{"cv_bound"});
    EXPECT_EQ(failed_with([](auto& o) { o.limits_max_age_days = 0; }), std::vector<std::string>{"limits_fresh"});
}

TEST(Certify, MergedDocumentIsRefused) {
    const auto merged = merge_runs({{"a", run_document_from_json(clean_run_json("hostA"))},
                                    {"b", run_document_from_json(clean_run_json("hostB"))}});
    EXPECT_THROW(certify_run(merged, {}, {}), std::invalid_argument);
}

std::string sha_of(const json& results) {
    const std::string t = canonical_results_text(results);
    return sha256_hex(std::as_bytes(std::span(t.data(), t.size())));
}

TEST(Certify, CertificateHashIsOfCanonicalResults) {
    const json doc = clean_run_json();
    // Sorted keys, no whitespace: formatting and key order do not count; a value does.
    EXPECT_EQ(canonical_results_text(json::parse(R"({"b": 1,
        "a": [1, 2.5, "x y"]})")), R"({"a":[1,2.5,"x y"],"b":1})");
    EXPECT_EQ(canonical_results_text(json::parse(doc.dump(2))), canonical_results_text(doc));
    json edited = doc;
    edited["cells"][1]["throughput"]["tokens_per_s"] = 251.0;
    EXPECT_NE(sha_of(edited), sha_of(doc));

    const auto d = run_document_from_json(doc);
    const auto report = certify_run(d, plan_of(doc), {});
    const json cert = make_certificate(report, d, {}, sha_of(doc), "/runs/a/results.json");
    EXPECT_EQ(cert["verdict"], "VALID");
    EXPECT_EQ(cert["rules"].size(), certify_rules().size());
    EXPECT_TRUE(check_certificate(cert, sha_of(doc)).valid());
    EXPECT_FALSE(check_certificate(cert, sha_of(edited)).valid());
    EXPECT_FALSE(check_certificate(cert, sha_of(edited)).hash_matches);
    EXPECT_TRUE(rules_contradicting(cert, d).empty());
    EXPECT_THROW(check_certificate(doc, sha_of(doc)), std::invalid_argument);  // a results document is no certificate

    // An INVALID certificate stays INVALID, and one turned VALID by hand is caught.
    json noisy = doc;
    cell(noisy, kDecode)["noise"]["cv"] = 0.3;
    const auto nd = run_document_from_json(noisy);
    json bad = make_certificate(certify_run(nd, plan_of(noisy), {}), nd, {}, sha_of(noisy), "r.json");
    EXPECT_EQ(bad["verdict"], "INVALID");
    EXPECT_FALSE(check_certificate(bad, sha_of(noisy)).valid());
    EXPECT_EQ(check_certificate(bad, sha_of(noisy)).failed_rules, std::vector<std::string>{"cv_bound"});
    bad["verdict"] = "VALID";
    for (auto& r : bad["rules"]) r["verdict"] = "PASS";
    EXPECT_TRUE(check_certificate(bad, sha_of(noisy)).valid());  // the hash alone cannot see it
    EXPECT_EQ(rules_contradicting(bad, nd), std::vector<std::string>{"cv_bound"});
}

// ---- merge -----------------------------------------------------------------------------------

std::vector<std::string> origins_of(const RunDocument& d) {
    std::vector<std::string> out;
    for (const auto& c : d.cells) out.push_back(c.origin.value_or("(none)"));
    return out;
}

TEST(Merge, CellsKeepTheirRunOfOrigin) {
    const auto merged = merge_runs({{"a/results.json", run_document_from_json(clean_run_json("hostA"))},
                                    {"b/results.json", run_document_from_json(clean_run_json("hostB"))}});
    EXPECT_EQ(origins_of(merged), (std::vector<std::string>{"hostA", "hostA", "hostB", "hostB"}));
    ASSERT_TRUE(merged.runs.is_object());
    EXPECT_EQ(merged.runs.size(), 2u);
    EXPECT_EQ(merged.runs["hostB"]["source"], "b/results.json");
    EXPECT_EQ(merged.runs["hostB"]["system"]["cpu"]["model"], "Test CPU hostB");
    EXPECT_EQ(merged.runs["hostA"]["limits"]["host"], "hostA");
    EXPECT_TRUE(merged.limits.empty());
    // One parity group per run, each certifying its own run's speed.
    EXPECT_EQ(merged.summary.parity_groups.size(), 2u);
    EXPECT_TRUE(merged.summary.uncertified_cells.empty());

    // Written, it is a valid results document and reads back the same.
    const json j = merged;
    const auto errors = validate_json(j, load_results_schema());
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front());
    const auto back = run_document_from_json(j);
    EXPECT_EQ(origins_of(back), origins_of(merged));
    EXPECT_EQ(back.runs, merged.runs);
    // Every writer takes it.
    for (const auto& f : all_names<ReportFormat>()) {
        std::ostringstream out;
        EXPECT_NO_THROW(write_report(back, parse_name<ReportFormat>(f), out)) << f;
        EXPECT_FALSE(out.str().empty()) << f;
    }
}

TEST(Merge, RunsOfOneHostAreNumberedByStartTimeWhateverTheOrder) {
    const auto early = run_document_from_json(clean_run_json("hostA", "2024-05-02T00:00:00Z"));
    const auto late = run_document_from_json(clean_run_json("hostA", "2024-05-03T00:00:00Z"));
    const auto ab = merge_runs({{"early", early}, {"late", late}});
    const auto ba = merge_runs({{"late", late}, {"early", early}});
    EXPECT_EQ(ab.runs["hostA"]["source"], "early");
    EXPECT_EQ(ab.runs["hostA#2"]["source"], "late");
    EXPECT_EQ(ba.runs["hostA"]["source"], "early");
    EXPECT_EQ(ba.runs["hostA#2"]["source"], "late");
}

TEST(Merge, TheSameRunTwiceIsRefusedNamingBothFiles) {
    const auto a = run_document_from_json(clean_run_json("hostA"));
    try {
        merge_runs({{"x/results.json", a}, {"y/results.json", a}});
        FAIL() << "merged the same run twice";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_TRUE(contains(what, "x/results.json") && contains(what, "y/results.json") && contains(what, "same run"))
            << what;
    }
    // A copy moved elsewhere: another run_dir, but the same start, host and command line.
    json moved = clean_run_json("hostA");
    moved["run"]["run_dir"] = "/elsewhere";
    EXPECT_THROW(merge_runs({{"x", a}, {"y", run_document_from_json(moved)}}), std::invalid_argument);
    // Two cells of one id in one run.
    json twice = clean_run_json("hostB");
    twice["cells"].push_back(twice["cells"][0]);
    EXPECT_THROW(merge_runs({{"x", a}, {"y", run_document_from_json(twice)}}), std::invalid_argument);
}

TEST(Merge, AMergedInputIsFlattenedKeepingItsOrigins) {
    const auto a = run_document_from_json(clean_run_json("hostA"));
    const auto b = run_document_from_json(clean_run_json("hostB"));
    const auto a2 = run_document_from_json(clean_run_json("hostA", "2024-05-04T00:00:00Z"));
    const auto ab = run_document_from_json(json(merge_runs({{"a", a}, {"b", b}})));
    const auto all = merge_runs({{"fleet.json", ab}, {"c", a2}});
    EXPECT_EQ(all.runs.size(), 3u);
    EXPECT_EQ(all.runs["hostA"]["source"], "a");  // kept from the first merge
    EXPECT_EQ(all.runs["hostB"]["source"], "b");
    EXPECT_EQ(all.runs["hostA#2"]["source"], "c");
    EXPECT_EQ(origins_of(all), (std::vector<std::string>{"hostA", "hostA", "hostB", "hostB", "hostA#2", "hostA#2"}));
    // A run already in the merged input is refused.
    try {
        merge_runs({{"fleet.json", ab}, {"b/results.json", b}});
        FAIL() << "merged a run twice";
    } catch (const std::invalid_argument& e) {
        EXPECT_TRUE(contains(e.what(), "fleet.json (run hostB)") && contains(e.what(), "b/results.json")) << e.what();
    }
}

TEST(Merge, FleetTableHasOneColumnPerRun) {
    json b = clean_run_json("hostB");
    cell(b, kParity)["parity"] = parity_cell("reference", false)["parity"];  // hostB's speed is uncertified
    json a = clean_run_json("hostA");
    a["cells"].push_back(crashed_cell());
    const auto merged = merge_runs({{"a", run_document_from_json(a)}, {"b", run_document_from_json(b)}});
    std::ostringstream table;
    write_fleet_table(merged, ReportFormat::table, table);
    const std::string t = table.str();
    EXPECT_TRUE(contains(t, "hostA") && contains(t, "hostB")) << t;
    std::string decode_row, parity_row, crash_row;
    std::istringstream lines(t);
    for (std::string l; std::getline(lines, l);) {
        if (contains(l, "reference") && contains(l, "decode")) decode_row = l;
        if (contains(l, "reference") && contains(l, "parity")) parity_row = l;
        if (contains(l, "faulty")) crash_row = l;
    }
    EXPECT_TRUE(contains(decode_row, " 250.0  ") && contains(decode_row, "[250.0]")) << t;
    EXPECT_TRUE(contains(parity_row, "PASS") && contains(parity_row, "FAIL")) << t;
    EXPECT_TRUE(contains(crash_row, "crashed")) << t;
    EXPECT_TRUE(contains(t, "hostA: Test CPU hostA, 2024-05-02T00:00:00Z, git 0123456789ab Release, a")) << t;

    std::ostringstream csv;
    write_fleet_table(merged, ReportFormat::csv, csv);
    EXPECT_TRUE(contains(csv.str(), "backend,device,workload,scenario,dtype,params,hostA tok/s,hostA status,hostB tok/s,"
                                    "hostB status\r\n"))
        << csv.str();
    EXPECT_TRUE(contains(csv.str(), ",250,certified,250,uncertified\r\n")) << csv.str();
    std::ostringstream md;
    write_fleet_table(merged, ReportFormat::md, md);
    EXPECT_TRUE(contains(md.str(), "| backend | device |")) << md.str();
    std::ostringstream js;
    EXPECT_THROW(write_fleet_table(merged, ReportFormat::json, js), std::invalid_argument);
}

TEST(Merge, AMergedDocumentComparesWithItself) {
    const auto merged = merge_runs({{"a", run_document_from_json(clean_run_json("hostA"))},
                                    {"b", run_document_from_json(clean_run_json("hostB"))}});
    const auto c = compare_runs(merged, merged, {});
    EXPECT_EQ(c.exit_code, kExitOk);
    EXPECT_TRUE(c.same_host);
    ASSERT_EQ(c.cells.size(), 4u);  // matched within each run, not across
    for (const auto& cc : c.cells) EXPECT_EQ(cc.verdict, CompareVerdict::same) << cc.key << ": " << cc.why;
}

// ---- the real binary -------------------------------------------------------------------------

class MergeCertifyCli : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / (std::string("rwkvb_mc_") + info->name() + "_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        if (!HasFailure()) fs::remove_all(dir_);
    }
    // A run directory as `run` leaves it: plan.json and results.json.
    fs::path write_run(const std::string& name, const json& doc) {
        const fs::path d = dir_ / name;
        fs::create_directories(d);
        json cells = json::array();
        for (const auto& c : doc["cells"]) cells.push_back(PlannedCell{c["spec"].get<CellSpec>(), ""});
        write_file_atomically(d / "plan.json", json{{"run", doc["run"]}, {"models", json::array()}, {"cells", cells}}.dump(2));
        write_file_atomically(d / "results.json", doc.dump(2) + "\n");
        return d;
    }
    static std::string last_line(const std::string& text) {
        std::string s = text;
        while (!s.empty() && s.back() == '\n') s.pop_back();
        return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
    }
    fs::path dir_;
};

TEST_F(MergeCertifyCli, CertifyAndVerifyCatchAOneByteEdit) {
    // A key the typed record does not keep: the hash is of the file's content, not of a re-serialisation.
    json doc = clean_run_json();
    cell(doc, kDecode)["note"] = "kept only in the file";
    const fs::path run = write_run("clean", doc);
    auto r = run_cli({"certify", run.string()});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << r.out;
    EXPECT_EQ(last_line(r.out), "VALID") << r.out;
    EXPECT_TRUE(contains(r.out, "cv_bound")) << r.out;
    const fs::path cert = run / "certificate.json";
    ASSERT_TRUE(fs::exists(cert));
    const json c = json::parse(read_file(cert));
    EXPECT_EQ(c["verdict"], "VALID");
    EXPECT_EQ(c["results_sha256"], sha_of(json::parse(read_file(run / "results.json"))));

    const std::string results = (run / "results.json").string();
    r = run_cli({"certify", "--verify", cert.string(), results});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << r.out;
    EXPECT_EQ(last_line(r.out), "VALID");

    // Whitespace is no content: still VALID.
    write_file_atomically(results, read_file(results) + "\n\n");
    EXPECT_EQ(run_cli({"certify", "--verify", cert.string(), results}).exit_code, 0);

    // One byte of a speed changed: 250 → 350.
    std::string bytes = read_file(results);
    const size_t at = bytes.find("\"tokens_per_s\": 250");
    ASSERT_NE(at, std::string::npos);
    bytes[at + std::string("\"tokens_per_s\": ").size()] = '3';
    write_file_atomically(results, bytes);
    r = run_cli({"certify", "--verify", cert.string(), results});
    EXPECT_EQ(r.exit_code, 6) << r.describe() << r.out;
    EXPECT_EQ(last_line(r.out), "INVALID: results were edited after certification") << r.out;

    // Files that are not what they should be: exit 2.
    EXPECT_EQ(run_cli({"certify", "--verify", results, results}).exit_code, 2);
    EXPECT_EQ(run_cli({"certify", "--verify", cert.string(), cert.string()}).exit_code, 2);
    EXPECT_EQ(run_cli({"certify", dir_.string()}).exit_code, 2);  // no results.json
    EXPECT_EQ(run_cli({"certify", run.string(), results}).exit_code, 2);  // two paths without --verify
}

TEST_F(MergeCertifyCli, InvalidRunNamesEveryFailedRule) {
    json doc = clean_run_json();
    cell(doc, kDecode)["noise"]["cv"] = 0.2;
    doc["run"]["build_type"] = "Debug";
    const fs::path run = write_run("noisy", doc);
    const fs::path cert = dir_ / "cert.json";
    auto r = run_cli({"certify", run.string(), "-o", cert.string()});
    EXPECT_EQ(r.exit_code, 6) << r.describe() << r.out;
    EXPECT_EQ(last_line(r.out), "INVALID: cv_bound, release_build") << r.out;
    EXPECT_TRUE(contains(r.out, kDecode + ": repetition CV 0.2 above 0.05")) << r.out;
    const json c = json::parse(read_file(cert));
    EXPECT_EQ(c["verdict"], "INVALID");
    // --verify of an INVALID certificate: the results match, the verdict stays INVALID.
    r = run_cli({"certify", "--verify", cert.string(), run.string()});
    EXPECT_EQ(r.exit_code, 6) << r.describe() << r.out;
    EXPECT_TRUE(contains(r.out, "matches the certificate")) << r.out;
    EXPECT_EQ(last_line(r.out), "INVALID: cv_bound, release_build") << r.out;
    // A bound loosened on the command line makes that rule PASS.
    r = run_cli({"certify", run.string(), "-o", cert.string(), "--max-cv", "0.5"});
    EXPECT_EQ(last_line(r.out), "INVALID: release_build") << r.out;
}

// Two real runs of the reference backend, merged, compared and certified.
TEST_F(MergeCertifyCli, RealRunsMergeCompareAndCertify) {
    const rwkvb::test::RunOptions env{120, {"RWKVBENCH_CACHE_DIR=" + (dir_ / "cache").string()}};
    std::vector<fs::path> runs;
    for (const char* name : {"r1", "r2"}) {
        runs.push_back(dir_ / name);
        const auto r = run_cli({"run", "-b", "reference", "-w", "rwkv7-tiny", "-s", "decode,parity", "--threads", "1",
                                "--tokens", "4", "--prompt", "4", "--parity-tokens", "4", "--repetitions", "5",
                                "--min-time", "0", "--target-ci", "0", "--skip-limits", "--dir", runs.back().string()},
                               env);
        ASSERT_EQ(r.exit_code, 0) << r.describe();
    }
    const std::string fleet = (dir_ / "fleet.json").string();
    auto r = run_cli({"merge", runs[0].string(), runs[1].string(), "-o", fleet});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const json merged = json::parse(read_file(fleet));
    ASSERT_EQ(merged["runs"].size(), 2u) << merged["runs"].dump();
    std::set<std::string> origins;
    for (const auto& c : merged["cells"]) origins.insert(c.value("origin", "(none)"));
    std::set<std::string> run_ids;
    for (const auto& [k, v] : merged["runs"].items()) run_ids.insert(k);
    EXPECT_EQ(origins, run_ids);
    EXPECT_EQ(merged["cells"].size(), 4u);
    for (const auto& id : run_ids) EXPECT_TRUE(contains(r.out, id)) << r.out;  // a column per run
    EXPECT_TRUE(validate_json(merged, load_results_schema()).empty());

    // The same run twice: refused with one line naming both.
    r = run_cli({"merge", runs[0].string(), (runs[0] / "results.json").string(), "-o", (dir_ / "x.json").string()});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "same run")) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "x.json"));
    // Not a results document, or an output that is not .json: exit 2 too.
    EXPECT_EQ(run_cli({"merge", runs[0].string(), (runs[0] / "plan.json").string(), "-o", (dir_ / "x.json").string()})
                  .exit_code,
              2);
    EXPECT_EQ(run_cli({"merge", runs[0].string(), runs[1].string(), "-o", (dir_ / "x.csv").string()}).exit_code, 2);

    // compare takes the merged document; against itself every cell is the same.
    r = run_cli({"compare", fleet, fleet, "--format", "json", "--max-cv", "100"});
    EXPECT_EQ(r.exit_code, 0) << r.describe() << r.out;
    const json cmp = json::parse(r.out);
    ASSERT_EQ(cmp["cells"].size(), 4u) << r.out;
    for (const auto& c : cmp["cells"]) EXPECT_EQ(c["verdict"], "same") << c.dump();

    // certify: this run skipped the limits (none cached in its fresh cache), so it is INVALID; the
    // rules about what ran and what it computed PASS.
    r = run_cli({"certify", runs[0].string()});
    EXPECT_EQ(r.exit_code, 6) << r.describe() << r.out;
    EXPECT_TRUE(contains(last_line(r.out), "INVALID: ")) << r.out;
    EXPECT_TRUE(contains(last_line(r.out), "limits_fresh")) << r.out;
    EXPECT_FALSE(contains(last_line(r.out), "all_cells_ran")) << r.out;
    EXPECT_FALSE(contains(last_line(r.out), "parity_pass")) << r.out;
    EXPECT_FALSE(contains(last_line(r.out), "outputs_verified")) << r.out;
    r = run_cli({"certify", "--verify", (runs[0] / "certificate.json").string(), runs[0].string()});
    EXPECT_EQ(r.exit_code, 6) << r.describe() << r.out;
    EXPECT_TRUE(contains(r.out, "matches the certificate")) << r.out;
    // A merged document is no run to certify.
    r = run_cli({"certify", fleet});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "merged document")) << r.err;
}

}  // namespace
}  // namespace rwkvb
