# Build options: each part builds alone, sanitizers on request, ccache when present.
option(ZENITH_BUILD_OPERATOR "Build zenith-operator" ON)
option(ZENITH_BUILD_DEVICE_PLUGIN "Build zenith-device-plugin" ON)
option(ZENITH_BUILD_RUNTIME "Build zenith-runtime and the data-plane libraries" ON)
option(ZENITH_BUILD_TESTS "Build the unit and integration tests" ON)
option(ZENITH_BUILD_BENCH "Build the benchmarks (bench/)" OFF)
set(ZENITH_WITH_CUDA "auto" CACHE STRING "Build the CUDA code: auto, on or off")
set_property(CACHE ZENITH_WITH_CUDA PROPERTY STRINGS auto on off)
set(ZENITH_SANITIZE "" CACHE STRING "Sanitizers: address,undefined or thread (empty: none)")

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

find_program(ZENITH_CCACHE ccache)
if(ZENITH_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${ZENITH_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${ZENITH_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${ZENITH_CCACHE})
endif()

add_compile_options(-Wall -Wextra -Wno-unused-parameter)
# cpprestsdk's U() macro collides with GoogleTest and others; Zenith never uses it.
add_compile_definitions(_TURN_OFF_PLATFORM_STRING)

if(ZENITH_SANITIZE)
  if(ZENITH_SANITIZE MATCHES "thread" AND ZENITH_SANITIZE MATCHES "address")
    message(FATAL_ERROR "ZENITH_SANITIZE: 'thread' cannot be combined with 'address'")
  endif()
  string(REPLACE "," ";" _zenith_sanitizers "${ZENITH_SANITIZE}")
  foreach(_s IN LISTS _zenith_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "ZENITH_SANITIZE: unknown sanitizer '${_s}' (use address,undefined or thread)")
    endif()
  endforeach()
  add_compile_options(-fsanitize=${ZENITH_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  if(ZENITH_SANITIZE MATCHES "undefined")
    # cpprestsdk's stream buffers are created inside libcpprest, built without the sanitizer's
    # type information, so every inline call on them is a false "vptr" report.
    add_compile_options(-fno-sanitize=vptr)
  endif()
  add_link_options(-fsanitize=${ZENITH_SANITIZE})
endif()

# Adds a library for a component: public headers under include/, sources under src/.
function(zenith_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# One line per decision, printed at the end of the configure.
function(zenith_note line)
  set_property(GLOBAL APPEND PROPERTY ZENITH_SUMMARY "${line}")
endfunction()
function(zenith_print_summary)
  get_property(_lines GLOBAL PROPERTY ZENITH_SUMMARY)
  message(STATUS "Zenith configuration:")
  foreach(_l IN LISTS _lines)
    message(STATUS "  ${_l}")
  endforeach()
endfunction()
