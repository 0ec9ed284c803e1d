#include "measure/limits.hpp"

#include "io/atomic_file.hpp"
#include "measure/contention.hpp"
#include "measure/stats.hpp"
#include "measure/sysinfo.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <immintrin.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#ifdef RWKVB_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace rwkvb {
namespace {

using Clock = std::chrono::steady_clock;

int resolve_threads(int threads) {
    if (threads > 0) return threads;
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? int(n) : 1;
}

// Sum of a float range with AVX2 loads; the result is returned so the reads cannot be elided.
float stream_read(const float* p, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    }
    float tail = 0;
    for (; i < n; ++i) tail += p[i];
    alignas(32) float out[8];
    _mm256_store_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (float x : out) tail += x;
    return tail;
}

uint64_t mem_available() {
    std::ifstream in("/proc/meminfo");
    for (std::string key; in >> key;) {
        uint64_t kib = 0;
        in >> kib;
        in.ignore(256, '\n');
        if (key == "MemAvailable:") return kib * 1024;
    }
    return 0;
}

uint64_t l3_bytes() {
    uint64_t best = 0;
    for (int i = 0; i < 8; ++i) {
        std::ifstream in(fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/size", i));
        uint64_t v = 0;
        char unit = 0;
        if (!(in >> v)) break;
        in >> unit;
        best = std::max(best, v * (unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1));
    }
    return best;
}

void set_openmp_threads(int threads) {
    // oneDNN brings libgomp; call it through the symbol table rather than linking OpenMP here.
    using Fn = void (*)(int);
    if (auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) fn(threads);
}

// "2024-05-01T12:00:00Z" (host_load_snapshot's format) as a time point; nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& text) {
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        size_t(consumed) != text.size() || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t t = ::timegm(&tm);
    if (t == std::time_t(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(t);
}

std::string cores_text(const nlohmann::json& v) { return v.is_number() ? fmt::format("{:.2f}", v.get<double>()) : "?"; }

std::string safe_key(std::string s) {
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
    return s;
}

}  // namespace

nlohmann::json measure_read_bandwidth(size_t bytes, int threads, int reps) {
    threads = resolve_threads(threads);
    // On 2 MiB pages where transparent huge pages allow it, as a backend keeps its weights: with
    // 4 KiB pages a virtual machine's nested page walks and the prefetchers' stop at every page
    // boundary held this read ~30% below what a backend then achieved (>100% of the "limit").
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t n = bytes / kHuge * kHuge / sizeof(float);
    if (n == 0) throw std::runtime_error(fmt::format("limits: read buffer of {} bytes is under 2 MiB", bytes));
    auto* raw = static_cast<float*>(std::aligned_alloc(kHuge, n * sizeof(float)));
    if (!raw) throw std::runtime_error(fmt::format("limits: cannot allocate {} bytes", n * sizeof(float)));
    std::unique_ptr<float, decltype(&std::free)> buf(raw, &std::free);
    const bool huge = madvise(raw, n * sizeof(float), MADV_HUGEPAGE) == 0;  // before the first touch
    const size_t per = n / size_t(threads) / 32 * 32;
    std::vector<float> sink(static_cast<size_t>(threads));

    // Each pass splits the buffer into one slice per thread; the first pass also writes it, so
    // pages are touched by the thread that later reads them (first-touch NUMA placement).
    auto pass = [&](bool init) {
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                float* p = raw + size_t(t) * per;
                const size_t len = (t == threads - 1) ? n - size_t(t) * per : per;
                if (init)
                    for (size_t i = 0; i < len; ++i) p[i] = float(i & 1023) * 1e-3f;
                sink[size_t(t)] += stream_read(p, len);
            });
        for (auto& th : pool) th.join();
    };
    pass(true);
    std::vector<double> gbps;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        pass(false);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        gbps.push_back(double(n * sizeof(float)) / s / 1e9);
    }
    const Summary sum = summarize(gbps);
    return {{"method", "multi-threaded streaming read, AVX2 256-bit loads, 4 accumulators per thread"},
            {"huge_pages", huge ? "asked (MADV_HUGEPAGE)" : "refused: 4 KiB pages"},
            {"buffer_bytes", n * sizeof(float)},
            {"threads", threads},
            {"samples_gbps", gbps},
            {"median_gbps", sum.median},
            {"max_gbps", sum.max},
            {"checksum", sink[0]}};
}

