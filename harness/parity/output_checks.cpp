#include "parity/output_checks.hpp"

#include "tokens.hpp"

#include <fmt/format.h>

#include <numeric>

namespace rwkvb {
namespace {

constexpr int kLongWindowTokens = 4;  // scenarios.cpp: timed single-token steps per long window

std::vector<int> range_of_steps(int first, int count) {
    std::vector<int> s(static_cast<size_t>(count));
    std::iota(s.begin(), s.end(), first);
    return s;
}

}  // namespace

int long_capture_step(int position) { return position + kLongWindowTokens; }

std::vector<OutputCheck> output_checks(const CellSpec& spec) {
    const auto& p = spec.params;
    const int prompt = p.prompt_tokens, decoded = p.decode_tokens;
    const int last = prompt + decoded - 1;  // step of the last decoded token
    std::vector<OutputCheck> out;
    if (spec.scenario == Scenario::prefill) {
        // The timed call's own LOGITS_LAST output, first and last repetition, and (un-timed) the
        // prompt fed with LOGITS_NONE followed by one token: a skipped prompt shows there.
        for (const char* rep : {"first_rep", "last_rep"})
            out.push_back({fmt::format("prefill.{}", rep), fmt::format("timed prompt, LOGITS_LAST ({})", rep), 0,
                           size_t(prompt), {prompt - 1}});
        out.push_back({"prefill.none_then_token", "prompt with LOGITS_NONE, then one token with LOGITS_LAST", 0,
                       size_t(prompt + 1), {prompt}});
    } else if (spec.scenario == Scenario::decode) {
        // Every timed step of the last repetition, and the last step of the first one.
        out.push_back({"decode.first_rep", "timed decode, last step of the first repetition", 0, size_t(last + 1),
                       {last}});
        out.push_back({"decode.last_rep", "timed decode, every step of the last repetition", 0, size_t(last + 1),
                       range_of_steps(prompt, decoded)});
    } else if (spec.scenario == Scenario::batch) {
        // Every stream has its own tokens; its last step in the first and last repetition.
        for (int b = 0; b < p.batch; ++b)
            for (const char* rep : {"first_rep", "last_rep"})
                out.push_back({fmt::format("batch.stream{}.{}", b, rep),
                               fmt::format("timed batch of {}, stream {}, last step ({})", p.batch, b, rep),
                               uint64_t(b), size_t(last + 1), {last}});
    } else if (spec.scenario == Scenario::long_context) {
        std::vector<int> steps;
        for (int pos : long_window_positions(p.long_positions, p.long_samples)) steps.push_back(long_capture_step(pos));
        out.push_back({"long.windows", "last timed token of every long window", 0, size_t(p.long_positions), steps});
    } else if (spec.scenario == Scenario::parity) {
        const int n = p.parity_tokens;
        out.push_back({"parity.decode", "sequential decode, LOGITS_LAST per token", 0, size_t(n), range_of_steps(0, n)});
        out.push_back({"parity.sequence", "one sequence-mode forward, LOGITS_ALL", 0, size_t(n), range_of_steps(0, n)});
        for (int b = 0; b < 2; ++b)
            out.push_back({fmt::format("parity.batch2_stream{}", b),
                           fmt::format("batch of 2 streams with distinct tokens, stream {}", b), uint64_t(b), size_t(n),
                           range_of_steps(0, n)});
    }
    return out;
}

std::vector<int32_t> check_tokens(const CellSpec& spec, const OutputCheck& check, int32_t vocab) {
    return synthetic_tokens(spec.seed, check.stream, check.stream_tokens, vocab);
}

}  // namespace rwkvb
