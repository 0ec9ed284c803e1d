#include "malformed_corpus.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace rwkvb::testing {

std::string raw_safetensors(uint64_t header_len, const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((header_len >> (8 * i)) & 0xFF);
    return out + header + data;
}

std::string raw_safetensors(const std::string& header, const std::string& data) {
    return raw_safetensors(header.size(), header, data);
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path.string());
}

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rwkvb-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::vector<MalformedFile> write_malformed_corpus(const std::filesystem::path& dir) {
    std::vector<MalformedFile> out;
    auto add = [&](std::string label, std::string tensor, const std::string& bytes) {
        const auto path = dir / (label + ".safetensors");
        write_file(path, bytes);
        out.push_back({std::move(label), path, std::move(tensor)});
    };
    const std::string d16(16, '\x01');  // 16 data bytes: four F32
    auto one = [](const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
        return "{\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
               ",\"data_offsets\":" + offsets + "}}";
    };

    add("empty_file", "", "");
    add("seven_bytes", "", std::string(7, '\0'));
    // The header length is right but the JSON stops mid-way, as in a file cut during a copy.
    add("truncated_header", "", raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"sha", ""));
    add("header_len_past_end", "", raw_safetensors(1000, "{}", ""));
    add("header_len_2_63", "", raw_safetensors(uint64_t(1) << 63, "{}", d16));
    add("header_len_max", "", raw_safetensors(~uint64_t(0), "{}", d16));
    add("header_len_zero", "", raw_safetensors(0, "", d16));
    add("not_json", "", raw_safetensors("hello, world", d16));
    add("not_utf8", "", raw_safetensors("{\"w\xff\xfe\":1}", d16));
    add("json_array", "", raw_safetensors("[1,2,3]", d16));
    add("json_string", "", raw_safetensors("\"w\"", d16));
    add("unknown_dtype", "w", raw_safetensors(one("w", "F8_E4M3", "[4]", "[0,4]"), d16));
    add("dtype_not_string", "w", raw_safetensors("{\"w\":{\"dtype\":5,\"shape\":[4],\"data_offsets\":[0,16]}}", d16));
    // A tensor named w","x (escaped quotes in JSON): names must come out of the message intact.
    add("quote_in_name", "w\",\"x", raw_safetensors(one(R"(w\",\"x)", "F16", "[4]", "[0,16]"), d16));
    add("negative_shape", "w", raw_safetensors(one("w", "F32", "[-1,4]", "[0,16]"), d16));
    add("float_shape", "w", raw_safetensors(one("w", "F32", "[2.5]", "[0,16]"), d16));
    add("shape_not_array", "w", raw_safetensors(one("w", "F32", "4", "[0,16]"), d16));
    add("overflowing_shape", "w",
        raw_safetensors(one("w", "F32", "[4611686018427387904,4611686018427387904]", "[0,16]"), d16));
    add("overflowing_bytes", "w",  // numel fits int64, numel × 8 does not
        raw_safetensors(one("w", "F64", "[4611686018427387904]", "[0,16]"), d16));
    add("shape_too_big_for_u64", "w", raw_safetensors(one("w", "F32", "[1e30]", "[0,16]"), d16));
    add("shape_size_mismatch", "w", raw_safetensors(one("w", "F32", "[2,2]", "[0,12]"), d16));
    add("range_past_end", "w", raw_safetensors(one("w", "F32", "[8]", "[0,32]"), d16));
    add("begin_after_end", "w", raw_safetensors(one("w", "F32", "[1]", "[8,4]"), d16));
    add("offsets_one_number", "w", raw_safetensors(one("w", "F32", "[4]", "[16]"), d16));
    add("offsets_negative", "w", raw_safetensors(one("w", "F32", "[4]", "[-16,0]"), d16));
    add("missing_offsets", "w", raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", d16));
    add("missing_dtype", "w", raw_safetensors("{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", d16));
    add("entry_not_object", "w", raw_safetensors("{\"w\":[1,2]}", d16));
    add("overlapping_ranges", "b",
        raw_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        d16));
    add("nested_ranges", "b",
        raw_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}",
                        d16));
    add("duplicate_names", "w",
        raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        d16));
    add("duplicate_field", "w",
        raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d16));
    add("duplicate_metadata_key", "", raw_safetensors("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", d16));
    add("metadata_not_strings", "", raw_safetensors("{\"__metadata__\":{\"k\":1}}", d16));
    add("metadata_not_object", "", raw_safetensors("{\"__metadata__\":\"k\"}", d16));
    // A newline inside a tensor name must not break the one-line error message.
    add("newline_in_name", "a\\x0ab", raw_safetensors(one("a\\nb", "F32", "[5]", "[0,16]"), d16));
    add("deep_nesting", "", raw_safetensors(std::string(5000, '[') + std::string(5000, ']'), d16));

    const auto sub = dir / "a_directory.safetensors";
    std::filesystem::create_directory(sub);
    out.push_back({"directory", sub, ""});
    out.push_back({"missing_file", dir / "does_not_exist.safetensors", ""});
    return out;
}

}  // namespace rwkvb::testing
