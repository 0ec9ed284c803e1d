// One context: a device, its queue, the compiled kernels, the model's weights on the device,
// and the forward pass of RWKV v4 / v5.x / v6 / v7 in sequential and sequence mode.
#pragma once
#include "cl_common.hpp"
#include "devices.hpp"
#include "options.hpp"

#include <rwkvbench/backend.h>

#include <map>
#include <string>
#include <vector>

namespace rwkvb::ocl {

struct Matrix {  // [rows][cols] in the checkpoint's nn.Linear orientation (y = W·x)
    cl::Buffer buf;
    int rows = 0, cols = 0;
};

struct Layer {
    std::map<std::string, Matrix> m;     // matrices by official suffix ("att.key.weight", ...)
    std::map<std::string, cl::Buffer> v; // vectors: official names plus derived ones
};

struct DeviceState {
    int batch = 0;
    cl::Buffer att, ffn, wkv;  // [L][B][D], [L][B][D], [L][B][wkv floats per stream]
    uint64_t bytes = 0;
};

class Engine {
public:
    Engine(const DeviceEntry& dev, const Options& opt);

    void load(const rwkvb_model_config& cfg, const rwkvb_tensor* tensors, size_t n, int32_t weight_dtype);
    DeviceState* state_new(int batch);
    void state_reset(DeviceState* s);
    void state_free(DeviceState* s);
    // Canonical float32 layout of backend.h; out == nullptr: size only.
    void state_export(const DeviceState* s, int stream, float* out, size_t* n_floats);
    void forward(DeviceState* s, const int32_t* tokens, int n_tokens, int batch, float* logits, int which);
    void synchronize() { queue_.finish(); }
    rwkvb_memory memory() const;

    const std::string& build_log() const { return build_log_; }
    bool loaded() const { return loaded_; }
    bool program_from_cache() const { return program_from_cache_; }

private:
    struct Kernels {
        cl::Kernel gemv, gemv_wg, gemm, layernorm, groupnorm_gate, v7_groupnorm_bonus, token_shift, mix,
            v6_mix, v6_decay, mul_add, fill, wkv4, wkv5, v7_prep, wkv7;
    };

    // Loading.
    const rwkvb_tensor& tensor(const std::string& name) const;
    const rwkvb_tensor* find(const std::string& name) const;
    std::vector<float> floats(const std::string& name, size_t expect) const;
    cl::Buffer upload(const std::vector<float>& v);
    Matrix upload_matrix(const std::string& name, int rows, int cols, bool transpose);
    Matrix upload_matrix_data(const float* data, int rows, int cols);
    void load_layer(int l);
    void build_program();

    // Running.
    void ensure_workspace(int rows);
    void ensure_logits(int rows);
    void forward_chunk(DeviceState* s, const int32_t* tokens, int T, int B, bool want_logits, int which,
                       float* logits, int t0, int T_total);
    void matmul(const cl::Buffer& x, int x_off, int ldx, const Matrix& w, const cl::Buffer& y, int y_off,
                int ldy, int M, int act, bool accumulate);
    void layernorm(const cl::Buffer& x, int in_stride, int in_off, const cl::Buffer& y, const cl::Buffer& g,
                   const cl::Buffer& b, int rows);
    void time_mix(int l, DeviceState* s, int T, int B);
    void channel_mix(int l, DeviceState* s, int T, int B);
    cl::Buffer alloc(size_t bytes, uint64_t* counter);
    void note_peak();

    DeviceEntry dev_;
    DeviceFacts facts_;
    Options opt_;
    cl::Context ctx_;
    cl::CommandQueue queue_;
    Kernels k_;
    std::string build_log_;
    bool program_from_cache_ = false;

    rwkvb_model_config cfg_{};
    int weight_dtype_ = RWKVB_F32;
    bool loaded_ = false;
    bool v5_gate_ = true;
    const rwkvb_tensor* tensors_ = nullptr;
    size_t n_tensors_ = 0;
    std::map<std::string, size_t> index_;

    const void* emb_ = nullptr;  // host embedding table (harness-owned, valid until destroy)
    int emb_dtype_ = RWKVB_F32;
    cl::Buffer ln0_w_, ln0_b_, lnout_w_, lnout_b_;
    Matrix head_;
    std::vector<Layer> layers_;
    int wg_ = 64, tm_ = 4, tn_ = 2, gemv_rows_ = 4;
    bool gemv_per_group_ = false;  // gemv_wg (GPUs) instead of gemv (CPUs)
    size_t wkv_floats_ = 0;  // per stream per layer
    int lora_max_ = 0;

    // Workspace, sized for ws_rows_ rows.
    int ws_rows_ = 0, logit_rows_ = 0;
    std::map<std::string, cl::Buffer> ws_;
    cl::Buffer logits_buf_;
    std::vector<float> host_rows_;

    uint64_t weight_bytes_ = 0, state_bytes_ = 0, ws_bytes_ = 0, peak_ = 0;
};

}  // namespace rwkvb::ocl
