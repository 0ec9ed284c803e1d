// One context: a device, its queue, the compiled kernels, the model's weights on the device,
// and the forward pass of RWKV v4 / v5.x / v6 / v7 in sequential and sequence mode.
// engine.cpp: device sizes, memory, state and workspace; engine_load.cpp: weights and program;
// engine_forward.cpp: the forward pass.
#pragma once
#include "cl_common.hpp"
#include "devices.hpp"
#include "options.hpp"
#include "phase_profile.hpp"
#include "sizes.hpp"

#include <rwkvbench/backend.h>

#include <initializer_list>
#include <map>
#include <memory>
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

// Per layer: the shifted LayerNorm outputs [B][D] of both mixes and the WKV state [B][wkv
// floats]; a buffer per layer keeps offsets small and each allocation under the device limit.
struct DeviceState {
    int batch = 0;
    std::vector<cl::Buffer> att, ffn, wkv;
    uint64_t bytes = 0;
};

// One product y[m] (+)= act(W·x[m]) of a list the engine launches together (matmuls()).
// Offsets and strides count floats.
struct Job {
    const cl::Buffer* x;
    int x_off, ldx;
    const Matrix* w;
    const cl::Buffer* y;
    int y_off, ldy;
    int act;
    bool accumulate;
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

private:
    struct Kernels {
        cl::Kernel gemv, gemm, layernorm, ln_mix, groupnorm_gate, v6_mix, v6_decay, mul_add, fill, wkv4, wkv5, wkv7;
    };

    // Loading (engine_load.cpp).
    const rwkvb_tensor& tensor(const std::string& name) const;
    const rwkvb_tensor* find(const std::string& name) const;
    std::vector<float> floats(const std::string& name, size_t expect) const;
    cl::Buffer upload(const std::vector<float>& v);
    Matrix upload_matrix(const std::string& name, int rows, int cols, bool transpose);
    Matrix upload_matrix_data(const float* data, int rows, int cols);
    void load_layer(int l);
    void build_program();

    // Running (engine_forward.cpp).
    void forward_chunk(DeviceState* s, const int32_t* tokens, int T, int B, bool want_logits, int which,
                       float* logits, int t0, int T_total);
    void matmuls(std::initializer_list<Job> jobs, int M);
    void layernorm(const cl::Buffer& x, int in_stride, int in_off, const cl::Buffer& y, const cl::Buffer& g,
                   const cl::Buffer& b, int rows);
    // Pre-norm + token shift + n mixes of the time mix (att) or channel mix into m0..m5.
    void ln_mix(int l, DeviceState* s, bool att, int T, int B, int n_mix, bool keep_z);
    void time_mix(int l, DeviceState* s, int T, int B);
    void channel_mix(int l, DeviceState* s, int T, int B);

    // Sets the arguments in order and enqueues k.
    template <class... Args>
    void launch(cl::Kernel& k, const cl::NDRange& global, const cl::NDRange& local, const Args&... args) {
        cl_uint i = 0;
        (k.setArg(i++, args), ...);
        enqueue(k, global, local);
    }
    // With profile=1, timed under the kernel's name plus `label`.
    void enqueue(cl::Kernel& k, const cl::NDRange& global, const cl::NDRange& local, const std::string& label = "");

    // Memory (engine.cpp).
    void ensure_workspace(int rows);
    void ensure_logits(int rows);
    cl::Buffer alloc(size_t bytes, uint64_t* counter);
    void note_peak();

    DeviceEntry dev_;
    DeviceFacts facts_;
    Options opt_;
    cl::Context ctx_;
    cl::CommandQueue queue_;
    Kernels k_;
    std::unique_ptr<PhaseProfile> profile_;  // profile=1 (phase_profile.hpp)

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

    Sizes sz_;  // per device (sizes.hpp)
    size_t wkv_floats_ = 0;  // per stream per layer
    int lora_max_ = 0;

    // Workspace, sized for ws_rows_ rows.
    int ws_rows_ = 0, logit_rows_ = 0;
    std::map<std::string, cl::Buffer> ws_;
    cl::Buffer logits_buf_;
    std::vector<float> host_rows_;

    uint64_t weight_bytes_ = 0, state_bytes_ = 0, ws_bytes_ = 0, peak_ = 0;
};

// A 64-bit size or offset as the cl_int a kernel takes; one line naming `what` when it does not fit.
cl_int to_cl_int(uint64_t v, const char* what);

}  // namespace rwkvb::ocl
