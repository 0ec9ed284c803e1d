#include "plugin/plugin.hpp"

#include "errors.hpp"
#include "io/utf8.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace rwkvb {
namespace {

constexpr size_t kMaxMessageBytes = 4096;  // a last_error() longer than this is not one line

bool terminated(const char* s, size_t capacity) { return std::memchr(s, '\0', capacity) != nullptr; }

// Rewrites the NUL-terminated `field` of a device description as valid UTF-8. Each replaced
// byte grows by two (U+FFFD is three bytes), so the result is cut to fit, on a character boundary.
void make_field_valid_utf8(char* field, size_t capacity) {
    const std::string valid = valid_utf8(field);
    size_t n = std::min(valid.size(), capacity - 1);
    while (n > 0 && n < valid.size() && (static_cast<unsigned char>(valid[n]) & 0xC0) == 0x80) --n;
    std::memcpy(field, valid.data(), n);
    field[n] = '\0';
}

std::filesystem::path executable_dir() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::current_path() : exe.parent_path();
}

}  // namespace

const char* status_name(rwkvb_status status) {
    switch (status) {
        case RWKVB_OK: return "OK";
        case RWKVB_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
        case RWKVB_ERR_UNSUPPORTED: return "UNSUPPORTED";
        case RWKVB_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
        case RWKVB_ERR_DEVICE: return "DEVICE";
        case RWKVB_ERR_INTERNAL: return "INTERNAL";
    }
    return "UNKNOWN_STATUS";
}

std::shared_ptr<Plugin> Plugin::load(const std::filesystem::path& path) {
    const std::string where = valid_utf8(path.string());
    std::shared_ptr<Plugin> p(new Plugin());
    p->path_ = path;
    // RTLD_LOCAL keeps each plugin's heavy dependencies (oneDNN, OpenCL, CUDA) to itself.
    p->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!p->handle_) {
        const char* e = dlerror();
        throw PluginError(fmt::format("{}: cannot load plugin: {}", where, e ? valid_utf8(e) : "unknown dlopen error"),
                          PluginStage::Load);
    }
    auto entry = reinterpret_cast<rwkvb_backend_entry_fn>(dlsym(p->handle_, RWKVB_ENTRY_SYMBOL));
    if (!entry)
        throw PluginError(fmt::format("{}: not an rwkvbench plugin: it does not export '{}'", where,
                                      RWKVB_ENTRY_SYMBOL), PluginStage::Load);
    p->table_ = entry(RWKVB_ABI_VERSION);
    if (!p->table_)
        throw PluginError(fmt::format("{}: the plugin does not speak plugin ABI version {} "
                                      "(its entry returned NULL); rebuild it against this backend.h",
                                      where, RWKVB_ABI_VERSION),
                          PluginStage::Load);
    const rwkvb_backend& t = *p->table_;
    if (t.abi_version != RWKVB_ABI_VERSION)
        throw PluginError(fmt::format("{}: the plugin's table is for ABI version {}, the harness speaks "
                                      "{}; rebuild it against this backend.h",
                                      where, t.abi_version, RWKVB_ABI_VERSION),
                          PluginStage::Load);
    if (!t.name || !terminated(t.name, RWKVB_NAME_LEN) || !*t.name)
        throw PluginError(fmt::format("{}: the plugin's name is missing or not a short string", where),
                          PluginStage::Load);
    p->name_ = valid_utf8(t.name);
    p->version_ = (t.version && terminated(t.version, RWKVB_NAME_LEN)) ? valid_utf8(t.version) : "";
    struct Member {
        const void* fn;
        const char* name;
    };
    const Member required[] = {
        {reinterpret_cast<const void*>(t.device_count), "device_count"},
        {reinterpret_cast<const void*>(t.device_info), "device_info"},
        {reinterpret_cast<const void*>(t.create), "create"},
        {reinterpret_cast<const void*>(t.destroy), "destroy"},
        {reinterpret_cast<const void*>(t.load), "load"},
        {reinterpret_cast<const void*>(t.state_new), "state_new"},
        {reinterpret_cast<const void*>(t.state_reset), "state_reset"},
        {reinterpret_cast<const void*>(t.state_free), "state_free"},
        {reinterpret_cast<const void*>(t.forward), "forward"},
        {reinterpret_cast<const void*>(t.synchronize), "synchronize"},
        {reinterpret_cast<const void*>(t.memory_usage), "memory_usage"},
        {reinterpret_cast<const void*>(t.last_error), "last_error"},
    };
    for (const auto& m : required)
        if (!m.fn)
            throw PluginError(fmt::format("{}: plugin '{}' leaves the required member '{}' NULL", where,
                                          p->name_, m.name), PluginStage::Load);
    return p;
}

