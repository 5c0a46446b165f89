# mgmtgen: the two commands a newcomer needs are `make demo` and `make test`.
GO        ?= go
FUZZTIME  ?= 30s
COUNT     ?= 8

.PHONY: all demo test check vet fmt generate bench bench-smoke bench-ipc fuzz fuzz-short soak

all: check test

## demo: regenerate (shown), build procd and mgmtctl, and run the guided tour.
demo:
	GO=$(GO) sh examples/procd/demo.sh

## test: vet, then every test with the race detector.
test: vet
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

## check: gofmt, vet, and generated code and docs/mgmt.md current with the schema.
check: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@# the go:generate line of gen/mgmt/doc.go, with -check
	cd gen/mgmt && $(GO) tool mgmtgen -check -schema ../../schema/mgmt.yaml -out .
	@# and its Markdown reference (the second go:generate line)
	cd gen/mgmt && $(GO) tool mgmtgen doc -check -schema ../../schema/mgmt.yaml -out ../../docs/mgmt.md

## generate: regenerate every generated package.
generate:
	$(GO) generate ./...

## bench: mgmtgen vs reflection msgpack, the raw-socket floor, ttrpc and grpc-go
## (bench/, its own module), $(COUNT) runs each, compared with benchstat.
bench:
	COUNT=$(COUNT) ./bench/run.sh

## bench-smoke: every comparison benchmark once, and the bench module's tests (CI).
bench-smoke:
	./bench/run.sh -smoke

## bench-ipc: the framing layer's own benchmarks.
bench-ipc:
	$(GO) test -run '^$$' -bench . -benchmem -count=$(COUNT) ./runtime/ipc

## fuzz: every fuzz target for $(FUZZTIME) each.
FUZZ_TARGETS = runtime/ipc:FuzzReadFrame runtime/ipc:FuzzControlFrames runtime/server:FuzzServerConn runtime/client:FuzzClientConn runtime/client:FuzzClientMux \
	gen/mgmt:FuzzDecode internal/schema:FuzzParse \
	internal/msgjson:FuzzDecode \
	runtime/msgpx:FuzzArena runtime/msgpx:FuzzReaders runtime/msgpx:FuzzFast runtime/msgpx:FuzzFindBin
## A run that fails with nothing but "context deadline exceeded" and writes no
## failing input is Go 1.26's fuzzing-coordinator race at the end of -fuzztime
## (golang/go#75804, fixed in Go 1.27), not a finding: it is reported, not failed.
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name ($$pkg, $(FUZZTIME))"; \
		if $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) ./$$pkg >"$$out" 2>&1; then cat "$$out"; continue; fi; \
		cat "$$out"; \
		if grep -q -- '--- FAIL: '"$$name"' ' "$$out" && grep -qx '    context deadline exceeded' "$$out" && \
			! grep -q 'Failing input written' "$$out" && [ "$$(grep -c '^    ' "$$out")" = 1 ]; then \
			echo "== $$name: the end-of-fuzztime deadline race of Go's fuzzing coordinator (golang/go#75804), no failing input: not a finding"; \
		else exit 1; fi; \
	done

## soak: 64 clients against procd with real children for $(SOAK) (bounded).
SOAK ?= 60s
soak:
	MGMT_SOAK=$(SOAK) $(GO) test -count=1 -run '^TestSoak$$' -timeout 10m -v ./examples/procd

## fuzz-short: each fuzz target for a few seconds (CI).
fuzz-short:
	$(MAKE) fuzz FUZZTIME=5s
