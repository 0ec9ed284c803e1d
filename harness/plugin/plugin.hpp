// Loading backend plugins (dlopen) and calling them safely: every size and string a plugin
// returns is checked before use, and every failure becomes a PluginError with one line.
#pragma once
#include <rwkvbench/backend.h>

#include "model_config.hpp"

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace rwkvb {

// Sizes above these are a plugin lying, not hardware: refused instead of trusted.
inline constexpr int kMaxPluginDevices = 4096;
inline constexpr uint64_t kMaxPluginBytes = uint64_t(1) << 52;  // 4 PiB
inline constexpr int kMaxPluginComputeUnits = 1 << 24;

// Where a plugin failed, so a cell can be classified without reading the message: Load (dlopen,
// the table, device queries, Session::load — the model never got in), Create (create()), Call
// (a call on a loaded model: state, forward, synchronize, memory_usage).
enum class PluginStage { Load, Create, Call };

struct PluginError : std::runtime_error {
    explicit PluginError(const std::string& what, PluginStage s = PluginStage::Call)
        : std::runtime_error(what), stage(s) {}
    PluginStage stage;
    // Load and Create: the cell is a load-error; Call: an error of a loaded plugin.
    bool before_model_loaded() const { return stage != PluginStage::Call; }
};

class Plugin {
public:
    // dlopens `path` and validates the entry symbol, the table and its ABI version. Name and
    // version are kept as valid UTF-8, as is every message a PluginError carries.
    static std::shared_ptr<Plugin> load(const std::filesystem::path& path);
    ~Plugin();
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    const rwkvb_backend& table() const { return *table_; }
    const std::string& name() const { return name_; }
    const std::string& version() const { return version_; }
    const std::filesystem::path& path() const { return path_; }

    // Devices, each description checked (terminated strings, sane counts and dtypes); its
    // strings are made valid UTF-8 in place (invalid bytes replaced, cut on a character).
    int device_count() const;
    rwkvb_device_info device_info(int device) const;
    // last_error(ctx) as valid UTF-8, "" if it gave none or no terminated string within 4 KiB.
    std::string last_error(const rwkvb_context* ctx) const;

    // Throws PluginError "<plugin>: <what> failed (<status>): <last_error>" at `stage` unless OK.
    void check(rwkvb_status status, const char* what, const rwkvb_context* ctx,
               PluginStage stage = PluginStage::Call) const;

private:
    Plugin() = default;
    void* handle_ = nullptr;
    const rwkvb_backend* table_ = nullptr;
    std::string name_, version_;
    std::filesystem::path path_;
};

// Directories searched for librwkvb_*.so: $RWKVBENCH_PLUGIN_PATH (colon-separated), then
// <exe>/../lib/rwkvbench/plugins (build tree and install tree alike).
std::vector<std::filesystem::path> plugin_search_dirs();
// `extra` (from --plugin) first, then every librwkvb_*.so in the search directories.
std::vector<std::filesystem::path> discover_plugins(const std::vector<std::filesystem::path>& extra = {});
// The plugin whose backend name is `name`; InputError listing the names available if none.
std::shared_ptr<Plugin> find_plugin(const std::string& name,
                                    const std::vector<std::filesystem::path>& extra = {});

const char* status_name(rwkvb_status status);

// A context with a model loaded, owned RAII-style.
class Session {
public:
    Session(std::shared_ptr<Plugin> plugin, int device, const std::string& options);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void load(const ModelConfig& config, const std::vector<TensorView>& tensors, DType weight_dtype);
    rwkvb_state* new_state(int batch);
    void free_state(rwkvb_state* state);
    void reset_state(rwkvb_state* state);
    // logits: batch × rows × vocab elements of logits_dtype(); checked by the caller's sizing.
    void forward(rwkvb_state* state, const int32_t* tokens, int n_tokens, int batch, void* logits,
                 rwkvb_logits which);
    void synchronize();
    rwkvb_memory memory_usage();

    const Plugin& plugin() const { return *plugin_; }
    rwkvb_context* context() const { return ctx_; }
    const rwkvb_device_info& device() const { return info_; }
    DType logits_dtype() const { return static_cast<DType>(info_.logits_dtype); }
    const ModelConfig& config() const { return config_; }

private:
    std::shared_ptr<Plugin> plugin_;
    rwkvb_context* ctx_ = nullptr;
    rwkvb_device_info info_{};
    ModelConfig config_{};
    std::vector<rwkvb_tensor> abi_tensors_;
};

}  // namespace rwkvb
