// The loader refuses each kind of broken plugin with one line that names the file and the fault.
#include "plugin.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace rwkvb;

namespace {

fs::path fault_plugin(const std::string& name) { return fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so"); }

std::string load_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const PluginError& e) {
        return e.what();
    }
    return "";
}

void expect_one_line_containing(const std::string& msg, const std::string& what) {
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

}  // namespace

TEST(PluginRefusals, MissingEntrySymbol) {
    const auto path = fault_plugin("not_a_plugin");
    const auto msg = load_error([&] { Plugin::load(path); });
    expect_one_line_containing(msg, "does not export 'rwkvb_backend_entry'");
    expect_one_line_containing(msg, path.string());
}

TEST(PluginRefusals, EntryReturnsNull) {
    expect_one_line_containing(load_error([] { Plugin::load(fault_plugin("fault_null")); }), "returned NULL");
}

TEST(PluginRefusals, WrongAbiVersion) {
    expect_one_line_containing(load_error([] { Plugin::load(fault_plugin("fault_abi")); }), "ABI version 999");
}

TEST(PluginRefusals, AbsurdDeviceCount) {
    auto p = Plugin::load(fault_plugin("fault_devcount"));  // the table itself is fine
    expect_one_line_containing(load_error([&] { p->device_count(); }), "absurd device count (1000000)");
}

TEST(PluginRefusals, MissingFile) {
    expect_one_line_containing(load_error([] { Plugin::load(fault_plugin("does_not_exist")); }), "cannot load plugin");
}

TEST(PluginRefusals, AbsurdMemoryUsage) {
    Session s(Plugin::load(fault_plugin("fault_memsize")), 0, "");
    expect_one_line_containing(load_error([&] { s.memory_usage(); }), "absurd memory size");
}

TEST(PluginRefusals, HealthyFakeLoads) {
    auto p = Plugin::load(fault_plugin("noop"));
    EXPECT_EQ(p->name(), "noop");
    EXPECT_EQ(p->device_count(), 1);
    EXPECT_EQ(p->device_info(0).logits_dtype, RWKVB_F32);
}
