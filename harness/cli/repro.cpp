#include "cli/repro.hpp"

#include "run/plan.hpp"
#include "plugin/plugin.hpp"
#include "presets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace rwkvb {
namespace {

// POSIX shell quoting: bare when every character is safe, else in single quotes.
std::string shell_quoted(const std::string& s) {
    const bool safe = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("-_./:=,+@%").find(char(c)) != std::string_view::npos;
    });
    if (safe) return s;
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

bool in_search_path(const std::filesystem::path& plugin) {
    const auto dirs = plugin_search_dirs();
    return std::any_of(dirs.begin(), dirs.end(), [&](const std::filesystem::path& d) {
        std::error_code ec;
        return std::filesystem::equivalent(d, plugin.parent_path(), ec);
    });
}

}  // namespace

std::string repro_command(const CellSpec& spec) {
    const auto& p = spec.params;
    std::vector<std::string> args = {"rwkvbench", "run", "-b", fmt::format("{}:{}", spec.backend, spec.device)};
    if (!spec.plugin_path.empty() && !in_search_path(spec.plugin_path))
        args.insert(args.end(), {"--plugin", spec.plugin_path.string()});
    // A preset's synthetic weights are named by preset and seed; anything else is the user's file.
    if (find_preset(spec.workload) &&
        spec.model_path.filename() == synthetic_model_path("", spec.workload, spec.seed).filename())
        args.insert(args.end(), {"-w", spec.workload});
    else
        args.insert(args.end(), {"--model", spec.model_path.string()});
    args.insert(args.end(), {"-s", std::string(to_string(spec.scenario)), "--dtype", spec.dtype, "--seed", std::to_string(spec.seed),
                             "--threads", std::to_string(spec.threads), "--timeout", fmt::format("{}", spec.timeout_s),
                             "--prompt", std::to_string(p.prompt_tokens), "--tokens", std::to_string(p.decode_tokens),
                             "--batch", std::to_string(p.batch), "--long-positions", std::to_string(p.long_positions),
                             "--long-samples", std::to_string(p.long_samples), "--parity-tokens",
                             std::to_string(p.parity_tokens), "--warmup", std::to_string(p.warmup), "--repetitions",
                             std::to_string(p.repetitions), "--min-time", fmt::format("{}", p.min_time_s),
                             "--target-ci", fmt::format("{}", p.target_ci), "--max-time", fmt::format("{}", p.max_time_s)});
    for (const auto& [key, flag] : {std::pair{"max_rel_l2", "--parity-max-rel-l2"}, {"min_top1", "--parity-min-top1"},
                                    {"max_mean_kl", "--parity-max-mean-kl"}})
        if (const auto it = spec.parity_thresholds.find(key); it != spec.parity_thresholds.end())
            args.insert(args.end(), {flag, it->is_number() ? fmt::format("{}", it->get<double>()) : "off"});
    if (!spec.plugin_options.empty()) args.insert(args.end(), {"--plugin-options", spec.plugin_options});
    std::string line;
    for (const auto& a : args) line += (line.empty() ? "" : " ") + shell_quoted(a);
    return line;
}

}  // namespace rwkvb
