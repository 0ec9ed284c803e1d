// Discovery in child processes and byte-safe plugin strings, end to end with the real rwkvbench
// binary: a plugin that hangs or crashes while loaded or asked for its devices is listed with
// the reason and skipped, while `list` and `run` go on with the honest ones; a plugin speaking
// Latin-1 yields valid JSON everywhere. The hanging plugin costs its (short) discovery timeout.
#include "io/atomic_file.hpp"
#include "plugin/discovery.hpp"
#include "plugin/plugin.hpp"
#include "run_cli.hpp"
#include "io/utf8.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace rwkvb;
using json = nlohmann::json;
using test::CliResult;
using test::run_cli;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

std::string fault_plugin(const std::string& name) {
    return (fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so")).string();
}

// As discovery names a plugin it knows only by its file.
std::string canonical_fault_plugin(const std::string& name) { return fs::weakly_canonical(fault_plugin(name)).string(); }

// nlohmann's parser refuses invalid UTF-8, so parsing is the validity check.
json strictly_parsed(const std::string& text) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not valid JSON (or not valid UTF-8):\n" << text.substr(0, 2000);
    return j;
}

std::map<std::string, json> plugins_by_file(const json& listing) {
    std::map<std::string, json> m;
    for (const auto& p : listing.at("plugins")) m[fs::path(p.at("path").get<std::string>()).filename().string()] = p;
    return m;
}

std::map<std::string, json> cells_by_id(const fs::path& results) {
    std::map<std::string, json> m;
    const json doc = strictly_parsed(read_file(results));
    for (const auto& c : doc.at("cells")) m[c.at("id").get<std::string>()] = c;
    return m;
}

test::RunOptions within(double seconds) {
    test::RunOptions o;
    o.timeout_s = seconds;
    return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Discovery : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / ("rwkvb_discovery_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        // The end-to-end tests' cache: tiny synthetic weights and golden logits are made once.
        ::setenv("RWKVBENCH_CACHE_DIR", (fs::temp_directory_path() / "rwkvb_e2e_cache").c_str(), 1);
    }
    void TearDown() override {
        if (!HasFailure()) fs::remove_all(dir_);
    }

    // `run` on the tiny preset with few tokens, in a run directory of this test.
    CliResult small_run(std::vector<std::string> args) {
        args.insert(args.begin(), "run");
        for (const char* a : {"--workload", "rwkv7-tiny", "--prompt", "4", "--tokens", "4", "--parity-tokens", "8",
                              "--warmup", "0", "--repetitions", "2", "--min-time", "0", "--target-ci", "0", "--skip-limits"})
            args.push_back(a);
        args.insert(args.end(), {"--dir", run_dir().string()});
        return run_cli(args, within(120));
    }
    fs::path run_dir() const { return dir_ / "run"; }

    // An executable standing in for rwkvbench: `probe --plugin P --out F` makes F its $5.
    fs::path fake_probe(const std::string& name, const std::string& body) {
        const fs::path p = dir_ / name;
        std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
        fs::permissions(p, fs::perms::owner_all);
        return p;
    }

    fs::path dir_;
};

const std::vector<std::string> kDiscoveryFaults = {"fault_discovery_hang", "fault_discovery_segv", "fault_ctor_segv"};

std::vector<std::string> with_plugins(std::vector<std::string> args, const std::vector<std::string>& names) {
    for (const auto& n : names) args.insert(args.end(), {"--plugin", fault_plugin(n)});
    return args;
}

}  // namespace

