# multi-networkpolicy-nftables: one static musl binary, plus host builds for tests.
#
#   make          the static binary (fetches and builds dependencies on first use)
#   make ARCH=arm64|armhf  the same binary cross-built: build/ARCH/multi-networkpolicy-nftables
#   make test     every test, ending with "N passed, N failed"
#   make bench    side-by-side benchmarks
#   make fuzz     run every fuzzer for FUZZ_SECONDS each
#   make sanitize every e2e scenario, both runtimes, against the ASan/UBSan/LSan agent
#   make soak     churn against the API double for SOAK_MINUTES, watching RSS, fds and tables
#   make check-full  test, sanitize and a short soak
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
# The compiler whose crtbeginS.o/crtendS.o the static PIE links (the cross gcc for ARCH builds).
MUSL_GCC ?= $(CC)
FUZZCC   ?= clang
FUZZ_SECONDS ?= 20
SOAK_MINUTES ?= 30
CHECK_FULL_SOAK_MINUTES ?= 3

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
# Cross builds: ARCH=arm64 or armhf builds the static binary with the Debian cross gcc and the
# dependency prefix build/deps/ARCH (scripts/deps.sh --arch), objects under build/ARCH. Host
# builds (tests, fuzzers, ASan) stay x86_64; tests/t-arch runs the cross builds under qemu-user.
# Only from the command line: an ARCH in the environment (kernel builds export one) is not ours.
ifneq ($(origin ARCH),command line)
ARCH     := x86_64
endif
ARCHES   := x86_64 arm64 armhf
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error ARCH=$(ARCH): one of $(ARCHES))
endif
OUT      := $(BIN)
DEPS_ARGS := $(DEPS)
ifneq ($(ARCH),x86_64)
XGNU_arm64 := aarch64-linux-gnu
XGNU_armhf := arm-linux-gnueabihf
XMUSL_arm64 := aarch64-linux-musl
XMUSL_armhf := arm-linux-musleabihf
XDEPS    := $(DEPS)/$(ARCH)
BUILD    := $(BUILD)/$(ARCH)
OUT      := $(BUILD)/$(BIN)
MUSL     := $(XDEPS)/musl
MUSLCC   := $(XDEPS)/bin/musl-gcc
MUSL_GCC := $(XGNU_$(ARCH))-gcc
MUSL_LIBDIR := $(XDEPS)/sysroot/usr/lib/$(XMUSL_$(ARCH))
DEPS_STAMP := $(XDEPS)/.stamp
DEPS_ARGS := --arch $(ARCH) $(DEPS)
endif

