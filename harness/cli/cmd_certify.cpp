// `rwkvbench certify RUN_DIR` and `rwkvbench certify --verify CERTIFICATE RESULTS` (DESIGN.md
// §7): a finished run judged by the written rules of reports/certify.hpp, ending in VALID (exit 0)
// or INVALID (exit 6) with every failed rule named, and a certificate holding a SHA-256 of the
// canonical results that --verify checks again. It judges a run; it does not run one.
#include "certify.hpp"
#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "errors.hpp"
#include "io/atomic_file.hpp"
#include "io/results_input.hpp"
#include "io/sha256.hpp"
#include "io/untrusted_json.hpp"
#include "run/plan.hpp"

#include <fmt/format.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>

namespace fs = std::filesystem;

namespace rwkvb {
namespace {

struct CertifyArgs {
    std::vector<std::string> paths;
    std::string output;
    bool verify = false;
    std::string suite;  // --suite DIR: run the fixed suite there first
    CertifyOptions options;
    double max_load = 0;  // 0: not given (the host's logical CPUs)
};

// A results file as it is on disk: the parsed JSON (what is hashed) and the typed document.
struct ResultsFile {
    fs::path path;
    nlohmann::json json;
    RunDocument document;
    std::string sha256;
};

ResultsFile read_results(const fs::path& given) {
    ResultsFile r{results_document_path(given), {}, {}, {}};
    std::error_code ec;
    if (!fs::is_regular_file(r.path, ec))
        throw InputError(fmt::format("{}: no such results file (give a run directory or its results.json)", r.path.string()));
    r.json = parse_untrusted_json(read_file(r.path));
    if (r.json.is_discarded())
        throw InputError(fmt::format("{}: not JSON (an rwkvbench results document was expected)", r.path.string()));
    try {
        r.document = run_document_from_json(r.json);
    } catch (const std::invalid_argument& e) {
        throw InputError(fmt::format("{}: {}", r.path.string(), e.what()));
    }
    const std::string canonical = canonical_results_text(r.json);
    r.sha256 = sha256_hex(std::as_bytes(std::span(canonical.data(), canonical.size())));
    return r;
}

std::vector<PlannedCellRef> read_plan_cells(const fs::path& plan_file) {
    std::error_code ec;
    if (!fs::is_regular_file(plan_file, ec))
        throw InputError(fmt::format("{}: no plan beside the results: certify needs the run directory that `rwkvbench "
                                     "run` made",
                                     plan_file.string()));
    const auto plan = parse_untrusted_json(read_file(plan_file));
    std::vector<PlannedCellRef> out;
    try {
        if (plan.is_discarded() || !plan.is_object()) throw std::invalid_argument("not a JSON object");
        for (const auto& c : plan.at("cells").get<std::vector<PlannedCell>>()) out.push_back({c.spec.id(), c.skip_reason});
    } catch (const std::exception& e) {
        throw InputError(fmt::format("{}: malformed plan: {}", plan_file.string(), e.what()));
    }
    return out;
}

// rule, verdict, detail: a PASS shows what the rule asks; a FAIL each offence, one per line (at
// most 10 here; the certificate lists every one).
void print_rules(const std::vector<RuleOutcome>& rules, std::ostream& out) {
    constexpr size_t kShown = 10;
    size_t width = 4;
    for (const auto& r : rules) width = std::max(width, r.id.size());
    out << fmt::format("{:<{}}  {:<7}  {}\n", "rule", width, "verdict", "detail");
    out << fmt::format("{:-<{}}  {:-<7}  {:-<6}\n", "", width, "", "");
    for (const auto& r : rules) {
        if (r.failures.empty()) {
            out << fmt::format("{:<{}}  {:<7}  {}\n", r.id, width, to_string(r.verdict), r.description);
            continue;
        }
        for (size_t i = 0; i < r.failures.size() && i < kShown; ++i) {
            const auto& f = r.failures[i];
            const std::string detail = f.cell.empty() ? f.detail : f.cell + ": " + f.detail;
            out << fmt::format("{:<{}}  {:<7}  {}\n", i ? "" : r.id, width, i ? "" : to_string(r.verdict), detail);
        }
        if (r.failures.size() > kShown)
            out << fmt::format("{:<{}}  {:<7}  … and {} more (see the certificate)\n", "", width, "",
                               r.failures.size() - kShown);
    }
}

// A string member of untrusted JSON, or "".
std::string str(const nlohmann::json& j, const char* key) {
    const auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ", ") + e;
    return s;
}

// The fixed certification suite: every backend this host has, the default RWKV-7 workload, every
// scenario a release is judged by, repeated until each median is known to ±2% (at least 1 s
// measured per cell, the min_measured_time rule). Its `run` is a child with our stdio, so its
// progress shows; its exit code does not decide anything: the rules judge what it wrote.
std::vector<std::string> suite_arguments(const std::string& dir) {
    return {"run", "-s", "prefill,decode,batch,parity", "--repetitions", "5", "--min-time", "1",
            "--target-ci", "0.02", "--max-time", "20", "--dir", dir};
}

void run_suite(const std::string& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec)) throw InputError(fmt::format("--suite {}: already exists; name a new directory", dir));
    const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
    std::vector<std::string> args = suite_arguments(dir);
    args.insert(args.begin(), self);
    std::string shown;
    for (const auto& x : args) shown += (shown.empty() ? "" : " ") + x;
    std::fprintf(stderr, "certification suite: %s\n", shown.c_str());
    std::vector<char*> argv;
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        execv(self.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!fs::exists(fs::path(dir) / "results.json", ec))
        throw InputError(fmt::format("--suite {}: the run wrote no results (see above)", dir));
}

