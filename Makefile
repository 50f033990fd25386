# speclab: the two commands a fresh machine needs are `make demo` and `make test`.
# Everything else is a step of those two.

GO        ?= go
BIN       := bin/speclab
OUT       ?= out
FUZZTIME  ?= 20s

.PHONY: all build setup demo test test-go fuzz bench vet clean

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

# Every test, against the real libllama (a missing library fails, never skips),
# then a short run of the GGUF reader's fuzzer.
test: setup test-go fuzz

test-go:
	SPECLAB_REQUIRE_LLAMA=1 $(GO) test -count=1 ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzRead -fuzztime=$(FUZZTIME) ./engine/gguf

bench: setup
	$(GO) test -run='^$$' -bench=. -skip='LoadRows10M' -benchmem ./...

vet:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

clean:
	rm -rf bin $(OUT)
