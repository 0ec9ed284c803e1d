// What a plugin can do to the processes and files around its cell, and what a person can do to a
// run, against the real rwkvbench binary: a worker that exits 12 without a record, a setsid()
// daemon, a chdir() under a relative --dir; SIGINT and SIGTERM mid-cell; --resume of records made
// for another spec; stale temporaries and a second run in the same directory; numbers and paths
// the CLI must refuse. Tiny preset and few tokens keep it fast.
#include "io/atomic_file.hpp"
#include "schema_validator.hpp"
#include "run/worker_process.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace fs = std::filesystem;
using namespace rwkvb;
using json = nlohmann::json;

namespace {

std::string fault_plugin(const std::string& name) {
    return (fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so")).string();
}

std::string cell_id(const std::string& backend, const std::string& scenario) {
    return backend + ".0.rwkv7-tiny." + scenario + ".f32";
}

// Alive and not a zombie: a zombie has ended, only its exit status is left to collect.
bool process_alive(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return false;
    const size_t name_end = text.rfind(')');
    return name_end != std::string::npos && name_end + 2 < text.size() && text[name_end + 2] != 'Z';
}

size_t line_count(const std::string& text) { return size_t(std::count(text.begin(), text.end(), '\n')); }

// The progress line of cell `id` ("[1/2] <id> ... <status>"), or "" if there is none.
std::string progress_line(const std::string& output, const std::string& id) {
    const size_t at = output.find("] " + id + " ... ");
    if (at == std::string::npos) return "";
    const size_t begin = output.rfind('\n', at);
    const size_t end = output.find('\n', at);
    return output.substr(begin == std::string::npos ? 0 : begin + 1, end == std::string::npos ? std::string::npos : end - begin - 1);
}

bool finished_earlier(const std::string& output, const std::string& id) {
    return progress_line(output, id).ends_with("(finished earlier)");
}

class Hygiene : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / (std::string("rwkvb_hygiene_") + info->name() + "_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        // Shared with test_harness_e2e: synthetic weights and golden logits are made once.
        ::setenv("RWKVBENCH_CACHE_DIR", (fs::temp_directory_path() / "rwkvb_e2e_cache").c_str(), 1);
    }
    void TearDown() override {
        if (!HasFailure()) fs::remove_all(dir_);
    }

    static ProcessOutcome rwkvbench(const std::vector<std::string>& args, double timeout_s = 120) {
        return run_process(RWKVB_BINARY, args, WorkerLimits{timeout_s, 0});
    }
    // The same, started in `cwd`, so that relative paths mean something there.
    static ProcessOutcome rwkvbench_in(const fs::path& cwd, const std::vector<std::string>& args) {
        std::vector<std::string> sh = {"-c", "cd \"$0\" && exec \"$@\"", cwd.string(), RWKVB_BINARY};
        sh.insert(sh.end(), args.begin(), args.end());
        return run_process("/bin/sh", sh, WorkerLimits{120, 0});
    }

    static std::vector<std::string> with_small_run(std::vector<std::string> args) {
        for (const char* a : {"--workload", "rwkv7-tiny", "--prompt", "4", "--tokens", "4", "--parity-tokens", "8",
                              "--warmup", "0", "--repetitions", "2", "--min-time", "0", "--target-ci", "0", "--skip-limits"})
            args.emplace_back(a);
        return args;
    }

    static std::map<std::string, json> cells_by_id(const fs::path& results) {
        std::map<std::string, json> m;
        const json doc = json::parse(read_file(results));
        for (const auto& c : doc.at("cells")) m[c.at("id").get<std::string>()] = c;
        return m;
    }

    // A SIGINT or SIGTERM while a hung cell's worker runs: the run stops at once, keeps what
    // finished, says how to resume; --resume then completes the run.
    void interrupt_and_resume(int sig);

    fs::path dir_;
};

// fault_exit12 exits with the protocol's oom code but writes no record; fault_setsid leaves a
// daemon in a session of its own; fault_chdir moves the worker to /proc under a relative --dir.
// The honest reference runs beside them, and the parent survives them all.
TEST_F(Hygiene, FaultyWorkersCostTheirCellAndLeaveNothingBehind) {
    const auto pid_file = dir_ / "daemon.pid";
    ::setenv("RWKVB_FAULT_SETSID_PID_FILE", pid_file.c_str(), 1);
    std::vector<std::string> args = {"run", "--backend", "reference,fault_exit12,fault_setsid,fault_chdir",
                                      "--scenario", "decode", "--timeout", "60", "--dir", "run"};
    for (const char* f : {"fault_exit12", "fault_setsid", "fault_chdir"}) args.insert(args.end(), {"--plugin", fault_plugin(f)});
    const auto o = rwkvbench_in(dir_, with_small_run(args));
    ::unsetenv("RWKVB_FAULT_SETSID_PID_FILE");
    ASSERT_EQ(o.signal, 0) << o.output_tail;
    // 4 for the exit12 cell; 3 where the fakes' zero logits fail the output check (smallest wins).
    EXPECT_TRUE(o.exit_code == 4 || o.exit_code == 3) << o.output_tail;

    const auto run = dir_ / "run";
    auto cells = cells_by_id(run / "results.json");
    ASSERT_EQ(cells.size(), 4u) << o.output_tail;
    EXPECT_EQ(cells[cell_id("reference", "decode")]["status"], "ok");

    const json& exit12 = cells[cell_id("fault_exit12", "decode")];
    EXPECT_EQ(exit12["status"], "error");
    EXPECT_EQ(exit12["status_detail"].get<std::string>().rfind("error: worker exited with code 12", 0), 0u)
        << exit12["status_detail"];
    EXPECT_EQ(exit12["worker"]["exit_code"], 12);

    // Both ran to the end and their records were found: the worker's paths were absolute.
    for (const char* f : {"fault_setsid", "fault_chdir"}) {
        const json& c = cells[cell_id(f, "decode")];
        EXPECT_EQ(c["worker"]["exit_code"], 0) << f << ": " << c.dump();
        EXPECT_NE(c["status"], "error") << f << ": " << c["status_detail"];
        EXPECT_TRUE(fs::exists(run / "cells" / (cell_id(f, "decode") + ".json"))) << f;
    }
    // The relative --dir was made absolute before any worker started, and recorded so.
    const json doc = json::parse(read_file(run / "results.json"));
    EXPECT_EQ(doc["run"]["run_dir"], run.string());
    // Records carry spec_hash (and whatever else the parent adds): the schema knows every field.
    for (const auto& [id, c] : cells) EXPECT_TRUE(c.contains("spec_hash")) << id;
    std::string violations;
    for (const auto& v : validate_json(doc, load_results_schema())) violations += v + "\n";
    EXPECT_EQ(violations, "");

    // The daemon left the worker's group and session; the run still killed it.
    ASSERT_TRUE(fs::exists(pid_file)) << o.output_tail;
    pid_t daemon = 0;
    std::ifstream(pid_file) >> daemon;
    ASSERT_GT(daemon, 0);
    EXPECT_FALSE(process_alive(daemon)) << "the setsid() grandchild " << daemon << " outlived the run";
    if (process_alive(daemon)) ::kill(daemon, SIGKILL);
}

void Hygiene::interrupt_and_resume(int sig) {
    namespace bp = boost::process;
    const auto run = dir_ / "run";
    const auto err = dir_ / "stderr.txt";
    // The reference cell comes first and finishes; fault_hang would then hang until its 6 s timeout.
    const auto args = with_small_run({"run", "--backend", "reference,fault_hang", "--plugin", fault_plugin("fault_hang"),
                                      "--scenario", "decode", "--timeout", "6", "--dir", run.string()});
    bp::child parent(bp::exe = RWKVB_BINARY, bp::args = args, bp::std_out > bp::null, bp::std_err > err.string(),
                     bp::std_in < bp::null);
    const auto hang_spec = run / "work" / (cell_id("fault_hang", "decode") + ".spec.json");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(hang_spec) && std::chrono::steady_clock::now() < deadline && parent.running())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(parent.running()) << "the run ended before it could be interrupted: " << read_file(err);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the hung worker is running now
    const auto sent = std::chrono::steady_clock::now();
    ::kill(parent.id(), sig);
    parent.wait();
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();

