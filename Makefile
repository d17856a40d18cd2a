# The two commands a new user needs: `make demo` and `make test`. Each installs what it
# needs (Debian packages), builds, and runs.
BUILD ?= build
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOOLKIT_WERROR=ON
JOBS ?= $(shell nproc)
# How long `make fuzz` runs each fuzz target, in seconds.
FUZZ_SECONDS ?= 60
# Debian's libmongoc initialises itself when loaded and creates /dev/shm/mongoc-<pid> for its
# counters; a process that is killed leaves the file behind, and a later process that gets the
# same pid prints "Falling back to malloc for counters" into its output. Tests kill processes on
# purpose, so every process started from here runs without those counters.
export MONGOC_DISABLE_SHM = 1

.PHONY: all deps build demo test test-asan test-tsan fuzz bench format tidy clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Starts local Redis, FerretDB (its launcher is built by `build`) and nginx on free loopback
# ports, compares pooled with re-created connections, and writes the HTML report.
demo: build
	$(BUILD)/tools/poolkit/poolkit demo --html $(BUILD)/demo-report.html

test: build
	scripts/run-tests $(BUILD)

# Sanitizer runs of every suite built into test binaries (unit, conformance and the
# integration suites against real servers); the CLI scripts and the install check run in `test`.
test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPOOLKIT_WERROR=ON \
	  -DPOOLKIT_SANITIZE=address,undefined -DPOOLKIT_BUILD_BENCH=OFF -DPOOLKIT_BUILD_TOOLS=OFF
	cmake --build build-asan -j $(JOBS)
	scripts/run-tests build-asan -LE 'cli|install'

test-tsan: deps
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOOLKIT_WERROR=ON \
	  -DPOOLKIT_SANITIZE=thread -DPOOLKIT_BUILD_BENCH=OFF -DPOOLKIT_BUILD_TOOLS=OFF
	cmake --build build-tsan -j $(JOBS)
	scripts/run-tests build-tsan -LE 'cli|install'

# Every libFuzzer target (fuzz/*_fuzz.cpp), built with clang under ASan+UBSan in build-fuzz, run one
# after another for FUZZ_SECONDS each from its seed corpus; fails on any crash, leak, timeout or
# out-of-memory.
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz build-fuzz

bench: build
	$(BUILD)/bench/poolkit_pool_bench --benchmark_repetitions=5 --markdown $(BUILD)/pool-bench.md
	@cat $(BUILD)/pool-bench.md

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

tidy: build
	git ls-files 'src/*.cpp' 'tools/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
