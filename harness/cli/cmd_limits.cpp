// `rwkvbench limits`: this host's memory read bandwidth and f32 GEMM peak, the ceilings every
// cell's roofline fraction is computed against. Cached per host; --refresh measures again.
#include "cli/commands.hpp"
#include "errors.hpp"
#include "vocabulary.hpp"
#include "measure/limits.hpp"
#include "io/paths.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <memory>

namespace rwkvb {
namespace {

struct LimitsOptions {
    int threads = 0;
    bool refresh = false;
    std::string format = "table";
};

void print_table(const nlohmann::json& j) {
    auto num = [](const nlohmann::json& v, const char* unit) {
        return v.is_number() ? fmt::format("{:.1f} {}", v.get<double>(), unit) : std::string("unavailable");
    };
    const auto& bw = j["bandwidth"];
    const auto& gemm = j["gemm"];
    fmt::print("host            {} ({})\n", j.value("host", "?"), j["cpu_model"].is_string() ? j["cpu_model"].get<std::string>() : "?");
    fmt::print("threads         {}\n", j.value("threads", 0));
    fmt::print("measured at     {}\n", j.value("measured_at", "?"));
    if (const auto it = j.find("measured_under"); it != j.end() && it->is_object()) {
        const auto& c = *it;
        auto cores = [&](const char* key) {
            const auto v = c.value(key, nlohmann::json());
            return v.is_number() ? fmt::format("{:.2f}", v.get<double>()) : std::string("?");
        };
        const auto contended = c.value("contended", nlohmann::json());
        fmt::print("measured under  other processes {} cores, steal {} cores (bound {}): {}\n", cores("foreign_cpu_cores"),
                   cores("steal_cores"), cores("bound_cores"),
                   !contended.is_boolean() ? "unknown" : contended.get<bool>() ? "CONTENDED (measured again next time)" : "clean");
    }
    fmt::print("memory read     {}   (median {:.1f}; {} MiB buffer, {} samples)\n", num(j["memory_read_gbps"], "GB/s"),
               bw.value("median_gbps", 0.0), bw.value("buffer_bytes", uint64_t(0)) >> 20,
               bw.contains("samples_gbps") ? bw["samples_gbps"].size() : 0);
    if (gemm.value("available", false))
        fmt::print("f32 GEMM peak   {}   (median {:.1f}; {})\n", num(j["gemm_f32_gflops"], "GFLOP/s"),
                   gemm.value("median_gflops", 0.0), gemm.value("method", ""));
    else
        fmt::print("f32 GEMM peak   unavailable ({})\n", gemm.value("note", ""));
    fmt::print("ceiling rule    {}\n", j.value("ceiling_rule", ""));
    fmt::print("cache           {}\n", j.value("cache_path", ""));
}

}  // namespace

void register_limits(CLI::App& app) {
    auto opt = std::make_shared<LimitsOptions>();
    auto* cmd = app.add_subcommand("limits", "Measure (once, cached per host) memory read bandwidth and f32 GEMM peak");
    cmd->add_option("--threads", opt->threads, "Threads to measure with (0 = every online CPU)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--refresh", opt->refresh, "Measure again even if cached");
    cmd->add_option("--format", opt->format, "Output format")->check(CLI::IsMember({"table", "json"}));
    set_action(cmd, [opt] {
        const auto dir = cache_dir();
        const auto path = limits_cache_path(dir, opt->threads);
        if (opt->refresh) std::filesystem::remove(path);
        if (!std::filesystem::exists(path))
            std::fputs("rwkvbench: measuring this host's limits (about 5–15 s; cached afterwards)\n", stderr);
        const auto j = load_or_measure_limits(dir, /*measure_if_missing=*/true, opt->threads);
        if (opt->format == "json") std::cout << j.dump(2) << "\n";
        else print_table(j);
        return int(kExitOk);
    });
}

}  // namespace rwkvb