    const std::string said = read_file(err);
    EXPECT_EQ(parent.exit_code(), 128 + sig) << said;
    EXPECT_LT(took, 3.0) << "the hung worker was waited out (6 s timeout), not stopped";
    // The progress line is finished, and the last line says how to go on.
    EXPECT_NE(said.find(cell_id("fault_hang", "decode") + " ... interrupted\n"), std::string::npos) << said;
    EXPECT_NE(said.find("resume with `rwkvbench run --resume " + run.string() + "`"), std::string::npos) << said;
    EXPECT_EQ(line_count(said.substr(said.find(" ... interrupted\n") + 1)), 2u) << said;
    // What finished is kept; the interrupted cell is not recorded.
    auto cells = cells_by_id(run / "results.json");
    ASSERT_EQ(cells.size(), 1u) << said;
    EXPECT_EQ(cells[cell_id("reference", "decode")]["status"], "ok");
    EXPECT_FALSE(fs::exists(run / "cells" / (cell_id("fault_hang", "decode") + ".json")));

    const auto o = rwkvbench({"run", "--resume", run.string(), "--skip-limits"});
    EXPECT_EQ(o.exit_code, 4) << o.output_tail;  // fault_hang times out this time
    EXPECT_TRUE(finished_earlier(o.output_tail, cell_id("reference", "decode"))) << o.output_tail;
    cells = cells_by_id(run / "results.json");
    EXPECT_EQ(cells.size(), 2u);
    EXPECT_EQ(cells[cell_id("fault_hang", "decode")]["status"], "timeout");
}

