# gpuaas — `make run` and `make test` do all set-up on a fresh Debian 12 machine (as root).
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
DEB_PACKAGES := build-essential cmake pkg-config clang libclang-rt-14-dev \
  libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libpq-dev libsqlite3-dev \
  libsodium-dev libssl-dev libyaml-dev libcmocka-dev postgresql sqlite3 openssl curl \
  chromium nodejs npm kubectl python3 python3-yaml python3-jsonschema jq bc time libxml2-utils \
  podman debootstrap nginx prometheus
# kubectl and nodejs may come from elsewhere on a prepared machine: only install what is missing.

.PHONY: all deps build build-asan build-fuzz web test test-unit test-asan test-fuzz run bench clean format lint

all: build

deps:
	@bash tests/scripts/deps.sh $(DEB_PACKAGES)

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGPUAAS_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

build-fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DGPUAAS_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzzers

web:
	@if [ -f web/package.json ]; then bash tests/scripts/web-build.sh; fi

test-unit: build
	cd $(BUILD) && ctest -L unit --output-on-failure

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -L unit --output-on-failure

test-fuzz: build-fuzz
	bash tests/scripts/fuzz.sh build-fuzz

test: deps build web
	@bash tests/scripts/run-tests.sh

run: deps build web
	@bash tests/scripts/run-demo.sh

bench: deps build
	@bash bench/run.sh

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

# Every tracked C file formatted as .clang-format says (`make format` fixes), then cppcheck.
lint:
	@git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run -Werror
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=missingIncludeSystem --include=/usr/include/jansson.h -Isrc -j2 src

clean:
	rm -rf build build-asan build-fuzz web/dist
