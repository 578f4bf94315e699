#!/usr/bin/env bash
# Packaging tests: Helm chart, kustomize, Dockerfile, GitOps docs (tests/packaging).
# Offline once the requirements are installed; no cluster, docker or network needed.
#   bash hack/test-packaging.sh [extra pytest args]
# Set BLO_BIN=target/release/bedrock-logging-operator to also compare RBAC rules and the IAM
# policy with the binary's own output.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv"
req="$root/tests/packaging/requirements.txt"
marker="$venv/.packaging-requirements.sha256"

if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi

# Install only when the requirements changed since the last install (marker holds their
# hash) or a package has gone missing from the venv.
want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$marker" 2>/dev/null || true)"
if [[ "$want" != "$have" ]] \
  || ! "$venv/bin/python" -c 'import pytest, helm_python, kubernetes_validate, jsonschema, yaml, yamllint, lupa' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$marker"
fi

export PYTHONDONTWRITEBYTECODE=1
set +e
"$venv/bin/python" -m pytest -q tests/packaging "$@"
rc=$?
set -e
exit "$rc"
