#include "cell_result.hpp"

#include <cmath>
#include <limits>

namespace rwkvb {
namespace {

using nlohmann::json;

// ---- reading untrusted JSON: a field of the wrong type is as good as absent ---------------------

const json* field(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}
void read(const json& j, const char* key, double& out) {
    if (const json* v = field(j, key); v && v->is_number()) out = v->get<double>();
}
void read(const json& j, const char* key, std::optional<double>& out) {
    if (const json* v = field(j, key); v && v->is_number()) out = v->get<double>();
}
void read(const json& j, const char* key, bool& out) {
    if (const json* v = field(j, key); v && v->is_boolean()) out = v->get<bool>();
}
void read(const json& j, const char* key, std::string& out) {
    if (const json* v = field(j, key); v && v->is_string()) out = v->get<std::string>();
}
// Integers in range only: nlohmann casts any number, and 1e300 into an int64 is undefined.
template <class T>
bool integer(const json* v, T& out) {
    if (!v) return false;
    if (v->is_number_unsigned()) {
        if (v->get<uint64_t>() > uint64_t(std::numeric_limits<T>::max())) return false;
        out = T(v->get<uint64_t>());
        return true;
    }
    if (v->is_number_integer()) {
        const int64_t x = v->get<int64_t>();
        if (x < 0 ? !std::is_signed_v<T> || x < int64_t(std::numeric_limits<T>::min())
                  : uint64_t(x) > uint64_t(std::numeric_limits<T>::max()))
            return false;
        out = T(x);
        return true;
    }
    return false;
}
template <class T>
    requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
void read(const json& j, const char* key, T& out) {
    integer(field(j, key), out);
}
void read(const json& j, const char* key, std::optional<uint64_t>& out) {
    uint64_t v = 0;
    if (integer(field(j, key), v)) out = v;
}
void read(const json& j, const char* key, std::vector<std::string>& out) {
    if (const json* v = field(j, key); v && v->is_array())
        for (const auto& s : *v)
            if (s.is_string()) out.push_back(s.get<std::string>());
}
void read(const json& j, const char* key, std::vector<double>& out) {
    if (const json* v = field(j, key); v && v->is_array())
        for (const auto& x : *v)
            if (x.is_number()) out.push_back(x.get<double>());
}
template <Named E>
bool read_name(const json& j, const char* key, E& out) {
    const json* v = field(j, key);
    if (!v || !v->is_string()) return false;
    const auto e = from_string<E>(v->get_ref<const std::string&>());
    if (e) out = *e;
    return e.has_value();
}
json object_or_null(const json& j, const char* key) {
    const json* v = field(j, key);
    return v && v->is_object() ? *v : json();
}

Stats read_stats(const json& j) {
    Stats s;
    read(j, "n", s.n);
    for (auto [key, slot] : {std::pair{"median", &s.median}, {"p90", &s.p90}, {"p99", &s.p99}, {"min", &s.min},
                             {"max", &s.max}, {"mean", &s.mean}, {"stddev", &s.stddev}, {"cv", &s.cv}})
        read(j, key, *slot);
    if (const json* ci = field(j, "ci95")) {
        read(*ci, "low", s.ci95_low);
        read(*ci, "high", s.ci95_high);
        read(*ci, "coverage", s.ci95_coverage);
    }
    read(j, "noisy", s.noisy);
    read(j, "samples", s.samples);
    read(j, "samples_stride", s.samples_stride);
    return s;
}

Judgement read_judgement(const json& j) {
    Judgement v;
    read_name(j, "verdict", v.verdict);
    read(j, "failures", v.failures);
    v.detail = j;
    v.detail.erase("verdict");
    v.detail.erase("failures");
    return v;
}

// v1 spelled dtypes the safetensors way ("F32", "I8"); v2 uses the command line's ("f32", "int8").
std::string cli_dtype_spelling(std::string name) {
    static const std::pair<const char*, const char*> v1[] = {{"F64", "f64"}, {"F32", "f32"}, {"F16", "f16"},
                                                             {"BF16", "bf16"}, {"I8", "int8"}};
    for (const auto& [old_name, cli] : v1)
        if (name == old_name) return cli;
    return name;
}

BackendInfo read_backend(const json& j) {
    BackendInfo b;
    read(j, "name", b.name);
    read(j, "version", b.version);
    read(j, "plugin_path", b.plugin_path);
    if (const json* d = field(j, "device")) {
        DeviceInfo& dev = b.device;
        read(*d, "index", dev.index);
        read(*d, "name", dev.name);
        read(*d, "vendor", dev.vendor);
        read(*d, "driver_version", dev.driver_version);
        read(*d, "description", dev.description);
        read(*d, "memory_bytes", dev.memory_bytes);
        read(*d, "compute_units", dev.compute_units);
        read(*d, "weight_dtypes", dev.weight_dtypes);
        read(*d, "compute_dtypes", dev.compute_dtypes);
        read(*d, "logits_dtype", dev.logits_dtype);
        for (auto* list : {&dev.weight_dtypes, &dev.compute_dtypes})
            for (auto& name : *list) name = cli_dtype_spelling(name);
        dev.logits_dtype = cli_dtype_spelling(dev.logits_dtype);
    }
    return b;
}

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(); }

}  // namespace