Plugin::~Plugin() {
    // Plugins are never dlclose'd: drivers (OpenCL ICDs, CUDA) register atexit handlers and
    // thread-local destructors that crash when their code is unmapped before process exit.
}

std::string Plugin::last_error(const rwkvb_context* ctx) const {
    const char* e = table_->last_error(ctx);
    return (e && terminated(e, kMaxMessageBytes)) ? valid_utf8(e) : std::string();
}

void Plugin::check(rwkvb_status status, const char* what, const rwkvb_context* ctx, PluginStage stage) const {
    if (status == RWKVB_OK) return;
    std::string msg = last_error(ctx);
    if (msg.empty()) msg = "(the plugin gave no message)";
    throw PluginError(fmt::format("{}: {} failed ({}): {}", name_, what, status_name(status), msg), stage);
}

int Plugin::device_count() const {
    int32_t n = -1;
    check(table_->device_count(&n), "device_count", nullptr, PluginStage::Load);
    if (n < 0 || n > kMaxPluginDevices)
        throw PluginError(fmt::format("{}: reports an absurd device count ({})", name_, n), PluginStage::Load);
    return n;
}

rwkvb_device_info Plugin::device_info(int device) const {
    rwkvb_device_info info{};
    check(table_->device_info(device, &info), "device_info", nullptr, PluginStage::Load);
    auto bad = [&](const std::string& why) {
        return PluginError(fmt::format("{}: device {} description is invalid: {}", name_, device, why),
                           PluginStage::Load);
    };
    if (!terminated(info.name, sizeof info.name) || !terminated(info.vendor, sizeof info.vendor) ||
        !terminated(info.driver_version, sizeof info.driver_version) ||
        !terminated(info.description, sizeof info.description))
        throw bad("a string field is not NUL-terminated");
    if (info.memory_bytes > kMaxPluginBytes) throw bad(fmt::format("absurd memory size {} bytes", info.memory_bytes));
    if (info.compute_units < 0 || info.compute_units > kMaxPluginComputeUnits)
        throw bad(fmt::format("absurd compute unit count {}", info.compute_units));
    const uint32_t known = (1u << RWKVB_DTYPE_COUNT) - 1;
    if ((info.weight_dtypes & ~known) || (info.compute_dtypes & ~known) || !info.weight_dtypes)
        throw bad("unknown or empty dtype mask");
    if (info.logits_dtype != RWKVB_F32 && info.logits_dtype != RWKVB_F64)
        throw bad(fmt::format("logits dtype {} is neither F32 nor F64", info.logits_dtype));
    make_field_valid_utf8(info.name, sizeof info.name);
    make_field_valid_utf8(info.vendor, sizeof info.vendor);
    make_field_valid_utf8(info.driver_version, sizeof info.driver_version);
    make_field_valid_utf8(info.description, sizeof info.description);
    return info;
}

std::vector<std::filesystem::path> plugin_search_dirs() {
    std::vector<std::filesystem::path> dirs;
    if (const char* env = std::getenv("RWKVBENCH_PLUGIN_PATH")) {
        std::stringstream ss(env);
        for (std::string item; std::getline(ss, item, ':');)
            if (!item.empty()) dirs.emplace_back(item);
    }
    dirs.push_back(executable_dir().parent_path() / "lib" / "rwkvbench" / "plugins");
    return dirs;
}

std::vector<std::filesystem::path> discover_plugins(const std::vector<std::filesystem::path>& extra) {
    // Plugins named on the command line come first, so they win over installed namesakes.
    std::vector<std::filesystem::path> found(extra.begin(), extra.end());
    for (const auto& dir : plugin_search_dirs()) {
        std::error_code ec;
        std::vector<std::filesystem::path> here;
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
            const auto fname = e.path().filename().string();
            if (fname.starts_with("librwkvb_") && e.path().extension() == ".so") here.push_back(e.path());
        }
        std::sort(here.begin(), here.end());
        found.insert(found.end(), here.begin(), here.end());
    }
    return found;
}