TEST_F(Discovery, ListGivesUpOnPluginsThatHangOrCrashAndDescribesTheRest) {
    const auto start = std::chrono::steady_clock::now();
    auto names = kDiscoveryFaults;
    names.push_back("noop");
    const CliResult r = run_cli(with_plugins({"list", "--format", "json", "--discovery-timeout", "2"}, names),
                                within(60));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(r.signal, 0) << r.describe();
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    auto plugins = plugins_by_file(strictly_parsed(r.out));

    const json& hang = plugins["librwkvb_fault_discovery_hang.so"];
    EXPECT_EQ(hang["status"], "timeout") << hang;
    EXPECT_TRUE(contains(hang.value("error", ""), "fault_discovery_hang: timeout after 2 s while counting devices"))
        << hang;
    const json& segv = plugins["librwkvb_fault_discovery_segv.so"];
    EXPECT_EQ(segv["status"], "load-error") << segv;
    EXPECT_EQ(segv["abi_ok"], true) << segv;  // its table was fine; device_count was not
    EXPECT_TRUE(contains(segv.value("error", ""), "crashed(SIGSEGV) while counting devices (device_count)")) << segv;
    const json& ctor = plugins["librwkvb_fault_ctor_segv.so"];
    EXPECT_EQ(ctor["status"], "load-error") << ctor;
    EXPECT_EQ(ctor["abi_ok"], false) << ctor;
    EXPECT_TRUE(contains(ctor.value("error", ""), "crashed(SIGSEGV) while loading it")) << ctor;

    for (const char* honest : {"librwkvb_noop.so", "librwkvb_reference.so"}) {
        const json& p = plugins[honest];
        EXPECT_EQ(p["status"], "ok") << honest << ": " << p;
        ASSERT_TRUE(p["devices"].is_array() && !p["devices"].empty()) << honest << ": " << p;
        EXPECT_FALSE(p["devices"][0].value("name", "").empty()) << honest << ": " << p;
    }
    // Each plugin is described once, sequentially: the hang costs its 2 s, not the run.
    EXPECT_LT(seconds, 20) << "list took " << seconds << " s";
}

TEST_F(Discovery, ListTableNamesEachBrokenPluginWithItsReason) {
    const CliResult r = run_cli(with_plugins({"list", "--discovery-timeout", "2"}, kDiscoveryFaults), within(60));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "timeout: fault_discovery_hang: timeout after 2 s while counting devices")) << r.out;
    EXPECT_TRUE(contains(r.out, "load-error: fault_discovery_segv: crashed(SIGSEGV) while counting devices")) << r.out;
    EXPECT_TRUE(contains(r.out, "CANNOT LOAD: " + canonical_fault_plugin("fault_ctor_segv") + ": crashed(SIGSEGV) while loading"))
        << r.out;
    EXPECT_TRUE(contains(r.out, "\n  reference ")) << r.out;  // the honest plugin, with its devices
    EXPECT_TRUE(contains(r.out, "Workload presets")) << r.out;
}

// `all` leaves out the reference, so it is named beside it as the honest backend.
TEST_F(Discovery, RunAllSkipsPluginsThatHangOrCrashInDiscoveryWithANote) {
    const CliResult r = small_run(
        with_plugins({"--backend", "all,reference", "--scenario", "decode", "--discovery-timeout", "2"}, kDiscoveryFaults));
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.err, "skipping a plugin that cannot load: fault_discovery_hang: timeout after 2 s")) << r.err;
    EXPECT_TRUE(contains(r.err, "fault_discovery_segv: crashed(SIGSEGV) while counting devices")) << r.err;
    EXPECT_TRUE(contains(r.err, canonical_fault_plugin("fault_ctor_segv") + ": crashed(SIGSEGV) while loading")) << r.err;
    auto cells = cells_by_id(run_dir() / "results.json");
    ASSERT_TRUE(cells.count("reference.0.rwkv7-tiny.decode.f32")) << r.err;
    for (const auto& [id, c] : cells) {
        EXPECT_FALSE(id.starts_with("fault_")) << id;
        EXPECT_EQ(c["status"], "ok") << id << ": " << c.value("status_detail", "");
    }
}

// Asked for one backend by name, the parent describes only that plugin: the others on the
// command line are never loaded anywhere (and could not crash it if they were).
TEST_F(Discovery, RunOfANamedBackendIsUntouchedByPluginsThatCrashWhenLoaded) {
    const CliResult r = small_run(with_plugins({"--backend", "reference", "--scenario", "decode,parity"},
                                               {"fault_discovery_segv", "fault_ctor_segv"}));
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    auto cells = cells_by_id(run_dir() / "results.json");
    ASSERT_EQ(cells.size(), 2u) << r.err;
    for (const auto& [id, c] : cells) EXPECT_EQ(c["status"], "ok") << id << ": " << c.value("status_detail", "");
    EXPECT_EQ(cells["reference.0.rwkv7-tiny.parity.f32"]["parity"]["verdict"], "PASS");
}