-include $(wildcard src/*/module.mk)

DEFS     := -DVERSION=\"$(VERSION)\" -DGITREV=\"$(GITREV)\" -DJSMN_STRICT -DJSMN_PARENT_LINKS -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD     := -std=gnu11

# Hardening of the static binary: stack canaries, stack clash probes, and a static PIE (ASLR for
# the binary too) with full RELRO. musl's static start leaves RELRO writable: main() protects it
# (src/main.c). musl-gcc's specs know no -static-pie, so the link names musl's rcrt1.o itself.
MUSL_HARDEN := -fstack-protector-strong -fstack-clash-protection -fPIE
MUSL_CFLAGS := $(CSTD) $(WARN) $(DEFS) -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables $(MUSL_HARDEN) -Isrc -I$(GEN) -I$(MUSL)/include -MMD -MP
MUSL_LIBDIR ?= /usr/lib/x86_64-linux-musl
MUSL_PIE_START := $(MUSL_LIBDIR)/rcrt1.o $(MUSL_LIBDIR)/crti.o $(shell $(MUSL_GCC) -print-file-name=crtbeginS.o)
MUSL_PIE_END := $(shell $(MUSL_GCC) -print-file-name=crtendS.o) $(MUSL_LIBDIR)/crtn.o
MUSL_LDFLAGS := -nostartfiles -Wl,-static,-pie,--no-dynamic-linker,-z,text,-z,relro,-z,now \
	-Wl,--gc-sections -s
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

.PHONY: all deps test unit-test bench fuzz clean host e2e demo format image sanitize soak check-full
# Keep intermediate objects (pattern-built) so re-runs do not rebuild them.
.SECONDARY:
all: $(OUT) $(if $(filter x86_64,$(ARCH)),$(BUILD)/x86_64/$(BIN))

deps: $(DEPS_STAMP)
# The stamp names the sha256 of deps.sh, deps.lock and packages.txt it was built from: a copied
# or touched stamp of other inputs still re-runs deps.sh (which redoes only the parts that changed).
# flock: several make invocations at once must not build the dependencies twice over each other.
DEPS_INPUTS := scripts/deps.sh third_party/deps.lock third_party/packages.txt
DEPS_KEY := inputs $(firstword $(shell cat $(DEPS_INPUTS) | sha256sum))
DEPS_CURRENT := $(shell grep -sqxF '$(DEPS_KEY)' $(DEPS_STAMP) && echo yes)
$(DEPS_STAMP): $(DEPS_INPUTS) $(if $(DEPS_CURRENT),,deps-outdated)
	@mkdir -p $(BUILD)
	flock $(BUILD)/.deps.lock sh -c 'if grep -sqxF "$(DEPS_KEY)" $(DEPS_STAMP); then touch $(DEPS_STAMP); \
		else exec scripts/deps.sh $(DEPS_ARGS); fi'
.PHONY: deps-outdated

$(OUT): $(MUSL_OBJ) $(DEPS_STAMP)
	$(MUSLCC) $(MUSL_LDFLAGS) -o $@ $(MUSL_PIE_START) $(MUSL_OBJ) $(MUSL_LIBS) $(MUSL_PIE_END)
# Every architecture's binary under build/ARCH (the x86_64 one also stays at ./$(BIN)).
$(BUILD)/x86_64/$(BIN): $(BIN)
	@mkdir -p $(dir $@)
	cp $< $@

# The same binary without the hardening of our own code (plain static, no canaries, RELRO left
# writable), only for make bench to show what the hardening costs.
PLAIN_OBJ := $(patsubst %.c,$(BUILD)/mplain/%.o,$(LIB_C) $(GEN_C) $(COMPAT_C) src/main.c)
$(BUILD)/mplain/%.o: %.c | $(DEPS_STAMP) $(GEN_C)
	@mkdir -p $(dir $@)
	$(MUSLCC) $(filter-out $(MUSL_HARDEN),$(MUSL_CFLAGS)) -fno-stack-protector -fno-pie -c -o $@ $<
$(BUILD)/plain/$(BIN): $(PLAIN_OBJ) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSLCC) -static -Wl,--gc-sections -s -o $@ $(PLAIN_OBJ) $(MUSL_LIBS)

# The musl objects are rebuilt when their flags change (the hardening flags above, say).
MUSL_FLAGS_FILE := $(BUILD)/musl/.cflags
MUSL_FLAGS_NOW := $(filter-out -DGITREV=%,$(MUSL_CFLAGS))
$(shell mkdir -p $(BUILD)/musl && echo '$(MUSL_FLAGS_NOW)' | cmp -s - $(MUSL_FLAGS_FILE) || \
	echo '$(MUSL_FLAGS_NOW)' >$(MUSL_FLAGS_FILE))
$(BUILD)/musl/%.o: %.c $(MUSL_FLAGS_FILE) | $(DEPS_STAMP) $(GEN_C)
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

# Unit tests and fuzz targets built like the static binary (musl, the ARCH's compiler, no
# sanitizers), for tests/t-arch to run under qemu-user: `make ARCH=arm64 xtests`. The fuzz targets
# get a plain main() (tests/arch/fuzz_main.c) that replays files instead of libFuzzer.
XTEST_OBJ := $(patsubst %.c,$(BUILD)/musl/%.o,$(LIB_C) $(GEN_C) $(COMPAT_C))
XTEST_BIN := $(patsubst src/%_test.c,$(BUILD)/xtests/%_test,$(TEST_C))
XFUZZ_BIN := $(patsubst src/%_fuzz.c,$(BUILD)/xfuzz/%_fuzz,$(FUZZ_C))
.PHONY: xtests
xtests: $(XTEST_BIN) $(XFUZZ_BIN)
$(BUILD)/xtests/%_test: $(BUILD)/musl/src/%_test.o $(XTEST_OBJ) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSLCC) -static -Wl,--gc-sections -o $@ $< $(XTEST_OBJ) $(MUSL_LIBS) -lcmocka
$(BUILD)/xfuzz/%_fuzz: $(BUILD)/musl/src/%_fuzz.o $(BUILD)/musl/tests/arch/fuzz_main.o $(XTEST_OBJ) \
		$(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSLCC) -static -Wl,--gc-sections -o $@ $< $(BUILD)/musl/tests/arch/fuzz_main.o $(XTEST_OBJ) \
		$(MUSL_LIBS)

# The packet test driver of tests/t-packets, for tests/t-arch-vm (an arm64 VM with its own kernel).
$(BUILD)/xtests/t-packets-apply: $(BUILD)/musl/tests/t-packets-apply.o $(XTEST_OBJ) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSLCC) -static -Wl,--gc-sections -o $@ $< $(XTEST_OBJ) $(MUSL_LIBS)

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
test: $(BIN) $(TEST_BIN) $(FUZZ_BIN) $(BUILD)/host/$(BIN)
	@scripts/run-tests $(TEST_BIN)

# The e2e suite (both runtimes) against the ASan/UBSan build, LSan at every agent's exit; any
# sanitizer report fails. tests/t-sanitize, part of make test, runs three scenarios of it.
sanitize: $(BUILD)/host/$(BIN)
	@scripts/sanitize

soak: $(BIN)
	@scripts/soak --minutes $(SOAK_MINUTES)

# Everything there is: make test, make sanitize, a short make soak.
check-full:
	@rc=0; n=0; \
	for t in test sanitize "soak SOAK_MINUTES=$(CHECK_FULL_SOAK_MINUTES)"; do \
		echo "##### make $$t"; $(MAKE) --no-print-directory $$t && n=$$((n + 1)) || rc=$$((rc + 1)); \
	done; echo "check-full: $$n passed, $$rc failed"; [ $$rc -eq 0 ]

# Seeds from tests/fuzz-seeds/<name>/ and the minimised corpus tests/fuzz-corpus/<name>/ (both
# read only; new inputs go to build/fuzz/corpus-<target>), a dictionary from tests/fuzz-seeds/<name>.dict.
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do echo "== $$f"; n=tests/fuzz-seeds/$$(basename $$f _fuzz); \
		c=$(BUILD)/fuzz/corpus-$$(basename $$f); mkdir -p $$c; \
		$$f -max_total_time=$(FUZZ_SECONDS) $$([ -f $$n.dict ] && echo -dict=$$n.dict) \
		$$c $$([ -d $$n ] && echo $$n) \
		$$([ -d tests/fuzz-corpus/$$(basename $$n) ] && echo tests/fuzz-corpus/$$(basename $$n)) || exit 1; done

bench: $(BIN) $(BENCH_BIN) $(BUILD)/plain/$(BIN)
	@scripts/run-bench $(BENCH_BIN)
	@echo "=== hardening"
	@scripts/bench-hardening $(BIN) $(BUILD)/plain/$(BIN)
	@scripts/bench-agent
	@echo "=== the agent against a real kube-apiserver (10k pods) and the double with the same objects"
	@scripts/bench-real-apiserver
	@scripts/bench-real-apiserver --secondary 100

# The live demo: the web-policy example on real namespaces and packets, no cluster needed.
demo: $(BIN)
	@scripts/demo.py

e2e: $(BIN)
	tests/e2e/run --runtime=netns tests/e2e/scenarios/*.yaml
	tests/e2e/run --runtime=containerd tests/e2e/scenarios/*.yaml

# The scratch image as an OCI archive (no container engine needed): one index of the linux/amd64,
# linux/arm64 and linux/arm/v7 images (the script runs make ARCH=arm64 and ARCH=armhf itself).
image: $(BIN)
	scripts/build-image.sh

format:
	clang-format -i $(ALL_C) $(shell find src -name '*.h')

clean:
	rm -rf $(BUILD)/musl $(BUILD)/host $(BUILD)/fz $(BUILD)/bo $(BUILD)/tests $(BUILD)/fuzz $(BUILD)/bench $(BUILD)/mplain $(BUILD)/plain $(GEN) $(OUT)
	rm -rf $(BUILD)/xtests $(BUILD)/xfuzz $(BUILD)/x86_64 $(if $(XDEPS),,$(BUILD)/arm64 $(BUILD)/armhf)

-include $(shell find $(BUILD)/musl $(BUILD)/mplain $(BUILD)/host $(BUILD)/fz $(BUILD)/bo -name '*.d' 2>/dev/null)
