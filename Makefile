# Chorus — the two commands that matter: `make run` and `make test`.

GO            ?= go
TAGS          := ferretdb_no_postgresql
BIN           := bin/chorus
TOOLS         := $(CURDIR)/.cache/bin
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.7.0
GOVULNCHECK   := golang.org/x/vuln/cmd/govulncheck@v1.9.0

.PHONY: run build test deps test-go lint vulncheck tools clean

## run: the whole platform (API, web app, workers) with embedded MongoDB-compatible and Redis servers
run: build
	CHORUS_DEV_MAILBOX=$${CHORUS_DEV_MAILBOX:-1} CHORUS_LOG_FORMAT=$${CHORUS_LOG_FORMAT:-text} ./$(BIN) all

build:
	$(GO) build -tags $(TAGS) -trimpath -ldflags='-s -w' -o $(BIN) ./cmd/chorus

## test: everything: vet, staticcheck, the race-enabled tests on real servers, govulncheck
test: deps lint test-go vulncheck

## deps: installs what the tests need (redis-server) when it is missing
deps:
	./.ci/ensure-deps

test-go:
	$(GO) test -race -tags $(TAGS) -count=1 -timeout 20m $(GOTESTFLAGS) ./...

tools:
	@mkdir -p $(TOOLS)
	@test -x $(TOOLS)/staticcheck || GOBIN=$(TOOLS) GOFLAGS= $(GO) install $(STATICCHECK)
	@test -x $(TOOLS)/govulncheck || GOBIN=$(TOOLS) GOFLAGS= $(GO) install $(GOVULNCHECK)

lint: tools
	$(GO) vet -tags $(TAGS) ./...
	$(TOOLS)/staticcheck -tags $(TAGS) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

vulncheck: tools
	./.ci/vulncheck $(TOOLS)/govulncheck -tags $(TAGS) ./...

clean:
	rm -rf bin .cache