const Stats* CellResult::primary_timing() const {
    for (const char* key : {"forward", "step", "token"})
        if (auto it = timings.find(key); it != timings.end()) return &it->second;
    return nullptr;
}

const Stats* CellResult::repetition_timing() const {
    for (const char* key : {"forward", "sequence", "token"})  // decode and batch repeat whole sequences
        if (auto it = timings.find(key); it != timings.end()) return &it->second;
    return nullptr;
}

CellResult bare_result(const CellSpec& spec, CellStatus status, std::string detail) {
    CellResult c;
    c.id = spec.id();
    c.spec = spec;
    c.status = status;
    c.status_detail = std::move(detail);
    return c;
}

void to_json(json& j, const Stats& s) {
    j = {{"n", s.n},        {"median", s.median}, {"p90", s.p90},   {"p99", s.p99},
         {"min", s.min},    {"max", s.max},       {"mean", s.mean}, {"stddev", s.stddev},
         {"cv", s.cv},      {"noisy", s.noisy},   {"samples", s.samples},
         {"ci95", {{"low", s.ci95_low}, {"high", s.ci95_high}, {"coverage", s.ci95_coverage}}}};
    if (s.samples_stride != 1) j["samples_stride"] = s.samples_stride;
}

void to_json(json& j, const Roofline& r) {
    j = {{"bound", r.bound},
         {"achieved_gbps", r.achieved_gbps},
         {"gbps_fraction_of_limit", optional_number(r.gbps_fraction_of_limit)},
         {"achieved_gflops", r.achieved_gflops},
         {"gflops_fraction_of_limit", optional_number(r.gflops_fraction_of_limit)},
         {"bytes_per_iteration", r.bytes_per_iteration},
         {"flops_per_iteration", r.flops_per_iteration}};
}

void to_json(json& j, const Judgement& v) {
    j = v.detail.is_object() ? v.detail : json::object();
    j["verdict"] = v.verdict;
    j["failures"] = v.failures;
}

