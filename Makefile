# Chorus — the two commands that matter: `make run` and `make test`.

GO            ?= go
# Builds without cgo (Chorus needs none; the image's binary is static), all with -trimpath: go vet,
# staticcheck, the browser test's binary, make run's and the image's then share one compilation of
# every package.
# The race detector needs cgo: test-race and test-sqlite turn it on.
export CGO_ENABLED ?= 0
TAGS          := ferretdb_no_postgresql
BIN           := bin/chorus
TOOLS         := $(CURDIR)/.cache/bin
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.7.0
GOVULNCHECK   := golang.org/x/vuln/cmd/govulncheck@v1.9.0
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT        ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS       := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
WEB           := frontend
WEB_DIST      := $(WEB)/dist/index.html
WEB_SRC       := $(shell find $(WEB)/src $(WEB)/public $(WEB)/scripts -type f ! -name schema.d.ts 2>/dev/null) \
                 $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json

.PHONY: run run-sso build image image-local test deps deps-servers deps-modules documentdb test-go test-race test-sqlite test-web test-deploy smoke web lint vulncheck tools clean bench

## run: the whole platform (API, web app, workers) with the embedded store (FerretDB v2 on a
## private PostgreSQL with DocumentDB, built once by `make documentdb`) and Redis
run: documentdb build
	CHORUS_DEV_MAILBOX=$${CHORUS_DEV_MAILBOX:-1} CHORUS_LOG_FORMAT=$${CHORUS_LOG_FORMAT:-text} ./$(BIN) all

## run-sso: as run, signing in through a local Dex (deploy/dex/dev.yaml; users alice@acme.example … password "password")
run-sso: documentdb build
	./.ci/run-sso

build: $(WEB_DIST)
	$(GO) build -tags $(TAGS) -trimpath -ldflags='$(LDFLAGS)' -o $(BIN) ./cmd/chorus

## image: the container image (deploy/Dockerfile) as $(IMAGE) and localhost/chorus:latest, with podman
## (CONTAINER=docker works too). The build stages run on GO_IMAGE and NODE_IMAGE, by default a local
## Debian base that deploy/image/build-base makes once (no registry needed); with a registry, e.g.
## make image GO_IMAGE=docker.io/library/golang:1.26-trixie NODE_IMAGE=docker.io/library/node:22-trixie-slim
CONTAINER     ?= podman
IMAGE         ?= localhost/chorus:$(VERSION)
BUILD_BASE    := localhost/chorus-build-base:trixie
GO_IMAGE      ?= $(BUILD_BASE)
NODE_IMAGE    ?= $(BUILD_BASE)
image:
	@if [ "$(GO_IMAGE)" = "$(BUILD_BASE)" ] || [ "$(NODE_IMAGE)" = "$(BUILD_BASE)" ]; then \
	  CONTAINER=$(CONTAINER) ./deploy/image/build-base $(BUILD_BASE); fi
	$(CONTAINER) build -f deploy/Dockerfile \
	  --build-arg GO_IMAGE=$(GO_IMAGE) --build-arg NODE_IMAGE=$(NODE_IMAGE) \
	  --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  -t $(IMAGE) -t localhost/chorus:latest .

## image-local: the same final image around a static binary built here (deploy/image/from-binary:
## FROM scratch, no build stages, no base image: seconds, not minutes); the smoke test uses it.
## Release images come from make image, which builds from the sources alone.
image-local: $(WEB_DIST)
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -trimpath -ldflags='$(LDFLAGS)' -o bin/chorus-static ./cmd/chorus
	VERSION=$(VERSION) COMMIT=$(COMMIT) ./deploy/image/from-binary bin/chorus-static $(IMAGE) localhost/chorus:latest

## test: everything: vet, staticcheck, the race-enabled tests on real servers, govulncheck,
## the web app's unit tests and its browser end-to-end test. Two at a time: lint (whose compilation
## the image's and the browser test's builds reuse) beside the web app's build; the container smoke test, which mostly
## waits (minutes for the share of the worker it kills), beside the Go tests; the chart's tests
## beside the web app's. Each one's output is printed whole when it ends.
test: deps
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint web
	@$(MAKE) --no-print-directory -j2 --output-sync=target smoke test-go
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-deploy test-web
	@$(MAKE) --no-print-directory vulncheck

## deps: installs what the tests need (redis-server, PostgreSQL with DocumentDB, Dex…) when missing,
## and meanwhile downloads the Go modules and the web app's npm packages and builds staticcheck
deps:
	@$(MAKE) --no-print-directory -j3 --output-sync=target deps-servers deps-modules $(WEB)/node_modules/.package-lock.json $(TOOLS)/staticcheck