std::shared_ptr<Plugin> find_plugin(const std::string& name, const std::vector<std::filesystem::path>& extra) {
    std::vector<std::string> names;
    // Match by file name first so an unrelated broken plugin cannot stop the one asked for.
    for (const auto& path : discover_plugins(extra))
        if (path.filename() == "librwkvb_" + name + ".so") return Plugin::load(path);
    for (const auto& path : discover_plugins(extra)) {
        try {
            auto p = Plugin::load(path);
            if (p->name() == name) return p;
            names.push_back(p->name());
        } catch (const PluginError&) {
        }
    }
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw InputError(fmt::format("unknown backend '{}': available are {} (see `rwkvbench list`)", name,
                                  list.empty() ? "none" : list));
}

Session::Session(std::shared_ptr<Plugin> plugin, int device, const std::string& options)
    : plugin_(std::move(plugin)) {
    const int n = plugin_->device_count();
    if (device < 0 || device >= n)
        throw PluginError(fmt::format("{}: no device {} (it has {})", plugin_->name(), device, n), PluginStage::Load);
    info_ = plugin_->device_info(device);
    plugin_->check(plugin_->table().create(device, options.empty() ? nullptr : options.c_str(), &ctx_),
                   "create", nullptr, PluginStage::Create);
    if (!ctx_)
        throw PluginError(fmt::format("{}: create returned OK but no context", plugin_->name()), PluginStage::Create);
}

Session::~Session() {
    if (ctx_) plugin_->table().destroy(ctx_);
}

void Session::load(const ModelConfig& config, const std::vector<TensorView>& tensors, DType weight_dtype) {
    config_ = config;
    abi_tensors_.clear();
    abi_tensors_.reserve(tensors.size());
    for (const auto& t : tensors) {
        rwkvb_tensor a{};
        a.name = t.name.c_str();
        a.dtype = static_cast<int32_t>(t.dtype);
        a.ndim = static_cast<int32_t>(t.shape.size());
        if (a.ndim > 4)
            throw PluginError(fmt::format("tensor '{}' has {} dimensions (at most 4)", t.name, a.ndim),
                              PluginStage::Load);
        std::copy(t.shape.begin(), t.shape.end(), a.shape);
        a.data = t.data;
        a.nbytes = t.nbytes;
        abi_tensors_.push_back(a);
    }
    plugin_->check(plugin_->table().load(ctx_, &config_, abi_tensors_.data(), abi_tensors_.size(),
                                         static_cast<int32_t>(weight_dtype)),
                   "load", ctx_, PluginStage::Load);
}

rwkvb_state* Session::new_state(int batch) {
    rwkvb_state* s = nullptr;
    plugin_->check(plugin_->table().state_new(ctx_, batch, &s), "state_new", ctx_);
    if (!s) throw PluginError(fmt::format("{}: state_new returned OK but no state", plugin_->name()));
    return s;
}

void Session::free_state(rwkvb_state* state) { plugin_->table().state_free(ctx_, state); }

void Session::reset_state(rwkvb_state* state) {
    plugin_->check(plugin_->table().state_reset(ctx_, state), "state_reset", ctx_);
}

void Session::forward(rwkvb_state* state, const int32_t* tokens, int n_tokens, int batch, void* logits,
                      rwkvb_logits which) {
    plugin_->check(plugin_->table().forward(ctx_, state, tokens, n_tokens, batch, logits, which), "forward",
                   ctx_);
}

void Session::synchronize() { plugin_->check(plugin_->table().synchronize(ctx_), "synchronize", ctx_); }

rwkvb_memory Session::memory_usage() {
    rwkvb_memory m{};
    plugin_->check(plugin_->table().memory_usage(ctx_, &m), "memory_usage", ctx_);
    for (uint64_t v : {m.weights, m.state, m.workspace, m.peak})
        if (v > kMaxPluginBytes)
            throw PluginError(fmt::format("{}: reports an absurd memory size ({} bytes)", plugin_->name(), v));
    return m;
}

}  // namespace rwkvb
