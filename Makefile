# Makefile - the front door.  CMake does the building; this file only knows
# the build trees and the order of things.
#
#   make build   release build in build/ (after tools/bootstrap.sh)
#   make demo    build, generate a trace, replay it through examples/demo.dpf,
#                then verify a handler and run it on every frame of the trace
#   make test    every check, each stage timed, with a summary at the end:
#                  release  release build + ctest
#                  asan     Debug build with ASan+UBSan and trie checks + ctest,
#                           then `make tsan`
#                  fuzz     clang libFuzzer build, each harness FUZZ_TIME seconds,
#                           then ash_gendiff's ten million generated runs
#                  corpus   real-capture oracle and replay robustness
#                            (skipped when ../shared/corpus/pcap is absent)
#   make bench   the demultiplexing benchmark (bench/bench_demux.c) against
#                libpcap, Linux eBPF and a hand-written classifier, then the
#                x86 back end's own (bench/bench_jit.c), then the handler
#                benchmark (bench/bench_ash.c, plot ash.png), then fused
#                copy + checksum against two passes (bench/bench_dilp.c),
#                then the kernel path under QEMU (bench/bench_boot.c: ASH
#                against ring latency, demux + handler against N filters);
#                tables on stdout, CSV, markdown and plots (PNG, SVG) in
#                build/bench/
#   make bench-quick  the demultiplexing and DILP benchmarks in quick mode
#                (under 2 minutes), into build/bench/quick/
#   make fuzz-long  (or make fuzz) the harnesses for FUZZ_LONG_TIME seconds
#                each, keeping their corpora in build-fuzz/corpus-long/
#                between runs and adding each run's CPU time, executions
#                and coverage to build-fuzz/corpus-long/ledger.tsv; then
#                the ledger's totals (make fuzz-report prints them alone)
#   make fuzz-save  minimise the long runs' corpora into the saved ones,
#                tests/fuzz/corpus/NAME/ (committed; the fuzz stage of
#                make test replays every saved input first)
#   make tsan    ThreadSanitizer build of the core (build-tsan/) and its
#                race test: readers classify while a writer inserts and
#                deletes, with the interpreter and with the x86 back end
#                (tests/tsan/race_classify.c, TSAN_TIME seconds a phase)
#   make install PREFIX=DIR  build, then install into DIR (default
#                /usr/local): bin/dpf, lib/dpf/kernel.elf (where an
#                installed dpf boot looks), libdpf.a, libdpf.so, the
#                headers under include/dpf/, lib/pkgconfig/dpf.pc and
#                share/man/man1/dpf.1
#   make clean   remove every build tree
#
# Variables: FUZZ_TIME (default 20), FUZZ_LONG_TIME (default 600), JOBS,
# TSAN_TIME (default 5),
# TEST_TIMEOUT (seconds one ctest test may take, default 180).

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_TIME ?= 20
FUZZ_LONG_TIME ?= 600
TEST_TIMEOUT ?= 180

BUILD := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
TSAN_BUILD := build-tsan
TSAN_TIME ?= 5

CTEST := ctest --output-on-failure --no-tests=error --timeout $(TEST_TIMEOUT) -j$(JOBS)
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS ?= detect_leaks=1

PREFIX ?= /usr/local

.PHONY: install all bootstrap build build-asan build-fuzz demo test fuzz \
	fuzz-long fuzz-report fuzz-save clean bench \
	bench-quick tsan \
	test-release test-asan test-fuzz test-corpus

all: build

bootstrap:
	@tools/bootstrap.sh

build: bootstrap
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

build-asan: bootstrap
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
		-DDPF_SANITIZE=ON -DDPF_DEBUG_CHECKS=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# The fuzz build keeps the trie checker on: it is cheap for the small
# filter sets the harnesses build and catches corruption at its source.
build-fuzz: bootstrap
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDPF_FUZZ=ON -DDPF_DEBUG_CHECKS=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

