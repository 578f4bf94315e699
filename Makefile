# bedrock-logging-operator — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),$(CURDIR)/target)
BIN := $(TARGET_DIR)/debug/bedrock-logging-operator
CARGO ?= cargo

.PHONY: all build demo test test-rust test-strict test-packaging packaging-tests venv crds lint fmt e2e bench bench-controller bench-tamper bench-org clean

all: build

build:
	$(CARGO) build

venv:
	bash hack/moto.sh install

## demo: check (red) -> apply -> check (green) against a local AWS emulator
demo: venv build
	BLO_BIN=$(BIN) bash hack/demo.sh

## test: every test: unit, CRD/CEL corpus, SDK mocks, the strict AWS layer's own rules,
## integration through the strict layer in front of moto, then on plain moto, packaging
test: test-strict test-rust packaging-tests

MOTO_ENV := BLO_MOTO_SERVER=$(CURDIR)/.venv/bin/moto_server
MOTO_TESTS := --test moto_converge --test moto_accounts_trail --test moto_faults --test moto_tamper --test moto_org

test-rust: venv
	$(MOTO_ENV) $(CARGO) test --features test-util --lib --bins --tests
	$(CARGO) build --features test-util --benches
	@echo "== the moto integration suites again, on the plain emulator (BLO_STRICT=0)"
	BLO_STRICT=0 $(MOTO_ENV) $(CARGO) test --features test-util $(MOTO_TESTS)

## test-strict: the strict AWS layer's own tests (each rule rejects what AWS rejects)
test-strict: venv
	bash tests/strict/run.sh

test-packaging: build packaging-tests

# The binary `cargo test` built (same code; building it again without the test features would
# recompile the SDK crates).
packaging-tests:
	BLO_BIN=$(BIN) BLO_HTML_REPORT=$(CURDIR)/tests/golden/check.html $(if $(wildcard $(CURDIR)/target/reports-sample/*.json),BLO_REPORTS_DIR=$(CURDIR)/target/reports-sample) bash hack/test-packaging.sh

## crds: regenerate the CRD from the Rust types (a test fails when it drifts)
crds:
	$(CARGO) run -q -- crd > crds/bedrockloggingpolicies.yaml
	bash hack/sync-crd.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings

## e2e: against a real cluster (KUBECONFIG) and an AWS emulator; skipped without a cluster
e2e: venv build
	bash e2e/run.sh

## bench: measured figures (apply wall time for 1 and 16 regions, steady-state reads)
bench: venv
	BLO_STRICT=0 BLO_MOTO_SERVER=$(CURDIR)/.venv/bin/moto_server $(CARGO) bench --profile dev --bench converge

## bench-controller: controller RSS idle and with 100 policies x 4 regions, time to Ready
bench-controller: venv build
	bash hack/bench-controller.sh

## bench-tamper: tamper event -> Bedrock logging restored (SQS/EventBridge path), burst, own calls
bench-tamper: venv build
	bash hack/bench-tamper.sh

## bench-org: an organization policy over 500 accounts x 4 regions (1 replica, 2 shards), allRegions
bench-org: venv build
	bash hack/bench-org.sh

clean:
	bash hack/moto.sh stop || true
	$(CARGO) clean
