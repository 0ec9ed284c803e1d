// The loader refuses each kind of broken plugin with one line that names the file and the fault.
#include "plugin/plugin.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace rwkvb;

namespace {

fs::path fault_plugin(const std::string& name) { return fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so"); }

PluginStage last_stage = PluginStage::Call;

std::string load_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const PluginError& e) {
        last_stage = e.stage;
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
    EXPECT_EQ(last_stage, PluginStage::Load);
}

TEST(PluginRefusals, AbsurdDeviceCount) {
    auto p = Plugin::load(fault_plugin("fault_devcount"));  // the table itself is fine
    expect_one_line_containing(load_error([&] { p->device_count(); }), "absurd device count (1000000)");
    EXPECT_EQ(last_stage, PluginStage::Load);
}

TEST(PluginRefusals, MissingFile) {
    expect_one_line_containing(load_error([] { Plugin::load(fault_plugin("does_not_exist")); }), "cannot load plugin");
}

TEST(PluginRefusals, AbsurdMemoryUsage) {
    Session s(Plugin::load(fault_plugin("fault_memsize")), 0, "");
    expect_one_line_containing(load_error([&] { s.memory_usage(); }), "absurd memory size");
    EXPECT_EQ(last_stage, PluginStage::Call);  // the model was in: an error, not a load-error
    expect_one_line_containing(load_error([] { Session(Plugin::load(fault_plugin("noop")), 3, ""); }), "no device 3");
    EXPECT_EQ(last_stage, PluginStage::Load);
}

TEST(PluginRefusals, HealthyFakeLoads) {
    auto p = Plugin::load(fault_plugin("noop"));
    EXPECT_EQ(p->name(), "noop");
    EXPECT_EQ(p->device_count(), 1);
    EXPECT_EQ(p->device_info(0).logits_dtype, RWKVB_F32);
}
