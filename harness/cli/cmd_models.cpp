// `rwkvbench models`: every preset with its shape and what it costs (RWKV.md §7, §8).
#include "cli/commands.hpp"
#include "errors.hpp"
#include "vocabulary.hpp"
#include "presets.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace rwkvb {
namespace {

std::string human_count(double n) {
    if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.1f}M", n / 1e6);
    if (n >= 1e3) return fmt::format("{:.1f}K", n / 1e3);
    return fmt::format("{:.0f}", n);
}

std::string heads(const ModelConfig& c) {
    return c.version >= 5 ? fmt::format("{}x{}", c.n_head, c.head_size) : "-";
}

const DType kWeightDtypes[] = {DType::F32, DType::F16, DType::BF16, DType::I8};

nlohmann::ordered_json to_json(const Preset& p) {
    const ModelConfig& c = p.config;
    const ModelCost m = model_cost(c);
    nlohmann::ordered_json j;
    j["name"] = p.name;
    j["family"] = p.family;
    j["rwkv_version"] = version_string(c);
    j["n_layer"] = c.n_layer;
    j["n_embd"] = c.n_embd;
    j["dim_att"] = c.dim_att;
    j["dim_ffn"] = c.dim_ffn;
    j["n_head"] = c.n_head;
    j["head_size"] = c.head_size;
    j["vocab_size"] = c.vocab_size;
    if (c.version == 6) j["lora"] = {{"maa", c.lora_maa}, {"decay", c.lora_decay}};
    if (c.version == 7)
        j["lora"] = {{"w", c.lora_decay}, {"a", c.lora_iclr}, {"v", c.lora_value}, {"g", c.lora_gate}};
    j["params"] = m.params;
    j["matmul_weights"] = m.matmul_weights;
    for (DType t : kWeightDtypes) j["weight_bytes"][std::string(dtype_cli_name(t))] = weight_bytes(c, t);
    j["state_floats_per_stream"] = m.state_floats;
    j["state_bytes_per_stream_f32"] = 4 * m.state_floats;
    j["flops_per_token"] = m.flops_per_token;
    for (DType t : kWeightDtypes)
        j["weight_bytes_per_token"][std::string(dtype_cli_name(t))] = m.weight_bytes_per_token(t);
    j["note"] = p.note;
    return j;
}

void print_table() {
    struct Row {
        std::vector<std::string> cells;
    };
    const std::vector<std::string> head = {"preset", "family", "L", "D", "F", "HxN", "V", "params",
                                           "f32 GB", "f16/bf16 GB", "int8 GB", "state MiB", "GFLOP/tok",
                                           "GB/tok f16", "GB/tok int8"};
    std::vector<std::vector<std::string>> rows;
    bool any_note = false;
    for (const Preset& p : presets()) {
        const ModelConfig& c = p.config;
        const ModelCost m = model_cost(c);
        const bool uncertain = p.note.find("uncertain") != std::string::npos;
        any_note |= uncertain;
        rows.push_back({p.name + (uncertain ? " *" : ""), p.family, std::to_string(c.n_layer),
                        std::to_string(c.n_embd), std::to_string(c.dim_ffn), heads(c),
                        std::to_string(c.vocab_size), human_count(double(m.params)),
                        fmt::format("{:.3f}", weight_bytes(c, DType::F32) / 1e9),
                        fmt::format("{:.3f}", weight_bytes(c, DType::F16) / 1e9),
                        fmt::format("{:.3f}", weight_bytes(c, DType::I8) / 1e9),
                        fmt::format("{:.2f}", 4.0 * double(m.state_floats) / (1 << 20)),
                        fmt::format("{:.3f}", m.flops_per_token / 1e9),
                        fmt::format("{:.3f}", m.weight_bytes_per_token(DType::F16) / 1e9),
                        fmt::format("{:.3f}", m.weight_bytes_per_token(DType::I8) / 1e9)});
    }
    std::vector<size_t> width(head.size());
    for (size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    auto print_row = [&](const std::vector<std::string>& r) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) {
            // Text columns left-aligned, numbers right-aligned.
            line += i < 2 ? fmt::format("{:<{}}", r[i], width[i]) : fmt::format("{:>{}}", r[i], width[i]);
            if (i + 1 < r.size()) line += "  ";
        }
        std::puts(line.c_str());
    };
    print_row(head);
    for (const auto& r : rows) print_row(r);
    std::puts("");
    std::puts("Weights: whole checkpoint (int8 = 1 byte per matrix entry + one f32 scale per row, vectors f32).");
    std::puts("Per decoded token at batch 1 (RWKV.md §8): FLOPs = 2·W_mm + recurrence + elementwise; "
              "bytes = every matrix (head included, embedding excluded) + small vectors.");
    std::puts("State: recurrent state of one stream in f32; constant in sequence length.");
    if (any_note) std::puts("* shape not fully certain, see `rwkvbench models --format json` notes and RWKV.md §7.");
}

}  // namespace

void register_models(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "models",
        "List the model presets: released RWKV-4/5/6/7 shapes and small test shapes, with parameter "
        "count, checkpoint size per weight dtype, state per stream, and FLOPs and weight bytes per "
        "decoded token (the roofline inputs). Use a preset name with `rwkvbench synth --preset`.");
    auto format = std::make_shared<std::string>("table");
    cmd->add_option("--format", *format, "Output format: table (default) or json")
        ->check(CLI::IsMember({"table", "json"}));
    set_action(cmd, [format] {
        if (*format == "json") {
            nlohmann::ordered_json doc;
            doc["schema"] = "rwkvbench-models/1";
            doc["presets"] = nlohmann::ordered_json::array();
            for (const Preset& p : presets()) doc["presets"].push_back(to_json(p));
            std::puts(doc.dump(2).c_str());
        } else {
            print_table();
        }
        return int(kExitOk);
    });
}

}  // namespace rwkvb
