# CUDA is optional. ZENITH_WITH_CUDA=auto builds the GPU code when a toolkit is found and says
# once, clearly, when it is not; =on makes a missing toolkit an error; =off never looks.
set(ZENITH_HAVE_CUDA FALSE)
set(ZENITH_HAVE_NCCL FALSE)
string(TOLOWER "${ZENITH_WITH_CUDA}" _zenith_cuda)
if(NOT _zenith_cuda MATCHES "^(auto|on|off)$")
  message(FATAL_ERROR "ZENITH_WITH_CUDA must be auto, on or off (got '${ZENITH_WITH_CUDA}')")
endif()

if(NOT _zenith_cuda STREQUAL "off")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Hopper first; also Ampere so the same build runs on A100s.
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    # CMake 3.25 knows no CUDA20 dialect for nvcc; the CUDA sources need only C++17.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(ZENITH_HAVE_CUDA TRUE)
    find_path(ZENITH_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_HOME
              PATH_SUFFIXES include)
    find_library(ZENITH_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_HOME
                 PATH_SUFFIXES lib lib64)
    if(ZENITH_NCCL_INCLUDE AND ZENITH_NCCL_LIBRARY)
      set(ZENITH_HAVE_NCCL TRUE)
    endif()
    string(REPLACE ";" "," _archs "${CMAKE_CUDA_ARCHITECTURES}")
    zenith_note("CUDA ${CUDAToolkit_VERSION} (architectures ${_archs}), NCCL: ${ZENITH_HAVE_NCCL}")
  elseif(_zenith_cuda STREQUAL "on")
    message(FATAL_ERROR "ZENITH_WITH_CUDA=on but no CUDA compiler was found: put nvcc on PATH, "
                        "set CMAKE_CUDA_COMPILER, or run scripts/setup.sh --cuda")
  else()
    message(STATUS "Zenith: no CUDA toolkit found; GPU code is skipped (ZENITH_WITH_CUDA=auto)")
    zenith_note("CUDA: not found, GPU code skipped")
  endif()
endif()
