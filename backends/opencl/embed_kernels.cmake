# cmake -DOUT=<file.cpp> -DSOURCES="a.cl;b.cl" -P embed_kernels.cmake
# Concatenates the kernel files into one C++ raw string literal (no external tools needed).
set(text "")
foreach(f IN LISTS SOURCES)
  file(READ "${f}" body)
  get_filename_component(name "${f}" NAME)
  string(APPEND text "// ---- ${name} ----\n${body}\n")
endforeach()
# The delimiter must not occur in the kernels.
string(FIND "${text}" ")rwkvb_cl\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "kernel sources contain the raw-string delimiter")
endif()
file(WRITE "${OUT}.tmp" "// Generated from backends/opencl/kernels/*.cl at build time. Do not edit.\n"
  "namespace rwkvb::ocl {\nconst char* kernel_source() {\n    return R\"rwkvb_cl(${text})rwkvb_cl\";\n}\n}  // namespace rwkvb::ocl\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
