// Golden logits (DESIGN.md §6): the `reference` plugin's float64 logits for a checkpoint and a
// token stream, at chosen steps, computed in a clean room and cached on disk with a hash.
//
// Clean room: only `rwkvbench golden` (cmd_golden.cpp) computes them, a process that loads no
// plugin but the reference, from the checkpoint FILE (read-only mapping) whose SHA-256 the
// parent pinned before any plugin ran. No plugin under test ever shares an address space with
// the golden, so none can poison it (by writing into the weight pages it was handed, say).
//
// Cache: <cache>/golden/<key>.safetensors, key = SHA-256 of (format version, checkpoint SHA-256,
// reference plugin file SHA-256, tokens, steps). Path and mtime are not part of it: a copied or
// regenerated file with the same bytes keeps its entry; a rebuilt reference gets new entries.
// The entry stores the SHA-256 of its logits, checked at every read: a damaged or edited entry
// is recomputed, and the caller is told why.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb {

struct GoldenRequest {
    std::filesystem::path model;       // checkpoint file
    std::string model_sha256;          // pinned by the parent at the start of the run
    std::filesystem::path reference;   // the reference plugin library
    std::string reference_sha256;      // of that library file
    std::vector<int32_t> tokens;       // one stream, from the zero state
    std::vector<int> steps;            // ascending; step t = logits after tokens[0..t]
    int vocab = 0;
    int threads = 0;                   // 0 = the reference's default
};

struct GoldenLogits {
    std::vector<double> logits;  // steps.size() × vocab, row i = step steps[i]
    std::string logits_sha256;   // of those logits' bytes, as verified when they were read
    std::string key;
    std::filesystem::path path;  // cache file
    bool from_cache = false;
    std::string golden_version;  // the reference plugin's version string
    std::string recomputed_because;  // non-empty: a cache entry existed but failed its check
    double compute_s = 0;            // wall time of the clean-room process (0 from the cache)
};

// Where golden logits are computed and cached, for the parent.
struct GoldenSource {
    std::filesystem::path rwkvbench;  // the executable whose `golden` subcommand computes them
    std::filesystem::path cache_dir;
    double timeout_s = 3600;
    const std::atomic<bool>* stop = nullptr;  // set (Ctrl-C): the clean-room process is stopped
};

std::string golden_key(const GoldenRequest& r);
std::filesystem::path golden_cache_file(const std::filesystem::path& cache_dir, const std::string& key);

// The reference plugin library in the plugin search path, found by file name without loading
// it; InputError when there is none (the golden cannot be computed without it).
std::filesystem::path reference_plugin_path();

// Reads and checks a cache entry for `r` into `g`: "" if it is good, else why not ("missing",
// "its logits fail their SHA-256 check", other tokens, shape, ...).
std::string read_golden_cache(const std::filesystem::path& file, const GoldenRequest& r, GoldenLogits& g);

// The clean room's work (`rwkvbench golden`): checks both pinned SHA-256s against the files,
// loads the reference alone, computes the requested rows and writes the cache entry atomically.
// InputError when a file changed since it was pinned or the request is malformed.
void compute_golden_into_cache(const std::filesystem::path& cache_dir, const GoldenRequest& r);

// Parent side: the verified cache entry, or (also when `recompute`) a fresh one from a `golden`
// child process (with a timeout). Throws std::runtime_error with the child's last line when it
// cannot be computed.
GoldenLogits golden_logits(const GoldenSource& source, const GoldenRequest& r, bool recompute = false);

// The request as JSON and back (the clean-room process reads it from a file).
std::string golden_request_json(const GoldenRequest& r);
GoldenRequest golden_request_from_json(const std::string& text);  // InputError if malformed

}  // namespace rwkvb
