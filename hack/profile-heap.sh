#!/usr/bin/env bash
# Heap profile of the controller under the bench-controller load (dhat). Needs the profiled
# binary: cargo build --bin blo-dhat --features dhat-heap
#   bash hack/profile-heap.sh              # 100 policies x 4 regions, as bench-controller
# Prints the bench's figures (RSS under dhat is higher than without it), then the allocation
# sites holding the most bytes at the heap's peak (hack/dhat-summary.py).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BLO_DHAT_BIN:-$PWD/target/debug/blo-dhat}
[ -x "$BIN" ] || { echo "profile-heap: build it first: cargo build --bin blo-dhat --features dhat-heap" >&2; exit 2; }
rm -f dhat-heap.json
# dhat writes its profile when the controller exits: give it time after SIGTERM.
BENCH_TIMEOUT=${BENCH_TIMEOUT:-1500} BLO_BIN=$BIN BENCH_STOP_SECONDS=${BENCH_STOP_SECONDS:-120} BENCH_SETTLE_SECONDS=${BENCH_SETTLE_SECONDS:-5} \
  bash hack/bench-controller.sh || echo "profile-heap: the bench reported a failure (figures above)" >&2
for _ in $(seq 1 120); do [ -s dhat-heap.json ] && break; sleep 1; done
[ -s dhat-heap.json ] || { echo "profile-heap: no dhat-heap.json was written" >&2; exit 1; }
python3 hack/dhat-summary.py dhat-heap.json "${PROFILE_TOP:-25}"