// A plugin that crashed in discovery but is asked for by name still gets its cell: the worker
// meets the same crash and the record says so; the honest backend beside it is unaffected.
TEST_F(Discovery, NamedPluginThatCrashedInDiscoveryGetsACellThatRecordsTheCrash) {
    const CliResult r = small_run(
        with_plugins({"--backend", "reference,fault_discovery_segv", "--scenario", "decode"}, {"fault_discovery_segv"}));
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_EQ(r.exit_code, 4) << r.describe();  // a cell failed to run
    EXPECT_TRUE(contains(r.err, "fault_discovery_segv: crashed(SIGSEGV) while counting devices")) << r.err;
    auto cells = cells_by_id(run_dir() / "results.json");
    EXPECT_EQ(cells["reference.0.rwkv7-tiny.decode.f32"]["status"], "ok");
    EXPECT_EQ(cells["fault_discovery_segv.0.rwkv7-tiny.decode.f32"]["status"], "crashed");
}

TEST_F(Discovery, Latin1PluginStringsReachListJsonAsValidUtf8) {
    const CliResult r = run_cli({"list", "--format", "json", "--plugin", fault_plugin("fault_latin1")}, within(60));
    ASSERT_EQ(r.signal, 0) << r.describe();
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(valid_utf8(r.out), r.out);
    auto plugins = plugins_by_file(strictly_parsed(r.out));
    const json& p = plugins["librwkvb_fault_latin1.so"];
    ASSERT_EQ(p["status"], "ok") << p;
    ASSERT_EQ(p["devices"].size(), 1u) << p;
    EXPECT_EQ(p["devices"][0]["name"], "Acc" + kReplacement + "l" + kReplacement + "rateur " + kReplacement + "test" +
                                           kReplacement);
    EXPECT_EQ(p["devices"][0]["description"], p["devices"][0]["name"]);
    // The table prints the same, valid, text.
    const CliResult table = run_cli({"list", "--plugin", fault_plugin("fault_latin1")}, within(60));
    EXPECT_EQ(table.exit_code, 0) << table.describe();
    EXPECT_TRUE(contains(table.out, "Acc" + kReplacement + "l")) << table.out;
    EXPECT_EQ(valid_utf8(table.out), table.out);
}

// Its load fails with a Latin-1 last_error after writing invalid bytes and a euro sign to
// stderr: the cell is a load-error whose record, the results and the printed table are all
// valid UTF-8, and the parent exits with the code of a failed cell.
TEST_F(Discovery, Latin1PluginInARunYieldsValidRecordsAndANormalExitCode) {
    const CliResult r =
        small_run(with_plugins({"--backend", "fault_latin1", "--scenario", "decode"}, {"fault_latin1"}));
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_EQ(r.exit_code, 4) << r.describe();
    EXPECT_EQ(valid_utf8(r.out), r.out);
    EXPECT_EQ(valid_utf8(r.err), r.err);
    auto cells = cells_by_id(run_dir() / "results.json");
    ASSERT_EQ(cells.size(), 1u);
    const json& cell = cells.begin()->second;
    EXPECT_EQ(cell["status"], "load-error") << cell;
    const std::string detail = cell.value("status_detail", "");
    EXPECT_TRUE(contains(detail, "poids refus" + kReplacement + "s (" + kReplacement + "s, " + kReplacement)) << detail;
    // The worker's output tail keeps the valid multi-byte character and replaces the rest.
    const std::string tail = cell.at("worker").value("stderr_tail", "");
    EXPECT_TRUE(contains(tail, "caf" + kReplacement + " cr" + kReplacement + "me")) << tail;
    EXPECT_TRUE(contains(tail, "euro sign: \xE2\x82\xAC")) << tail;
    strictly_parsed(read_file(run_dir() / "cells" / (cell["id"].get<std::string>() + ".json")));
}

