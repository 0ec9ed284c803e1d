# rwkvb_reference_source_hash(<out_var> <source_root>): the first 12 hex digits of a SHA-256 over
# every source the golden's numbers come from (backends/reference/*.cpp, *.hpp and the f16/bf16
# widening in workloads/dtype.hpp), each file named by its path relative to <source_root>.
# Used at configure time for the plugin's version and by a test that recomputes it from the
# current tree (cmake -P), so a stale plugin cannot pass as the current sources.
function(rwkvb_reference_source_hash out_var source_root)
  file(GLOB files "${source_root}/backends/reference/*.cpp" "${source_root}/backends/reference/*.hpp")
  list(APPEND files "${source_root}/workloads/dtype.hpp")
  list(SORT files)
  set(listing "")
  foreach(f IN LISTS files)
    file(SHA256 "${f}" digest)
    file(RELATIVE_PATH rel "${source_root}" "${f}")
    string(APPEND listing "${rel} ${digest}\n")
  endforeach()
  string(SHA256 digest "${listing}")
  string(SUBSTRING "${digest}" 0 12 short)
  set(${out_var} "${short}" PARENT_SCOPE)
  set(${out_var}_FILES "${files}" PARENT_SCOPE)
endfunction()