deps-servers:
	./.ci/ensure-deps

deps-modules:
	$(GO) mod download

## documentdb: PostgreSQL 15 with DocumentDB and FerretDB v2 for the embedded store (once; < 1 s after).
## Where it cannot be built, `make run` goes on and Chorus falls back to its SQLite demo store
## (`make deps`, which the tests use, fails instead).
documentdb:
	@./.ci/build-documentdb || echo "documentdb: could not build; Chorus will fall back to its SQLite demo store" >&2

## test-go: the Go tests with the race detector on the embedded default store, and the tenant
## package's tests on the SQLite fallback (the demo mode)
test-go: test-race test-sqlite

# cmd/chorus's tests, the longest package, run as three processes (TestSoak alone, the rest in
# two halves) beside the others (.ci/test-race); GOTESTFLAGS (e.g. -run X -v) runs plain go test -race ./... instead.
test-race:
	TAGS=$(TAGS) ./.ci/test-race $(GOTESTFLAGS)

test-sqlite:
	CGO_ENABLED=1 CHORUS_TEST_EMBEDDED=sqlite $(GO) test -race -tags $(TAGS) -count=1 $(GOTESTFLAGS) ./tenant

## bench: the scaling benchmark: every hot path's p50/p99 on seeded instances and its ratio to S0,
## as a table (also in bin/bench.md), S0 to S3 (a year of one company; about 4 minutes);
## CHORUS_BENCH_SIZES=S0,S1,S2,S3,Y1000 adds 1,000 employees, CHORUS_BENCH_SIZES=S0,S3 is quicker
bench: deps
	@mkdir -p bin
	CHORUS_BENCH_SIZES=$${CHORUS_BENCH_SIZES:-S0,S1,S2,S3} CHORUS_BENCH_OUT=$(CURDIR)/bin/bench.md \
		$(GO) test -tags $(TAGS) -count=1 -timeout 180m -run '^TestScaling$$' -v ./cmd/chorus
	@echo; cat bin/bench.md

tools: $(TOOLS)/staticcheck $(TOOLS)/govulncheck

$(TOOLS)/staticcheck:
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install $(STATICCHECK)

$(TOOLS)/govulncheck:
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install $(GOVULNCHECK)

## web: the web app (frontend/), built into frontend/dist when its sources changed
web: $(WEB_DIST)

# npm ci only when package-lock.json is newer than the installed tree.
$(WEB)/node_modules/.package-lock.json: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	@touch $@

$(WEB_DIST): $(WEB)/node_modules/.package-lock.json $(WEB_SRC) cmd/chorus/openapi.yaml
	cd $(WEB) && npm run build

## test-deploy: the Helm chart (deploy/helm/chorus): the Go test module deploy/helm/test, which
## lints it as helm lint --strict does and renders it as helm template does (Helm's Go packages, no
## helm command to build) with the default and the ci/ values, then decodes every rendered object
## strictly into the Kubernetes API types and checks the restricted Pod Security rules
test-deploy:
	cd deploy/helm/test && GOFLAGS=-buildvcs=false $(GO) test -count=1 ./...

## smoke: deploy/smoke: the image (built unless this commit's exists), the Helm chart with podman
## kube play and deploy/compose.yaml with podman-compose, used as an outside client (sign-in,
## a share published by the worker, both /metrics, a worker killed mid-publish); skipped
## without podman, a failure under CI=true
smoke:
	./deploy/smoke/run

## test-web: the web app's unit tests (Vitest), then the browser end-to-end test
## (Debian's chromium; skipped with a how-to when it is missing, a failure under CI=true)
test-web: $(WEB_DIST)
	cd $(WEB) && npm test
	cd $(WEB) && npm run e2e

# -trimpath as make build, image-local and the browser test build: their compilation is shared.
lint: $(TOOLS)/staticcheck
	$(GO) vet -trimpath -tags $(TAGS) ./...
	GOFLAGS=-trimpath $(TOOLS)/staticcheck -tags $(TAGS) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## vulncheck: govulncheck, installed when its database (vuln.go.dev) can be reached; where it
## cannot (this project's CI machines), a loud warning says that nothing was checked
vulncheck:
	GOVULNCHECK_PKG=$(GOVULNCHECK) ./.ci/vulncheck $(TOOLS)/govulncheck -tags $(TAGS) ./...

clean:
	rm -rf bin .cache $(WEB)/node_modules $(WEB)/test-results $(WEB)/dist/assets $(WEB)/dist/index.html $(WEB)/dist/favicon.svg
