# cri: nanopb code generated from src/cri/runtime.proto (+ runtime.options) into build/gen/cri/,
# and the CRI probe (tests/cri/cri_probe.c) that tests/t-cri* drive.
CRI_GEN := $(GEN)/cri
# These rules are read before the Makefile's own: keep `all` the default goal.
.DEFAULT_GOAL := all
GEN_C += $(CRI_GEN)/runtime.pb.c

# Every object rule has GEN_C as an order-only prerequisite, so the header exists before any
# compile; the grouped target makes one protoc run produce both files.
$(CRI_GEN)/runtime.pb.c $(CRI_GEN)/runtime.pb.h &: src/cri/runtime.proto src/cri/runtime.options \
		| $(DEPS_STAMP)
	@mkdir -p $(CRI_GEN)
	protoc --plugin=protoc-gen-nanopb=/usr/bin/protoc-gen-nanopb --nanopb_out=$(CRI_GEN) \
		--nanopb_opt=-Isrc/cri -Isrc/cri src/cri/runtime.proto

# The probe: a host (ASan/UBSan) build over the library objects; cri_test depends on all of them.
CRI_PROBE := $(BUILD)/tests/cri-probe
$(CRI_PROBE): $(BUILD)/host/tests/cri/cri_probe.o $(BUILD)/tests/cri/cri_test
	$(CC) $(HOST_SAN) -o $@ $(BUILD)/host/tests/cri/cri_probe.o $(HOST_OBJ) $(HOST_LIBS)
test: $(CRI_PROBE)
