# SPDX-License-Identifier: MIT
# Every flowtape header is included as <flowtape/LAYER/NAME.hpp>, in the library's own sources
# as in a user's program, so that generic names (nn/linear.hpp, flows/path.hpp) never collide
# with a user's tree. The source folders stay at the repository's top level; the build maps
# them under a flowtape/ prefix with one symbolic link per layer in
# <build>/include/flowtape/, and the install copies the public headers to
# <prefix>/include/flowtape/. The links name single folders, never the source root, so a build
# folder inside the source tree makes no cycle.
include(GNUInstallDirs)
set(FLOWTAPE_BUILD_INCLUDE_DIR ${PROJECT_BINARY_DIR}/include)
file(MAKE_DIRECTORY ${FLOWTAPE_BUILD_INCLUDE_DIR}/flowtape)
foreach(layer kernels runtime autodiff nn solvers flows train)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${layer} ${FLOWTAPE_BUILD_INCLUDE_DIR}/flowtape/${layer}
       SYMBOLIC)
endforeach()
file(CREATE_LINK ${PROJECT_SOURCE_DIR}/flowtape.hpp
     ${FLOWTAPE_BUILD_INCLUDE_DIR}/flowtape/flowtape.hpp SYMBOLIC)

# <flowtape/config.hpp>: the version and how this build was configured.
if(FLOWTAPE_HAS_CUDA)
  set(FLOWTAPE_CONFIG_CUDA 1)
else()
  set(FLOWTAPE_CONFIG_CUDA 0)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/config.hpp.in
               ${FLOWTAPE_BUILD_INCLUDE_DIR}/flowtape/config.hpp @ONLY)

# flowtape_add_library(<target> <exported name> <sources>...): a static library of flowtape's,
# built with flowtape_build_options, exported as flowtape::<exported name>, usable under that
# name in a parent build too.
function(flowtape_add_library target export_name)
  add_library(${target} STATIC ${ARGN})
  add_library(flowtape::${export_name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name}
                                             POSITION_INDEPENDENT_CODE ON)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${FLOWTAPE_BUILD_INCLUDE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:flowtape_build_options>)
  set_property(GLOBAL APPEND PROPERTY FLOWTAPE_LIBRARY_TARGETS ${target})
endfunction()

# flowtape_install_headers(<subfolder> <headers>...): the public headers of one folder, installed
# under include/flowtape/<subfolder>. Headers not listed are private to the library.
function(flowtape_install_headers subdir)
  set(files)
  foreach(header ${ARGN})
    list(APPEND files ${CMAKE_CURRENT_SOURCE_DIR}/${header})
  endforeach()
  if(FLOWTAPE_INSTALL)
    install(FILES ${files} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/flowtape/${subdir}
            COMPONENT development)
  endif()
endfunction()
