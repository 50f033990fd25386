# speclab: the two commands a fresh machine needs are `make demo` and `make test`.
# Everything else is a step of those two.

GO        ?= go
comma     := ,
BIN       := bin/speclab
OUT       ?= out
# Fuzz budgets are execution counts, not durations: with a duration, Go
# 1.26's fuzzing coordinator can fail a target at the deadline with a bare
# "context deadline exceeded" on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27); a count has no deadline to race.
FUZZ_READ ?= 300000x
FUZZ_LOAD ?= 3000x
# Runtime releases besides the pinned one that the tests drive, each in a
# process of its own (see internal/testenv.OtherRuntimes).
TEST_RUNTIMES ?= 3.15.1,3.18.1,3.20.0,3.21.1
# llama.h files the tests read: the pinned release's and another release's
# (the tests fetch that of 3.14.5, older than the table, with its own pin).
TEST_HEADERS  ?= 3.22.1 3.18.1
# Debian's HIP runtime (ROCm 5.2) and what it needs, unpacked (not
# installed) into the cache: the rocm tests load it on a machine without an
# AMD GPU and expect "no HIP device".
HIP_DEBS      ?= libamdhip64-5 libamd-comgr2 libhsa-runtime64-1 libhsakmt1 libnuma1 libllvm15 libelf1 libdrm2 libdrm-amdgpu1 libzstd1 libtinfo6 libffi8 libedit2 libxml2 libbsd0 libicu72 libmd0 liblzma5
HIP_DIR       ?= $(HOME)/.cache/speclab/hip

.PHONY: all build setup test-setup peer hip demo test test-go fuzz bench vet generate clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/speclab

# Install the pinned llama.cpp runtime (npm pack, sha512-checked) into the cache.
# A second run does no network work.
setup: build
	$(BIN) setup

# The main job: check the runtime, then reproduce the seed study on the default
# models, with its diagnosis; the run folder is named at the end.
demo: setup
	$(BIN) doctor
	$(BIN) reproduce --out $(OUT)/reproduce-$$(date +%Y%m%d-%H%M%S)

# What the tests need beyond the pinned runtime: the other runtime releases
# (about 10 MB each), the Vulkan build of the pinned one, and the llama.cpp
# source of a few releases for their llama.h (about 30 MB each). All cached;
# a second run does no network work.
test-setup: setup
	$(BIN) setup $(foreach v,$(subst $(comma), ,$(TEST_RUNTIMES)),--runtime $(v))
	$(BIN) setup --runtime 3.22.1 --variant vulkan
	$(BIN) setup $(foreach v,$(TEST_HEADERS),--header $(v))

# llama.cpp's own llama-server, llama-speculative-simple and llama-completion
# of the pinned release, built from its pinned source, for the differential
# tests and the side-by-side benchmarks (cmake from Debian if missing; the
# build is cached: minutes once, nothing afterwards).
peer: setup
	@command -v cmake >/dev/null || { echo "installing cmake (Debian)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq cmake; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq cmake; fi; }
	$(BIN) setup --peer

# Every test, against the real libllama (a missing library fails, never skips),
# then short runs of the GGUF reader's fuzzer and of the model loader's
# (semantic mutants through speclab's validator into libllama).
test: test-setup peer hip test-go fuzz

# Debian's libamdhip64-5 unpacked into $(HIP_DIR) (apt-get download, no root
# needed; cached: a second run does nothing).
hip:
	@if [ ! -e $(HIP_DIR)/.done ]; then \
		echo "unpacking Debian's HIP runtime into $(HIP_DIR)"; \
		mkdir -p $(HIP_DIR)/debs && cd $(HIP_DIR)/debs && apt-get download $(HIP_DEBS) 2>&1 | grep -v '^W: Download is performed unsandboxed' ; \
		for d in $(HIP_DIR)/debs/*.deb; do dpkg -x $$d $(HIP_DIR)/root || exit 1; done; \
		rm -rf $(HIP_DIR)/debs; touch $(HIP_DIR)/.done; fi

test-go:
	SPECLAB_REQUIRE_LLAMA=1 SPECLAB_TEST_RUNTIMES=$(TEST_RUNTIMES) SPECLAB_HIP_DIR=$(HIP_DIR)/root/usr/lib/x86_64-linux-gnu $(GO) test -count=1 ./...

# Regenerate engine/releases/table_gen.go from the node-llama-cpp packages
# (needs npm, git and the network once).
generate:
	$(GO) generate ./engine/releases

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzRead -fuzztime=$(FUZZ_READ) ./engine/gguf
	SPECLAB_REQUIRE_LLAMA=1 $(GO) test -run='^$$' -fuzz=FuzzLoadModel -fuzztime=$(FUZZ_LOAD) ./engine

bench: setup peer
	$(GO) test -run='^$$' -bench=. -skip='LoadRows10M' -benchmem ./...

vet:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

clean:
	rm -rf bin $(OUT)