TEST_F(Hygiene, SigintStopsTheRunWithExit130AndResumeCompletesIt) { interrupt_and_resume(SIGINT); }

TEST_F(Hygiene, SigtermStopsTheRunWithExit143AndResumeCompletesIt) { interrupt_and_resume(SIGTERM); }

// A record is used on --resume only if it was made for the plan's spec: its spec_hash and its
// stored spec both say so; a record from before spec_hash is judged by its spec alone.
// (The honest reference, not the no-op: the no-op's cells are invalid, and their long status
// lines would push what is checked here out of the captured output tail.)
TEST_F(Hygiene, ResumeRerunsCellsWhoseRecordWasMadeForAnotherSpec) {
    const auto run = dir_ / "run";
    const auto first = rwkvbench(with_small_run({"run", "--backend", "reference", "--scenario",
                                                 "decode,prefill,parity", "--dir", run.string()}));
    ASSERT_EQ(first.signal, 0) << first.output_tail;
    ASSERT_EQ(cells_by_id(run / "results.json").size(), 3u) << first.output_tail;
    std::map<std::string, std::string> planned_hash;
    const json plan = json::parse(read_file(run / "plan.json"));
    for (const auto& c : plan["cells"])
        planned_hash[c["id"].get<std::string>()] = c["spec_hash"].get<std::string>();

    auto edit = [&](const std::string& scenario, auto change) {
        const auto file = run / "cells" / (cell_id("reference", scenario) + ".json");
        json rec = json::parse(read_file(file));
        EXPECT_EQ(rec["spec_hash"], planned_hash[cell_id("reference", scenario)]);  // written with the plan's hash
        change(rec);
        write_file_atomically(file, rec.dump(2));
    };
    edit("decode", [](json& r) { r["spec"]["params"]["decode_tokens"] = 32; });  // as if made with --tokens 32
    edit("prefill", [](json& r) { r["spec_hash"] = std::string(64, '0'); });
    edit("parity", [](json& r) { r.erase("spec_hash"); });  // a record from before spec_hash, spec intact

    const auto o = rwkvbench({"run", "--resume", run.string(), "--skip-limits"});
    ASSERT_EQ(o.signal, 0) << o.output_tail;
    const std::string& said = o.output_tail;
    EXPECT_NE(said.find(cell_id("reference", "decode") + ".json was made for another spec (params.decode_tokens is 32, "
                                                    "the plan says 4)"),
              std::string::npos)
        << said;
    EXPECT_NE(said.find(cell_id("reference", "prefill") + ".json was made for another spec (its spec_hash"), std::string::npos)
        << said;
    for (const char* s : {"decode", "prefill"}) {
        EXPECT_NE(progress_line(said, cell_id("reference", s)), "") << said;
        EXPECT_FALSE(finished_earlier(said, cell_id("reference", s))) << said;
    }
    EXPECT_TRUE(finished_earlier(said, cell_id("reference", "parity"))) << said;  // the old-format record was kept

    auto cells = cells_by_id(run / "results.json");
    ASSERT_EQ(cells.size(), 3u);
    EXPECT_EQ(cells[cell_id("reference", "decode")]["spec"]["params"]["decode_tokens"], 4);
    for (const char* s : {"decode", "prefill"})
        EXPECT_EQ(cells[cell_id("reference", s)]["spec_hash"], planned_hash[cell_id("reference", s)]) << s;
}

