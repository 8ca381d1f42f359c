# multi-networkpolicy-nftables: one static musl binary, plus host builds for tests.
#
#   make          the static binary (fetches and builds dependencies on first use)
#   make test     every test, ending with "N passed, N failed"
#   make bench    side-by-side benchmarks
#   make fuzz     run every fuzzer for FUZZ_SECONDS each
#
# Modules may add rules in src/<module>/module.mk (generated sources, extra test inputs).

BIN      := multi-networkpolicy-nftables
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD    := build
DEPS     := $(BUILD)/deps
MUSL     := $(DEPS)/musl
HOSTDEPS := $(DEPS)/host
GEN      := $(BUILD)/gen
MUSLCC   ?= musl-gcc
CC       ?= gcc
FUZZCC   ?= clang
FUZZ_SECONDS ?= 20

# Sources: every src/**/*.c except tests (*_test.c), fuzzers (*_fuzz.c), benchmarks (*_bench.c).
ALL_C    := $(shell find src -name '*.c' | sort)
TEST_C   := $(filter %_test.c,$(ALL_C))
FUZZ_C   := $(filter %_fuzz.c,$(ALL_C))
BENCH_C  := $(filter %_bench.c,$(ALL_C))
LIB_C    := $(filter-out $(TEST_C) $(FUZZ_C) $(BENCH_C) src/main.c src/compat/%,$(ALL_C))
COMPAT_C := $(filter src/compat/%,$(ALL_C))
GEN_C    :=

