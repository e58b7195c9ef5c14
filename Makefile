# Foresight — run `make help` for the targets.
SHELL := /bin/bash
GO    ?= go
# Every module in go.work; `go test ./...` stops at a module boundary, so targets loop.
MODULES := $(shell $(GO) list -f '{{.Dir}}' -m)
TEST_FLAGS ?= -count=1 -timeout 15m

.PHONY: help run test test-short check build vet fmt migrate bench

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## start all six services in one process (embedded NATS, local Postgres) and run examples/hello
	$(GO) run ./cmd/foresight dev --example examples/hello

test: check ## run every module's tests (needs Postgres; see README)
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(TEST_FLAGS) ./...); done

check: ## every module on one go line, every Go file gofmt-clean
	@lines=$$(cat $$(git ls-files '*go.mod') | grep '^go ' | sort -u); \
	 if [ $$(echo "$$lines" | wc -l) -ne 1 ]; then echo "modules disagree on the go line:"; echo "$$lines"; exit 1; fi
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	 if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

test-short: ## unit tests only, no Postgres or NATS
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -short $(TEST_FLAGS) ./...); done

build: ## build the foresight binary into bin/
	$(GO) build -o bin/foresight ./cmd/foresight

vet: ## go vet every module
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

migrate: ## apply migrations to FORESIGHT_DATABASE_URL
	$(GO) run ./cmd/foresight migrate

bench: ## replay ../shared/traces through the production cores and write bench-out/report.md
	$(GO) run ./cmd/foresight bench --traces ../shared/traces --out bench-out
