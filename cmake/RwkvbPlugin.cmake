# rwkvb_add_plugin(<name> SOURCES ... [LINK ...]): a backend as a dlopen-able module named
# librwkvb_<name>.so in the plugin directory, exporting only rwkvb_backend_entry.
function(rwkvb_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  set(target rwkvb_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE rwkvbench::plugin_sdk ${ARG_LINK})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" OUTPUT_NAME "rwkvb_${name}"
    LIBRARY_OUTPUT_DIRECTORY ${RWKVB_PLUGIN_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  install(TARGETS ${target} LIBRARY DESTINATION ${RWKVB_PLUGIN_INSTALL_DIR})
endfunction()