nlohmann::json measure_gemm_peak(int n, int threads, int reps) {
    threads = resolve_threads(threads);
#ifdef RWKVB_HAVE_ONEDNN
    using namespace dnnl;
    set_openmp_threads(threads);
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    const memory::dims dims{n, n};
    const memory::desc md(dims, memory::data_type::f32, memory::format_tag::ab);
#if DNNL_VERSION_MAJOR >= 3
    matmul::primitive_desc pd(eng, md, md, md);
#else
    matmul::primitive_desc pd(matmul::desc(md, md, md), eng);
#endif
    memory a(md, eng), b(md, eng), c(md, eng);
    for (auto* m : {&a, &b}) {
        auto* p = static_cast<float*>(m->get_data_handle());
        for (size_t i = 0; i < size_t(n) * size_t(n); ++i) p[i] = float(int(i % 17) - 8) * 0.01f;
    }
    matmul prim(pd);
    auto run = [&] {
        prim.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
        strm.wait();
    };
    run();
    std::vector<double> gflops;
    const double flops = 2.0 * double(n) * double(n) * double(n);
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        run();
        gflops.push_back(flops / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
    }
    const Summary sum = summarize(gflops);
    return {{"available", true},
            {"method", fmt::format("oneDNN f32 matmul {0}x{0}x{0} ({1})", n, pd.impl_info_str())},
            {"n", n},
            {"threads", threads},
            {"samples_gflops", gflops},
            {"median_gflops", sum.median},
            {"max_gflops", sum.max}};
#else
    (void)n, (void)threads, (void)reps;
    return {{"available", false}, {"note", "built without oneDNN: no GEMM peak"}};
#endif
}

uint64_t limits_read_buffer_bytes() {
    // Hosts with a huge L3 exist (480 MiB here): 8× it keeps the cache's share small.
    uint64_t bytes = std::max<uint64_t>(8 * l3_bytes(), uint64_t(1) << 30);
    if (const uint64_t avail = mem_available(); avail && bytes > avail / 4)
        bytes = std::max<uint64_t>(avail / 4, 256ull << 20);
    return bytes;
}

nlohmann::json measure_limits(int threads) {
    threads = resolve_threads(threads);
    const auto sys = collect_system_info();
    const auto t0 = Clock::now();
    const ContentionWindow window;  // no child processes: our own CPU is RUSAGE_SELF's
    auto bw = measure_read_bandwidth(limits_read_buffer_bytes(), threads, 10);
    auto gemm = measure_gemm_peak(2048, threads, 7);
    const CpuContention under = window.finish();
    return {{"schema", "rwkvbench-limits"},
            {"schema_version", 1},
            {"host", sys["os"].value("hostname", "")},
            {"cpu_model", sys["cpu"]["model"]},
            {"threads", threads},
            {"measured_at", host_load_snapshot()["time"]},
            {"measure_s", std::chrono::duration<double>(Clock::now() - t0).count()},
            {"measured_under", under},
            {"host_load", host_load_snapshot()},
            {"memory_read_gbps", bw["max_gbps"]},
            {"gemm_f32_gflops", gemm.value("available", false) ? gemm["max_gflops"] : nlohmann::json()},
            {"ceiling_rule", "highest repetition (medians and samples kept in bandwidth/gemm)"},
            {"bandwidth", bw},
            {"gemm", gemm}};
}

std::filesystem::path limits_cache_path(const std::filesystem::path& cache_dir, int threads) {
    threads = resolve_threads(threads);
    const auto sys = collect_system_info();
    // m2: the method's revision (m2: read on 2 MiB pages); limits measured another way are not reused.
    const std::string key = fmt::format("{}-{}-t{}-m2", sys["os"].value("hostname", "host"),
                                        sys["cpu"]["model"].is_string() ? sys["cpu"]["model"].get<std::string>()
                                                                        : "cpu",
                                        threads);
    return cache_dir / "limits" / (safe_key(key) + ".json");
}

