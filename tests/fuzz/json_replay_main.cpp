// Drives a JSON fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so every compiler's CI
// exercises it: replays each given file (directories: every file inside, recursively), then the
// generated hostile inputs (--hostile: nesting far deeper than any file of ours, long strings),
// then a fixed-seed series of JSON-aware mutations of each: values swapped for every other type,
// boundary numbers, status and scenario names, invalid UTF-8, deep nesting. Deterministic: the
// same inputs on every run and with every standard library (raw mt19937_64 output only).
//
// On a crash or an uncaught exception the input at fault is saved as ./<program>-crash.json, so
// it can be replayed alone (and added to the corpus once fixed).
//
//   <target>_replay [--mutations N] [--seed S] [--hostile] [FILE|DIR]...
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// ---- saving the input at fault --------------------------------------------------------------

std::string g_current_input;
std::string g_crash_file = "fuzz-crash.json";

void save_current_input() {
    const int fd = ::open(g_crash_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    for (size_t done = 0; done < g_current_input.size();) {
        const ssize_t n = ::write(fd, g_current_input.data() + done, g_current_input.size() - done);
        if (n <= 0) break;
        done += size_t(n);
    }
    ::close(fd);
}

// Async-signal-safe enough for a dying process: open/write/close, then the default action.
extern "C" void on_fatal_signal(int sig) {
    save_current_input();
    const char msg[] = "fuzz replay: fatal signal; the input at fault is saved as ";
    (void)!::write(2, msg, sizeof msg - 1);
    (void)!::write(2, g_crash_file.c_str(), std::strlen(g_crash_file.c_str()));
    (void)!::write(2, "\n", 1);
    std::raise(sig);  // SA_RESETHAND: the default action now
}

void run_one(const std::string& input) {
    g_current_input = input;
    try {
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    } catch (const std::exception& e) {
        save_current_input();
        std::fprintf(stderr, "fuzz replay: uncaught exception: %s (input saved as %s)\n", e.what(), g_crash_file.c_str());
        std::signal(SIGABRT, SIG_DFL);  // saved already
        std::abort();
    }
}

// ---- inputs -----------------------------------------------------------------------------------

std::string read_all(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void collect(const std::filesystem::path& p, std::vector<std::filesystem::path>& out) {
    if (!std::filesystem::is_directory(p)) {
        out.push_back(p);
        return;
    }
    std::vector<std::filesystem::path> here;
    for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) here.push_back(e.path());
    std::sort(here.begin(), here.end());  // directory order is not deterministic
    out.insert(out.end(), here.begin(), here.end());
}

std::string nested(const std::string& inner, size_t depth, char open, char close) {
    return std::string(depth, open) + inner + std::string(depth, close);
}

// Inputs no file of ours holds and no small committed file can: nesting deep enough to overflow
// a recursive walk, a long string, many keys.
std::vector<std::string> hostile_inputs() {
    std::vector<std::string> h;
    for (size_t depth : {1000, 100000}) {
        h.push_back(nested("1", depth, '[', ']'));
        std::string objects;
        for (size_t i = 0; i < depth; ++i) objects += "{\"cells\":";
        h.push_back(objects + "[]" + std::string(depth, '}'));
        h.push_back(R"({"id":"x","status":"ok","spec":)" + nested("0", depth, '[', ']') + "}");
        h.push_back(R"({"cells":[{"id":"x","status":"ok","parity":)" + nested("0", depth, '[', ']') + "}]}");
    }
    h.push_back(R"({"id":"x","status":")" + std::string(1 << 20, 'x') + "\"}");
    std::string keys = "{";
    for (int i = 0; i < 20000; ++i) keys += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    h.push_back(keys + "\"cells\":[]}");
    return h;
}

// ---- JSON-aware mutations ----------------------------------------------------------------------

// Values the parsers dispatch on or may mishandle: every JSON type, boundary numbers, the names
// of statuses, scenarios and verdicts, escapes, invalid UTF-8 and paths.
const char* const kValues[] = {
    "null", "true", "false", "0", "-1", "1", "2", "1.5", "-0.0", "0.5", "1e308", "-1e308", "1e-320", "1e400",
    "2147483648", "-2147483649", "4294967296", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "18446744073709551615", "18446744073709551616", "\"\"", "\"x\"", "\"ok\"",
    "\"error\"", "\"skipped\"", "\"crashed\"", "\"timeout\"", "\"oom\"", "\"load-error\"", "\"invalid\"",
    "\"PASS\"", "\"FAIL\"", "\"NOT_RUN\"", "\"parity\"", "\"decode\"", "\"prefill\"", "\"batch\"", "\"long\"",
    "\"reference\"", "\"f32\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\ud83d\\ude00\"", "\"\xc3\x28\"", "\"\xe2\x82\"",
    "\"\xed\xa0\x80\"", "\"\xff\xfe\"", "\"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\"",
    "\"../../x\"", "\"/\"", "\"a/b\"", "\".\"", "\"..\"", "[]", "{}", "[1,\"a\",null]", "{\"a\":{}}",
    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", "{\"id\":1,\"status\":[]}",
};
constexpr size_t kValueCount = sizeof kValues / sizeof kValues[0];
constexpr size_t kMaxMutatedSize = 64 * 1024;

// Index just past the JSON value starting at `i` (a string, container or scalar), or the end.
size_t value_end(const std::string& s, size_t i) {
    const size_t n = s.size();
    if (i >= n) return n;
    if (s[i] == '"') {
        for (++i; i < n; ++i) {
            if (s[i] == '\\') ++i;
            else if (s[i] == '"') return i + 1;
        }
        return n;
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; ++i) {
            if (s[i] == '"') {
                i = value_end(s, i) - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                ++depth;
            } else if (s[i] == '}' || s[i] == ']') {
                if (--depth == 0) return i + 1;
            }
        }
        return n;
    }
    while (i < n && !std::strchr(",]} \t\r\n", s[i])) ++i;
    return i;
}