int certify(const CertifyArgs& a_in) {
    CertifyArgs a = a_in;
    if (!a.suite.empty()) {
        if (!a.paths.empty()) throw InputError("certify: give either --suite DIR or a RUN_DIR, not both");
        check_path_argument("--suite", a.suite);
        run_suite(a.suite);
        a.paths = {a.suite};
    }
    if (a.paths.size() != 1)
        throw InputError(fmt::format("certify takes one run directory ({} given); --verify takes CERTIFICATE RESULTS",
                                     a.paths.size()));
    check_path_argument("certify", a.paths[0]);
    if (!a.output.empty()) check_path_argument("-o", a.output);
    const ResultsFile results = read_results(a.paths[0]);
    if (results.document.runs.is_object() && !results.document.runs.empty())
        throw InputError(fmt::format("{}: a merged document holds several runs: certify each run's directory before "
                                     "merging",
                                     results.path.string()));
    const auto plan = read_plan_cells(results.path.parent_path() / "plan.json");
    CertifyOptions options = a.options;
    if (a.max_load > 0) options.max_load = a.max_load;
    const CertifyReport report = certify_run(results.document, plan, options);
    const fs::path cert_path = a.output.empty() ? results.path.parent_path() / "certificate.json" : fs::path(a.output);
    const auto cert = make_certificate(report, results.document, options, results.sha256,
                                       fs::absolute(results.path).string());
    write_file_atomically(cert_path, cert.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");

    print_rules(report.rules, std::cout);
    std::cout << "\n" << (report.valid ? "VALID" : "INVALID: " + joined(report.failed_rules())) << "\n";
    std::fprintf(stderr, "certificate written to %s (results SHA-256 %s)\n", cert_path.string().c_str(),
                 results.sha256.c_str());
    return report.valid ? kExitOk : kExitInvalidRun;
}

int verify(const CertifyArgs& a) {
    if (a.paths.size() != 2)
        throw InputError(fmt::format("certify --verify takes CERTIFICATE RESULTS ({} given)", a.paths.size()));
    for (const auto& p : a.paths) check_path_argument("certify --verify", p);
    const fs::path cert_path = a.paths[0];
    std::error_code ec;
    if (!fs::is_regular_file(cert_path, ec))
        throw InputError(fmt::format("{}: no such certificate file", cert_path.string()));
    const auto cert = parse_untrusted_json(read_file(cert_path));
    const ResultsFile results = read_results(a.paths[1]);
    CertificateCheck check;
    try {
        check = check_certificate(cert, results.sha256);
    } catch (const std::invalid_argument& e) {
        throw InputError(fmt::format("{}: {}", cert_path.string(), e.what()));
    }
    // The rules as the certificate states them.
    std::vector<RuleOutcome> rules;
    if (const auto it = cert.find("rules"); it != cert.end() && it->is_array())
        for (const auto& r : *it) {
            RuleOutcome o{str(r, "id"), str(r, "description"), str(r, "verdict") == "PASS" ? Verdict::pass : Verdict::fail, {}};
            if (const auto f = r.is_object() ? r.find("failures") : r.end(); r.is_object() && f != r.end() && f->is_array())
                for (const auto& x : *f) o.failures.push_back({str(x, "cell"), str(x, "detail")});
            rules.push_back(std::move(o));
        }
    print_rules(rules, std::cout);
    const auto contradicted = rules_contradicting(cert, results.document);
    std::cout << "\nresults " << results.path.string() << ": SHA-256 " << results.sha256
              << (check.hash_matches ? " matches the certificate\n" : " differs from the certificate's\n");
    if (!check.hash_matches) {
        std::cout << "INVALID: results were edited after certification\n";
        return kExitInvalidRun;
    }
    if (!contradicted.empty()) {
        std::cout << "INVALID: the certificate says PASS where the results FAIL: " << joined(contradicted) << "\n";
        return kExitInvalidRun;
    }
    if (!check.certified_valid) {
        std::cout << "INVALID: " << (check.failed_rules.empty() ? "the certificate's verdict" : joined(check.failed_rules))
                  << "\n";
        return kExitInvalidRun;
    }
    std::cout << "VALID\n";
    return kExitOk;
}

}  // namespace

