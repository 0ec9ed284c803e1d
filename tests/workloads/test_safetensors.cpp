// safetensors reader and writer: round trips, layout guarantees, and refusal of every kind of
// malformed file with a one-line InputError naming the file (and the tensor).
#include "errors.hpp"
#include "fixtures.hpp"
#include "malformed_corpus.hpp"
#include "safetensors.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

namespace rwkvb {
namespace {

using testing::MalformedFile;
using testing::TempDir;

std::vector<std::byte> pattern_bytes(size_t n, uint8_t salt) {
    std::vector<std::byte> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::byte(uint8_t(i * 31 + salt));
    return v;
}

// True if s is well-formed UTF-8 (error messages must print cleanly on any terminal).
bool valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

std::string read_all(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

TEST(SafetensorsRoundTrip, EveryDtypeWithMetadataScalarAndEmpty) {
    TempDir dir;
    const auto path = dir.path() / "rt.safetensors";
    struct Spec {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
    };
    const std::vector<Spec> specs = {
        {"f64", DType::F64, {3, 5}},  {"f32", DType::F32, {7}},    {"f16", DType::F16, {2, 3, 3}},
        {"bf16", DType::BF16, {11}},  {"i32", DType::I32, {4, 1}}, {"i8", DType::I8, {13}},
        {"u8", DType::U8, {1, 1, 9}}, {"scalar", DType::F32, {}},  {"empty", DType::F16, {0, 4}},
        {"after_empty", DType::U8, {3}}, {"blocks.0.ünïcødé \"quoted\"", DType::I8, {2}},
    };
    SafetensorsWriter w;
    w.set_metadata("format", "pt");
    w.set_metadata("note", "quotes \" and\nnewlines survive");
    std::vector<std::vector<std::byte>> contents;
    for (size_t i = 0; i < specs.size(); ++i) {
        int64_t n = int64_t(dtype_size(specs[i].dtype));
        for (int64_t d : specs[i].shape) n *= d;
        contents.push_back(pattern_bytes(size_t(n), uint8_t(i)));
        w.add_bytes(specs[i].name, specs[i].dtype, specs[i].shape, contents.back());
    }
    w.write(path);
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp." + std::to_string(::getpid())));

    const auto f = SafetensorsFile::open(path);
    EXPECT_EQ(f.metadata().size(), 2u);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_EQ(f.metadata().at("note"), "quotes \" and\nnewlines survive");
    ASSERT_EQ(f.tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        SCOPED_TRACE(specs[i].name);
        // Contiguous in added order, so offset order is added order.
        const TensorView& t = f.tensors()[i];
        EXPECT_EQ(t.name, specs[i].name);
        EXPECT_EQ(t.dtype, specs[i].dtype);
        EXPECT_EQ(t.shape, specs[i].shape);
        EXPECT_EQ(t.nbytes, contents[i].size());
        EXPECT_EQ(uint64_t(t.numel()) * dtype_size(t.dtype), t.nbytes);
        // An empty vector's data() is NULL, and memcmp on NULL is undefined even for 0 bytes.
        if (!contents[i].empty()) {
            EXPECT_EQ(std::memcmp(t.data, contents[i].data(), contents[i].size()), 0);
        }
        EXPECT_EQ(&f.at(specs[i].name), &t);
    }
    EXPECT_EQ(f.at("scalar").numel(), 1);
    EXPECT_EQ(f.at("empty").numel(), 0);
    EXPECT_EQ(f.find("nope"), nullptr);
    EXPECT_THROW(f.at("nope"), InputError);

    // Layout: header padded with spaces so the data area is 8-aligned.
    const std::string bytes = read_all(path);
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    EXPECT_EQ(header_len % 8, 0u);
    EXPECT_EQ(f.file_size(), bytes.size());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors()[0].data) % 8, 0u);
    const auto header = nlohmann::ordered_json::parse(bytes.substr(8, header_len));
    std::vector<std::string> keys;
    for (const auto& [k, v] : header.items()) keys.push_back(k);
    ASSERT_EQ(keys.size(), specs.size() + 1);
    EXPECT_EQ(keys[0], "__metadata__");
    for (size_t i = 0; i < specs.size(); ++i) EXPECT_EQ(keys[i + 1], specs[i].name);
}

std::string tensor_name(int i) {
    std::string s = "t";  // not "t" + to_string(i): GCC 12 warns falsely (-Wrestrict) on that
    s += std::to_string(i);
    return s;
}

TEST(SafetensorsRoundTrip, ParallelFillersAndMoves) {
    TempDir dir;
    const auto path = dir.path() / "par.safetensors";
    SafetensorsWriter w;
    constexpr int kTensors = 37;
    for (int i = 0; i < kTensors; ++i)
        w.add(tensor_name(i), DType::F32, {int64_t(1000 + 97 * i)}, [i](std::span<std::byte> out) {
            std::vector<float> v(out.size() / 4);
            std::iota(v.begin(), v.end(), float(i * 10000));
            std::memcpy(out.data(), v.data(), out.size());
        });
    w.write(path, SafetensorsWriter::Sync::NoSync);  // same bytes, no fsync
    auto opened = SafetensorsFile::open(path);
    SafetensorsFile f = std::move(opened);  // the moved-to object owns the mapping
    SafetensorsFile g = SafetensorsFile::open(path);
    g = std::move(f);
    ASSERT_EQ(g.tensors().size(), size_t(kTensors));
    for (int i = 0; i < kTensors; ++i) {
        const TensorView& t = g.at(tensor_name(i));
        ASSERT_EQ(t.numel(), 1000 + 97 * i);
        for (int64_t k = 0; k < t.numel(); k += 111)
            ASSERT_EQ(load_as_double(DType::F32, t.data, size_t(k)), double(i * 10000 + k));
    }
}

TEST(SafetensorsWriter, RefusesDuplicatesAndLeavesNoFile) {
    TempDir dir;
    const auto path = dir.path() / "dup.safetensors";
    SafetensorsWriter w;
    w.add_bytes("w", DType::U8, {1}, pattern_bytes(1, 0));
    w.add_bytes("w", DType::U8, {1}, pattern_bytes(1, 1));
    try {
        w.write(path);
        FAIL() << "duplicate accepted";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

    SafetensorsWriter bad_utf8;
    bad_utf8.add_bytes("w\xff", DType::U8, {1}, pattern_bytes(1, 0));
    EXPECT_THROW(bad_utf8.write(path), InputError);
    SafetensorsWriter reserved;
    reserved.add_bytes("__metadata__", DType::U8, {1}, pattern_bytes(1, 0));
    EXPECT_THROW(reserved.write(path), InputError);
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

    SafetensorsWriter neg;
    neg.add("n", DType::F32, {-1}, nullptr);
    EXPECT_THROW(neg.write(path), InputError);
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SafetensorsWriter, FillerFailureRemovesTemporaryAndKeepsOldFile) {
    TempDir dir;
    const auto path = dir.path() / "keep.safetensors";
    SafetensorsWriter good;
    good.add_bytes("old", DType::U8, {2}, pattern_bytes(2, 7));
    good.write(path);

    SafetensorsWriter bad;
    bad.add("x", DType::F32, {4}, [](std::span<std::byte>) { throw std::runtime_error("boom"); });
    EXPECT_THROW(bad.write(path), std::runtime_error);
    size_t n_files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++n_files;
    EXPECT_EQ(n_files, 1u);
    EXPECT_NE(SafetensorsFile::open(path).find("old"), nullptr);

    SafetensorsWriter wrong_size;
    wrong_size.add_bytes("x", DType::F32, {4}, pattern_bytes(3, 0));
    EXPECT_ANY_THROW(wrong_size.write(path));
    EXPECT_NE(SafetensorsFile::open(path).find("old"), nullptr);

    EXPECT_THROW(good.write(dir.path() / "no_such_dir" / "x.safetensors"), InputError);
}

// What a forked child did: its exit code or signal, and the text it wrote to the pipe.
struct ChildResult {
    int exit_code = -1, signal = 0;
    std::string text;
};

// Runs `body` in a forked child (so rlimits and mounts stay there); body returns the child's
// exit code and writes its report into `out`.
template <class F>
ChildResult in_child(F body) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        std::string text;
        const int code = body(text);
        (void)!::write(fds[1], text.data(), text.size());
        ::_exit(code);
    }
    ::close(fds[1]);
    ChildResult r;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.text.append(buf, size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    return r;
}

// Writes a 1 MiB tensor to `path`: 0 and the InputError text, 1 if it succeeded, 2 on another
// exception. A crash (SIGBUS from a sparse mapping on a full disk) shows as the signal.
int write_one_mib(const std::filesystem::path& path, std::string& out) {
    SafetensorsWriter w;
    w.add("big", DType::U8, {1 << 20}, [](std::span<std::byte> b) { std::memset(b.data(), 1, b.size()); });
    try {
        w.write(path);
        out = "written";
        return 1;
    } catch (const InputError& e) {
        out = e.what();
        return 0;
    } catch (const std::exception& e) {
        out = e.what();
        return 2;
    }
}

// The error names the file asked for, never the temporary written beside it.
void expect_names_output(const std::string& e, const std::filesystem::path& path) {
    EXPECT_TRUE(e.starts_with(path.string() + ": ")) << e;
    EXPECT_EQ(e.find(".tmp"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(SafetensorsWriter, ErrorsNameTheOutputPathNotTheTemporary) {
    TempDir dir;
    const auto path = dir.path() / "no_such_dir" / "x.safetensors";
    std::string e;
    EXPECT_EQ(write_one_mib(path, e), 0) << e;
    expect_names_output(e, path);
    EXPECT_NE(e.find("cannot create"), std::string::npos) << e;
}

// A file-size limit below the file: refused up front with one line, nothing left behind.
TEST(SafetensorsWriter, FileSizeLimitGivesOneLineAndNoTemporary) {
    TempDir dir;
    const auto path = dir.path() / "big.safetensors";
    const ChildResult r = in_child([&](std::string& out) {
        ::signal(SIGXFSZ, SIG_IGN);  // the kernel also signals a process that exceeds the limit
        const rlimit lim{64 << 10, 64 << 10};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return 3;
        return write_one_mib(path, out);
    });
    ASSERT_EQ(r.signal, 0) << r.text;
    ASSERT_EQ(r.exit_code, 0) << r.text;
    expect_names_output(r.text, path);
    EXPECT_NE(r.text.find("cannot reserve 1048"), std::string::npos) << r.text;
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// A full disk: a 256 KiB tmpfs in a private mount namespace. With a sparse file this was SIGBUS
// at the first store into a page the filesystem could not back.
TEST(SafetensorsWriter, FullDiskGivesOneLineInsteadOfSigbus) {
    TempDir dir;
    const auto mnt = dir.path() / "small_fs";
    std::filesystem::create_directory(mnt);
    const auto path = mnt / "big.safetensors";
    const ChildResult r = in_child([&](std::string& out) {
        const uid_t uid = ::geteuid();
        const gid_t gid = ::getegid();
        if (::unshare(uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            out = std::string("unshare: ") + std::strerror(errno);
            return 77;
        }
        if (uid != 0) {  // become root of the new user namespace, mapped to ourselves
            std::ofstream("/proc/self/setgroups") << "deny";
            std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
            std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1";
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
            out = std::string("mount: ") + std::strerror(errno);
            return 77;
        }
        const int code = write_one_mib(path, out);
        std::error_code ec;
        if (code == 0 && !std::filesystem::is_empty(mnt, ec)) out += " [a file was left behind]";
        return code;
    });
    if (r.exit_code == 77) GTEST_SKIP() << "no private tmpfs here (" << r.text << ")";
    ASSERT_EQ(r.signal, 0) << "the writer died of signal " << r.signal << " (" << strsignal(r.signal) << ")";
    ASSERT_EQ(r.exit_code, 0) << r.text;
    expect_names_output(r.text, path);
    EXPECT_NE(r.text.find("No space left on device"), std::string::npos) << r.text;
    EXPECT_EQ(r.text.find("left behind"), std::string::npos) << r.text;
}

// Files from other writers: an unpadded header (unaligned data), gaps, trailing bytes, an empty
// tensor sitting inside another's range, unknown per-tensor fields. All are legal.
TEST(SafetensorsReader, AcceptsLegalOddities) {
    TempDir dir;
    const auto path = dir.path() / "odd.safetensors";
    std::string data(3, 'x');  // 3 bytes of gap
    const double values[2] = {1.5, -2.25};
    data.append(reinterpret_cast<const char*>(values), sizeof values);
    data += "trailing";
    std::string header =
        R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[3,19],"extra":true},)"
        R"("e":{"dtype":"F32","shape":[0],"data_offsets":[5,5]},"z":{"dtype":"U8","shape":[],"data_offsets":[0,1]}})";
    while ((header.size() + 3) % 8 != 4) header += ' ';  // put d's doubles at 4 mod 8
    testing::write_file(path, testing::raw_safetensors(header, data));
    const auto f = SafetensorsFile::open(path);
    ASSERT_EQ(f.tensors().size(), 3u);
    EXPECT_EQ(f.tensors()[0].name, "z");
    EXPECT_EQ(f.tensors()[1].name, "d");
    EXPECT_EQ(f.tensors()[2].name, "e");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.at("d").data) % 8, 4u);
    EXPECT_EQ(load_as_double(DType::F64, f.at("d").data, 0), 1.5);
    EXPECT_EQ(load_as_double(DType::F64, f.at("d").data, 1), -2.25);
    EXPECT_TRUE(f.metadata().empty());

    testing::write_file(path, testing::raw_safetensors("{}", ""));
    EXPECT_TRUE(SafetensorsFile::open(path).tensors().empty());
}

TEST(SafetensorsReader, RefusesEveryMalformedFileWithOneLine) {
    TempDir dir;
    const auto corpus = testing::write_malformed_corpus(dir.path());
    ASSERT_GE(corpus.size(), 18u);
    for (const MalformedFile& m : corpus) {
        SCOPED_TRACE(m.label);
        try {
            const auto f = SafetensorsFile::open(m.path);
            ADD_FAILURE() << "accepted: " << m.label << " (" << f.tensors().size() << " tensors)";
        } catch (const InputError& e) {
            const std::string msg = e.what();
            EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
            EXPECT_EQ(msg.rfind(m.path.string() + ": ", 0), 0u) << msg;
            if (!m.tensor.empty()) {
                EXPECT_NE(msg.find("tensor '" + m.tensor + "'"), std::string::npos) << msg;
            }
            for (unsigned char c : msg) EXPECT_GE(c, 0x20) << msg;
            EXPECT_TRUE(valid_utf8(msg)) << msg;
        } catch (const std::exception& e) {
            ADD_FAILURE() << "wrong exception type: " << e.what();
        }
    }
}

// Spot checks that the messages say what is wrong, not only where.
TEST(SafetensorsReader, MessagesNameTheProblem) {
    TempDir dir;
    const auto corpus = testing::write_malformed_corpus(dir.path());
    auto message = [&](const std::string& label) -> std::string {
        for (const auto& m : corpus)
            if (m.label == label) try {
                    SafetensorsFile::open(m.path);
                } catch (const InputError& e) {
                    return e.what();
                }
        return "<no error>";
    };
    EXPECT_NE(message("duplicate_names").find("duplicate"), std::string::npos);
    EXPECT_NE(message("duplicate_field").find("duplicate field 'dtype'"), std::string::npos);
    EXPECT_NE(message("duplicate_metadata_key").find("duplicate key 'k'"), std::string::npos);
    EXPECT_NE(message("not_utf8").find("\\xff"), std::string::npos);
    EXPECT_NE(message("overlapping_ranges").find("overlap tensor 'a'"), std::string::npos);
    EXPECT_NE(message("unknown_dtype").find("F8_E4M3"), std::string::npos);
    EXPECT_NE(message("directory").find("directory"), std::string::npos);
    EXPECT_NE(message("missing_file").find("No such file"), std::string::npos);
    EXPECT_NE(message("empty_file").find("empty"), std::string::npos);
    EXPECT_NE(message("header_len_2_63").find("9223372036854775808"), std::string::npos);
    EXPECT_NE(message("overflowing_shape").find("overflow"), std::string::npos);
    EXPECT_NE(message("range_past_end").find("past"), std::string::npos);
    EXPECT_NE(message("metadata_not_strings").find("__metadata__"), std::string::npos);
}

// Every model checkpoint among the golden fixtures opens and is F32 (fixtures.json: "F32").
TEST(SafetensorsReader, OpensEveryFixtureModel) {
    int n_models = 0;
    for (const auto& c : test::fixture_cases()) {  // throws (the test fails) without the fixtures
        const auto& model = c.model;
        SCOPED_TRACE(model.string());
        const auto f = SafetensorsFile::open(model);
        ++n_models;
        EXPECT_GT(f.tensors().size(), 10u);
        EXPECT_TRUE(f.find("emb.weight") && f.find("head.weight"));
        EXPECT_EQ(f.metadata().count("vocab_size"), 1u);
        for (const TensorView& t : f.tensors()) {
            EXPECT_EQ(t.dtype, DType::F32) << t.name;
            EXPECT_EQ(f.find(t.name), &t);
        }
        for (size_t i = 1; i < f.tensors().size(); ++i)
            EXPECT_LE(f.tensors()[i - 1].data + f.tensors()[i - 1].nbytes, f.tensors()[i].data);
    }
    EXPECT_GE(n_models, 12);  // v4–v7 × tiny/small/long
}

}  // namespace
}  // namespace rwkvb
