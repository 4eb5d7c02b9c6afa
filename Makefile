# Lintel — the two commands a new user needs are `make run` and `make test`.
GO      ?= go
PKGS    ?= ./...
BIN     ?= bin

.PHONY: run test bench lint build fuzz demo clean loadtest

## run: serve on 127.0.0.1:8080 with SQLite under ./data (nothing else needed)
run:
	$(GO) run ./cmd/lintel serve

## build: the shipped binaries into ./bin
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## test: lint, then every test (PostgreSQL tests skip locally when it is
## unreachable, and fail under CI=true)
test: lint
	$(GO) test -count=1 -timeout 20m $(PKGS)

## bench: every benchmark (figures go to docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

## loadtest: the fleet scenarios of issue 16 with cmd/lintel-load (a few
## minutes; not part of make test): a server of its own on a fresh
## PostgreSQL database (LOADDB= for SQLite); figures go to docs/benchmarks.md
LOADDB   ?= -pg postgres://postgres@127.0.0.1:5432/test
LOADARGS ?= -users 10000 -doors 50 -readers 200 -hold 1000 -rounds 3
loadtest:
	ulimit -n 20000 2>/dev/null || true; $(GO) run ./cmd/lintel-load $(LOADDB) $(LOADARGS) -timeout 10m

## lint: go vet and a gofmt check
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## demo: server + simulated reader + phone simulator: issue, tap (granted),
## revoke, tap (denied within a second), then the event log
demo:
	bash cmd/phonesim/demo.sh

## fuzz: a short run of every fuzz target
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 10s $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
