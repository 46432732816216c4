# meshpack — see README.md. `make test` needs nothing but Go and Debian's apt.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Test tools (cosign, helm, crane, oras) are built once per machine into the
# user cache, so a fresh clone does not rebuild them.
MESHPACK_TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/meshpack/tools/bin
export MESHPACK_TOOLS_DIR
export PATH := $(MESHPACK_TOOLS_DIR):$(PATH)

.PHONY: build test test-short fuzz demo bench lint tools kube-apiserver seaweedfs release-check notice clean

build: ## build bin/meshpack
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meshpack ./cmd/meshpack

tools: ## install the Debian packages and client CLIs the tests use
	bash hack/test-setup.sh

test: tools kube-apiserver seaweedfs ## run every test with the real tools, then each fuzz target briefly (CI runs this)
	MESHPACK_REQUIRE_TOOLS=1 MESHPACK_KUBE_APISERVER=1 MESHPACK_SEAWEEDFS=1 $(GO) test -timeout 30m ./...
	GO=$(GO) FUZZTIME=200x bash hack/fuzz.sh
	bash hack/release-check.sh

release-check: ## goreleaser check + two snapshot releases: LICENSE/NOTICE/SBOM per archive, signed checksums, reproducible binaries
	bash hack/release-check.sh

kube-apiserver: ## build kube-apiserver + etcd for the install tests, once per machine (cold ~10 min; the tests start one per test on loopback)
	bash hack/kube-apiserver.sh build >/dev/null

seaweedfs: ## build SeaweedFS (an S3 server) for the registry serve --config test, once per machine (cold ~15 min)
	bash hack/seaweedfs.sh build >/dev/null

FUZZTIME ?= 10s
fuzz: ## run every fuzz target for FUZZTIME each: make fuzz FUZZTIME=1m
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash hack/fuzz.sh

test-short: ## unit tests only, no tool installation
	$(GO) test -short ./...

demo: build ## offline end-to-end run on the embedded defaults
	bash hack/demo.sh

bench: build ## benchmarks; results go to BENCHMARKS.md
	bash hack/bench.sh
	bash hack/bench-incremental.sh
	bash hack/bench-slowlink.sh

lint: ## gofmt + go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...

notice: ## regenerate NOTICE, the third-party license listing, from the module graph
	$(GO) run ./hack/notice

clean:
	rm -rf bin dist