std::string limits_implausibility(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("schema") || j["schema"] != "rwkvbench-limits")
        return "not an rwkvbench limits document";
    // Far outside what any host measures: a read ceiling between 0.1 GB/s and 100 TB/s, a GEMM
    // peak between 0.1 GFLOP/s and 100 PFLOP/s. A cached figure beyond them was edited or broken,
    // and would turn every fraction computed against it into nonsense.
    const auto bad = [&](const char* key, double lo, double hi, bool nullable) -> std::string {
        const auto it = j.find(key);
        if (it == j.end()) return fmt::format("no {}", key);
        if (it->is_null() && nullable) return "";
        if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < lo || it->get<double>() > hi)
            return fmt::format("{} = {} is outside [{:g}, {:g}]", key, it->dump(), lo, hi);
        return "";
    };
    if (auto why = bad("memory_read_gbps", 0.1, 1e5, false); !why.empty()) return why;
    return bad("gemm_f32_gflops", 0.1, 1e8, true);
}

std::string limits_staleness(const nlohmann::json& j, std::chrono::system_clock::time_point now,
                             std::chrono::seconds max_age) {
    const auto under = j.find("measured_under");
    if (under == j.end() || !under->is_object())
        return "no measured_under: measured before contention was recorded";
    const auto contended = under->find("contended");
    if (contended == under->end() || !(contended->is_boolean() || contended->is_null()))
        return "measured_under has no contended verdict";
    if (contended->is_boolean() && contended->get<bool>())
        return fmt::format("measured under contention: other processes {} cores, steal {} cores, bound {}",
                           cores_text(under->value("foreign_cpu_cores", nlohmann::json())),
                           cores_text(under->value("steal_cores", nlohmann::json())),
                           cores_text(under->value("bound_cores", nlohmann::json())));
    const auto at = j.find("measured_at");
    const auto when = at != j.end() && at->is_string() ? parse_utc(at->get<std::string>()) : std::nullopt;
    if (!when) return "no readable measured_at";
    const double age_s = std::chrono::duration<double>(now - *when).count();
    if (age_s > double(max_age.count()))
        return fmt::format("measured {:.1f} days ago, more than {:g}", age_s / 86400, double(max_age.count()) / 86400);
    // A clock set back since: the age is unknown.
    if (age_s < -3600) return fmt::format("measured_at {} is in the future", at->get<std::string>());
    return "";
}

nlohmann::json load_or_measure_limits(const std::filesystem::path& cache_dir, bool measure_if_missing, int threads,
                                      bool use_stale) {
    const auto path = limits_cache_path(cache_dir, threads);
    std::ifstream in(path);
    if (in) {
        auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (const std::string why = limits_implausibility(j); !why.empty()) {
            if (!j.is_discarded())
                std::fprintf(stderr, "note: cached limits %s are not plausible (%s): %s\n", path.string().c_str(),
                             why.c_str(), measure_if_missing ? "measuring again" : "ignored");
        } else if (const std::string stale = limits_staleness(j); stale.empty()) {
            j["cache_path"] = path.string();
            return j;
        } else if (use_stale && !measure_if_missing) {
            std::fprintf(stderr, "note: cached limits %s are stale (%s): used as they are, not measuring\n",
                         path.string().c_str(), stale.c_str());
            j["stale"] = stale;
            j["cache_path"] = path.string();
            return j;
        } else {
            std::fprintf(stderr, "note: cached limits %s are stale (%s): %s\n", path.string().c_str(), stale.c_str(),
                         measure_if_missing ? "measuring again" : "not used");
        }
    }
    if (!measure_if_missing) return nlohmann::json::object();
    auto j = measure_limits(threads);
    write_file_atomically(path, j.dump(2) + "\n");
    if (const auto& under = j["measured_under"]; under.value("contended", nlohmann::json()) == true)
        std::fprintf(stderr,
                     "note: other processes used %s cores (steal %s) while the limits were measured: the ceilings "
                     "may be low; used now, measured again next time\n",
                     cores_text(under["foreign_cpu_cores"]).c_str(), cores_text(under["steal_cores"]).c_str());
    j["cache_path"] = path.string();
    return j;
}

}  // namespace rwkvb
