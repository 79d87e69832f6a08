# The few verbs a person types. Everything installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(HOME)/.cargo/bin:$(PATH)

# Function binaries, read from template.yaml so the two cannot disagree.
FUNCTIONS := $(shell sed -n 's/^ *Binary: *//p' template.yaml)
ARM64 := aarch64-unknown-linux-gnu

.PHONY: help install lint test dev token build bench openapi

help:
	@echo "make dev    run Tessera locally (AWS stand-in, Redis, functions)"
	@echo "make test   install, format check, clippy, every test, cfn-lint"
	@echo "make token USER=alice TIER=pro ROLES=admin   a dev JWT for make dev"
	@echo "make build  release Lambda binaries for every function"
	@echo "make bench  benchmarks (cold start, gateway, blocks, rate limits)"
	@echo "make openapi  regenerate openapi.json from the code"

install:
	@bash infra/install.sh

lint: install
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml tests/fixtures/template.yaml

test: lint
	cargo test --workspace

# The HTTP contract is generated from the routes; a test fails when the
# checked-in file differs.
openapi:
	cargo run -q -p tessera-openapi

dev: install
	cargo run -q -p tessera-devstack

# TIER defaults to free; ROLES is a comma list (optional).
token:
	@cargo run -q -p tessera-devstack -- token --user "$(USER)" --tier "$(or $(TIER),free)" --roles "$(ROLES)"

# arm64 (Graviton) is what template.yaml deploys; cross-compiling needs the
# rustup target and zig (installed by infra/install.sh).
build: install
	@if rustup target list --installed | grep -qx $(ARM64) || rustup target add $(ARM64); then \
		cargo lambda build --release --arm64 $(addprefix --bin ,$(FUNCTIONS)); \
	else \
		echo "build: the $(ARM64) target cannot be installed here; building x86_64 instead (not deployable as arm64)"; \
		cargo lambda build --release --x86-64 $(addprefix --bin ,$(FUNCTIONS)); \
	fi

bench:
	@TESSERA_BENCH=1 bash infra/install.sh
	cargo build --release --bin cold-start --bin hello-lambda --bin gateway-overhead --bin blocks-bench \
		--bin ratelimit-bench --bin fanout-bench $(addprefix --bin ,$(FUNCTIONS))
	./target/release/cold-start
	./target/release/gateway-overhead
	MOTO_IDLE=1 ./target/release/blocks-bench
	./target/release/ratelimit-bench
	./target/release/fanout-bench