void register_certify(CLI::App& app) {
    auto* cmd = app.add_subcommand("certify", "Judge a finished run by written rules: VALID (exit 0) or INVALID "
                                              "(exit 6), with a certificate anyone can re-check");
    std::string rules;
    for (const auto& r : certify_rules()) rules += fmt::format("  {}: {}\n", r.id, r.description);
    cmd->footer(
        "\ncertify judges a finished run. Either let it run the fixed suite first (--suite DIR: `rwkvbench run` with "
        "every backend here, rwkv7-0.1b, prefill,decode,batch,parity, ≥ 5 repetitions and ≥ 1 s per cell, the "
        "median to ±2%), or run your own and certify its directory:\n"
        "  rwkvbench certify --suite suite     # runs the suite, writes suite/certificate.json\n"
        "  rwkvbench run -b onednn -s decode,prefill,parity --min-time 1 --dir mine && rwkvbench certify mine\n"
        "  rwkvbench certify --verify suite/certificate.json suite/results.json\n"
        "Rules (every failed one is named):\n" +
        rules +
        "A cell planned as skipped did not run: certify a suite this host runs in full. The timed-cell rules judge "
        "timed cells that ran; load bound default: the host's logical CPUs.\n"
        "The certificate holds the verdict, every rule with its offending cells, the bounds, the system and run "
        "metadata, and the SHA-256 of the results document (parsed, keys sorted, no whitespace). --verify hashes the "
        "results again: exit 0 when they match and the certificate is VALID, 6 when the results were edited or the "
        "certificate is INVALID.\n"
        "Exit codes: 0 VALID, 2 a bad argument or a file that is not a run directory, results document or "
        "certificate, 6 INVALID.");
    auto a = std::make_shared<CertifyArgs>();
    cmd->add_option("PATHS", a->paths, "RUN_DIR (or its results.json); with --verify: CERTIFICATE RESULTS")
        ->expected(0, 2);
    auto* verify_flag =
        cmd->add_flag("--verify", a->verify, "Check a certificate against a results document: nothing edited since");
    cmd->add_option("--suite", a->suite, "Run the fixed certification suite into this new directory, then certify it")
        ->excludes(verify_flag);
    cmd->add_option("-o,--output", a->output, "Where to write the certificate (default RUN_DIR/certificate.json)");
    cmd->add_option("--min-cell-time", a->options.min_cell_time_s,
                    "Least time a timed cell must have measured, seconds (its repetitions summed)")
        ->capture_default_str()
        ->check(finite_number(0, kMaxSeconds));
    cmd->add_option("--max-cv", a->options.max_cv, "Largest coefficient of variation of a timed cell's repetitions")
        ->capture_default_str()
        ->check(finite_number(0, 100));
    cmd->add_option("--max-load", a->max_load,
                    "Largest 1-minute load average before and after each timed cell (default: logical CPUs)")
        ->check(finite_number(0, 1 << 20, true));
    set_action(cmd, [a] { return a->verify ? verify(*a) : certify(*a); });
}

}  // namespace rwkvb
