#include "schema_validator.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <set>
#include <stdexcept>

namespace rwkvb {
namespace {

using nlohmann::json;

const std::set<std::string> kAnnotations = {"$schema", "$id", "$defs", "$comment", "title", "description",
                                            "examples", "default"};
const std::set<std::string> kValidation = {"type",  "required", "properties", "additionalProperties",
                                           "items", "enum",     "minimum",    "$ref"};

bool has_type(const json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") {
        if (v.is_number_integer()) return true;
        if (!v.is_number_float()) return false;
        const double d = v.get<double>();  // 2.0 is an integer in JSON Schema
        return std::isfinite(d) && std::floor(d) == d;
    }
    throw std::invalid_argument(fmt::format("schema: unknown type name '{}'", t));
}

std::string escape_pointer(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

class Validator {
public:
    explicit Validator(const json& root) : root_(root) {}

    void check(const json& v, const json& s, const std::string& at) {
        if (s.is_boolean()) {
            if (!s.get<bool>()) fail(at, "no value is allowed here");
            return;
        }
        if (!s.is_object()) throw std::invalid_argument(fmt::format("schema at {}: not an object", at));
        for (const auto& [k, _] : s.items())
            if (!kAnnotations.count(k) && !kValidation.count(k))
                throw std::invalid_argument(fmt::format("schema: keyword '{}' is not supported by this validator", k));

        if (auto r = s.find("$ref"); r != s.end()) check(v, resolve(r->get<std::string>()), at);
        if (auto t = s.find("type"); t != s.end()) {
            bool ok = false;
            if (t->is_string()) ok = has_type(v, *t);
            else
                for (const auto& name : *t) ok = ok || has_type(v, name);
            if (!ok) {
                fail(at, fmt::format("expected type {}, got {}", t->dump(), v.type_name()));
                return;  // the other keywords would only repeat the same problem
            }
        }
        if (auto e = s.find("enum"); e != s.end()) {
            bool found = false;
            for (const auto& option : *e) found = found || option == v;
            if (!found) fail(at, fmt::format("{} is not one of {}", v.dump(), e->dump()));
        }
        if (auto m = s.find("minimum"); m != s.end() && v.is_number() && v.get<double>() < m->get<double>())
            fail(at, fmt::format("{} is below the minimum {}", v.dump(), m->dump()));
        if (v.is_object()) check_object(v, s, at);
        if (auto it = s.find("items"); it != s.end() && v.is_array())
            for (size_t i = 0; i < v.size(); ++i) check(v[i], *it, fmt::format("{}/{}", at, i));
    }

    std::vector<std::string> errors;

private:
    void check_object(const json& v, const json& s, const std::string& at) {
        if (auto r = s.find("required"); r != s.end())
            for (const auto& name : *r)
                if (!v.contains(name.get<std::string>())) fail(at, fmt::format("missing required property '{}'", name.get<std::string>()));
        const json* props = s.contains("properties") ? &s["properties"] : nullptr;
        const json* extra = s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr;
        for (const auto& [k, value] : v.items()) {
            const std::string child = at + "/" + escape_pointer(k);
            if (props && props->contains(k)) check(value, (*props)[k], child);
            else if (extra && extra->is_boolean() && !extra->get<bool>()) fail(at, fmt::format("unexpected property '{}'", k));
            else if (extra) check(value, *extra, child);
        }
    }

    const json& resolve(const std::string& ref) {
        const std::string prefix = "#/$defs/";
        if (ref.rfind(prefix, 0) != 0)
            throw std::invalid_argument(fmt::format("schema: $ref '{}' is not of the form #/$defs/<name>", ref));
        const std::string name = ref.substr(prefix.size());
        if (!root_.contains("$defs") || !root_["$defs"].contains(name))
            throw std::invalid_argument(fmt::format("schema: $ref '{}' names no definition", ref));
        return root_["$defs"][name];
    }

    void fail(const std::string& at, const std::string& what) { errors.push_back((at.empty() ? "/" : at) + ": " + what); }

    const json& root_;
};

}  // namespace

std::vector<std::string> validate_json(const nlohmann::json& instance, const nlohmann::json& schema) {
    Validator v(schema);
    v.check(instance, schema, "");
    return v.errors;
}

nlohmann::json load_results_schema(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot open the results schema", path.string()));
    return nlohmann::json::parse(in);
}

}  // namespace rwkvb
