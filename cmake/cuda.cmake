# SPDX-License-Identifier: MIT
# Decides whether the CUDA backend is built and, if so, enables the CUDA language and finds the
# toolkit's libraries. Sets FLOWTAPE_HAS_CUDA (a CMake variable, and a compile definition on
# flowtape_build_options so every flowtape target can test `#ifdef FLOWTAPE_HAS_CUDA`).
#
# Off unless asked for (FLOWTAPE_CUDA=ON or AUTO): a CPU-only user must not link cudart and
# cuBLAS because nvcc happens to be installed. nvcc compiles without a GPU, so CI builds and
# links the backend (scripts/test.sh asks for AUTO); its tests decide at run time whether
# there is a device (tests/cuda).
set(FLOWTAPE_HAS_CUDA OFF)
# CMake's usual spellings of on and off count (ON/YES/TRUE/1, OFF/NO/FALSE/0/empty); anything
# else but AUTO is refused rather than guessed.
string(TOUPPER "${FLOWTAPE_CUDA}" _flowtape_cuda_mode)
if(_flowtape_cuda_mode MATCHES "^(ON|YES|TRUE|Y|1)$")
  set(_flowtape_cuda_mode ON)
elseif(_flowtape_cuda_mode MATCHES "^(OFF|NO|FALSE|N|0|)$")
  set(_flowtape_cuda_mode OFF)
elseif(NOT _flowtape_cuda_mode STREQUAL "AUTO")
  message(FATAL_ERROR "FLOWTAPE_CUDA=${FLOWTAPE_CUDA}: use OFF, ON or AUTO")
endif()
if(NOT _flowtape_cuda_mode STREQUAL "OFF")
  # check_language looks on PATH; the project's machines keep the toolkit at /usr/local/cuda,
  # which is often not on PATH.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "CUDA compiler")
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(FLOWTAPE_HAS_CUDA ON)
  elseif(_flowtape_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "FLOWTAPE_CUDA=ON but no CUDA compiler was found (install the CUDA "
                        "toolkit, or set CMAKE_CUDA_COMPILER / CUDACXX)")
  endif()
endif()

if(FLOWTAPE_HAS_CUDA)
  # sm_80 (A100) and sm_90 (H100/H200): the cards the project runs on.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # Recorded in the installed package, so that consumers find this same toolkit.
  get_filename_component(FLOWTAPE_CUDA_TOOLKIT_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
  # CMake 3.25 predates nvcc 13 and has no CUDA20 dialect entry for it; nvcc has accepted
  # -std=c++20 since 12.0, so teach CMake the flag instead of requiring a newer CMake.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  target_compile_definitions(flowtape_build_options INTERFACE FLOWTAPE_HAS_CUDA)
  message(STATUS "flowtape: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                 "architectures ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "flowtape: CUDA backend OFF (FLOWTAPE_CUDA=${FLOWTAPE_CUDA}): device=cuda "
                 "tensors will throw")
endif()
