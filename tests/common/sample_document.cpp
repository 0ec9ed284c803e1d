#include "sample_document.hpp"

#include "parity/parity.hpp"
#include "results.hpp"
#include "measure/stats.hpp"
#include "measure/sysinfo.hpp"

#include <cmath>
#include <vector>

namespace rwkvb::testing {

using nlohmann::json;

namespace {

json spec(const std::string& backend, const std::string& scenario) {
    return {{"backend", backend}, {"plugin_path", "/x/librwkvb_" + backend + ".so"}, {"device", 0},
            {"workload", "rwkv7-tiny"}, {"model_path", "/m/rwkv7-tiny.safetensors"}, {"scenario", scenario},
            {"dtype", "f32"}, {"seed", 1}, {"threads", 2}, {"timeout_s", 600.0}, {"plugin_options", ""},
            {"params", json::object()}, {"parity_thresholds", json::object()}};
}

json base(const std::string& backend, const std::string& scenario) {
    return {{"id", backend + ".0.rwkv7-tiny." + scenario + ".f32"}, {"spec", spec(backend, scenario)},
            {"status", "ok"}, {"status_detail", ""}};
}

}  // namespace

json ok_speed_cell(const std::string& backend, const std::string& scenario, double tps) {
    json c = base(backend, scenario);
    const std::vector<double> lat = {1 / tps, 1.02 / tps, 0.99 / tps, 1.01 / tps, 1.0 / tps};
    c["backend"] = {{"name", backend}, {"version", "1.0"}, {"plugin_path", "/x"},
                    {"device", {{"index", 0}, {"name", "Test CPU"}, {"driver_version", "n/a"}, {"memory_bytes", 1 << 30}}}};
    c["model"] = {{"version", "7"}, {"dims", {{"n_layer", 2}}}, {"params", 1000}, {"matmul_weights", 800},
                  {"weight_bytes_per_token", 3600.0}, {"flops_per_token", 1700.0}};
    c["load_s"] = 0.01;
    c["timings"] = {{scenario == "prefill" ? "forward" : "token", stats_json(lat)}};
    c["throughput"] = {{"tokens_per_s", tps}};
    c["roofline"] = {{"bound", scenario == "prefill" ? "compute" : "memory"}, {"achieved_gbps", 12.5}, {"gbps_fraction_of_limit", 0.5}, {"achieved_gflops", 40.0},
                     {"gflops_fraction_of_limit", 0.5}};
    c["memory"] = {{"plugin", {{"weights", 3600}, {"state", 100}, {"workspace", 0}, {"peak", 3700}}},
                   {"theoretical_weight_bytes", 4000}, {"state_bytes_per_stream", 100}, {"peak_rss_bytes", 50 << 20}};
    c["host_load"] = {{"before", host_load_snapshot()}, {"after", host_load_snapshot()}};
    c["noisy"] = false;
    c["noise"] = {{"cv", 0.01}, {"threshold", 0.1}, {"repetitions", 5}, {"jitter_cv", 0.02}};
    c["worker"] = {{"exit_code", 0}, {"signal", 0}, {"signal_name", ""}, {"peak_rss_bytes", 60 << 20},
                   {"wall_s", 1.5}, {"stderr_tail", ""}};
    if (scenario != "parity") c["verification"] = verification(true);
    return c;
}

json golden() {
    return {{"backend", "reference"},
            {"version", "1"},
            {"requests", json::array({{{"stream", 0}, {"tokens", 8}, {"steps", 2}, {"key", "abc"}, {"from_cache", true}}})},
            {"seconds", 0.01}};
}

json verification(bool pass) {
    const std::vector<double> g = {0, 1, 2, 3, 1, 0};
    const std::vector<double> b = pass ? g : std::vector<double>{3, 1, 2, 0, 1, 0};
    const ParityReport r = evaluate_parity(g, b, 2, 3, default_thresholds(DType::F32));
    json check = r.json;
    check.erase("per_step");
    check.erase("thresholds");
    check.update({{"name", "decode.last_rep"}, {"what", "timed decode"}, {"stream", 0}, {"rows", 2}});
    json failures = json::array();
    for (const auto& f : r.failures) failures.push_back("decode.last_rep: " + f);
    return {{"verdict", r.pass ? "PASS" : "FAIL"}, {"failures", failures},
            {"thresholds", to_json(r.thresholds)}, {"checks", json::array({check})},
            {"golden", golden()}, {"cost_s", 0.02}};
}

json parity_cell(const std::string& backend, bool pass) {
    json c = ok_speed_cell(backend, "parity", 100);
    const std::vector<double> g = {0, 1, 2, 3, 1, 0};
    const std::vector<double> b = pass ? g : std::vector<double>{0, 1, 2.5, 3, 1.2, 0};
    c["parity"] = evaluate_parity(g, b, 2, 3, default_thresholds(DType::F32)).json;
    c["parity"]["golden"] = golden();
    return c;
}

json crashed_cell() {
    json c = base("faulty", "decode");
    c["status"] = "crashed";
    c["status_detail"] = "crashed(SIGSEGV)";
    c["worker"] = {{"exit_code", nullptr}, {"signal", 11}, {"signal_name", "SIGSEGV"}, {"peak_rss_bytes", 1 << 20},
                   {"wall_s", 0.2}, {"stderr_tail", "segfault in kernel\n"}};
    return c;
}

json skipped_cell() {
    json c = base("reference", "batch");
    c["id"] = "reference.0.rwkv7-tiny.batch.int8";
    c["spec"]["dtype"] = "int8";
    c["status"] = "skipped";
    c["status_detail"] = "reference device 0 does not offer weight dtype int8";
    return c;
}

json sample_limits() {
    return {{"schema", "rwkvbench-limits"}, {"memory_read_gbps", 25.0}, {"gemm_f32_gflops", 80.0}, {"threads", 2},
            {"measured_at", "2024-01-01T00:00:00Z"}};
}

json sample_document() {
    json cells = json::array({parity_cell("reference", true), ok_speed_cell("reference", "decode", 250.0),
                              ok_speed_cell("reference", "prefill", 4000.0), parity_cell("onednn", false),
                              ok_speed_cell("onednn", "decode", 900.0), crashed_cell(), skipped_cell()});
    json run = {{"tool", "rwkvbench"}, {"version", "0.1.0"}, {"command_line", {"rwkvbench", "run"}}, {"seed", 1}};
    std::vector<CellResult> typed;
    for (const auto& c : cells) typed.push_back(cell_result_from_json(c));
    return make_run_document(run, collect_system_info(), sample_limits(), std::move(typed));
}

json sub_schema(const json& root, const std::string& def) {
    return {{"$ref", "#/$defs/" + def}, {"$defs", root.at("$defs")}};
}

}  // namespace rwkvb::testing
