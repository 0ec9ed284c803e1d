#include "run/cell.hpp"

#include "io/sha256.hpp"
#include "io/utf8.hpp"

#include <fmt/format.h>

#include <limits>
#include <type_traits>

namespace rwkvb {
std::string spec_hash(const CellSpec& spec) {
    const std::string canonical = json_text(nlohmann::json(spec), -1);  // std::map: keys sorted
    return sha256_hex(std::as_bytes(std::span(canonical.data(), canonical.size())));
}

void stamp_spec(CellResult& record, const CellSpec& spec) {
    record.id = spec.id();
    record.spec = spec;
    record.spec_hash = spec_hash(spec);
}

namespace {

// "params.decode_tokens is 32, the plan says 8" for the first fields (at most 3) that differ.
void list_differences(const nlohmann::json& recorded, const nlohmann::json& planned, const std::string& prefix,
                      std::vector<std::string>& out) {
    if (recorded.is_object() && planned.is_object()) {
        std::vector<std::string> keys;
        for (const auto& [k, v] : recorded.items()) keys.push_back(k);
        for (const auto& [k, v] : planned.items())
            if (!recorded.contains(k)) keys.push_back(k);
        for (const auto& k : keys) {
            if (out.size() >= 3) return;
            const nlohmann::json none;
            list_differences(recorded.contains(k) ? recorded[k] : none, planned.contains(k) ? planned[k] : none,
                             prefix + k + ".", out);
        }
        return;
    }
    if (recorded != planned && out.size() < 3)
        out.push_back(fmt::format("{} is {}, the plan says {}", prefix.substr(0, prefix.size() - 1),
                                  json_text(recorded, -1), json_text(planned, -1)));
}

}  // namespace

std::string record_spec_mismatch(const nlohmann::json& record, const CellSpec& spec) {
    const auto stored = record.find("spec");
    if (stored == record.end() || !stored->is_object()) return "it holds no spec";
    CellSpec recorded;
    try {
        recorded = stored->get<CellSpec>();
    } catch (const nlohmann::json::exception&) {
        return "its spec is malformed";
    }
    const std::string planned_hash = spec_hash(spec);
    if (spec_hash(recorded) != planned_hash) {
        std::vector<std::string> differences;
        list_differences(nlohmann::json(recorded), nlohmann::json(spec), "", differences);
        std::string text;
        for (const auto& d : differences) text += (text.empty() ? "" : "; ") + d;
        return text.empty() ? "its spec differs from the plan's" : text;
    }
    if (const auto h = record.find("spec_hash"); h != record.end() && !(h->is_string() && *h == planned_hash))
        return "its spec_hash is not the hash of the plan's spec";
    return "";
}

}  // namespace rwkvb
