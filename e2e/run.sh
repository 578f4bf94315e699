#!/usr/bin/env bash
# End-to-end suite against a REAL Kubernetes API server (kind, k3d, EKS...): `make e2e`.
#
# Skipped (exit 0) when `kubectl cluster-info` cannot reach a cluster within 10 s.
# Otherwise: installs the CRD, runs the controller locally against the cluster of the current
# KUBECONFIG and the AWS endpoint of AWS_ENDPOINT_URL (a moto server is started here when it is
# unset), and runs e2e/test_e2e.py with pytest from .venv. See e2e/README.md.
#
# Env: BLO_BIN (default target/debug/bedrock-logging-operator), AWS_ENDPOINT_URL,
#      E2E_ARTIFACTS (logs; default a new temp dir), E2E_KEEP=1 (leave the policies in place),
#      PYTEST_ADDOPTS (e.g. "-k drift").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v kubectl >/dev/null 2>&1 \
   || ! timeout 10 kubectl cluster-info --request-timeout=8s >/dev/null 2>&1; then
  echo "e2e: SKIPPED: no Kubernetes cluster reachable (set KUBECONFIG)"
  exit 0
fi
echo "e2e: cluster: $(kubectl config current-context 2>/dev/null || echo '?') ($(kubectl cluster-info 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g'))"

export BLO_BIN=${BLO_BIN:-$ROOT/target/debug/bedrock-logging-operator}
if [ ! -x "$BLO_BIN" ]; then
  echo "e2e: FAILED: no controller binary at $BLO_BIN (make build, or set BLO_BIN)" >&2
  exit 2
fi
export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/blo-e2e.XXXXXX")}
mkdir -p "$E2E_ARTIFACTS"

export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the work tree
# Python: the project's .venv (moto brings boto3 and PyYAML); pytest added when missing.
bash hack/moto.sh install
PY=$ROOT/.venv/bin/python
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  echo "e2e: installing pytest into .venv" >&2
  "$PY" -m pip install -q --disable-pip-version-check pytest >&2
fi

STARTED_MOTO=
cleanup() {
  [ -n "$STARTED_MOTO" ] && bash hack/moto.sh stop || true
}
trap cleanup EXIT

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  AWS_ENDPOINT_URL=$(bash hack/moto.sh start)
  STARTED_MOTO=1
  export AWS_ENDPOINT_URL
  echo "e2e: started the AWS emulator (moto) at $AWS_ENDPOINT_URL"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
         AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
else
  echo "e2e: AWS endpoint: $AWS_ENDPOINT_URL"
fi
export AWS_REGION=${AWS_REGION:-us-east-1}

echo "e2e: controller: $BLO_BIN; logs in $E2E_ARTIFACTS"
set +e
"$PY" -m pytest "$ROOT/e2e/test_e2e.py" -v -rA -p no:cacheprovider
rc=$?
set -e
if [ "$rc" != 0 ] && [ -f "$E2E_ARTIFACTS/controller.log" ]; then
  echo "e2e: FAILED (pytest exit $rc); last lines of $E2E_ARTIFACTS/controller.log:" >&2
  tail -40 "$E2E_ARTIFACTS/controller.log" >&2
fi
exit "$rc"