// Where values begin: after ':' in objects, after '[' or ',' in arrays (strings skipped).
std::vector<size_t> value_starts(const std::string& s) {
    std::vector<size_t> starts;
    std::vector<char> containers;
    auto next_non_space = [&](size_t i) {
        while (i < s.size() && std::strchr(" \t\r\n", s[i])) ++i;
        return i;
    };
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '"') {
            i = value_end(s, i) - 1;
        } else if (c == '{' || c == '[') {
            containers.push_back(c);
            if (c == '[') starts.push_back(next_non_space(i + 1));
        } else if (c == '}' || c == ']') {
            if (!containers.empty()) containers.pop_back();
        } else if (c == ':' || (c == ',' && !containers.empty() && containers.back() == '[')) {
            starts.push_back(next_non_space(i + 1));
        }
    }
    return starts;
}

std::string mutate(std::string s, std::mt19937_64& rng) {
    static const char bytes[] = "{}[]\",:-0123456789eE. \\\x00\x80\xc3\xff";
    auto pick = [&](uint64_t n) { return n == 0 ? uint64_t(0) : rng() % n; };
    const int n_ops = 1 + int(pick(3));
    for (int op = 0; op < n_ops; ++op) {
        const std::vector<size_t> starts = value_starts(s);
        const bool have_value = !starts.empty();
        const size_t at = have_value ? starts[pick(starts.size())] : 0;
        const size_t end = have_value ? value_end(s, at) : 0;
        const uint64_t pos = pick(s.size());
        switch (pick(have_value ? 9 : 5)) {
            case 0:
                if (!s.empty()) s[pos] = char(s[pos] ^ (1 << pick(8)));
                break;
            case 1:
                if (!s.empty()) s[pos] = bytes[pick(sizeof bytes - 1)];
                break;
            case 2:
                s.resize(pick(s.size() + 1));
                break;
            case 3:
                if (!s.empty()) s.erase(pos, 1 + pick(8));
                break;
            case 4:
                s.insert(pos, 1, bytes[pick(sizeof bytes - 1)]);
                break;
            case 5:
            case 6:  // the most telling mutation: a value of another type, twice as likely
                s.replace(at, end - at, kValues[pick(kValueCount)]);
                break;
            case 7: {  // nesting, now and then deep
                const size_t depths[] = {1, 3, 40, 5000};
                const bool array = pick(2) == 0;
                const size_t depth = depths[pick(4)];
                std::string open, close(depth, array ? ']' : '}');
                for (size_t d = 0; d < depth; ++d) open += array ? "[" : "{\"x\":";
                s.replace(at, end - at, open + s.substr(at, end - at) + close);
                break;
            }
            case 8:  // a value copied over another: real values in unexpected places
                if (const size_t from = starts[pick(starts.size())]; from != at)
                    s.replace(at, end - at, s.substr(from, value_end(s, from) - from));
                break;
        }
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t mutations = 0, seed = 1;
    bool hostile = false;
    std::vector<std::filesystem::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--mutations" && i + 1 < argc) {
            mutations = std::stoull(argv[++i]);
        } else if (a == "--seed" && i + 1 < argc) {
            seed = std::stoull(argv[++i]);
        } else if (a == "--hostile") {
            hostile = true;
        } else if (a.starts_with("--")) {
            std::fprintf(stderr, "usage: %s [--mutations N] [--seed S] [--hostile] [FILE|DIR]...\n", argv[0]);
            return 2;
        } else if (!std::filesystem::exists(a)) {
            std::fprintf(stderr, "%s: no such file or directory\n", a.c_str());
            return 2;
        } else {
            collect(a, inputs);
        }
    }
    const std::string program = std::filesystem::path(argv[0]).filename().string();
    g_crash_file = program + "-crash.json";
    // An alternate stack, so that a stack overflow (deep nesting) is reported too.
    static std::vector<char> alt_stack(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt_stack.data();
    ss.ss_size = alt_stack.size();
    ::sigaltstack(&ss, nullptr);
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) {
        struct sigaction sa{};
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
        ::sigaction(sig, &sa, nullptr);
    }

    std::vector<std::string> seeds;
    for (const auto& p : inputs) seeds.push_back(read_all(p));
    if (hostile)
        for (auto& h : hostile_inputs()) seeds.push_back(std::move(h));
    if (seeds.empty()) {
        std::fprintf(stderr, "%s: no inputs (give files or directories, or --hostile)\n", program.c_str());
        return 2;
    }
    std::mt19937_64 rng(seed);
    uint64_t runs = 0;
    for (const std::string& s : seeds) {
        run_one(s);
        ++runs;
        if (s.size() > kMaxMutatedSize) continue;  // the big hostile inputs: once is the point
        for (uint64_t m = 0; m < mutations; ++m) {
            run_one(mutate(s, rng));
            ++runs;
        }
    }
    std::printf("%s: %zu seed inputs, %llu runs, no crash\n", program.c_str(), seeds.size(), (unsigned long long)runs);
    return 0;
}