void to_json(json& j, const CellResult& c) {
    j = {{"id", c.id}, {"spec", c.spec}, {"status", c.status}, {"status_detail", c.status_detail}};
    if (!c.spec_hash.empty()) j["spec_hash"] = c.spec_hash;
    if (!c.repro.empty()) j["repro"] = c.repro;
    if (c.origin) j["origin"] = *c.origin;
    if (c.worker) {
        const auto& w = *c.worker;
        j["worker"] = {{"exit_code", w.exit_code ? json(*w.exit_code) : json()},
                       {"signal", w.signal},
                       {"signal_name", w.signal_name},
                       {"peak_rss_bytes", w.peak_rss_bytes},
                       {"wall_s", w.wall_s},
                       {"stderr_tail", w.stderr_tail}};
        if (w.peak_anon_bytes) j["worker"]["peak_anon_bytes"] = *w.peak_anon_bytes;
    }
    if (c.backend) {
        const auto& d = c.backend->device;
        j["backend"] = {{"name", c.backend->name},
                        {"version", c.backend->version},
                        {"plugin_path", c.backend->plugin_path},
                        {"device",
                         {{"index", d.index},
                          {"name", d.name},
                          {"vendor", d.vendor},
                          {"driver_version", d.driver_version},
                          {"description", d.description},
                          {"memory_bytes", d.memory_bytes},
                          {"compute_units", d.compute_units},
                          {"weight_dtypes", d.weight_dtypes},
                          {"compute_dtypes", d.compute_dtypes},
                          {"logits_dtype", d.logits_dtype}}}};
    }
    if (c.model.is_object()) j["model"] = c.model;
    if (c.load_s) j["load_s"] = *c.load_s;
    if (!c.timings.empty()) {
        j["timings"] = json::object();
        for (const auto& [k, s] : c.timings) j["timings"][k] = s;
    }
    if (c.throughput) {
        const auto& t = *c.throughput;
        j["throughput"] = {{"tokens_per_s", t.tokens_per_s}};
        if (t.per_stream_tokens_per_s) j["throughput"]["per_stream_tokens_per_s"] = *t.per_stream_tokens_per_s;
        if (t.time_to_first_logits_s) j["throughput"]["time_to_first_logits_s"] = *t.time_to_first_logits_s;
        if (t.advance_tokens_per_s) j["throughput"]["advance_tokens_per_s"] = *t.advance_tokens_per_s;
    }
    if (c.roofline) j["roofline"] = *c.roofline;
    if (c.memory) {
        const auto& m = *c.memory;
        j["memory"] = {{"plugin",
                        {{"weights", m.plugin.weights},
                         {"state", m.plugin.state},
                         {"workspace", m.plugin.workspace},
                         {"peak", m.plugin.peak}}},
                       {"theoretical_weight_bytes", m.theoretical_weight_bytes},
                       {"state_bytes_per_stream", m.state_bytes_per_stream},
                       {"peak_rss_bytes", m.peak_rss_bytes}};
    }
    if (c.noise) {
        const auto& n = *c.noise;
        j["noisy"] = n.noisy;
        j["noise"] = {{"cv", n.cv}, {"threshold", n.threshold}, {"repetitions", n.repetitions},
                      {"jitter_cv", optional_number(n.jitter_cv)}};
    }
    if (c.contention) {
        const auto& k = *c.contention;
        j["contention"] = {{"foreign_cpu_cores", optional_number(k.foreign_cpu_cores)},
                           {"steal_cores", optional_number(k.steal_cores)},
                           {"wall_s", k.wall_s},
                           {"bound_cores", k.bound_cores},
                           {"resolution_cores", k.resolution_cores},
                           {"contended", k.contended}};
    }
    if (c.host_load.is_object()) j["host_load"] = c.host_load;
    if (c.long_run.is_object()) j["long"] = c.long_run;
    if (c.parity) j["parity"] = *c.parity;
    if (c.verification) j["verification"] = *c.verification;
    if (c.interleave_rounds) j["interleave"] = {{"rounds", *c.interleave_rounds}};
    if (c.certification)
        j["certification"] = {{"group_verdict", c.certification->group_verdict},
                              {"certified", c.certification->certified}};
}

