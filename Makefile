# Thin wrappers over CMake: the README's two commands.
#   make demo   installs missing Debian packages, builds, runs the local embedded demo
#   make test   installs missing packages (and the pinned official SDKs), builds, runs every test
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all deps build demo test asan clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@$(BUILD)/bin/e2bc demo

test:
	@scripts/deps.sh --with-npm
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	@scripts/deps.sh --with-npm
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DE2B_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -LE sdk-compat

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-tsan build-cov build-torture build-valgrind build-logs
