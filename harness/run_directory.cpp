#include "run_directory.hpp"

#include "atomic_file.hpp"
#include "errors.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <ctime>

namespace rwkvb {

std::string utc_timestamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown-host";
    return buf;
}

std::filesystem::path RunDirectory::default_location(const std::filesystem::path& base) {
    std::string stamp = utc_timestamp();
    std::string name;
    for (char c : stamp)
        if (c != ':' && c != '-') name.push_back(c);  // 20240501T123456Z: no ':' in a file name
    std::string host;
    for (char c : host_name()) host.push_back((std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_');
    auto dir = base / (name + "-" + host);
    for (int i = 2; std::filesystem::exists(dir); ++i) dir = base / fmt::format("{}-{}-{}", name, host, i);
    return dir;
}

RunDirectory RunDirectory::create(const std::filesystem::path& dir) {
    RunDirectory d(dir);
    if (std::filesystem::exists(d.plan_file()))
        throw InputError(fmt::format("{}: already holds a run; use --resume {} to complete it, or choose another --dir",
                                     dir.string(), dir.string()));
    std::error_code ec;
    std::filesystem::create_directories(dir / "cells", ec);
    if (!ec) std::filesystem::create_directories(d.work_dir(), ec);
    if (ec) throw InputError(fmt::format("{}: cannot create the run directory: {}", dir.string(), ec.message()));
    return d;
}

RunDirectory RunDirectory::open(const std::filesystem::path& dir) {
    RunDirectory d(dir);
    if (!std::filesystem::is_regular_file(d.plan_file()))
        throw InputError(fmt::format("{}: not a run directory (no plan.json); pass the directory a `run` printed",
                                     dir.string()));
    d.read_plan();
    std::filesystem::create_directories(dir / "cells");
    std::filesystem::create_directories(d.work_dir());
    return d;
}

void RunDirectory::write_plan(const nlohmann::json& plan) const { write_file_atomically(plan_file(), plan.dump(2)); }

nlohmann::json RunDirectory::read_plan() const {
    auto j = nlohmann::json::parse(read_file(plan_file()), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("cells") || !j["cells"].is_array())
        throw InputError(fmt::format("{}: not a valid run plan (a JSON object with \"cells\" was expected)",
                                     plan_file().string()));
    return j;
}

void RunDirectory::write_environment(const nlohmann::json& env) const {
    write_file_atomically(environment_file(), env.dump(2));
}

void RunDirectory::write_cell(const nlohmann::json& record) const {
    write_file_atomically(cell_file(record.at("id").get<std::string>()), record.dump(2));
}

std::optional<nlohmann::json> RunDirectory::read_cell(const std::string& id) const {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(cell_file(id), ec)) return std::nullopt;
    try {
        auto j = nlohmann::json::parse(read_file(cell_file(id)));
        if (j.is_object() && j.value("id", std::string()) == id && j.contains("status")) return j;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

void RunDirectory::write_results(const nlohmann::json& document) const {
    write_file_atomically(results_file(), document.dump(2));
}

}  // namespace rwkvb