// write_file_atomically leaves <file>.tmp.<pid> behind when killed mid-write; opening the run
// removes them, and the directory's lock keeps a second run out while one is using it.
TEST_F(Hygiene, OpeningARunRemovesStaleTemporariesAndKeepsASecondRunOut) {
    const auto run = dir_ / "run";
    const auto first = rwkvbench(with_small_run({"run", "--backend", "noop", "--plugin", fault_plugin("noop"),
                                                 "--scenario", "decode", "--dir", run.string()}));
    ASSERT_EQ(first.signal, 0) << first.output_tail;
    const std::vector<fs::path> stale = {run / "results.json.tmp.999999", run / "cells" / "noop.0.x.json.tmp.1",
                                         run / "work" / "noop.0.x.spec.json.tmp.4194303"};
    const fs::path not_temporary = run / "notes.tmp.txt";
    for (const auto& f : stale) std::ofstream(f) << "{\"torn";
    std::ofstream(not_temporary) << "mine";

    // A run holding the lock: --resume refuses with one line and touches nothing.
    {
        const int fd = ::open((run / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
        const auto refused = rwkvbench({"run", "--resume", run.string(), "--skip-limits"});
        ::close(fd);
        EXPECT_EQ(refused.exit_code, 2) << refused.output_tail;
        EXPECT_NE(refused.output_tail.find("another rwkvbench run"), std::string::npos) << refused.output_tail;
        EXPECT_EQ(line_count(refused.output_tail), 1u) << refused.output_tail;
        for (const auto& f : stale) EXPECT_TRUE(fs::exists(f)) << f;
    }

    const auto o = rwkvbench({"run", "--resume", run.string(), "--skip-limits"});
    ASSERT_EQ(o.signal, 0) << o.output_tail;
    for (const auto& f : stale) EXPECT_FALSE(fs::exists(f)) << f;
    EXPECT_TRUE(fs::exists(not_temporary));
}

// DESIGN.md §8: one line and exit 2 for every number and path that cannot work, before anything
// is planned or written. CLI::PositiveNumber alone lets NaN through.
TEST_F(Hygiene, BadNumbersAndPathsAreUsageErrorsOfOneLine) {
    const std::string not_utf8 = (dir_ / "caf\xE9").string();  // Latin-1 é
    std::string long_path = dir_.string();
    while (long_path.size() <= 4200) long_path += "/" + std::string(200, 'p');
    const std::vector<std::vector<std::string>> bad = {
        {"--timeout", "nan"},          {"--timeout", "inf"},
        {"--timeout", "0"},            {"--timeout", "-5"},
        {"--timeout", "1e300"},        {"--memory-limit", "nan"},
        {"--memory-limit", "0.1"},     {"--memory-limit", "15M"},
        {"--memory-limit", "infG"},    {"--min-time", "nan"},
        {"--min-time", "-1"},          {"--min-time", "inf"},
        {"--tokens", "nan"},           {"--tokens", "0"},
        {"--prompt", "-3"},            {"--batch", "nan"},
        {"--threads", "-1"},           {"--seed", "-1"},
        {"--repetitions", "0"},        {"--parity-max-rel-l2", "nan"},
        {"--parity-min-top1", "inf"},  {"--parity-max-mean-kl", "-1"},
        {"--dir", (dir_ / std::string(300, 'd')).string()},
        {"--dir", long_path},          {"--dir", not_utf8},
        {"--resume", not_utf8},        {"--model", not_utf8},
        {"-o", not_utf8},              {"--plugin", not_utf8},
        {"--plugin", (dir_ / "no-such-plugin.so").string()},
        {"--plugin", dir_.string()},  // a directory
    };
    const auto run = dir_ / "run";
    for (const auto& extra : bad) {
        std::vector<std::string> args = {"run", "--backend", "noop", "--plugin", fault_plugin("noop"), "--scenario", "decode",
                                         "--skip-limits"};
        if (extra[0] != "--dir" && extra[0] != "--resume") args.insert(args.end(), {"--dir", run.string()});
        args.insert(args.end(), extra.begin(), extra.end());
        const auto o = rwkvbench(args, 30);
        const std::string what = extra[0] + " " + extra[1].substr(0, 60);
        EXPECT_EQ(o.exit_code, 2) << what << ": " << o.output_tail;
        EXPECT_EQ(line_count(o.output_tail), 1u) << what << ": " << o.output_tail;
        EXPECT_NE(o.output_tail.find(extra[0]), std::string::npos) << what << ": " << o.output_tail;
        EXPECT_FALSE(fs::exists(run)) << what << ": a run directory was made";
    }
    // The other commands' numbers and paths.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"synth", "rwkv7-tiny", "--threads", "-1", "-o", (dir_ / "w.safetensors").string()},
          std::vector<std::string>{"synth", "rwkv7-tiny", "--seed", "-1", "-o", (dir_ / "w.safetensors").string()},
          std::vector<std::string>{"synth", "rwkv7-tiny", "-o", not_utf8},
          std::vector<std::string>{"logits", "--backend", "noop", "--model", not_utf8, "--tokens", "4", "-o",
                                   (dir_ / "l.safetensors").string()}}) {
        const auto o = rwkvbench(args, 30);
        EXPECT_EQ(o.exit_code, 2) << args[0] << " " << args[2] << ": " << o.output_tail;
        EXPECT_EQ(line_count(o.output_tail), 1u) << o.output_tail;
    }
}

}  // namespace