// At the source: what the loader hands on from a plugin is valid UTF-8 before anyone (a probe,
// a worker, a record) sees it — the device strings and the message of a failed call alike.
TEST_F(Discovery, PluginStringsAreMadeValidUtf8WhereTheyEnterTheHarness) {
    const auto plugin = Plugin::load(fault_plugin("fault_latin1"));
    const rwkvb_device_info info = plugin->device_info(0);
    const std::string accelerateur = "Acc" + kReplacement + "l" + kReplacement + "rateur " + kReplacement + "test" + kReplacement;
    EXPECT_EQ(std::string(info.name), accelerateur);
    EXPECT_EQ(std::string(info.description), accelerateur);
    Session session(plugin, 0, "");
    try {
        session.load(ModelConfig{}, {}, DType::F32);  // refused, with a Latin-1 last_error
        ADD_FAILURE() << "fault_latin1's load should fail";
    } catch (const PluginError& e) {
        const std::string what = e.what();
        EXPECT_EQ(valid_utf8(what), what);
        EXPECT_TRUE(contains(what, "poids refus" + kReplacement + "s")) << what;
    }
    EXPECT_EQ(plugin->last_error(nullptr), valid_utf8(plugin->last_error(nullptr)));
}

// The probe itself, as a person would run it: one plugin, one complete report.
TEST_F(Discovery, ProbeDescribesOnePluginOnStdout) {
    const CliResult r = run_cli({"probe", "--plugin", fault_plugin("noop")}, within(30));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const ProbeReport report = probe_report_from_json(strictly_parsed(r.out));
    EXPECT_TRUE(report.complete);
    EXPECT_EQ(report.plugin.name, "noop");
    ASSERT_EQ(report.plugin.devices.size(), 1u);
    EXPECT_TRUE(report.plugin.devices[0].error.empty());
}

// Whatever the probe child does instead of reporting — garbage, a report of the wrong shape, an
// exit with a complaint, silence — the plugin is a load-error or timeout with a readable reason.
TEST_F(Discovery, AProbeThatMisbehavesGivesALoadErrorOrTimeoutWithTheReason) {
    const auto describe_with = [&](const fs::path& probe, double timeout_s = 10) {
        return describe_plugin(fault_plugin("noop"), DiscoveryOptions{timeout_s, probe});
    };
    const auto expect = [](const PluginDescription& d, const char* status, const std::string& part) {
        EXPECT_EQ(d.status, status) << d.error;
        EXPECT_TRUE(contains(d.error, part)) << d.error;
        EXPECT_EQ(valid_utf8(d.error), d.error);
        EXPECT_TRUE(d.devices.empty());
    };
    expect(describe_with(fake_probe("garbage", "printf '{\"complete\": tr\\377' > \"$5\"")), "load-error",
           "its report is not valid JSON");
    const std::string bad_dtype =
        R"({"complete":true,"stage":"done","plugin":{"status":"ok","abi_ok":true,"name":"noop","version":"1",)"
        R"("no_device_reason":"","devices":[{"name":"d","vendor":"v","driver_version":"1","description":"",)"
        R"("memory_bytes":1,"compute_units":1,"weight_dtypes":2,"compute_dtypes":2,"logits_dtype":7}]}})";
    expect(describe_with(fake_probe("bad_dtype", "printf '%s' '" + bad_dtype + "' > \"$5\"")), "load-error",
           "'logits_dtype' is 7");
    expect(describe_with(fake_probe("complains", "printf 'driver says \\351chec\\n' >&2; exit 3")), "load-error",
           "exited with code 3: driver says " + kReplacement + "chec");
    expect(describe_with(fake_probe("silent", "exit 0")), "load-error", "it left no report");
    expect(describe_with(fake_probe("sleeps", "exec sleep 30"), 0.5), "timeout", "timeout after 0.5 s");
}

TEST_F(Discovery, DiscoveryTimeoutRefusesNonsense) {
    for (const char* bad : {"nan", "inf", "0", "-1", "1e9", "soon"}) {
        const CliResult r = run_cli({"list", "--discovery-timeout", bad}, within(30));
        EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.describe();
    }
}