demo: build
	@mkdir -p $(BUILD)/demo
	$(BUILD)/cli/dpf gen --flows 64 --packets 200000 \
		-o $(BUILD)/demo/trace.pcap -f $(BUILD)/demo/flows.dpf
	$(BUILD)/cli/dpf replay -r $(BUILD)/demo/trace.pcap examples/demo.dpf
	$(BUILD)/cli/dpf ash check $(BUILD)/ash/examples/counters.o
	$(BUILD)/cli/dpf ash run $(BUILD)/ash/examples/counters.o -r $(BUILD)/demo/trace.pcap

# One target per stage of `make test`; each can also be run alone.
test-release: build
	cd $(BUILD) && $(CTEST)

test-asan: build-asan
	cd $(ASAN_BUILD) && $(CTEST)
	$(MAKE) tsan

# The harnesses, then ash_gendiff (a release binary: the engines at full
# speed) over ten million (program, frame) pairs.
test-fuzz: build build-fuzz
	tests/run_fuzz.sh --build $(FUZZ_BUILD) --time $(FUZZ_TIME) \
		--gendiff $(BUILD)/tests/ash/ash_gendiff

# Exits 77 when the shared corpus is absent; `make test` reports that as
# skipped rather than passed.
test-corpus: build build-asan
	tests/run_corpus.sh --build $(BUILD) --asan-build $(ASAN_BUILD)

# Run every stage even when one fails, time each, then summarise.  A stage
# that exits 77 was skipped.  The stage targets are run through the shell
# (not as prerequisites) so a failure does not stop the others.
STAGES := release asan fuzz corpus

test: bootstrap
	@summary=""; pass=0; fail=0; skip=0; \
	for s in $(STAGES); do \
		echo "==== make test: stage $$s ===="; \
		t0=$$(date +%s); \
		if [ $$s = corpus ]; then \
			{ $(MAKE) build >/dev/null || \
				{ echo "corpus: the release build failed"; false; }; } && \
			tests/run_corpus.sh --build $(BUILD) --asan-build $(ASAN_BUILD); \
			st=$$?; \
		else \
			$(MAKE) --no-print-directory test-$$s; st=$$?; \
		fi; \
		t1=$$(date +%s); \
		case $$st in \
		0) r=passed; pass=$$((pass + 1));; \
		77) r=skipped; skip=$$((skip + 1));; \
		*) r=FAILED; fail=$$((fail + 1));; \
		esac; \
		summary="$$summary$$(printf '  %-8s %-8s %5ss' $$s $$r $$((t1 - t0)))\n"; \
	done; \
	echo; echo "==== make test summary ===="; printf "$$summary"; \
	echo "stages: $$pass passed, $$fail failed, $$skip skipped"; \
	[ $$fail -eq 0 ]

fuzz fuzz-long: build-fuzz
	tests/run_fuzz.sh --build $(FUZZ_BUILD) --time $(FUZZ_LONG_TIME) --keep
	tests/run_fuzz.sh --build $(FUZZ_BUILD) --report

fuzz-report:
	tests/run_fuzz.sh --build $(FUZZ_BUILD) --report

fuzz-save: build-fuzz
	tests/run_fuzz.sh --build $(FUZZ_BUILD) --save

bench: build
	bench/run.sh --bin $(BUILD)/bench/bench_demux --out $(BUILD)/bench
	$(BUILD)/bench/bench_jit --csv $(BUILD)/bench/jit.csv
	$(BUILD)/bench/bench_ash --csv $(BUILD)/bench/ash.csv
	gnuplot -e "csv='$(BUILD)/bench/ash.csv'; out='$(BUILD)/bench/ash.png'" bench/plot_ash.gp
	$(BUILD)/bench/bench_dilp --csv $(BUILD)/bench/dilp.csv
	$(BUILD)/bench/bench_boot

bench-quick: build
	bench/run.sh --quick --bin $(BUILD)/bench/bench_demux --out $(BUILD)/bench/quick
	$(BUILD)/bench/bench_dilp --quick --csv $(BUILD)/bench/quick/dilp.csv

# Only the core library and the race test are built with -fsanitize=thread;
# a report stops the run (halt_on_error) and fails the target.
tsan: bootstrap
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS=-fsanitize=thread \
		-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target race_classify
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		$(TSAN_BUILD)/tests/race_classify $(TSAN_TIME)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
