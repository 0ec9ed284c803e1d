// The liar plugins (tests/fault_plugins/liar*.c) really lie, each in its one way and in nothing
// else, shown at the ABI level against the reference on the tiny official fixture. The harness's
// trust tests rely on this: a check that flags a liar has caught exactly that lie, and one that
// passes liar_honest is not simply refusing every wrapped plugin.
#include "metrics.hpp"
#include "model_config.hpp"
#include "plugin/plugin.hpp"
#include "safetensors.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace rwkvb;

namespace {

fs::path checkpoint() { return fs::path(RWKVB_FIXTURES_DIR) / "rwkv7-tiny" / "model.safetensors"; }
fs::path reference_plugin() { return fs::path(RWKVB_PLUGIN_DIR) / "librwkvb_reference.so"; }
fs::path liar_plugin(const std::string& name) { return fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so"); }

std::string file_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A plugin with the tiny model loaded from a mapping of the checkpoint — its own mapping, or one
// it shares with another plugin (as the golden once shared the worker's with the backend).
struct Loaded {
    Loaded(const fs::path& plugin, std::shared_ptr<const SafetensorsFile> mapping = nullptr)
        : file(mapping ? std::move(mapping)
                       : std::make_shared<const SafetensorsFile>(SafetensorsFile::open(checkpoint()))),
          config(detect_config(*file)),
          session(std::make_unique<Session>(Plugin::load(plugin), 0, "threads=1")) {
        session->load(config, file->tensors(), DType::F32);
        if (session->logits_dtype() != DType::F64) throw std::runtime_error("expected float64 logits");
    }

    size_t vocab() const { return size_t(config.vocab_size); }

    // Logits after feeding each stream its row of `tokens` ([batch][n]) from a zero state: the
    // last token's (LAST) or every token's (ALL), [batch][rows][vocab].
    std::vector<double> run(const std::vector<int32_t>& tokens, int batch, rwkvb_logits which) {
        const int n = int(tokens.size()) / batch;
        std::vector<double> logits(size_t(batch) * (which == RWKVB_LOGITS_ALL ? size_t(n) : 1) * vocab());
        rwkvb_state* state = session->new_state(batch);
        session->forward(state, tokens.data(), n, batch, logits.data(), which);
        session->free_state(state);
        return logits;
    }

    // A prompt consumed with no logits asked for, then one token: that token's logits.
    std::vector<double> after_silent_prompt(const std::vector<int32_t>& prompt, int32_t token) {
        std::vector<double> logits(vocab());
        rwkvb_state* state = session->new_state(1);
        session->forward(state, prompt.data(), int(prompt.size()), 1, nullptr, RWKVB_LOGITS_NONE);
        session->forward(state, &token, 1, 1, logits.data(), RWKVB_LOGITS_LAST);
        session->free_state(state);
        return logits;
    }

    std::shared_ptr<const SafetensorsFile> file;
    ModelConfig config;
    std::unique_ptr<Session> session;
};

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::vector<double> stream(const std::vector<double>& logits, size_t index, size_t vocab) {
    return {logits.begin() + std::ptrdiff_t(index * vocab), logits.begin() + std::ptrdiff_t((index + 1) * vocab)};
}

// "r--p" for the mapping holding `address`, from /proc/self/maps.
std::string mapping_permissions(const void* address) {
    std::ifstream maps("/proc/self/maps");
    const auto a = reinterpret_cast<uintptr_t>(address);
    for (std::string line; std::getline(maps, line);) {
        std::istringstream fields(line);
        std::string range, perms;
        fields >> range >> perms;
        const auto dash = range.find('-');
        const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
        const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
        if (a >= lo && a < hi) return perms;
    }
    return "unmapped";
}

const std::vector<int32_t> kPrompt = {5, 6, 7, 8, 9, 10, 11};

}  // namespace

TEST(Liars, HonestEqualsReferenceBitForBit) {
    Loaded liar(liar_plugin("liar_honest")), ref(reference_plugin());
    EXPECT_EQ(liar.session->plugin().name(), "liar_honest");
    EXPECT_TRUE(bitwise_equal(liar.run(kPrompt, 1, RWKVB_LOGITS_ALL), ref.run(kPrompt, 1, RWKVB_LOGITS_ALL)));
    const std::vector<int32_t> two_streams = {1, 2, 3, 400, 300, 200};
    EXPECT_TRUE(bitwise_equal(liar.run(two_streams, 2, RWKVB_LOGITS_LAST), ref.run(two_streams, 2, RWKVB_LOGITS_LAST)));
    EXPECT_TRUE(bitwise_equal(liar.after_silent_prompt(kPrompt, 42), ref.after_silent_prompt(kPrompt, 42)));
}

TEST(Liars, BatchCloneCopiesStreamZeroToEveryStream) {
    Loaded liar(liar_plugin("liar_batchclone")), ref(reference_plugin());
    const size_t V = ref.vocab();
    const std::vector<int32_t> distinct = {1, 2, 3, 4, 400, 300, 200, 100, 17, 18, 19, 20};  // [3][4]
    const auto lied = liar.run(distinct, 3, RWKVB_LOGITS_LAST);
    const auto truth = ref.run(distinct, 3, RWKVB_LOGITS_LAST);
    EXPECT_FALSE(bitwise_equal(stream(truth, 0, V), stream(truth, 1, V))) << "distinct streams must differ";
    EXPECT_TRUE(bitwise_equal(stream(truth, 0, V), stream(lied, 0, V))) << "stream 0 is honest";
    EXPECT_TRUE(bitwise_equal(stream(lied, 0, V), stream(lied, 1, V))) << "stream 1 is a copy";
    EXPECT_TRUE(bitwise_equal(stream(lied, 0, V), stream(lied, 2, V))) << "stream 2 is a copy";
    EXPECT_GT(test::rel_l2(stream(lied, 1, V).data(), stream(truth, 1, V).data(), V), 1e-2);
    // Every row of ALL is cloned the same way.
    const auto lied_all = liar.run(distinct, 3, RWKVB_LOGITS_ALL);
    EXPECT_TRUE(bitwise_equal(std::vector<double>(lied_all.begin(), lied_all.begin() + std::ptrdiff_t(4 * V)),
                              std::vector<double>(lied_all.begin() + std::ptrdiff_t(8 * V), lied_all.end())));
    // Batch 1 is honest.
    EXPECT_TRUE(bitwise_equal(liar.run(kPrompt, 1, RWKVB_LOGITS_ALL), ref.run(kPrompt, 1, RWKVB_LOGITS_ALL)));
}

TEST(Liars, SkipNoneDropsPromptsFedWithoutLogits) {
    Loaded liar(liar_plugin("liar_skipnone")), ref(reference_plugin());
    const int32_t next = 42;
    const auto lied = liar.after_silent_prompt(kPrompt, next);
    const auto no_prompt = ref.run({next}, 1, RWKVB_LOGITS_LAST);
    EXPECT_TRUE(bitwise_equal(lied, no_prompt)) << "the liar's state never saw the prompt";
    const auto truth = ref.after_silent_prompt(kPrompt, next);
    EXPECT_GT(test::rel_l2(lied.data(), truth.data(), ref.vocab()), 1e-2) << "the prompt matters to the truth";
    // LAST and ALL are honest.
    EXPECT_TRUE(bitwise_equal(liar.run(kPrompt, 1, RWKVB_LOGITS_ALL), ref.run(kPrompt, 1, RWKVB_LOGITS_ALL)));
    EXPECT_TRUE(bitwise_equal(liar.run(kPrompt, 1, RWKVB_LOGITS_LAST), ref.run(kPrompt, 1, RWKVB_LOGITS_LAST)));
}

TEST(Liars, PoisonWritesThroughTheReadOnlyMappingItIsLent) {
    const std::string on_disk_before = file_bytes(checkpoint());
    auto lent = std::make_shared<const SafetensorsFile>(SafetensorsFile::open(checkpoint()));
    const TensorView& head = lent->at("head.weight");
    // What the harness hands a plugin: a read-only, private (copy-on-write) file mapping, which a
    // plugin can make writable with mprotect — nothing in the kernel stops it.
    EXPECT_EQ(mapping_permissions(head.data), "r--p");

    Loaded liar(liar_plugin("liar_poison"), lent);
    EXPECT_EQ(mapping_permissions(head.data), "rw-p") << "the liar made the lent pages writable";

    const auto fresh = SafetensorsFile::open(checkpoint());
    const TensorView& clean_head = fresh.at("head.weight");
    ASSERT_EQ(clean_head.nbytes, head.nbytes);
    EXPECT_NE(std::memcmp(clean_head.data, head.data, head.nbytes), 0) << "the lent memory was changed";
    EXPECT_EQ(file_bytes(checkpoint()), on_disk_before) << "copy-on-write: the file on disk is intact";

    // Its logits are wrong against the file's golden...
    Loaded clean_ref(reference_plugin());
    const auto lied = liar.run(kPrompt, 1, RWKVB_LOGITS_ALL);
    const auto truth = clean_ref.run(kPrompt, 1, RWKVB_LOGITS_ALL);
    EXPECT_GT(test::max_rel_l2(lied.data(), truth.data(), int64_t(kPrompt.size()), int64_t(clean_ref.vocab())), 2e-2);
    // ...and exactly right against a golden computed from the memory it poisoned.
    Loaded ref_on_lent_memory(reference_plugin(), lent);
    EXPECT_TRUE(bitwise_equal(lied, ref_on_lent_memory.run(kPrompt, 1, RWKVB_LOGITS_ALL)));
}