CellResult cell_result_from_json(const json& j) {
    CellResult c;
    if (!j.is_object()) {
        c.status_detail = "error: not a cell record";
        return c;
    }
    read(j, "id", c.id);
    if (const json* s = field(j, "spec"); s && s->is_object()) {
        try {
            c.spec = s->get<CellSpec>();
        } catch (const json::exception&) {
            // Keep what the other fields say; the harness compares the spec with its plan anyway.
        }
    }
    if (!read_name(j, "status", c.status)) {
        c.status = CellStatus::error;
        c.status_detail = "error: the record holds no known status";
    } else {
        read(j, "status_detail", c.status_detail);
    }
    read(j, "spec_hash", c.spec_hash);
    read(j, "repro", c.repro);
    if (const json* o = field(j, "origin"); o && o->is_string()) c.origin = o->get<std::string>();

    if (const json* w = field(j, "worker"); w && w->is_object()) {
        WorkerOutcome out;
        int code = 0;
        if (integer(field(*w, "exit_code"), code)) out.exit_code = code;
        read(*w, "signal", out.signal);
        read(*w, "signal_name", out.signal_name);
        read(*w, "peak_rss_bytes", out.peak_rss_bytes);
        read(*w, "peak_anon_bytes", out.peak_anon_bytes);
        read(*w, "wall_s", out.wall_s);
        read(*w, "stderr_tail", out.stderr_tail);
        c.worker = out;
    }
    if (const json* b = field(j, "backend"); b && b->is_object()) c.backend = read_backend(*b);
    c.model = object_or_null(j, "model");
    read(j, "load_s", c.load_s);
    if (const json* t = field(j, "timings"); t && t->is_object())
        for (const auto& [k, v] : t->items())
            if (v.is_object()) c.timings[k] = read_stats(v);
    if (const json* t = field(j, "throughput"); t && t->is_object()) {
        Throughput tp;
        read(*t, "tokens_per_s", tp.tokens_per_s);
        read(*t, "per_stream_tokens_per_s", tp.per_stream_tokens_per_s);
        read(*t, "time_to_first_logits_s", tp.time_to_first_logits_s);
        read(*t, "advance_tokens_per_s", tp.advance_tokens_per_s);
        c.throughput = tp;
    }
    if (const json* r = field(j, "roofline"); r && r->is_object()) {
        Roofline rf;
        // v1 had no "bound": prefill was compute-bound, everything else memory-bound.
        if (!read_name(*r, "bound", rf.bound))
            rf.bound = c.spec.scenario == Scenario::prefill ? Bound::compute : Bound::memory;
        read(*r, "achieved_gbps", rf.achieved_gbps);
        read(*r, "achieved_gflops", rf.achieved_gflops);
        read(*r, "gbps_fraction_of_limit", rf.gbps_fraction_of_limit);
        read(*r, "gflops_fraction_of_limit", rf.gflops_fraction_of_limit);
        read(*r, "bytes_per_iteration", rf.bytes_per_iteration);
        read(*r, "flops_per_iteration", rf.flops_per_iteration);
        c.roofline = rf;
    }
    if (const json* m = field(j, "memory"); m && m->is_object()) {
        Memory mem;
        if (const json* p = field(*m, "plugin")) {
            read(*p, "weights", mem.plugin.weights);
            read(*p, "state", mem.plugin.state);
            read(*p, "workspace", mem.plugin.workspace);
            read(*p, "peak", mem.plugin.peak);
        }
        read(*m, "theoretical_weight_bytes", mem.theoretical_weight_bytes);
        read(*m, "state_bytes_per_stream", mem.state_bytes_per_stream);
        read(*m, "peak_rss_bytes", mem.peak_rss_bytes);
        c.memory = mem;
    }
    if (const json* n = field(j, "noise"); n && n->is_object()) {
        Noise noise;
        read(*n, "cv", noise.cv);
        read(*n, "threshold", noise.threshold);
        read(*n, "repetitions", noise.repetitions);
        read(*n, "jitter_cv", noise.jitter_cv);
        read(j, "noisy", noise.noisy);
        c.noise = noise;
    } else if (const json* flag = field(j, "noisy"); flag && flag->is_boolean()) {
        c.noise = Noise{.noisy = flag->get<bool>()};
    }
    if (const json* k = field(j, "contention"); k && k->is_object()) {
        Contention con;
        read(*k, "foreign_cpu_cores", con.foreign_cpu_cores);
        read(*k, "steal_cores", con.steal_cores);
        read(*k, "wall_s", con.wall_s);
        read(*k, "bound_cores", con.bound_cores);
        read(*k, "resolution_cores", con.resolution_cores);
        read(*k, "contended", con.contended);
        c.contention = con;
    }
    c.host_load = object_or_null(j, "host_load");
    c.long_run = object_or_null(j, "long");
    if (const json* p = field(j, "parity"); p && p->is_object()) c.parity = read_judgement(*p);
    if (const json* v = field(j, "verification"); v && v->is_object()) c.verification = read_judgement(*v);
    if (const json* il = field(j, "interleave"); il && il->is_object()) {
        int rounds = 0;
        if (integer(field(*il, "rounds"), rounds) && rounds >= 1) c.interleave_rounds = rounds;
    }
    if (const json* cert = field(j, "certification"); cert && cert->is_object()) {
        Certification k;
        read_name(*cert, "group_verdict", k.group_verdict);
        read(*cert, "certified", k.certified);
        c.certification = k;
    }
    return c;
}

}  // namespace rwkvb
