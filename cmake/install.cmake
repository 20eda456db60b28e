# SPDX-License-Identifier: MIT
# Install rules and the CMake package: cmake --install <build> --prefix <dir> installs
#   include/flowtape/...                       the public headers (and the generated config.hpp)
#   lib/libflowtape_*.a                        the static libraries
#   lib/cmake/flowtape/flowtapeConfig*.cmake   find_package(flowtape [COMPONENTS ...])
#   lib/pkgconfig/flowtape.pc                  pkg-config --cflags --libs flowtape
# and `cpack -G DEB` in the build folder makes a Debian package of the same files.
include(CMakePackageConfigHelpers)

set(FLOWTAPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/flowtape)

get_property(_flowtape_targets GLOBAL PROPERTY FLOWTAPE_LIBRARY_TARGETS)
install(TARGETS flowtape_all ${_flowtape_targets} EXPORT flowtapeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${FLOWTAPE_BUILD_INCLUDE_DIR}/flowtape/config.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/flowtape COMPONENT development)
install(EXPORT flowtapeTargets NAMESPACE flowtape:: DESTINATION ${FLOWTAPE_CMAKE_DIR}
        COMPONENT development)

# The components find_package(flowtape COMPONENTS ...) can satisfy from this build.
set(FLOWTAPE_COMPONENTS core nn solvers flows train)
if(FLOWTAPE_HAS_CUDA)
  list(APPEND FLOWTAPE_COMPONENTS cuda)
endif()
if(FLOWTAPE_HAS_MPI)
  list(APPEND FLOWTAPE_COMPONENTS mpi)
endif()
if(FLOWTAPE_HAS_NCCL)
  list(APPEND FLOWTAPE_COMPONENTS nccl)
endif()
if(TARGET flowtape_xtensor)
  list(APPEND FLOWTAPE_COMPONENTS xtensor)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/flowtapeConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/flowtapeConfig.cmake
                              INSTALL_DESTINATION ${FLOWTAPE_CMAKE_DIR})
# Before 1.0 a minor version may change behaviour (0.2 made raw t VelocityMLP's default time
# embedding), so a request for 0.2 is met by 0.2.x only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/flowtapeConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/flowtapeConfig.cmake
              ${PROJECT_BINARY_DIR}/flowtapeConfigVersion.cmake
        DESTINATION ${FLOWTAPE_CMAKE_DIR} COMPONENT development)

# pkg-config: static archives in dependency order, then what they need. The prefix is found
# from the file's own place, so the same file works wherever the tree is installed or unpacked.
set(FLOWTAPE_PC_LIBS "-lflowtape_train -lflowtape_flows -lflowtape_solvers -lflowtape_nn -lflowtape_autodiff -lflowtape_runtime -lflowtape_kernels")
if(FLOWTAPE_HAS_CUDA)
  # (-rpath: the toolkit's folder is often not one the dynamic loader searches.)
  string(APPEND FLOWTAPE_PC_LIBS " -lflowtape_kernels_cuda -L${CUDAToolkit_LIBRARY_DIR} -Wl,-rpath,${CUDAToolkit_LIBRARY_DIR} -lcublasLt -lcublas -lcudart")
endif()
string(APPEND FLOWTAPE_PC_LIBS " -pthread")
file(RELATIVE_PATH FLOWTAPE_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/flowtape.pc.in ${PROJECT_BINARY_DIR}/flowtape.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/flowtape.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT development)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/flowtape
        COMPONENT development)

# cpack -G DEB: a development package (headers, static libraries, CMake and pkg-config files).
# A package meant for other machines is built with a baseline instruction set, for example
# -DFLOWTAPE_ARCH=x86-64-v3 (AVX2 + FMA), not the default "native".
set(CPACK_PACKAGE_NAME flowtape-dev)
set(CPACK_PACKAGE_VENDOR "flowtape developers")
set(CPACK_PACKAGE_CONTACT "flowtape developers <flowtape@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION} (static libraries and headers)")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "${PROJECT_DESCRIPTION}.\n Built for -march=${FLOWTAPE_ARCH}; the headers need a C++20 compiler.")
# The archives were built by this machine's g++ and need its C++ runtime to link.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6-dev, libstdc++-12-dev | libstdc++-dev")
set(CPACK_GENERATOR DEB)
if(PROJECT_IS_TOP_LEVEL)  # a parent project's own CPack settings stay its own
  include(CPack)
endif()
