# Thin wrapper around CMake. The README's two commands: `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
# The sanitizer build prefers clang: its UBSan also catches NULL + 0, which gcc's does not.
ASAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo cc)
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 15
FUZZERS    ?=

.PHONY: all deps test-deps sanitizer-deps configure build run test test-asan fuzz-build fuzz \
  fuzz-smoke install format clean

all: build

deps:
	@./scripts/install-deps.sh

# node/npm and chromium, which the server and chat-page tests drive.
test-deps:
	@./scripts/install-deps.sh test

# clang and its sanitizer runtime; a prerequisite, so ASAN_CC sees clang once it is installed.
sanitizer-deps:
	@./scripts/install-deps.sh sanitizer

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# Generates text with the bundled default model (models/kjv-llama).
run: build
	$(BUILD)/apps/ttt/ttt generate --prompt "In the beginning" -n 48 --temperature 0

test: build test-deps
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --no-tests=error

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (run by .ci/run), built with
# $(ASAN_CC); install-deps.sh's `sanitizer` group adds clang and its sanitizer runtime.
test-asan: sanitizer-deps test-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_C_COMPILER=$(ASAN_CC) -DCMAKE_BUILD_TYPE=Debug -DTTT_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --no-tests=error -LE nosan

# libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan), one after the other, single process:
# FUZZ_SECONDS each (FUZZERS="fuzz_safetensors ..." picks some). fuzz-smoke: a short run of each (CI).
fuzz-build: deps sanitizer-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTTT_FUZZ=ON \
	  -DTTT_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZERS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZERS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	find tt_transformers_v2 models apps tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
