// Loads the OpenCL plugin in a fresh process and prints "count=<n>" and "error=<last_error>".
// The no-platform test runs it with OCL_ICD_VENDORS pointing at an empty directory (the ICD
// loader reads that variable once per process, so it needs a process of its own).
#include <rwkvbench/backend.h>

#include <cstdio>
#include <dlfcn.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: ocl_probe <librwkvb_opencl.so>\n");
        return 2;
    }
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    auto entry = reinterpret_cast<rwkvb_backend_entry_fn>(dlsym(h, RWKVB_ENTRY_SYMBOL));
    const rwkvb_backend* t = entry ? entry(RWKVB_ABI_VERSION) : nullptr;
    if (!t) return 2;
    int32_t n = -1;
    const rwkvb_status st = t->device_count(&n);
    std::printf("status=%d\ncount=%d\nerror=%s\n", static_cast<int>(st), n, t->last_error(nullptr));
    rwkvb_device_info info;
    const rwkvb_status si = t->device_info(0, &info);
    std::printf("info0_status=%d\ninfo0_error=%s\n", static_cast<int>(si), t->last_error(nullptr));
    rwkvb_context* ctx = nullptr;
    const rwkvb_status sc = t->create(0, nullptr, &ctx);
    std::printf("create_status=%d\n", static_cast<int>(sc));
    if (ctx) t->destroy(ctx);
    return 0;
}
