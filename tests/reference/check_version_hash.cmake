# The reference plugin that `rwkvbench list` finds must carry the hash of the CURRENT reference
# sources (recomputed here, independently of the configure step that built it): otherwise a
# changed golden could be served from a cache keyed by an old version.
# Usage: cmake -DRWKVBENCH=<rwkvbench binary> -DSOURCE_ROOT=<repository> -P check_version_hash.cmake
include(${SOURCE_ROOT}/backends/reference/source_hash.cmake)
rwkvb_reference_source_hash(expected ${SOURCE_ROOT})
execute_process(COMMAND ${RWKVBENCH} list --format json
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "rwkvbench list failed (${rc}): ${err}")
endif()
string(JSON n LENGTH "${out}" plugins)
set(version "")
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${out}" plugins ${i} name)
  if(name STREQUAL "reference")
    string(JSON version GET "${out}" plugins ${i} version)
  endif()
endforeach()
if(NOT version STREQUAL "1.0.0+src.${expected}")
  message(FATAL_ERROR "reference plugin version is '${version}', expected '1.0.0+src.${expected}' "
                      "(the hash of the current backends/reference sources): rebuild")
endif()
message(STATUS "reference version ${version} matches the sources")
