# Steward: `make run` runs it on this machine, `make test` runs every test.
# Both install what they need first (scripts/install-tools.sh): apt packages, the wasm target,
# cargo-leptos, wasm-bindgen-cli and wasm-opt (binaryen from npm).

SHELL := /bin/bash
export PATH := $(CURDIR)/tools/npm/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# The release site and binary that `run`, the browser tests and the benchmarks use.
STEWARD_BIN := $(CURDIR)/target/release/steward
SITE_ROOT := $(CURDIR)/target/site
TEST_PACKAGES := -p app -p server -p steward-tests -p end2end

.PHONY: run build test lint tools test-tools bench image clean

tools:
	scripts/install-tools.sh build

test-tools:
	scripts/install-tools.sh test

build: tools
	cargo leptos build --release --split
	scripts/compress-site.sh $(SITE_ROOT)/pkg

## Runs Steward on 127.0.0.1:3000 watching this machine, history in ./data/steward.db.
run: build
	LEPTOS_SITE_ROOT=$(SITE_ROOT) $(STEWARD_BIN) serve

## Every test: unit, SQLite, integration (server on port 0, promtool), browser (Chromium).
test: test-tools
	cargo leptos build --release --split
	scripts/compress-site.sh $(SITE_ROOT)/pkg
	STEWARD_BIN=$(STEWARD_BIN) STEWARD_SITE_ROOT=$(SITE_ROOT) \
		cargo test --release $(TEST_PACKAGES)

## Formatting and clippy per target (ssr and hydrate are never enabled together).
lint: tools
	cargo fmt --all --check
	cargo clippy --release -p app -p server -p steward-tests -p end2end --all-targets -- -D warnings
	cargo clippy --profile wasm-release -p frontend --target wasm32-unknown-unknown -- -D warnings
	@for crate in sqlx bollard argon2 reqwest; do \
		if cargo tree -p frontend --target wasm32-unknown-unknown -e normal -i $$crate >/dev/null 2>&1; then \
			echo "$$crate must not be in the WASM dependency tree"; exit 1; fi; done

## A container image (FROM scratch: the release binary, its libraries and the site); then
## `docker compose up -d` with compose.yaml. IMAGE=steward:latest by default.
IMAGE ?= steward:latest
image: build
	scripts/image.sh $(IMAGE)

## Benchmarks (figures go to BENCHMARKS.md by hand, with the command).
bench: test-tools build
	scripts/bench.sh

clean:
	cargo clean