.DEFAULT_GOAL := all
DEPS_STAMP := $(DEPS)/.stamp
-include $(wildcard src/*/module.mk)

DEFS     := -DVERSION=\"$(VERSION)\" -DGITREV=\"$(GITREV)\" -DJSMN_STRICT -DJSMN_PARENT_LINKS -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD     := -std=gnu11

MUSL_CFLAGS := $(CSTD) $(WARN) $(DEFS) -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -Isrc -I$(GEN) -I$(MUSL)/include -MMD -MP
MUSL_LDFLAGS := -static -Wl,--gc-sections -s
MUSL_LIBS := -L$(MUSL)/lib -lnftnl -lmnl -lnghttp2 -lbearssl -lnanopb

HOST_SAN    ?= -fsanitize=address,undefined -fno-omit-frame-pointer
HOST_CFLAGS := $(CSTD) $(WARN) $(DEFS) -g -O1 $(HOST_SAN) -Isrc -I$(GEN) -I$(HOSTDEPS)/include \
	-MMD -MP
HOST_LIBS   := -L$(HOSTDEPS)/lib -lnanopb -lnftnl -lmnl -lnghttp2 -lbearssl

MUSL_OBJ := $(patsubst %.c,$(BUILD)/musl/%.o,$(LIB_C) $(GEN_C) $(COMPAT_C) src/main.c)
HOST_OBJ := $(patsubst %.c,$(BUILD)/host/%.o,$(LIB_C) $(GEN_C))
HOST_MAIN := $(BUILD)/host/src/main.o
TEST_BIN := $(patsubst src/%_test.c,$(BUILD)/tests/%_test,$(TEST_C))
FUZZ_BIN := $(patsubst src/%_fuzz.c,$(BUILD)/fuzz/%_fuzz,$(FUZZ_C))
BENCH_BIN := $(patsubst src/%_bench.c,$(BUILD)/bench/%_bench,$(BENCH_C))

.PHONY: all deps test unit-test bench fuzz clean host e2e demo format image
# Keep intermediate objects (pattern-built) so re-runs do not rebuild them.
.SECONDARY:
all: $(BIN)

deps: $(DEPS_STAMP)
# flock: several make invocations at once must not build the dependencies twice over each other.
DEPS_INPUTS := scripts/deps.sh third_party/deps.lock third_party/packages.txt
$(DEPS_STAMP): $(DEPS_INPUTS)
	@mkdir -p $(BUILD)
	flock $(BUILD)/.deps.lock sh -c 'for f in $(DEPS_INPUTS); do [ $(DEPS_STAMP) -nt $$f ] || exec scripts/deps.sh $(DEPS); done' 

$(BIN): $(MUSL_OBJ) | $(DEPS_STAMP)
	$(MUSLCC) $(MUSL_LDFLAGS) -o $@ $(MUSL_OBJ) $(MUSL_LIBS)

$(BUILD)/musl/%.o: %.c | $(DEPS_STAMP) $(GEN_C)
	@mkdir -p $(dir $@)
	$(MUSLCC) $(MUSL_CFLAGS) -c -o $@ $<

$(BUILD)/host/%.o: %.c | $(DEPS_STAMP) $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

# The host build of the agent (glibc, ASan/UBSan), for debugging.
host: $(BUILD)/host/$(BIN)
$(BUILD)/host/$(BIN): $(HOST_OBJ) $(HOST_MAIN)
	$(CC) $(HOST_SAN) -o $@ $^ $(HOST_LIBS)

$(BUILD)/tests/%_test: $(BUILD)/host/src/%_test.o $(HOST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_SAN) -o $@ $^ $(HOST_LIBS) -lcmocka

# Benchmarks: optimised, no sanitizers, so their figures mean something.
BENCH_CFLAGS := $(CSTD) $(WARN) $(DEFS) -O2 -g -Isrc -I$(GEN) -I$(HOSTDEPS)/include -MMD -MP
BENCH_OBJ := $(patsubst %.c,$(BUILD)/bo/%.o,$(LIB_C) $(GEN_C))
$(BUILD)/bo/%.o: %.c | $(DEPS_STAMP) $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c -o $@ $<
$(BUILD)/bench/%_bench: $(BUILD)/bo/src/%_bench.o $(BENCH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(HOST_LIBS)

# Fuzzers: libFuzzer + ASan/UBSan over the library sources.
FUZZ_CFLAGS := $(CSTD) $(DEFS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined -Isrc -I$(GEN) \
	-I$(HOSTDEPS)/include
FUZZ_OBJ := $(patsubst %.c,$(BUILD)/fz/%.o,$(LIB_C) $(GEN_C))
$(BUILD)/fz/%.o: %.c | $(DEPS_STAMP) $(GEN_C)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(BUILD)/fuzz/%_fuzz: $(BUILD)/fz/src/%_fuzz.o $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(HOST_LIBS)

unit-test: $(TEST_BIN)
	@scripts/run-unit-tests $(TEST_BIN)

# Everything: unit tests, then every tests/t-* script (netlink, packets, clients, e2e).
test: $(BIN) $(TEST_BIN) $(FUZZ_BIN)
	@scripts/run-tests $(TEST_BIN)

# Seeds from tests/fuzz-seeds/<name>/, a libFuzzer dictionary from tests/fuzz-seeds/<name>.dict.
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do echo "== $$f"; n=tests/fuzz-seeds/$$(basename $$f _fuzz); \
		c=$(BUILD)/fuzz/corpus-$$(basename $$f); mkdir -p $$c; \
		$$f -max_total_time=$(FUZZ_SECONDS) $$([ -f $$n.dict ] && echo -dict=$$n.dict) \
		$$c $$([ -d $$n ] && echo $$n) || exit 1; done

bench: $(BIN) $(BENCH_BIN)
	@scripts/run-bench $(BENCH_BIN)
	@scripts/bench-agent

# The live demo: the web-policy example on real namespaces and packets, no cluster needed.
demo: $(BIN)
	@scripts/demo.py

e2e: $(BIN)
	tests/e2e/run --runtime=netns tests/e2e/scenarios/*.yaml
	tests/e2e/run --runtime=containerd tests/e2e/scenarios/*.yaml

# The scratch image as an OCI archive (no container engine needed).
image: $(BIN)
	scripts/build-image.sh

format:
	clang-format -i $(ALL_C) $(shell find src -name '*.h')

clean:
	rm -rf $(BUILD)/musl $(BUILD)/host $(BUILD)/fz $(BUILD)/bo $(BUILD)/tests $(BUILD)/fuzz $(BUILD)/bench $(GEN) $(BIN)

-include $(shell find $(BUILD)/musl $(BUILD)/host $(BUILD)/fz $(BUILD)/bo -name '*.d' 2>/dev/null)
