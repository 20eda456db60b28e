# SPDX-License-Identifier: MIT
# Compile settings for flowtape's own code, never for the code of a project that uses it.
#
# flowtape_build_options carries the warnings, -march, and the sanitizer and fuzzer
# instrumentation. Library targets link it PRIVATE (behind $<BUILD_INTERFACE>, so the exported
# package never mentions it); tests, benchmarks and programs link flowtape_internal, which adds
# the kernels' private headers (xsimd) and the source root for their own helper headers.
#
# The flags are for C++ only: the CUDA kernels' .cu files get theirs in kernels/CMakeLists.txt.
add_library(flowtape_build_options INTERFACE)
set(_cxx $<COMPILE_LANGUAGE:CXX>)
target_compile_options(flowtape_build_options INTERFACE
                       $<${_cxx}:-Wall> $<${_cxx}:-Wextra> $<${_cxx}:-Wpedantic> $<${_cxx}:-Wshadow>)
if(FLOWTAPE_WERROR)
  target_compile_options(flowtape_build_options INTERFACE $<${_cxx}:-Werror>)
endif()
if(FLOWTAPE_ARCH)
  # Refused at configure time, with the reason, rather than by every compile.
  include(CheckCXXCompilerFlag)
  string(MAKE_C_IDENTIFIER "FLOWTAPE_ARCH_${FLOWTAPE_ARCH}_OK" _arch_ok)
  check_cxx_compiler_flag(-march=${FLOWTAPE_ARCH} ${_arch_ok})
  if(NOT ${_arch_ok})
    message(FATAL_ERROR "FLOWTAPE_ARCH=${FLOWTAPE_ARCH}: ${CMAKE_CXX_COMPILER} does not accept "
                        "-march=${FLOWTAPE_ARCH} (try native, x86-64-v3 or x86-64-v4)")
  endif()
  target_compile_options(flowtape_build_options INTERFACE $<${_cxx}:-march=${FLOWTAPE_ARCH}>)
endif()
if(FLOWTAPE_SANITIZE)
  target_compile_options(flowtape_build_options INTERFACE -fsanitize=address,undefined
                         -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(flowtape_build_options INTERFACE -fsanitize=address,undefined)
endif()
if(FLOWTAPE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FLOWTAPE_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++ (Debian package clang)")
  endif()
  # Coverage instrumentation for libFuzzer everywhere; the sanitizers turn silent corruption
  # into a reported crash. fuzz/CMakeLists.txt links libFuzzer's main into the fuzzers only.
  target_compile_options(flowtape_build_options INTERFACE
                         -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  target_link_options(flowtape_build_options INTERFACE -fsanitize=address,undefined)
endif()

add_library(flowtape_internal INTERFACE)
target_link_libraries(flowtape_internal INTERFACE flowtape_build_options xsimd)
target_include_directories(flowtape_internal INTERFACE ${PROJECT_SOURCE_DIR})
