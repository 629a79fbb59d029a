# Finds the design card's libraries. Each component says what it needs; a missing one is a
# configure error naming the Debian package, unless ZENITH_ALLOW_MISSING_DEPS is ON (the GPU
# machine's image lacks gRPC, cpprestsdk, liburing and prometheus-cpp): then the parts that need
# it are left out and the summary says which.
option(ZENITH_ALLOW_MISSING_DEPS "Leave out the parts whose dependencies are missing" OFF)

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(yaml-cpp REQUIRED)
# yaml-cpp 0.8 (Ubuntu 24.04) names its target yaml-cpp::yaml-cpp; 0.7 (Debian 12) yaml-cpp.
if(TARGET yaml-cpp::yaml-cpp)
  set(ZENITH_YAML_CPP yaml-cpp::yaml-cpp)
else()
  set(ZENITH_YAML_CPP yaml-cpp)
endif()
find_package(nlohmann_json 3.9 REQUIRED)

find_package(OpenSSL QUIET)
find_package(cpprestsdk QUIET)
find_package(prometheus-cpp QUIET)
find_package(Protobuf QUIET)
find_package(gRPC QUIET)
pkg_check_modules(HWLOC QUIET IMPORTED_TARGET hwloc)
pkg_check_modules(URING QUIET IMPORTED_TARGET liburing)
if(ZENITH_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(ZENITH_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

set(ZENITH_HAVE_OPENSSL ${OpenSSL_FOUND})
set(ZENITH_HAVE_CPPREST ${cpprestsdk_FOUND})
set(ZENITH_HAVE_PROMETHEUS ${prometheus-cpp_FOUND})
set(ZENITH_HAVE_HWLOC ${HWLOC_FOUND})
set(ZENITH_HAVE_URING ${URING_FOUND})
if(gRPC_FOUND AND Protobuf_FOUND)
  set(ZENITH_HAVE_GRPC TRUE)
else()
  set(ZENITH_HAVE_GRPC FALSE)
endif()
# The HTTP endpoint (/metrics, /healthz, /readyz) and the Kubernetes client.
if(ZENITH_HAVE_CPPREST AND ZENITH_HAVE_PROMETHEUS)
  set(ZENITH_HAVE_METRICS TRUE)
else()
  set(ZENITH_HAVE_METRICS FALSE)
endif()
if(ZENITH_HAVE_CPPREST AND ZENITH_HAVE_OPENSSL)
  set(ZENITH_HAVE_KUBE_DEPS TRUE)
else()
  set(ZENITH_HAVE_KUBE_DEPS FALSE)
endif()

# zenith_require(<what needs it> <ZENITH_HAVE_x> <debian package>): fails the configure, or,
# with ZENITH_ALLOW_MISSING_DEPS, sets <out> FALSE and notes the omission.
function(zenith_require out what have package)
  if(${have})
    set(${out} TRUE PARENT_SCOPE)
  elseif(ZENITH_ALLOW_MISSING_DEPS)
    set(${out} FALSE PARENT_SCOPE)
    zenith_note("skipped ${what}: ${package} not found")
  else()
    message(FATAL_ERROR "${what} needs ${package}, which was not found. Run scripts/setup.sh, "
                        "or configure with -DZENITH_ALLOW_MISSING_DEPS=ON to leave it out.")
  endif()
endfunction()

foreach(_dep OPENSSL CPPREST PROMETHEUS HWLOC URING GRPC)
  if(ZENITH_HAVE_${_dep})
    zenith_note("found ${_dep}")
  endif()
endforeach()
